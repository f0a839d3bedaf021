"""The consistency watch: keeps the exchange truth fresh and says, per side, whether the VPs match it.

Every ``poll_interval`` (≤ 5 s, so a quiet correct side stays OK within its two-poll freshness) it reads
positionRisk and the account over REST (both also ACCOUNT_AFTER_MS after a fill or funding, at most every
ACCOUNT_EVERY_MS: liquidation price and margin follow a trade), feeds them
to :class:`~hedgestack.engine.truth.ExchangeTruth`, and
re-evaluates every side (the state machine is in ``truth.py``). A side whose VPs differ from the exchange gets a
catch-up over REST (a fill lost without a disconnect) once it has lasted a third of the grace period (fills in
flight, which REST shows before the stream delivers them, agree sooner) and a re-check right after the grace
period, so a real difference is MISMATCH within seconds and a lost event never becomes one.

A REST read that shows a change the user stream never reported (older than ``STALL_MS``, with no stream message
since) means the stream stalled: the connection turns STALE at once (the screen says so), a catch-up runs, and
the stream is asked to reconnect. The stream's own ACCOUNT_UPDATEs confirm sides as they arrive.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from hedgestack.domain.errors import HedgestackError
from hedgestack.domain.events import Fill, Funding
from hedgestack.engine.truth import ExchangeTruth, stalled
from hedgestack.engine.views import SideStatus

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from hedgestack.domain.enums import PositionSide
    from hedgestack.engine.book import Book
    from hedgestack.engine.link import Link
    from hedgestack.engine.presenter import Presenter
    from hedgestack.engine.recovery import Recovery
    from hedgestack.engine.truth import Side
    from hedgestack.venue.port import AccountUpdate, Venue

log = logging.getLogger("hedgestack.consistency")

#: a catch-up of orders, fills and funding over REST at least this often (ms), whatever the poll interval
CATCH_UP_MS = 60_000
#: positions and account (liquidation price, available balance, margin) are read this long after a fill or funding
#: (ms; a burst shares one read), at most every ACCOUNT_EVERY_MS (weight 5 + 5: under continuous trading 200 of
#: the 2,400 a minute, where every second would take 600 and starve the trading), and the account every ACCOUNT_MS
#: when nothing moves. The risk figures are thus at most ACCOUNT_EVERY_MS + a read behind a fill (≤ 5 s).
ACCOUNT_AFTER_MS = 300
ACCOUNT_EVERY_MS = 3_000
ACCOUNT_MS = 60_000


class ConsistencyWatch:
    def __init__(self, truth: ExchangeTruth, book: Book, presenter: Presenter, link: Link, venue: Venue,
                 recovery: Recovery, *, poll_interval: float, clock: Callable[[], int],
                 restart_stream: Callable[[], None]) -> None:
        self.truth = truth
        self.book = book
        self.presenter = presenter
        self.link = link
        self.venue = venue
        self.recovery = recovery
        self.poll_interval = poll_interval
        self.clock = clock
        self._restart_stream = restart_stream
        self._was_mismatch: dict[tuple[str, PositionSide], bool] = {}
        self._wake = asyncio.Event()
        self._account_dirty = True
        self._account_at = 0
        self._account_due: asyncio.TimerHandle | None = None
        self._account_reads: set[asyncio.Task[None]] = set()
        self._reading = asyncio.Lock()  # one REST read of the truth at a time: answers are recorded in order
        self._caught_up_at = clock()
        book.on_append(self._money_moved)

    def _money_moved(self, result: Any) -> None:
        if any(isinstance(event, Fill | Funding) for _, event in result.appended):
            self._account_dirty = True
            if self._account_due is None and self.link.live:
                wait = max(ACCOUNT_AFTER_MS, ACCOUNT_EVERY_MS - (self.clock() - self._account_at))
                self._account_due = asyncio.get_running_loop().call_later(wait / 1000, self._read_account_now)

    def _read_account_now(self) -> None:
        self._account_due = None
        task = asyncio.get_running_loop().create_task(self._read_account())
        self._account_reads.add(task)
        task.add_done_callback(self._account_reads.discard)

    async def _read_account(self) -> None:
        """Positions and account after money moved (liquidation and break-even prices, balance, margin),
        without waiting for the next poll."""
        if not self._account_dirty:
            return
        try:
            await self.refresh(account=True)
        except HedgestackError as exc:
            self._account_dirty = True  # the next poll reads it
            log.info("position and account read after a fill failed: %s", exc)

    def close(self) -> None:
        """Drop a scheduled account read (the terminal stops)."""
        if self._account_due is not None:
            self._account_due.cancel()
            self._account_due = None
        for task in list(self._account_reads):
            task.cancel()

    def suspect(self, reason: str) -> None:
        """Evidence that the stream missed something (an order's answer said it traded, no fill came): STALE now,
        and the next poll (a catch-up) runs at once."""
        if self.link.state == "CONNECTED":
            self.link.stats.stalls += 1
            self.link.set("STALE", reason)
        self._wake.set()

    # -- reading the exchange ------------------------------------------------------------------------
    async def refresh(self, *, account: bool = False) -> None:
        """positionRisk + account (now with ``account``, else when due) over REST; a stalled stream is noticed
        here."""
        async with self._reading:
            await self._refresh(account=account)

    async def _refresh(self, *, account: bool) -> None:
        positions = await self.venue.positions()
        surprises, changed = self.truth.record_rest(positions)
        for symbol, side in changed:
            self.presenter.side_changed(symbol, side, status=False)
        now = self.clock()
        stalls = [s for s in self.truth.unreported.values()
                  if stalled(s, now=now, last_event_at=self.link.last_event_at)]
        if stalls and self.link.state == "CONNECTED":
            first = stalls[0]
            self.link.stats.stalls += 1
            self.link.set("STALE", f"user stream silent: the exchange's {first.symbol} {first.side} went "
                                   f"{first.ours} → {first.rest} without an event")
            self._restart_stream()
        if account or (self._account_dirty and now - self._account_at >= ACCOUNT_EVERY_MS) \
                or now - self._account_at >= ACCOUNT_MS:
            self._account_dirty = False
            self._account_at = now
            if self.truth.record_account(await self.venue.account()):
                self.presenter.account_changed()
        self.evaluate()

    async def settings(self) -> None:
        """Leverage and margin type of the symbols (start, reconnect; ACCOUNT_CONFIG_UPDATE keeps them)."""
        self.truth.record_settings(await self.venue.symbol_settings())

    def stream_update(self, message: AccountUpdate, *, evaluate: bool = True) -> list[Side]:
        """The sides and wallet an ACCOUNT_UPDATE reports, judged now; with ``evaluate=False`` the caller judges
        the sides returned (those it confirmed) with :meth:`evaluate` once it folded the fills that came with it."""
        before = self.truth.account
        for key in self.truth.record_stream(message):
            self.presenter.side_changed(*key, status=False)
        if self.truth.account != before:
            self.presenter.account_changed()
        confirmed = [(p.symbol, p.position_side) for p in message.positions
                     if p.position_side is not None and (p.symbol, p.position_side) in self.truth.sides]
        if evaluate:
            self.evaluate(confirmed)
        return confirmed

    # -- the state machine ---------------------------------------------------------------------------
    def evaluate(self, confirmed: Iterable[Side] = ()) -> None:
        """Re-evaluate every side and publish the ones whose status changed, and the ones the exchange just
        ``confirmed`` (their figures, and their VPs at the mark that moved since they were last sent)."""
        changed = self.truth.evaluate(self.book.ledger.side_qty,
                                      catching_up=self.link.state in ("STARTING", "SYNCING"))
        for symbol, side in changed:
            status = self.truth.status(symbol, side)
            if status is SideStatus.MISMATCH:
                self.link.stats.mismatches_raised += 1
            self.presenter.side_changed(symbol, side, status=True)
        for key in confirmed:
            if key not in changed:
                self.presenter.side_changed(*key, status=True)
        for (symbol, side), state in self.truth.states.items():
            if state.status is SideStatus.OK and self._was_mismatch.pop((symbol, side), False):
                self.link.stats.mismatches_healed += 1
            elif state.status is SideStatus.MISMATCH:
                self._was_mismatch[(symbol, side)] = True

    # -- the poll ----------------------------------------------------------------------------------
    async def run(self) -> None:
        """positionRisk every ``poll_interval``: even an event lost without a disconnect is noticed."""
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)
            except TimeoutError:
                pass
            self._wake.clear()
            if not self.link.live:
                continue
            try:
                if self.clock() - self._caught_up_at >= CATCH_UP_MS or self.link.state == "STALE":
                    self._caught_up_at = self.clock()
                    await self.recovery.catch_up()
                await self.refresh()
                if self.link.state == "STALE":  # the catch-up of a stall: the book is complete again
                    await self.recovery.catch_up()
                    self.truth.unreported.clear()
                    await self.refresh()
                    self.link.set("CONNECTED")
                if self.truth.diverging():
                    await self._divergence()
            except HedgestackError as exc:
                log.warning("position poll failed: %s", exc)
                self.evaluate()  # an unanswered poll ages the confirmations (STALE in time)


    async def _divergence(self) -> None:
        """A side differs from what REST just read. Under steady trading REST is usually ahead of the stream
        by the fills in flight, which agree within moments; a side that still differs after the settle time
        (a third of the grace) without having agreed meanwhile may have lost an event: catch up over REST, then
        re-check right after the grace period rather than a full interval later. (A catch-up for fills in
        flight fetched them twice, each foreign order queried by id: at 200 fills/s that REST work took the
        engine's loop and made the stream fall further behind.)"""
        before = {key: self.truth.states[key].diverged_since for key in self.truth.diverging()}
        settle = self.truth.grace_ms / 3
        await asyncio.sleep(settle / 1000)
        self.evaluate()
        if not any(self.truth.states[key].diverged_since == before.get(key) for key in self.truth.diverging()):
            return
        await self.recovery.catch_up()
        self.evaluate()
        if self.truth.diverging():
            await asyncio.sleep((self.truth.grace_ms - settle) / 1000)
            await self.refresh()


__all__ = ["ACCOUNT_MS", "CATCH_UP_MS", "ConsistencyWatch"]

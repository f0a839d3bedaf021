"""The exchange's truth, per position side, and the consistency state machine that says whether the VPs match it.

For every configured symbol × LONG/SHORT the terminal keeps what the exchange last *confirmed*: the quantity,
entry, break-even and liquidation prices, margin figures, **when** (``confirmed_at``) and **by what**
(``confirmed_by``: ``stream`` for an ACCOUNT_UPDATE, ``rest`` for positionRisk). positionRisk v3 lists only the
sides that hold something: **a side it omits is flat**, and every REST read confirms every side.

State machine of one side (:func:`evaluate`), with Σ VP = the VPs' quantity (UNASSIGNED included):

==========  ===========================================================================================
STALE       the exchange's figure is not confirmed since the last (re)connect, or its last confirmation is
            older than ``stale_ms`` (two position polls and a margin): we do not know, so we do not say OK
SYNCING     a (re)connect's catch-up is running; or Σ VP ≠ exchange for less than the grace period, or
            not yet confirmed by a REST read taken after the difference appeared
MISMATCH    Σ VP ≠ exchange beyond the grace period and confirmed by REST; sticky until they agree again
OK          Σ VP == exchange, confirmed within ``stale_ms``
==========  ===========================================================================================

On every start and every reconnect :meth:`ExchangeTruth.invalidate` forgets every confirmation, so nothing is OK
before the truth is read again. The seed's two-valued status (``reconcile`` in ``/v1/state``,
``CONSISTENCY_STATUS.status``) is MISMATCH for MISMATCH and OK otherwise, so a normal fill never flashes
MISMATCH; the full state is ``reconcile_detail`` / ``CONSISTENCY_STATUS.detail``. MISMATCH locks the user's
reducing commands on the side (never the engine's protection: see ``tpsl.py``).

The exchange's uPnL of a side is recomputed on every mark (``d·qty·(mark − entry)``). The account block
(wallet, available, margin balance, maintenance margin, margin ratio) comes from ``/fapi/v3/account`` and the
stream's wallet balance.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Context, Decimal

from hedgestack.domain.enums import PositionSide
from hedgestack.domain.numbers import HUNDRED, ZERO
from hedgestack.engine.views import AccountView, SideStatus
from hedgestack.venue.port import Account, AccountUpdate, Position, SymbolSettings

log = logging.getLogger("hedgestack.consistency")

Side = tuple[str, PositionSide]
_PCT = Context(prec=40, rounding=ROUND_HALF_EVEN)
#: a REST position whose change is older than this and that the stream never reported means the stream stalled
STALL_MS = 2_000


@dataclass
class SideTruth:
    """One exchange side as last confirmed."""

    qty: Decimal = ZERO  # absolute
    entry: Decimal = ZERO
    break_even: Decimal | None = None
    liquidation: Decimal | None = None
    unrealized: Decimal = ZERO
    mark: Decimal | None = None
    notional: Decimal | None = None
    margin_type: str | None = None
    confirmed_at: int | None = None
    confirmed_by: str | None = None
    rest_at: int | None = None  # the last REST read that confirmed it


@dataclass(frozen=True, slots=True)
class SideState:
    status: SideStatus
    reason: str | None
    diverged_since: int | None


UNKNOWN = SideState(SideStatus.STALE, "not confirmed by the exchange yet", None)


def evaluate(*, now: int, truth: SideTruth, vp_qty: Decimal, previous: SideState, catching_up: bool, grace_ms: int,
             stale_ms: int) -> SideState:
    """The state of one side now (pure: see the table in the module doc)."""
    if truth.confirmed_at is None:
        if catching_up:
            return SideState(SideStatus.SYNCING, "reading the exchange's position", None)
        return SideState(SideStatus.STALE, "not confirmed by the exchange since the (re)connect", None)
    if vp_qty == truth.qty:
        age = now - truth.confirmed_at
        if age > stale_ms:
            return SideState(SideStatus.STALE, f"last confirmed by the exchange {age / 1000:.0f} s ago", None)
        return SideState(SideStatus.OK, None, None)
    # the reason says why; the quantities travel beside it (the view's exchange_qty and vp_qty), not in it
    since = previous.diverged_since if previous.diverged_since is not None else now
    if previous.status is SideStatus.MISMATCH:
        return SideState(SideStatus.MISMATCH, previous.reason, since)
    if now - since >= grace_ms and truth.rest_at is not None and truth.rest_at >= since:
        return SideState(SideStatus.MISMATCH, f"confirmed over REST beyond the {grace_ms / 1000:g} s grace", since)
    return SideState(SideStatus.SYNCING, "waiting for the fills", since)


@dataclass
class Surprise:
    """A side REST shows changed although the stream never said so (the stream may have stalled)."""

    symbol: str
    side: PositionSide
    ours: Decimal
    rest: Decimal
    changed_at: int | None  # when the exchange changed it (None: a side positionRisk no longer lists)


def stalled(surprise: Surprise, *, now: int, last_event_at: int | None) -> bool:
    """Whether a REST surprise means the user stream stalled: the change is older than STALL_MS and no stream
    message came since (a side that went flat has no change time: then the stream must have been silent for
    STALL_MS). A change the stream is about to report (in flight) is not a stall."""
    if surprise.changed_at is not None:
        return now - surprise.changed_at > STALL_MS and (last_event_at is None or last_event_at < surprise.changed_at)
    return last_event_at is None or now - last_event_at > STALL_MS


@dataclass
class ExchangeTruth:
    """Every side's truth and state, the symbols' leverage and margin type, and the account block."""

    symbols: tuple[str, ...]
    clock: Callable[[], int]
    grace_ms: int = 3_000
    stale_ms: int = 12_000
    sides: dict[Side, SideTruth] = field(default_factory=dict)
    states: dict[Side, SideState] = field(default_factory=dict)
    settings: dict[str, SymbolSettings] = field(default_factory=dict)
    account: AccountView = field(default_factory=AccountView)
    #: side changes REST showed that the stream has not reported yet (cleared when it does, or by a catch-up)
    unreported: dict[Side, Surprise] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for symbol in self.symbols:
            for side in PositionSide:
                self.sides.setdefault((symbol, side), SideTruth())
                self.states.setdefault((symbol, side), UNKNOWN)

    # -- what the exchange says ----------------------------------------------------------------------
    def invalidate(self) -> None:
        """Forget every confirmation (start, reconnect): nothing is OK until the truth is read again."""
        self.unreported.clear()
        for truth in self.sides.values():
            truth.confirmed_at = None
            truth.confirmed_by = None
            truth.rest_at = None

    def record_rest(self, positions: Iterable[Position]) -> tuple[list[Surprise], list[Side]]:
        """A positionRisk read: every configured side is confirmed now; one it omits is flat. Returns the sides
        whose quantity differs from what we held (see :func:`stalled` for what that says about the stream) and
        the sides whose figures changed."""
        now = self.clock()
        listed = {(p.symbol, p.position_side): p for p in positions if p.symbol in self.symbols}
        surprises: list[Surprise] = []
        changed: list[Side] = []
        for key, truth in self.sides.items():
            before = (truth.qty, truth.entry, truth.break_even, truth.liquidation)
            row = listed.get(key)
            qty = ZERO if row is None else row.amount
            if truth.confirmed_at is not None and qty != truth.qty:
                surprise = Surprise(key[0], key[1], truth.qty, qty,
                                    None if row is None or not row.update_time else row.update_time)
                surprises.append(surprise)
                self.unreported.setdefault(key, surprise)
            truth.qty = qty
            truth.entry = ZERO if row is None else row.entry_price
            truth.break_even = None if row is None else row.break_even_price
            truth.liquidation = None if row is None or not row.liquidation_price else row.liquidation_price
            truth.unrealized = ZERO if row is None else row.unrealized
            truth.mark = None if row is None else row.mark_price
            truth.notional = None if row is None else row.notional
            truth.confirmed_at = truth.rest_at = now
            truth.confirmed_by = "rest"
            if (truth.qty, truth.entry, truth.break_even, truth.liquidation) != before:
                changed.append(key)
        return surprises, changed

    def record_stream(self, update: AccountUpdate) -> list[Side]:
        """The sides an ACCOUNT_UPDATE reports (confirmed by the stream); returns those whose figures changed."""
        now = self.clock()
        changed: list[Side] = []
        if update.wallet_balance is not None:
            self._set_account(wallet_balance=update.wallet_balance)
        for pos in update.positions:
            key = (pos.symbol, pos.position_side) if pos.position_side is not None else None
            if key is None or key not in self.sides:
                continue
            truth = self.sides[key]
            before = (truth.qty, truth.entry)
            self.unreported.pop(key, None)
            truth.qty = pos.amount
            truth.entry = pos.entry_price if pos.entry_price is not None else truth.entry
            truth.break_even = pos.break_even_price if pos.amount else None
            if pos.unrealized is not None:
                truth.unrealized = pos.unrealized
            if pos.margin_type:
                truth.margin_type = pos.margin_type
            if pos.amount == 0:
                truth.entry, truth.liquidation, truth.unrealized = ZERO, None, ZERO
            truth.confirmed_at = now
            truth.confirmed_by = "stream"
            if (truth.qty, truth.entry) != before:
                changed.append(key)
        return changed

    def record_settings(self, settings: Iterable[SymbolSettings]) -> None:
        for s in settings:
            if s.symbol in self.symbols:
                self.settings[s.symbol] = s

    def record_leverage(self, symbol: str, leverage: int) -> None:
        old = self.settings.get(symbol)
        self.settings[symbol] = SymbolSettings(symbol, leverage, old.margin_type if old else "cross")

    def record_account(self, account: Account) -> bool:
        """The account block from REST; True when it changed."""
        return self._set_account(wallet_balance=account.wallet_balance, available_balance=account.available_balance,
                                 margin_balance=account.margin_balance,
                                 maintenance_margin=account.maintenance_margin)

    def _set_account(self, **figures: Decimal) -> bool:
        current = {name: getattr(self.account, name) for name in ("wallet_balance", "available_balance",
                                                                  "margin_balance", "maintenance_margin")}
        current.update(figures)
        margin, maint = current["margin_balance"], current["maintenance_margin"]
        ratio = None if margin is None or maint is None or margin <= 0 else \
            _PCT.divide(maint * HUNDRED, margin).quantize(Decimal("1e-8"), context=_PCT)
        new = AccountView(margin_ratio=ratio, **current)
        changed = new != self.account
        self.account = new
        return changed

    def mark_moved(self, symbol: str, mark: Decimal) -> list[Side]:
        """Recompute the exchange uPnL of the symbol's open sides at ``mark``; returns them."""
        moved = []
        for side in PositionSide:
            truth = self.sides.get((symbol, side))
            if truth is None or truth.qty == 0:
                continue
            truth.mark = mark
            truth.unrealized = side.sign * truth.qty * (mark - truth.entry)
            truth.notional = truth.qty * mark
            moved.append((symbol, side))
        return moved

    # -- the state machine --------------------------------------------------------------------------
    def evaluate(self, vp_qty: Callable[[str, PositionSide], Decimal], *, catching_up: bool) -> list[Side]:
        """Re-evaluate every side; returns those whose status changed."""
        now = self.clock()
        changed = []
        for key, truth in self.sides.items():
            previous = self.states[key]
            state = evaluate(now=now, truth=truth, vp_qty=vp_qty(*key), previous=previous, catching_up=catching_up,
                             grace_ms=self.grace_ms, stale_ms=self.stale_ms)
            self.states[key] = state
            if state.status is not previous.status:
                changed.append(key)
                if state.status is SideStatus.MISMATCH:
                    log.warning("%s %s MISMATCH: VPs hold %s, the exchange %s (%s)", key[0], key[1], vp_qty(*key),
                                truth.qty, state.reason)
        return changed

    def status(self, symbol: str, side: PositionSide) -> SideStatus:
        return self.states[(symbol, side)].status

    def locked(self, symbol: str, side: PositionSide) -> bool:
        """The user's reducing commands are refused on a side in MISMATCH."""
        state = self.states.get((symbol, side))
        return state is not None and state.status is SideStatus.MISMATCH

    def diverging(self) -> list[Side]:
        """Sides whose VPs differ from the exchange and are not yet MISMATCH (a catch-up may explain them)."""
        return [key for key, state in self.states.items() if state.status is SideStatus.SYNCING
                and state.diverged_since is not None]

    def leverage(self, symbol: str) -> Decimal | None:
        s = self.settings.get(symbol)
        return None if s is None else Decimal(s.leverage)


__all__ = ["STALL_MS", "ExchangeTruth", "SideState", "SideTruth", "Surprise", "evaluate", "stalled"]

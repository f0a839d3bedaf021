"""Running the trader's commands from a browser session without blocking it.

``Commands.run`` is called from a widget callback: it shows "…" next to the control, submits the command to the
terminal (``TerminalApi.submit``) and returns. The answer comes back through the session's feed as a callback
that runs after the batch of engine updates it arrived with, on the session's loop, so the answer and the
figures it changed are painted together. A refusal is shown verbatim (``CODE: message``, the exchange's code and
message included) next to the control that caused it.

On the LIVE venue an order-sending command (``orders=True``) is refused until the session has confirmed trading
on the real account (the ticket's checkbox), as the REST API asks for its confirmation header: nothing is sent
before.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import param

from hedgestack.domain.errors import HedgestackError

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine
    from concurrent.futures import Future

LIVE_CONFIRMATION = "LIVE_CONFIRMATION_REQUIRED"
BUSY = "…"


class Feedback(param.Parameterized):
    """What a control shows next to itself: the last refusal or the last result."""

    error = param.String(default="", constant=True)
    result = param.String(default="", constant=True)

    def show(self, *, error: str = "", result: str = "") -> None:
        with param.edit_constant(self):
            self.param.update(error=error, result=result)


def describe(exc: BaseException) -> str:
    """A refusal as the trader reads it: the REST envelope's ``CODE: message`` for our typed errors (an exchange
    refusal keeps Binance's code and message: ``EXCHANGE_REJECTED: Binance -2019: Margin is insufficient.``),
    else the exception."""
    if isinstance(exc, HedgestackError):
        envelope = exc.to_envelope()
        return f"{envelope['error']}: {envelope['message']}"
    return f"{type(exc).__name__}: {exc}"


class Commands:
    """The command runner of one session."""

    def __init__(self, terminal: Any, deliver: Callable[[Callable[[], None]], None]) -> None:
        self.terminal = terminal
        self.deliver = deliver
        self.live_confirmed = False

    @property
    def needs_live_confirmation(self) -> bool:
        return getattr(self.terminal, "venue_name", "sim") == "live" and not self.live_confirmed

    def run(self, target: Feedback, call: Callable[[], Coroutine[Any, Any, Any]],
            done: str | Callable[[Any], str | None] = "done", *, orders: bool = False,
            failed: Callable[[BaseException], None] | None = None) -> bool:
        """Submit ``call()``; show ``done`` (or ``done(result)``) or the refusal on ``target``. False when
        nothing was sent (the LIVE confirmation is missing)."""
        if orders and self.needs_live_confirmation:
            target.show(error=f"{LIVE_CONFIRMATION}: this session trades on the LIVE Binance account; tick "
                              "'Trade on the LIVE account' in the order ticket first")
            return False
        target.show(result=BUSY)
        try:
            future = self.terminal.submit(call())
        except Exception as exc:  # noqa: BLE001 - shown, never swallowed silently
            self._outcome(target, None, exc, done, failed)
            return True

        def answered(fut: Future[Any]) -> None:
            exc = fut.exception() if not fut.cancelled() else RuntimeError("cancelled")
            result = None if exc is not None else fut.result()
            self.deliver(lambda: self._outcome(target, result, exc, done, failed))

        future.add_done_callback(answered)
        return True

    @staticmethod
    def _outcome(target: Feedback, result: Any, exc: BaseException | None,
                 done: str | Callable[[Any], str | None], failed: Callable[[BaseException], None] | None) -> None:
        if exc is not None:
            target.show(error=describe(exc))
            if failed is not None:
                failed(exc)
            return
        text = done(result) if callable(done) else done
        if text is not None:
            target.show(result=text)


__all__ = ["BUSY", "Commands", "Feedback", "LIVE_CONFIRMATION", "describe"]

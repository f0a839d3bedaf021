"""On the LIVE venue the dashboard sends no order before the session confirms trading on the real account."""

from __future__ import annotations

from typing import Any

import pytest

from hedgestack.ui.commands import LIVE_CONFIRMATION, Commands, Feedback


class FakeTerminal:
    def __init__(self, venue: str) -> None:
        self.venue_name = venue
        self.submitted: list[Any] = []

    def submit(self, coro: Any) -> Any:
        self.submitted.append(coro)
        coro.close()
        raise RuntimeError("stop here: submitted")  # shown as the command's error


async def order() -> dict[str, str]:
    return {"status": "NEW"}


@pytest.mark.parametrize("venue", ["sim", "testnet"])
def test_off_live_orders_go_at_once(venue: str) -> None:
    terminal = FakeTerminal(venue)
    commands = Commands(terminal, lambda call: None)
    assert not commands.needs_live_confirmation
    feedback = Feedback()
    commands.run(feedback, order, orders=True)
    assert len(terminal.submitted) == 1 and feedback.error == "RuntimeError: stop here: submitted"


def test_on_live_an_order_waits_for_the_sessions_confirmation() -> None:
    terminal = FakeTerminal("live")
    commands = Commands(terminal, lambda call: None)
    feedback = Feedback()
    assert commands.run(feedback, order, orders=True) is False
    assert terminal.submitted == [] and feedback.error.startswith(LIVE_CONFIRMATION)
    commands.run(feedback, order)  # a command that sends no order (rename, transfer, cancel) is not held
    assert len(terminal.submitted) == 1
    commands.live_confirmed = True
    commands.run(feedback, order, orders=True)
    assert len(terminal.submitted) == 2
    other_session = Commands(terminal, lambda call: None)  # each browser session confirms for itself
    assert other_session.needs_live_confirmation

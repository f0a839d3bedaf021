"""On the LIVE venue the dashboard sends no order before the session confirms trading on the real account."""

from __future__ import annotations

from typing import Any

import pytest

from hedgestack.ui.models import OrderTicketModel
from hedgestack.ui.views import LIVE_CONFIRMATION, Commands


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
    commands = Commands(terminal, lambda envelope: None)
    assert not commands.needs_live_confirmation
    commands.run(OrderTicketModel(), order, orders=True)
    assert len(terminal.submitted) == 1


def test_on_live_an_order_waits_for_the_sessions_confirmation() -> None:
    terminal = FakeTerminal("live")
    commands = Commands(terminal, lambda envelope: None)
    ticket = OrderTicketModel()
    commands.run(ticket, order, orders=True)
    assert terminal.submitted == [] and ticket.error.startswith(LIVE_CONFIRMATION)
    commands.run(ticket, order)  # a command that sends no order (rename, transfer, cancel) is not held
    assert len(terminal.submitted) == 1
    commands.live_confirmed = True
    commands.run(ticket, order, orders=True)
    assert len(terminal.submitted) == 2
    other_session = Commands(terminal, lambda envelope: None)  # each browser session confirms for itself
    assert other_session.needs_live_confirmation

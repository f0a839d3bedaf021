"""The account block (available balance, margin) and the side's risk figures (break-even, liquidation price) follow a
fill without waiting for the position poll."""

from __future__ import annotations

from pathlib import Path

from hedgestack.venue.sim import SimServer
from tests.engine.conftest import Control, make_terminal, wait_until


def test_the_account_block_is_read_soon_after_a_fill(sim_server: SimServer, control: Control,
                                                     tmp_path: Path) -> None:
    t = make_terminal(sim_server, tmp_path, poll_interval=30.0).start_sync()  # no poll during the test
    try:
        events: list[str] = []
        t.add_listener(lambda env: events.append(env.type))
        a = t.sync.create_vp("A", "BTCUSDT", "LONG").id
        before = t.sync.state().account.available_balance
        t.sync.place_order(a, "BUY", "MARKET", "0.010")
        wait_until(lambda: t.sync.state().account.available_balance != before, timeout=3)
        shown = t.sync.state().account.available_balance
        assert shown is not None and before is not None and shown < before  # margin is held for the position
        assert shown == t.run_sync(t.venue.account()).available_balance  # the exchange's own figure
        assert "ACCOUNT_STATUS" in events

        def break_even() -> object:
            (side,) = [p for p in t.sync.state().external_positions if p.symbol == "BTCUSDT"
                       and p.position_side == "LONG"]
            return side.break_even_price

        wait_until(lambda: break_even() is not None, timeout=3)  # positionRisk read with the account
    finally:
        t.stop_sync()

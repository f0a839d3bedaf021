"""One meaning of a fill: ``realized_pnl`` is the VP's realized PnL from the fill (our ledger), ``exchange_rp``
the exchange's own rp for the side, live and published alike."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from hedgestack.domain.enums import PositionSide, Side
from hedgestack.domain.events import Fill
from hedgestack.store.analytics import live, open_published
from hedgestack.store.eventlog import EventLog
from hedgestack.store.publish import Publisher
from tests.factories import VP_A, VP_B, vp

D = Decimal


def _fill(trade_id: int, vp_id: str, side: Side, qty: str, price: str, rp: str) -> Fill:
    return Fill(ts=1_764_000_000_000 + trade_id, symbol="BTCUSDT", trade_id=trade_id, order_id=trade_id,
                client_order_id=None, vp_id=vp_id, side=side, position_side=PositionSide.LONG, qty=D(qty),
                price=D(price), commission=D(0), commission_asset="USDT", exchange_rp=D(rp), maker=False)


@pytest.mark.parametrize("where", ["live", "published"])
def test_realized_pnl_is_the_vps_and_exchange_rp_the_exchanges(tmp_path: Path, where: str) -> None:
    # one LONG side, two VPs: A buys 1 @ 100, B buys 1 @ 120, A sells 1 @ 110. The exchange's side averages
    # 110, so its rp for the sale is 0; A's own average is 100, so A realized +10.
    with EventLog(tmp_path / "hedgestack.duckdb") as log:
        log.append([vp(VP_A), vp(VP_B), _fill(1, VP_A, Side.BUY, "1", "100", "0"),
                    _fill(2, VP_B, Side.BUY, "1", "120", "0"), _fill(3, VP_A, Side.SELL, "1", "110", "0")])
        if where == "live":
            fills = live(log).fills()
        else:
            Publisher(log, tmp_path).publish()
            fills = open_published(tmp_path).fills()
        assert fills.columns[:17] == ["seq", "ts", "trade_id", "order_id", "client_order_id", "vp_id", "vp_name",
                                      "symbol", "side", "position_side", "qty", "price", "commission",
                                      "commission_asset", "realized_pnl", "exchange_rp", "maker"]
        assert fills["realized_pnl"].to_list() == [D(0), D(0), D(10)]
        assert fills["exchange_rp"].to_list() == [D(0), D(0), D(0)]
        assert sum(fills.filter(fills["vp_id"] == VP_A)["realized_pnl"].to_list()) == log.ledger.view(
            VP_A).realized_pnl

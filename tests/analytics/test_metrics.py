"""Each metric on the hand-built history of conftest.py, live and from published Parquet.

Every expected figure below is worked out by hand from the history in the conftest docstring.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from hedgestack.store import metrics
from hedgestack.store.analytics import Analytics
from tests.analytics.conftest import D2, T0, VP_A, VP_B

D = Decimal


def col(frame: pl.DataFrame, name: str) -> list[object]:
    values = frame[name].to_list()
    return [v.normalize() if isinstance(v, Decimal) else v for v in values]


def dec(*values: str) -> list[Decimal]:
    return [D(v).normalize() for v in values]


def test_equity_curve(source: Analytics) -> None:
    curve = metrics.equity_curve(source, vp=VP_A)
    assert col(curve, "ts") == [T0 + 1500, T0 + 3000, T0 + 4000, T0 + 50_000_000, D2 + 6000]
    # 1 @ 100 at 95 → -5; 2 @ avg 105 at 90 → -30, at 125 → +40, at 112 → +14; flat after selling at 120
    assert col(curve, "unrealized") == dec("-5", "-30", "40", "14", "0")
    assert col(curve, "realized") == dec("0", "0", "0", "0", "30")
    assert col(curve, "equity") == dec("-5", "-30", "40", "14", "30")
    # net = equity - fees (0.05, 0.1, 0.1, 0.1, 0.2) + funding (0 until 8h, then -0.1)
    assert col(curve, "net_equity") == dec("-5.05", "-30.1", "39.9", "13.8", "29.7")
    short = metrics.equity_curve(source, vp=VP_B)
    # SHORT 1 @ 115: at 125 → -(125 - 115) = -10, at 112 → +3, at 118 → -3
    assert col(short, "unrealized") == dec("0", "0", "-10", "3", "-3")


def test_daily_pnl(source: Analytics) -> None:
    daily = metrics.daily_pnl(source, vp=VP_A)
    assert col(daily, "day") == [date(2025, 11, 25), date(2025, 11, 26)]
    assert col(daily, "realized") == dec("0", "25")  # day 2: +30 then -5
    assert col(daily, "unrealized_change") == dec("14", "-14")  # 2 x (112 - 105), then flat
    assert col(daily, "fees") == dec("0.1", "0.1")
    assert col(daily, "funding") == dec("-0.1", "0")
    assert col(daily, "net_pnl") == dec("13.8", "10.9")
    assert sum(col(daily, "net_pnl")) == D("24.7")  # = 25 - 0.2 - 0.1
    short = metrics.daily_pnl(source, vp=VP_B)
    assert col(short, "net_pnl") == dec("3.05", "-6")  # +3 unrealized + 0.05 funding; then 3 → -3
    assert metrics.daily_pnl(source, since="2025-11-26")["day"].to_list() == [date(2025, 11, 26)] * 2


def test_round_trips(source: Analytics) -> None:
    trips = metrics.round_trips(source)
    assert col(trips, "vp_id") == [VP_A, VP_A, VP_B]
    assert col(trips, "trip_no") == [1, 2, 1]
    assert col(trips, "open_ts") == [T0 + 1000, D2 + 7000, T0 + 3500]
    assert col(trips, "close_ts") == [D2 + 5000, D2 + 8000, None]
    assert col(trips, "holding_ms") == [86_404_000, 1000, None]
    assert col(trips, "max_qty") == dec("2", "1", "1")
    assert col(trips, "realized") == dec("30", "-5", "0")
    assert col(trips, "fees") == dec("0.2", "0", "0")
    assert col(trips, "funding") == dec("-0.1", "0", "0.05")
    assert col(trips, "net_pnl") == dec("29.7", "-5", "0.05")
    assert col(trips, "result") == ["WIN", "LOSS", "OPEN"]


def test_win_rate_and_payoff(source: Analytics) -> None:
    wr = metrics.win_rate(source)
    assert wr["vp_id"].to_list() == [VP_A, VP_B]  # every VP: VP_B has no closed trip, its rates are NULL
    b = wr.row(1, named=True)
    assert (b["trips"], b["wins"], b["win_rate"], b["payoff_ratio"], b["net_pnl"]) == (0, 0, None, None, D(0))
    row = wr.row(0, named=True)
    assert (row["trips"], row["wins"], row["losses"]) == (2, 1, 1)
    assert row["win_rate"] == 0.5
    assert row["gross_wins"] == D("29.7") and row["gross_losses"] == D("-5") and row["net_pnl"] == D("24.7")
    assert row["payoff_ratio"] == pytest.approx(29.7 / 5)
    assert row["profit_factor"] == pytest.approx(5.94)
    assert row["expectancy"] == pytest.approx(12.35)


def test_mae_mfe(source: Analytics) -> None:
    ex = metrics.mae_mfe(source)
    # trip 1: samples -5, -30, +40, +14 → MAE -30, MFE 40; trip 2 has no mark inside: its end points (0, -5)
    # VP_B (open): samples -10, +3, -3
    assert col(ex, "mae") == dec("-30", "-5", "-10")
    assert col(ex, "mfe") == dec("40", "0", "3")
    assert col(ex, "samples") == [4, 0, 3]


def test_fee_funding_drag(source: Analytics) -> None:
    drag = metrics.fee_funding_drag(source)
    a, b = drag.rows(named=True)
    assert (a["gross_realized"], a["fees"], a["funding"], a["net_pnl"]) == (D(25), D("0.2"), D("-0.1"), D("24.7"))
    assert a["fee_drag"] == pytest.approx(0.008)
    assert a["funding_drag"] == pytest.approx(0.004)
    assert a["total_drag"] == pytest.approx(0.012)
    assert b["fee_drag"] is None  # no gross realized to take a share of


def test_slippage(source: Analytics) -> None:
    per_fill = metrics.slippage(source)
    assert col(per_fill, "client_order_id") == ["c1", "c2", "c4", "c3"]
    # BUY 100 vs 99.95 → 0.05; BUY 110 vs 109.9 → 0.1; SELL 115 vs 115.1 → 0.1; SELL 2 @ 120 vs 120.06 → 0.06
    assert col(per_fill, "slippage") == dec("0.05", "0.1", "0.1", "0.06")
    assert col(per_fill, "slippage_cost") == dec("0.05", "0.1", "0.1", "0.12")
    assert per_fill["slippage_bps"].to_list() == pytest.approx(
        [0.05 / 99.95 * 1e4, 0.1 / 109.9 * 1e4, 0.1 / 115.1 * 1e4, 0.06 / 120.06 * 1e4])
    per_vp = metrics.slippage(source, per="vp")
    a = per_vp.row(0, named=True)
    assert a["slippage_cost"] == D("0.27")
    assert a["slippage_bps"] == pytest.approx(0.27 / 449.97 * 1e4)  # notional at intent 99.95 + 109.9 + 240.12


def test_maker_taker(source: Analytics) -> None:
    mt = metrics.maker_taker(source, vp=VP_A)
    row = mt.row(0, named=True)
    assert (row["fills"], row["maker_fills"], row["taker_fills"]) == (5, 1, 4)
    assert row["maker_share"] == 0.2
    assert row["maker_notional"] == D(100) and row["taker_notional"] == D(605)  # 110 + 240 + 130 + 125
    assert row["maker_notional_share"] == pytest.approx(100 / 705)
    assert (row["maker_fees"], row["taker_fees"]) == (D("0.05"), D("0.15"))


def test_exposure(source: Analytics) -> None:
    ex = metrics.exposure(source, side="SHORT")
    assert col(ex, "notional") == dec("0", "0", "125", "112", "118")
    assert col(ex, "signed_notional") == dec("0", "0", "-125", "-112", "-118")
    longs = metrics.exposure(source, side="LONG", since=T0 + 3000, until=T0 + 50_000_001)
    assert col(longs, "notional") == dec("180", "250", "224")


ALL = [metrics.equity_curve, metrics.daily_pnl, metrics.round_trips, metrics.win_rate, metrics.mae_mfe,
       metrics.fee_funding_drag, metrics.slippage, metrics.maker_taker, metrics.exposure, metrics.drawdown,
       metrics.risk_adjusted, metrics.report]


def test_live_and_published_frames_identical(live_source: Analytics, published_source: Analytics) -> None:
    for fn in ALL:
        assert_frame_equal(fn(live_source), fn(published_source), check_exact=True)
    assert_frame_equal(metrics.slippage(live_source, per="vp"), metrics.slippage(published_source, per="vp"))
    for by in ("symbol", "side", "symbol_side", "all"):
        for freq in ("day", "sample"):
            assert_frame_equal(metrics.drawdown(live_source, by=by, freq=freq),
                               metrics.drawdown(published_source, by=by, freq=freq), check_exact=True)
        assert_frame_equal(metrics.risk_adjusted(live_source, by=by, leverage={"BTCUSDT": 5}),
                           metrics.risk_adjusted(published_source, by=by, leverage={"BTCUSDT": 5}), check_exact=True)


def test_views_installed_on_a_plain_connection(live_source: Analytics) -> None:
    con = live_source._con.cursor()  # a fresh connection: views installed on first use, as TEMP views
    metrics.install_metric_views(con)
    names = {row[0] for row in con.sql("SELECT view_name FROM duckdb_views() WHERE temporary").fetchall()}
    assert set(metrics.METRIC_VIEWS) <= names
    assert metrics.round_trips(con).height == 3

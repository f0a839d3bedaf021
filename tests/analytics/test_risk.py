"""Drawdown, risk-adjusted figures and the per-VP report, hand-computed; every summary lists every VP.

The risk history (no fees, no funding: the daily net PnL is the mark's move):
  Trend, BTCUSDT LONG, created and BUY 1 @ 100 at day 1 00:00; BTCUSDT marks at 23:59:00 of days 1-5:
    110, 106, 103, 108, 109 → daily +10, -4, -3, +5, +1; equity 10, 6, 3, 8, 9.
  Hedge, ETHUSDT SHORT, created and SELL 1 @ 50 at day 2 00:00; ETHUSDT marks at 23:59:30 of days 2-5:
    45, 48, 48, 50 → daily +5, -3, 0, -2; equity 5, 2, 2, 0.
  Both: daily +10, +1, -6, +5, -1; equity 10, 11, 5, 10, 9.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from hedgestack.domain.enums import PositionSide, Side
from hedgestack.domain.events import Event, Fill, Funding, VpCreated
from hedgestack.domain.ids import unassigned_vp_id
from hedgestack.store import metrics
from hedgestack.store.analytics import Analytics, live, open_published
from hedgestack.store.eventlog import EventLog
from hedgestack.store.publish import Publisher
from tests.analytics.conftest import VP_A, VP_B, history

D = Decimal
DAY = 86_400_000
D1 = 20_417 * DAY  # 2025-11-25
DAYS = [dt.date(2025, 11, 25) + dt.timedelta(days=k) for k in range(5)]
BTC_AT, ETH_AT = 86_340_000, 86_370_000  # 23:59:00 and 23:59:30
TREND, HEDGE = "vp_trend000", "vp_hedge000"
LONG, SHORT = PositionSide.LONG, PositionSide.SHORT
SQRT365 = math.sqrt(365)


def _fill(trade_id: int, vp_id: str, symbol: str, side: Side, pside: PositionSide, qty: str, price: str, ts: int,
          fee: str = "0") -> Fill:
    return Fill(ts=ts, symbol=symbol, trade_id=trade_id, order_id=trade_id, client_order_id=None, vp_id=vp_id,
                side=side, position_side=pside, qty=D(qty), price=D(price), commission=D(fee),
                commission_asset="USDT", exchange_rp=D(0), maker=False)


def risk_history() -> tuple[list[Event], list[tuple[str, int, Decimal]]]:
    events: list[Event] = [
        VpCreated(ts=D1, vp_id=TREND, name="Trend", symbol="BTCUSDT", position_side=LONG),
        _fill(1, TREND, "BTCUSDT", Side.BUY, LONG, "1", "100", D1),
        VpCreated(ts=D1 + DAY, vp_id=HEDGE, name="Hedge", symbol="ETHUSDT", position_side=SHORT),
        _fill(2, HEDGE, "ETHUSDT", Side.SELL, SHORT, "1", "50", D1 + DAY),
    ]
    marks = [("BTCUSDT", D1 + k * DAY + BTC_AT, D(p)) for k, p in enumerate(["110", "106", "103", "108", "109"])]
    marks += [("ETHUSDT", D1 + k * DAY + ETH_AT, D(p)) for k, p in zip(range(1, 5), ["45", "48", "48", "50"],
                                                                           strict=True)]
    return events, sorted(marks, key=lambda m: m[1])


@pytest.fixture(params=["live", "published"])
def risk(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Analytics]:
    events, marks = risk_history()
    with EventLog(tmp_path / "hedgestack.duckdb") as log:
        for event in events:
            log.append([event])
        log.append_marks(marks)
        if request.param == "live":
            yield live(log)
        else:
            Publisher(log, tmp_path).publish()
            yield open_published(tmp_path)


def test_daily_pnl_of_the_risk_history(risk: Analytics) -> None:
    daily = metrics.daily_pnl(risk)
    assert daily.filter(daily["vp_id"] == TREND)["net_pnl"].to_list() == [D(10), D(-4), D(-3), D(5), D(1)]
    assert daily.filter(daily["vp_id"] == HEDGE)["net_pnl"].to_list() == [D(5), D(-3), D(0), D(-2)]


def test_drawdown_per_vp_daily(risk: Analytics) -> None:
    hedge, trend = metrics.drawdown(risk).rows(named=True)  # by vp_id
    assert (trend["vp_id"], trend["vp_name"], trend["symbol"], trend["position_side"]) == (TREND, "Trend",
                                                                                           "BTCUSDT", "LONG")
    # equity 10, 6, 3, 8, 9: from the peak of 10 (day 1) down to 3 (day 3), not back to 10 since
    assert (trend["max_drawdown"], trend["max_drawdown_peak"]) == (D(7), D(10))
    assert (trend["max_drawdown_start"], trend["max_drawdown_trough"], trend["max_drawdown_recovered"]) == (
        DAYS[0], DAYS[2], None)
    assert (trend["longest_drawdown_days"], trend["longest_drawdown_start"], trend["drawdown_periods"]) == (
        4, DAYS[0], 1)
    assert trend["current_drawdown"] == D(1)
    # equity 5, 2, 2, 0: from 5 (day 2) to 0 (day 5)
    assert (hedge["max_drawdown"], hedge["max_drawdown_start"], hedge["max_drawdown_trough"]) == (
        D(5), DAYS[1], DAYS[4])
    assert (hedge["longest_drawdown_days"], hedge["current_drawdown"]) == (3, D(5))


def test_drawdown_of_everything_daily_and_at_each_sample(risk: Analytics) -> None:
    (day,) = metrics.drawdown(risk, by="all").rows(named=True)
    # equity 10, 11, 5, 10, 9: peak 11 (day 2), trough 5 (day 3), not recovered
    assert (day["scope"], day["max_drawdown"], day["max_drawdown_peak"]) == ("ALL", D(6), D(11))
    assert (day["max_drawdown_start"], day["max_drawdown_trough"], day["max_drawdown_recovered"]) == (
        DAYS[1], DAYS[2], None)
    assert (day["longest_drawdown_days"], day["drawdown_periods"], day["current_drawdown"]) == (3, 1, D(2))
    (sample,) = metrics.drawdown(risk, by="all", freq="sample").rows(named=True)
    # each symbol's change where it is sampled: 10 (BTC d1), 6, 11 (ETH d2), 8, 5 (ETH d3), 10, 10, 11 (BTC d5), 9
    eth = [D1 + k * DAY + ETH_AT for k in range(5)]
    btc = [D1 + k * DAY + BTC_AT for k in range(5)]
    assert (sample["max_drawdown"], sample["max_drawdown_peak"]) == (D(6), D(11))
    assert (sample["max_drawdown_start_ts"], sample["max_drawdown_trough_ts"], sample["max_drawdown_recovered_ts"]) \
        == (eth[1], eth[2], btc[4])
    assert sample["longest_drawdown_ms"] == btc[4] - eth[1] == 3 * DAY - 30_000
    assert (sample["drawdown_periods"], sample["current_drawdown"]) == (3, D(2))
    # one symbol: the sample series is the VP's own
    (btc_only,) = metrics.drawdown(risk, by="symbol", freq="sample").filter(
        metrics.drawdown(risk, by="symbol", freq="sample")["symbol"] == "BTCUSDT").rows(named=True)
    assert (btc_only["max_drawdown"], btc_only["max_drawdown_trough_ts"]) == (D(7), btc[2])


def test_risk_adjusted_per_vp(risk: Analytics) -> None:
    hedge, trend = metrics.risk_adjusted(risk).rows(named=True)  # by vp_id
    assert (trend["days"], trend["net_pnl"], trend["winning_days"], trend["losing_days"]) == (5, D(9), 3, 2)
    assert trend["mean_daily_pnl"] == pytest.approx(1.8)
    assert trend["stdev_daily_pnl"] == pytest.approx(math.sqrt(134.8 / 4))
    assert trend["downside_deviation"] == pytest.approx(math.sqrt((16 + 9) / 5))
    assert trend["sharpe"] == pytest.approx(1.8 / math.sqrt(33.7) * SQRT365)
    assert trend["sortino"] == pytest.approx(1.8 / math.sqrt(5) * SQRT365)
    assert (trend["losing_streak_days"], trend["losing_streak_trips"]) == (2, 0)
    assert trend["time_in_market"] == 1.0  # bought when created, held to the end of the data
    assert (trend["peak_margin"], trend["return_on_margin"]) == (D(100), pytest.approx(0.09))
    # Hedge: +5, -3, 0, -2 → mean 0: Sharpe and Sortino 0; the 0 day breaks the losing streak
    assert (hedge["days"], hedge["net_pnl"], hedge["sharpe"], hedge["sortino"]) == (4, D(0), 0.0, 0.0)
    assert hedge["downside_deviation"] == pytest.approx(math.sqrt(13 / 4))
    assert (hedge["losing_streak_days"], hedge["peak_margin"], hedge["return_on_margin"]) == (1, D(50), 0.0)


def test_risk_adjusted_of_everything_with_leverage(risk: Analytics) -> None:
    (both,) = metrics.risk_adjusted(risk, by="all").rows(named=True)
    # +10, +1, -6, +5, -1
    assert (both["days"], both["net_pnl"], both["losing_streak_days"]) == (5, D(9), 1)
    assert both["sharpe"] == pytest.approx(1.8 / math.sqrt(146.8 / 4) * SQRT365)
    assert both["sortino"] == pytest.approx(1.8 / math.sqrt(37 / 5) * SQRT365)
    assert (both["peak_margin"], both["return_on_margin"]) == (D(150), pytest.approx(0.06))  # both held at once
    (levered,) = metrics.risk_adjusted(risk, by="all", leverage={"BTCUSDT": 10}).rows(named=True)
    assert (levered["peak_margin"], levered["return_on_margin"]) == (D(60), pytest.approx(0.15))  # 10 + 50
    sides = metrics.risk_adjusted(risk, by="side", leverage=2)
    assert sides["position_side"].to_list() == ["LONG", "SHORT"]
    assert sides["peak_margin"].to_list() == [D(50), D(25)]


def test_bad_scope_freq_or_leverage_is_refused(risk: Analytics) -> None:
    with pytest.raises(ValueError, match="by must be one of"):
        metrics.drawdown(risk, by="idea")
    with pytest.raises(ValueError, match="freq must be one of"):
        metrics.drawdown(risk, freq="hour")
    with pytest.raises(ValueError, match="leverage must be positive"):
        metrics.risk_adjusted(risk, leverage=0)


def test_losing_streak_of_round_trips(tmp_path: Path) -> None:
    vp = "vp_scalp000"
    events: list[Event] = [VpCreated(ts=D1, vp_id=vp, name="Scalp", symbol="BTCUSDT", position_side=LONG)]
    # trips: -1 (LOSS), -2 (LOSS), +3 (WIN), -0.5 (LOSS), -1 (LOSS), -1 (LOSS) → streak 3
    for n, exit_price in enumerate(["99", "98", "103", "99.5", "99", "99"]):
        events += [_fill(10 + 2 * n, vp, "BTCUSDT", Side.BUY, LONG, "1", "100", D1 + 1000 * (2 * n + 1)),
                   _fill(11 + 2 * n, vp, "BTCUSDT", Side.SELL, LONG, "1", exit_price, D1 + 1000 * (2 * n + 2))]
    with EventLog(tmp_path / "hedgestack.duckdb") as log:
        log.append(events)
        (row,) = metrics.risk_adjusted(live(log)).rows(named=True)
        assert row["losing_streak_trips"] == 3
        assert row["time_in_market"] == pytest.approx(6000 / 12_000)  # 6 trips of 1 s each over 12 s of data


# -- every summary lists every VP --------------------------------------------------------------------------
VP_FEES, VP_IDLE = "vp_fees0000", "vp_idle0000"
UNASSIGNED = unassigned_vp_id("BTCUSDT", LONG)
EVERY_VP = sorted([VP_A, VP_B, VP_FEES, VP_IDLE, UNASSIGNED])
DAY2 = D1 + DAY


@pytest.fixture(params=["live", "published"])
def crowd(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Analytics]:
    """The conftest history (VP_A: closed trips; VP_B: only an open position), a flat VP whose only figures are
    fees, a VP never traded, and a foreign fill (UNASSIGNED) with its share of funding."""
    from tests.analytics.conftest import MARKS

    events = history() + [
        VpCreated(ts=D1, vp_id=VP_FEES, name="Fees", symbol="BTCUSDT", position_side=LONG),
        _fill(20, VP_FEES, "BTCUSDT", Side.BUY, LONG, "1", "100", DAY2 + 10_000, fee="0.04"),
        _fill(21, VP_FEES, "BTCUSDT", Side.SELL, LONG, "1", "100", DAY2 + 11_000, fee="0.04"),
        VpCreated(ts=D1, vp_id=VP_IDLE, name="Idle", symbol="BTCUSDT", position_side=SHORT),
        _fill(22, UNASSIGNED, "BTCUSDT", Side.BUY, LONG, "0.5", "100", D1 + 9_000_000),
        Funding(ts=D1 + 16 * 3_600_000, symbol="BTCUSDT", funding_time=D1 + 16 * 3_600_000, amount=D("-0.02"),
                asset="USDT", rate=D("0.0004"), mark=D(100), allocations=((UNASSIGNED, D("-0.02")),)),
    ]
    with EventLog(tmp_path / "hedgestack.duckdb") as log:
        for event in sorted(events, key=lambda e: e.ts):
            log.append([event])
        log.append_marks(MARKS)
        if request.param == "live":
            yield live(log)
        else:
            Publisher(log, tmp_path).publish()
            yield open_published(tmp_path)


@pytest.mark.parametrize("summary", [
    metrics.win_rate, metrics.maker_taker, metrics.fee_funding_drag, lambda s: metrics.slippage(s, per="vp"),
    metrics.drawdown, metrics.risk_adjusted, metrics.report], ids=[
    "win_rate", "maker_taker", "fee_funding_drag", "slippage_per_vp", "drawdown", "risk_adjusted", "report"])
def test_every_summary_lists_every_vp(crowd: Analytics, summary) -> None:
    assert sorted(summary(crowd)["vp_id"].to_list()) == EVERY_VP


def test_report_figures_of_every_kind_of_vp(crowd: Analytics) -> None:
    rows = {row["vp_id"]: row for row in metrics.report(crowd).rows(named=True)}
    fees, idle, foreign, open_only = rows[VP_FEES], rows[VP_IDLE], rows[UNASSIGNED], rows[VP_B]
    # flat, only fees: a closed trip that lost its fees, no position
    assert (fees["net_qty"], fees["realized"], fees["fees"], fees["net_pnl"]) == (D(0), D(0), D("0.08"), D("-0.08"))
    assert (fees["trips"], fees["win_rate"], fees["open_trip"], fees["fills"]) == (1, 0.0, False, 2)
    # never traded: listed, every figure zero or empty
    assert (idle["vp_name"], idle["net_qty"], idle["net_pnl"], idle["fills"], idle["trips"]) == (
        "Idle", D(0), D(0), 0, 0)
    assert (idle["maker_share"], idle["win_rate"], idle["slippage_bps"], idle["return_on_margin"]) == (
        None, None, None, None)
    # UNASSIGNED: the foreign 0.5 @ 100 and the funding it was given
    assert (foreign["vp_name"], foreign["net_qty"], foreign["funding"], foreign["open_trip"]) == (
        "UNASSIGNED", D("0.5"), D("-0.02"), True)
    assert foreign["unrealized"] == D(9)  # 0.5 x (118 - 100) at the last mark
    # only an open position: no closed trip, its unrealized PnL and funding counted
    assert (open_only["trips"], open_only["open_trip"], open_only["unrealized"], open_only["funding"]) == (
        0, True, D(-3), D("0.05"))
    assert open_only["net_equity"] == D("-2.95")


def test_report_of_one_vp_and_live_equals_published(tmp_path: Path) -> None:
    events, marks = risk_history()
    with EventLog(tmp_path / "hedgestack.duckdb") as log:
        log.append(events)
        log.append_marks(marks)
        Publisher(log, tmp_path).publish()
        here, there = live(log), open_published(tmp_path)
        assert_frame_equal(metrics.report(here, leverage=4), metrics.report(there, leverage=4), check_exact=True)
        (trend,) = metrics.report(here, vp=TREND).rows(named=True)
        assert (trend["net_equity"], trend["max_drawdown"], trend["losing_streak_days"], trend["days"]) == (
            D(9), D(7), 2, 5)
        assert (trend["mark"], trend["unrealized"], trend["last_day"]) == (D(109), D(9), DAYS[4])
        assert metrics.report(here, symbol="ETHUSDT")["vp_id"].to_list() == [HEDGE]


def test_drawdown_curve(risk: Analytics) -> None:
    curve = metrics.drawdown_curve(risk, by="vp").filter(pl.col("vp_id") == TREND)
    assert curve["day"].to_list() == [dt.date(2025, 11, 24), *DAYS]  # the zero the day before
    assert curve["equity"].to_list() == [D(0), D(10), D(6), D(3), D(8), D(9)]
    assert curve["peak"].to_list() == [D(0), D(10), D(10), D(10), D(10), D(10)]
    assert curve["drawdown"].to_list() == [D(0), D(0), D(4), D(7), D(2), D(1)]
    samples = metrics.drawdown_curve(risk, freq="sample")
    assert samples["scope"].unique().to_list() == ["ALL"] and samples["drawdown"].max() == D(6)
    assert samples["equity"].to_list()[-1] == D(9)

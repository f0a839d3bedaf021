"""Notices for every event the issue lists, each once, fills grouped per order, bursts held back."""

from __future__ import annotations

from hedgestack.domain.enums import OrderRole, OrderStatus, OrderType, Side, SyncStatus
from hedgestack.engine.views import ConnectionView, SideStatus, TpSlStatusView
from hedgestack.ui.models import AccountModel
from hedgestack.ui.notify import STICKY, Budget, Notice, Notifier
from tests.ui.fakes import INSTRUMENTS, consistency, env, fill, order, state, vp


def setup(**kw: object) -> tuple[AccountModel, Notifier]:
    m = AccountModel(["BTCUSDT", "ETHUSDT"], INSTRUMENTS)
    m.load(state(**kw))  # type: ignore[arg-type]
    return m, Notifier(m)


def run(m: AccountModel, n: Notifier, batch: list) -> list[Notice]:
    m.apply(batch)
    return n.notices(batch)


def test_our_fill_names_vp_side_qty_price_and_realized() -> None:
    m, n = setup(vps=[vp("a", "Trend", "0.010", "95000")])
    batch = [env("ORDER_UPSERT", order("c1", "a", side=Side.SELL, role=OrderRole.CLOSE, status=OrderStatus.FILLED,
                                       filled="0.010")),
             env("FILL", fill(1, "a", vp_name="Trend", side=Side.SELL, qty="0.004", price="96000", cid="c1",
                              realized="4")),
             env("FILL", fill(2, "a", vp_name="Trend", side=Side.SELL, qty="0.006", price="96100", cid="c1",
                              realized="6.6"))]
    [notice] = run(m, n, batch)
    assert notice.level == "success"
    assert notice.text == ("Filled · Trend: SELL 0.010 BTCUSDT LONG @ 96,060.0 (2 fills) · realized +10.60")


def test_foreign_fill_names_unassigned() -> None:
    m, n = setup(vps=[vp("u", "UNASSIGNED", "0.004", "95000", system=True)])
    [notice] = run(m, n, [env("FILL", fill(7, "u", vp_name="UNASSIGNED", side=Side.SELL, qty="0.004",
                                           cid="web_x", order_id=77))])
    assert notice.level == "warning"
    assert notice.text == "Fill from another app → UNASSIGNED: SELL 0.004 BTCUSDT LONG @ 95,000.0"


def test_tp_triggered_then_filled() -> None:
    m, n = setup(vps=[vp("a", "Trend", "0.010", "95000", tp="97000")])
    tp = order("tp1", "a", side=Side.SELL, type_=OrderType.TAKE_PROFIT_MARKET, price=None, trigger="97000",
               role=OrderRole.TP)
    assert run(m, n, [env("ORDER_UPSERT", tp)]) == []
    [triggered] = run(m, n, [env("ORDER_UPSERT", order("tp1", "a", side=Side.SELL, type_=OrderType.TAKE_PROFIT_MARKET,
                                                        price=None, trigger="97000", role=OrderRole.TP,
                                                        status=OrderStatus.TRIGGERED))])
    assert triggered.text == "TP triggered · Trend at 97,000.0"
    [filled] = run(m, n, [env("FILL", fill(3, "a", vp_name="Trend", side=Side.SELL, price="97000", cid="tp1",
                                            realized="20"))])
    assert filled.text.startswith("TP filled · Trend: SELL 0.010 BTCUSDT LONG @ 97,000.0")
    assert filled.text.endswith("realized +20.00")


def test_rejection_carries_the_exchange_code_and_message_once() -> None:
    m, n = setup(vps=[vp("a", "Trend")])
    rejected = order("c9", "a", status=OrderStatus.REJECTED, reason="-2019: Margin is insufficient.")
    [notice] = run(m, n, [env("ORDER_UPSERT", rejected)])
    assert (notice.level, notice.duration) == ("error", STICKY)
    assert notice.text == ("Order rejected · Trend: BUY LIMIT 0.010 BTCUSDT LONG @ 94,000.0 — "
                           "-2019: Margin is insufficient.")
    assert run(m, n, [env("ORDER_UPSERT", rejected)]) == []  # the same status again: said once


def test_mismatch_raised_and_healed() -> None:
    m, n = setup()
    [raised] = run(m, n, [env("CONSISTENCY_STATUS", consistency(SideStatus.MISMATCH, "0.001", "0.005"))])
    assert raised.level == "error" and raised.text.startswith(
        "MISMATCH BTCUSDT LONG: the exchange holds 0.001, the VPs 0.005")
    assert run(m, n, [env("CONSISTENCY_STATUS", consistency(SideStatus.MISMATCH, "0.001", "0.005"))]) == []
    [healed] = run(m, n, [env("CONSISTENCY_STATUS", consistency(SideStatus.OK, "0.001", "0.001"))])
    assert (healed.level, healed.text) == ("success", "BTCUSDT LONG matches the exchange again (OK)")


def test_connection_lost_stale_restored_but_not_the_first_start() -> None:
    m, n = setup(connection="SYNCING")
    assert run(m, n, [env("CONNECTION_STATE", ConnectionView("CONNECTED", "SYNCING", 0))]) == []
    [lost] = run(m, n, [env("CONNECTION_STATE", ConnectionView("DISCONNECTED", "CONNECTED", 1, reason="1006"))])
    assert lost.level == "error" and "lost (1006)" in lost.text
    assert run(m, n, [env("CONNECTION_STATE", ConnectionView("SYNCING", "DISCONNECTED", 1))]) == []
    [restored] = run(m, n, [env("CONNECTION_STATE", ConnectionView("CONNECTED", "SYNCING", 1))])
    assert restored.text == "Exchange connection restored"
    [stale] = run(m, n, [env("CONNECTION_STATE", ConnectionView("STALE", "CONNECTED", 1))])
    assert stale.level == "warning"


def test_tpsl_not_live_is_loud() -> None:
    m, n = setup(vps=[vp("a", "Trend", "0.010", "95000", tp="97000")])
    [notice] = run(m, n, [env("TPSL_SYNC_STATUS", TpSlStatusView("a", SyncStatus.ERROR, "-4509 TIF", None, None))])
    assert notice.level == "error" and notice.text == "TP/SL of Trend is not live on the exchange: -4509 TIF"


def test_budget_holds_a_burst_but_never_an_error() -> None:
    budget = Budget(burst=2, window_ms=1000)
    assert [x.text for x in budget.admit([Notice("success", "one fill")], 0)] == ["one fill"]
    many = [Notice("warning", f"fill {i}") for i in range(5)] + [Notice("error", "rejected")]
    shown = budget.admit(many, 100)
    assert [x.text for x in shown] == ["rejected"]  # five do not fit: none of them one by one
    assert budget.due(100) == 1000
    assert budget.admit([Notice("info", "during")], 500) == []  # the burst goes on: held too
    assert budget.admit([], 1499) == []
    [summary] = budget.admit([], 1500)  # nothing held for a window: the burst is over
    assert summary.text == "6 more events during a burst (see the history tabs)"
    assert budget.due(1500) is None
    assert [x.text for x in budget.admit([Notice("success", "next")], 3000)] == ["next"]  # quiet again


def test_during_a_burst_only_errors_then_one_summary() -> None:
    """200 fills a second for 5 s: the first batch does not fit, so nothing but the error is shown until the
    burst is over; then one summary (each notice costs the session a walk of its document)."""
    budget = Budget(burst=4, window_ms=2000)
    shown: list[tuple[int, str]] = []
    for now in range(0, 5000, 100):  # a batch of 20 fill notices every 100 ms
        batch = [Notice("info", f"fill {now}-{i}") for i in range(20)]
        if now == 3000:
            batch.append(Notice("error", "rejected"))
        shown += [(now, n.text) for n in budget.admit(batch, now)]
    assert shown == [(3000, "rejected")]
    wait = budget.due(4900)
    assert wait == 2000
    [summary] = budget.admit([], 4900 + wait)
    assert summary.text == "1000 more events during a burst (see the history tabs)"
    quiet = budget.admit([Notice("info", "fill after")], 9000)  # the burst is over: the full budget again
    assert [n.text for n in quiet] == ["fill after"]


def test_a_long_burst_is_summed_up_every_ten_seconds() -> None:
    budget = Budget(burst=4, window_ms=2000, summary_every_ms=10_000)
    summaries = []
    for now in range(0, 25_000, 100):
        summaries += [now for n in budget.admit([Notice("info", "fill")] * 20, now) if "burst" in n.text]
    assert summaries == [10_000, 20_000]

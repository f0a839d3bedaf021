"""The account view-model: typed views folded from envelopes, no rule re-derived; the one selection."""

from __future__ import annotations

from hedgestack.domain.enums import OrderStatus, PositionSide, SyncStatus
from hedgestack.engine.views import (
    AccountView,
    ConnectionView,
    MarkView,
    SideStatus,
    TpSlStatusView,
    VpMarkView,
)
from hedgestack.ui.models import FILL_MEMORY, RESYNC, AccountModel, Selection
from tests.ui.fakes import INSTRUMENTS, T0, D, consistency, env, ext, fill, order, state, vp


def model(**kw: object) -> AccountModel:
    m = AccountModel(["BTCUSDT", "ETHUSDT"], INSTRUMENTS)
    m.load(state(**kw))  # type: ignore[arg-type]
    return m


def test_load_keeps_the_engine_views() -> None:
    a = vp("a", "Trend", "0.010", "95000")
    m = model(vps=[a], externals=[ext("0.010")], orders=[order("c1", "a")])
    assert m.vps["a"] is a
    assert m.externals[("BTCUSDT", PositionSide.LONG)].qty == D("0.010")
    assert [o.client_order_id for o in m.open_orders()] == ["c1"]
    assert m.side_status("BTCUSDT", PositionSide.LONG).status is SideStatus.OK
    assert m.account.available_balance == D("1000")


def test_open_is_what_the_engine_says() -> None:
    m = model()
    m.apply([env("ORDER_UPSERT", order("c1", "a", status=OrderStatus.TRIGGERED)),
             env("ORDER_UPSERT", order("c2", "a", status=OrderStatus.FILLED))])
    assert [o.client_order_id for o in m.open_orders()] == ["c1"]  # TRIGGERED is open (the old UI missed it)


def test_events_update_their_parts_and_versions() -> None:
    m = model(vps=[vp("a", "Trend", "0.010", "95000", tp="97000")])
    versions = (m.positions_version, m.orders_version, m.fills_version)
    changed = m.apply([
        env("VIRTUAL_POSITION_UPDATE", vp("a", "Trend", "0.020", "95500", tp="97000")),
        env("FILL", fill(1, "a", vp_name="Trend")),
        env("CONSISTENCY_STATUS", consistency(SideStatus.MISMATCH, "0.010", "0.020")),
        env("ACCOUNT_STATUS", AccountView(wallet_balance=D("9990"), available_balance=D("900"),
                                         margin_ratio=D("1.5"))),
    ])
    assert changed == {"positions", "fills"}
    assert m.vps["a"].net_qty == D("0.020")
    assert m.side_status("BTCUSDT", PositionSide.LONG).status is SideStatus.MISMATCH
    assert m.account.available_balance == D("900")
    assert (m.positions_version, m.orders_version, m.fills_version) == (versions[0] + 1, versions[1],
                                                                       versions[2] + 1)


def test_a_mark_moves_the_vps_upnl() -> None:
    m = model(vps=[vp("a", "Trend", "0.010", "95000")])
    m.apply([env("MARK_PRICE", MarkView(symbol="BTCUSDT", mark_price=D("96000"), funding_rate=D("0.0001"),
                                        virtual_positions=(VpMarkView("a", D("96000"), D("10"), D("20")),)))])
    assert (m.vps["a"].mark_price, m.vps["a"].unrealized_pnl, m.vps["a"].roe_pct) == (D("96000"), D("10"), D("20"))
    assert m.marks["BTCUSDT"] == D("96000")


def test_tpsl_status_updates_the_vps_legs() -> None:
    m = model(vps=[vp("a", "Trend", "0.010", "95000", tp="97000", sl="93000")])
    m.apply([env("TPSL_SYNC_STATUS", TpSlStatusView("a", SyncStatus.ERROR, "-2021 would trigger", None, "12"))])
    t = m.vps["a"].tpsl
    assert t is not None and (t.sync_status, t.sync_reason, t.tp_order_id) == (SyncStatus.ERROR,
                                                                             "-2021 would trigger", None)


def test_last_exchange_event() -> None:
    m = model(fills=[fill(1, "a", vp_name="Trend", time=T0 - 5000)])
    assert m.last_event_at == T0  # the snapshot's sides were confirmed at T0
    m.apply([env("CONNECTION_STATE", ConnectionView("CONNECTED", "SYNCING", 0, last_event_at=T0 + 700))])
    assert (m.connection, m.last_event_at) == ("CONNECTED", T0 + 700)
    m.apply([env("FILL", fill(2, "a", vp_name="Trend"), ts=T0 + 900)])
    assert m.last_event_at == T0 + 900
    m.apply([env("TPSL_SYNC_STATUS", TpSlStatusView("a", SyncStatus.OK, None, None, None), ts=T0 + 5000)])
    assert m.last_event_at == T0 + 900  # our own bookkeeping is not news from the exchange


def test_resync_replaces_the_snapshot() -> None:
    m = model(vps=[vp("a", "Trend", "0.010", "95000")])
    m.apply([env(RESYNC, state(vps=[vp("a", "Trend", "0.004", "95000")], connection="CONNECTED"))])
    assert m.vps["a"].net_qty == D("0.004")


def test_memory_is_bounded_and_keeps_open_orders() -> None:
    m = model()
    m.apply([env("FILL", fill(i, "a", vp_name="T", time=T0 + i)) for i in range(FILL_MEMORY + 10)])
    assert len(m.fills) == FILL_MEMORY and min(f.trade_id for f in m.fills.values()) == 10


def test_live_vps_order_and_filters() -> None:
    m = model(vps=[vp("u", "UNASSIGNED", "0.001", "95000", system=True, created_at=T0 - 10),
                   vp("b", "Beta", created_at=T0 + 2), vp("a", "Alpha", created_at=T0 + 1),
                   vp("s", "Short", side=PositionSide.SHORT), vp("e", "Eth", symbol="ETHUSDT"),
                   vp("x", "Gone", archived=True)])
    assert [v.name for v in m.live_vps()] == ["Alpha", "Beta", "Short", "Eth"]
    assert [v.name for v in m.live_vps("BTCUSDT", PositionSide.LONG, include_system=True)] == [
        "Alpha", "Beta", "UNASSIGNED"]


def test_one_selection_follows_the_vp_and_the_symbol() -> None:
    m = model(vps=[vp("a", "Alpha"), vp("e", "Eth", symbol="ETHUSDT")])
    s = Selection(m, symbol="BTCUSDT")
    s.follow()
    assert s.vp_id == "a"
    s.vp_id = "e"  # clicking an ETH VP shows ETH
    assert s.symbol == "ETHUSDT"
    s.symbol = "BTCUSDT"  # choosing BTC selects its first VP
    assert s.vp_id == "a"
    m.apply([env("VIRTUAL_POSITION_UPDATE", vp("a", "Alpha", archived=True))])
    s.follow()
    assert s.vp_id is None and s.symbol == "BTCUSDT"  # no jump to another symbol's VP


def test_mark_pacing_holds_only_what_moves_with_the_mark() -> None:
    m = model(externals=[ext("0.010")])
    mark = env("MARK_PRICE", MarkView(symbol="BTCUSDT", mark_price=D("96000"), funding_rate=D("0"),
                                      virtual_positions=()))
    assert m.mark_pacing(mark) == ("mark BTCUSDT", True)
    moved = env("EXTERNAL_POSITION_UPDATE", ext("0.010", mark_price=D("96000"), notional=D("960")))
    assert m.mark_pacing(moved) == ("external BTCUSDT LONG", True)
    traded = env("EXTERNAL_POSITION_UPDATE", ext("0.020", mark_price=D("96000")))
    assert m.mark_pacing(traded) == ("external BTCUSDT LONG", False)  # a quantity is never held
    unknown = env("EXTERNAL_POSITION_UPDATE", ext("0.010", side=PositionSide.SHORT))
    assert m.mark_pacing(unknown) == ("external BTCUSDT SHORT", False)  # nothing shown yet to compare with
    assert m.mark_pacing(env("FILL", fill(1, "a", vp_name="Trend"))) == (None, False)

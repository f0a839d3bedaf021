"""The one mapping between typed views and the seed's JSON: names, number formats and the round trip."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from hedgestack.domain.enums import OrderRole, OrderStatus, OrderType, PositionSide, Side, SyncStatus, TriggerType
from hedgestack.engine.views import (
    EVENT_PAYLOADS,
    AccountView,
    Envelope,
    FillView,
    OrderAck,
    OrderView,
    SideStatus,
    SideStatusView,
    StateView,
    TpSlView,
    VirtualPositionView,
    envelope_from_json,
    from_json,
    to_json,
)

decimals = st.decimals(allow_nan=False, allow_infinity=False, min_value=Decimal("-1e12"), max_value=Decimal("1e12"),
                       places=12)


def vp(net_qty: Decimal = Decimal("0.010"), tpsl: TpSlView | None = None) -> VirtualPositionView:
    return VirtualPositionView(
        id="vp_abcdef12", name="Trend", symbol="BTCUSDT", position_side=PositionSide.LONG, net_qty=net_qty,
        avg_entry=Decimal("95000.5"), unrealized_pnl=Decimal("-0.00000001"), realized_pnl=Decimal("1E+1"),
        tpsl=tpsl, created_at=1, fees=Decimal("0.1"),
        fees_by_asset={"BNB": Decimal("0.001")}, funding=Decimal(0), net_pnl=Decimal("9.9"), reset_at=None,
        mark_price=Decimal("95001"), archived=False, system=False)


def test_seed_names_and_plain_decimal_strings() -> None:
    tpsl = TpSlView(tp_price=Decimal("99000"), tp_trigger_type=TriggerType.LAST_PRICE, sl_price=None,
                    sl_trigger_type=TriggerType.MARK_PRICE, tp_order_id="12", sl_order_id=None,
                    tp_client_order_id="VP-abcdef-1-001", sl_client_order_id=None, tp_qty=Decimal("0.010"),
                    sl_qty=None, sync_status=SyncStatus.OK, sync_reason=None)
    data = to_json(vp(tpsl=tpsl))
    assert data["positionSide"] == "LONG" and "position_side" not in data
    assert data["realized_pnl"] == "10"  # no exponent
    assert data["unrealized_pnl"] == "-0.00000001"
    assert data["net_qty"] == "0.01"
    assert data["tpsl"]["tp_trigger_type"] == "LAST_PRICE" and data["tpsl"]["tp_order_id"] == "12"
    assert data["fees_by_asset"] == {"BNB": "0.001"}


def test_fill_ids_are_strings_and_realized_is_the_vps() -> None:
    fill = FillView(trade_id=5, order_id=7, client_order_id=None, virtual_position_id="vp_x", vp_name="UNASSIGNED",
                    symbol="BTCUSDT", side=Side.SELL, position_side=PositionSide.LONG, qty=Decimal("0.001"),
                    price=Decimal("95000"), commission=Decimal("0.0475"), commission_asset="USDT",
                    realized_pnl=Decimal("-1.5"), exchange_rp=Decimal("2.25"), maker=False, time=3)
    data = to_json(fill)
    assert (data["tradeId"], data["orderId"]) == ("5", "7")
    assert (data["realizedPnl"], data["exchange_rp"]) == ("-1.5", "2.25")
    assert from_json(FillView, data) == fill


def test_order_precedence_and_openness_come_from_the_view() -> None:
    order = OrderView(
        order_id="900", client_order_id="VP-abcdef-1-001", virtual_position_id="vp_abcdef12", symbol="BTCUSDT",
        side=Side.SELL, position_side=PositionSide.LONG, type=OrderType.STOP_MARKET, qty=Decimal("0.01"),
        price=None, status=OrderStatus.TRIGGERED, reduce_only=True, created_at=1, role=OrderRole.SL,
        filled_qty=Decimal(0), avg_price=None, trigger_price=Decimal("90000"), trigger_type=TriggerType.MARK_PRICE,
        time_in_force=None, is_algo=True, algo_id="900", actual_order_id=None, updated_at=2, reason=None,
        replaces=None)
    assert order.is_open  # TRIGGERED is open: the domain decides, not a copy of the rule
    data = to_json(order)
    assert data["orderId"] == "900" and data["clientOrderId"] == "VP-abcdef-1-001" and data["reduceOnly"] is True
    assert from_json(OrderView, data) == order


@given(qty=decimals.filter(lambda d: d >= 0))
def test_round_trip_of_every_figure(qty: Decimal) -> None:
    view = vp(net_qty=qty)
    back = from_json(VirtualPositionView, to_json(view))
    assert back == view  # Decimal equality: exact values, whatever their form


def test_state_and_envelopes_round_trip() -> None:
    detail = SideStatusView(status=SideStatus.STALE, confirmed_at=None, confirmed_by=None, exchange_qty=Decimal(0),
                            vp_qty=Decimal("0.01"), reason="no confirmation yet")
    state = StateView(external_positions=(), virtual_positions=(vp(),), open_orders=(), fills=(),
                      reconcile={"BTCUSDT": {"LONG": SideStatus.STALE.seed_status}},
                      reconcile_detail={"BTCUSDT": {"LONG": detail}}, account=AccountView(), venue="sim",
                      connection="CONNECTED", wallet_balance=None, marks={"BTCUSDT": Decimal("95001")})
    data = to_json(state)
    assert data["reconcile"] == {"BTCUSDT": {"LONG": "OK"}}  # the seed's two values
    assert data["reconcile_detail"]["BTCUSDT"]["LONG"]["status"] == "STALE"
    assert from_json(StateView, data) == state
    env = Envelope("SNAPSHOT", state, 5)
    assert envelope_from_json(env.to_json()) == env
    ack = Envelope("ORDER_UPSERT", OrderAck(order_id=None, client_order_id="c", status=OrderStatus.PENDING), 1)
    assert set(EVENT_PAYLOADS) >= {"ORDER_UPSERT", "FILL", "SNAPSHOT", "ACCOUNT_STATUS"}
    assert ack.to_json()["payload"] == {"orderId": None, "clientOrderId": "c", "status": "PENDING"}

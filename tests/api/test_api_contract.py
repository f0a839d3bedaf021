"""A contract test per route and per error, against the simulator, asserting the seed's field names."""

from __future__ import annotations

import io
import itertools
from decimal import Decimal
from typing import Any

import polars as pl
import pytest

from hedgestack.engine.terminal import Terminal
from tests.api.conftest import Client, Control, assert_error, wait_until

VP_FIELDS = {"id", "name", "symbol", "positionSide", "net_qty", "avg_entry", "unrealized_pnl", "realized_pnl",
             "tpsl", "created_at"}
EXTENSION_FIELDS = {"fees", "fees_by_asset", "funding", "net_pnl", "reset_at"}
TPSL_FIELDS = {"tp_price", "tp_trigger_type", "sl_price", "sl_trigger_type", "tp_order_id", "sl_order_id",
               "sync_status"}
ORDER_FIELDS = {"orderId", "clientOrderId", "virtual_position_id", "symbol", "side", "positionSide", "type", "qty",
                "price", "status", "reduceOnly", "created_at"}
_names = itertools.count()


def new_vp(http: Client, symbol: str = "BTCUSDT", side: str = "LONG", name: str | None = None) -> dict[str, Any]:
    resp = http.post("/v1/virtual-positions", {"name": name or f"vp-{next(_names)}", "symbol": symbol,
                                               "positionSide": side})
    assert resp.status_code == 201, resp.text
    return resp.json()


def order_body(vp: dict[str, Any], side: str, qty: str, **extra: Any) -> dict[str, Any]:
    return {"virtual_position_id": vp["id"], "symbol": vp["symbol"], "positionSide": vp["positionSide"],
            "side": side, "type": extra.pop("type", "MARKET"), "qty": qty, **extra}


def get_vp(http: Client, vp_id: str) -> dict[str, Any]:
    resp = http.get(f"/v1/virtual-positions/{vp_id}")
    assert resp.status_code == 200, resp.text
    return resp.json()


def buy(http: Client, vp: dict[str, Any], qty: str) -> dict[str, Any]:
    side = "BUY" if vp["positionSide"] == "LONG" else "SELL"
    resp = http.post("/v1/orders", order_body(vp, side, qty))
    assert resp.status_code == 200, resp.text
    wait_until(lambda: Decimal(get_vp(http, vp["id"])["net_qty"]) > 0)
    return resp.json()


# == routes =========================================================================================
def test_state_has_the_seed_fields(http: Client) -> None:
    vp = new_vp(http)
    resp = http.get("/v1/state")
    assert resp.status_code == 200
    assert resp.headers["X-Hedgestack-Venue"] == "sim"
    state = resp.json()
    assert {"external_positions", "virtual_positions", "open_orders", "fills", "reconcile"} <= set(state)
    assert state["venue"] == "sim"
    ext = state["external_positions"][0]
    assert set(ext) >= {"symbol", "positionSide", "qty", "avgEntryPrice", "unrealizedPnl"}
    mine = next(v for v in state["virtual_positions"] if v["id"] == vp["id"])
    assert VP_FIELDS | EXTENSION_FIELDS <= set(mine)
    assert state["reconcile"]["BTCUSDT"] == {"LONG": "OK", "SHORT": "OK"}
    assert set(state["reconcile"]) == {"BTCUSDT", "ETHUSDT"}


def test_create_vp_returns_201_and_the_vp(http: Client) -> None:
    vp = new_vp(http, "ETHUSDT", "SHORT", name="Hedge-1")
    assert VP_FIELDS <= set(vp)
    assert (vp["name"], vp["symbol"], vp["positionSide"], vp["net_qty"], vp["avg_entry"]) == \
        ("Hedge-1", "ETHUSDT", "SHORT", "0", "0")
    assert vp["id"].startswith("vp_") and isinstance(vp["created_at"], int) and vp["tpsl"] is None


def test_create_vp_errors(http: Client) -> None:
    new_vp(http, name="Twin")
    assert_error(http.post("/v1/virtual-positions", {"name": "Twin", "symbol": "BTCUSDT", "positionSide": "LONG"}),
                 409, "NAME_TAKEN")
    assert_error(http.post("/v1/virtual-positions", {"name": "UNASSIGNED", "symbol": "BTCUSDT",
                                                     "positionSide": "LONG"}), 400, "NAME_RESERVED")
    assert_error(http.post("/v1/virtual-positions", {"name": "x" * 65, "symbol": "BTCUSDT",
                                                     "positionSide": "LONG"}), 400)
    assert_error(http.post("/v1/virtual-positions", {"name": "a", "symbol": "DOGEUSDT", "positionSide": "LONG"}),
                 400, "UNKNOWN_SYMBOL")
    assert_error(http.post("/v1/virtual-positions", {"name": "a", "symbol": "BTCUSDT", "positionSide": "BOTH"}),
                 400, "INVALID_POSITIONSIDE")
    assert_error(http.post("/v1/virtual-positions", {"name": "a", "symbol": "BTCUSDT"}), 400, "MISSING_FIELD")
    assert_error(http.post("/v1/virtual-positions", {"name": "a", "symbol": "BTCUSDT", "positionSide": "LONG",
                                                     "leverage": 20}), 400, "UNKNOWN_FIELD")


def test_place_market_order_and_fill(http: Client, control: Control) -> None:
    vp = new_vp(http)
    resp = http.post("/v1/orders", order_body(vp, "BUY", "0.010"))
    assert resp.status_code == 200, resp.text
    ack = resp.json()
    assert set(ack) == {"orderId", "clientOrderId", "status"}
    assert ack["clientOrderId"].startswith("VP-" + vp["id"][3:9] + "-")
    assert ack["status"] in ("NEW", "FILLED")
    wait_until(lambda: get_vp(http, vp["id"])["net_qty"] == "0.01")
    assert get_vp(http, vp["id"])["avg_entry"] == "95000"


def test_limit_order_cancel_and_amend(http: Client) -> None:
    vp = new_vp(http, "ETHUSDT", "LONG")
    resp = http.post("/v1/orders", order_body(vp, "BUY", "0.1", type="LIMIT", price="3400.00", timeInForce="GTC"))
    assert resp.status_code == 200, resp.text
    ack = resp.json()
    assert ack["status"] == "NEW"
    state = http.get("/v1/state").json()
    open_order = next(o for o in state["open_orders"] if o["clientOrderId"] == ack["clientOrderId"])
    assert ORDER_FIELDS <= set(open_order)
    assert (open_order["price"], open_order["qty"], open_order["reduceOnly"]) == ("3400", "0.1", False)
    amended = http.post(f"/v1/orders/{ack['orderId']}/amend", {"price": "3410"})
    assert amended.status_code == 200, amended.text
    new = amended.json()
    assert set(new) == {"orderId", "clientOrderId", "status"} and new["orderId"] != ack["orderId"]
    cancel = http.post(f"/v1/orders/{new['orderId']}/cancel")
    assert cancel.status_code == 200, cancel.text
    assert cancel.json() == {"orderId": new["orderId"], "status": "CANCELED"}
    assert_error(http.post(f"/v1/orders/{new['orderId']}/cancel"), 409, "ORDER_NOT_OPEN")
    history = http.get("/v1/orders/history", params={"vp": vp["id"]}).json()
    assert [o["status"] for o in history] == ["CANCELED", "CANCELED"]
    assert ORDER_FIELDS <= set(history[0])


def test_order_errors(http: Client, control: Control) -> None:
    vp = new_vp(http)
    before = control.order_count()
    assert_error(http.post("/v1/orders", order_body(vp, "BUY", 0.01)), 400, "DECIMAL_STRING_REQUIRED")
    assert_error(http.post("/v1/orders", order_body(vp, "BUY", 1)), 400, "DECIMAL_STRING_REQUIRED")
    assert_error(http.post("/v1/orders", order_body(vp, "BUY", "0.01", type="LIMIT", price=95000)), 400,
                 "DECIMAL_STRING_REQUIRED")
    assert_error(http.post("/v1/orders", order_body(vp, "BUY", "1e-2")), 400, "INVALID_NUMBER")
    assert_error(http.post("/v1/orders", order_body(vp, "BUY", "-0.01")), 400, "INVALID_NUMBER")
    assert_error(http.post("/v1/orders", order_body(vp, "HOLD", "0.01")), 400, "INVALID_SIDE")
    assert_error(http.post("/v1/orders", order_body(vp, "BUY", "0.01", type="LIMIT")), 400, "PRICE_REQUIRED")
    assert_error(http.post("/v1/orders", {**order_body(vp, "BUY", "0.01"), "symbol": "ETHUSDT"}), 400, "VP_MISMATCH")
    assert_error(http.post("/v1/orders", {**order_body(vp, "BUY", "0.01"), "positionSide": "SHORT"}), 400,
                 "VP_MISMATCH")
    assert_error(http.post("/v1/orders", order_body(vp, "BUY", "0.0105")), 422, "PRECISION")
    assert_error(http.post("/v1/orders", order_body(vp, "BUY", "0.01", type="LIMIT", price="95000.05")), 422,
                 "PRICE_TICK_SIZE")
    # reduceOnly on a flat VP: the VP guard refuses (nothing to reduce)
    assert_error(http.post("/v1/orders", order_body(vp, "SELL", "0.01", reduceOnly=True)), 409, "VP_GUARD")
    assert_error(http.post("/v1/orders", order_body(vp, "BUY", "0.01", reduceOnly=True)), 400, "REDUCE_ONLY_OPENS")
    assert_error(http.post("/v1/orders", {**order_body(vp, "BUY", "0.01"), "virtual_position_id": "vp_zzzzzzzz"}),
                 404, "UNKNOWN_VP")
    assert_error(http.post("/v1/orders", {**order_body(vp, "BUY", "0.01"), "virtual_position_id": "nope"}),
                 400, "INVALID_VP_ID")
    assert control.order_count() == before


def test_exchange_rejection_is_502_with_binance_code(http: Client, control: Control) -> None:
    vp = new_vp(http)
    # 100 BTC is far beyond the simulator's margin for this account: Binance -2019
    resp = http.post("/v1/orders", order_body(vp, "BUY", "100"))
    data = assert_error(resp, 502, "EXCHANGE_REJECTED")
    assert "Binance -" in data["message"]


def test_close_vp(http: Client) -> None:
    vp = new_vp(http)
    assert_error(http.post(f"/v1/virtual-positions/{vp['id']}/close", {"type": "MARKET"}), 409, "VP_FLAT")
    buy(http, vp, "0.004")
    assert_error(http.post(f"/v1/virtual-positions/{vp['id']}/close", {"type": "MARKET", "qty": "0.0004"}), 409,
                 "CLOSE_QTY_ZERO")
    assert_error(http.post(f"/v1/virtual-positions/{vp['id']}/close", {"type": "MARKET", "percent": 50.5}), 400,
                 "DECIMAL_STRING_REQUIRED")
    assert_error(http.post(f"/v1/virtual-positions/{vp['id']}/close", {"type": "LIMIT", "percent": 50}), 400,
                 "PRICE_REQUIRED")
    resp = http.post(f"/v1/virtual-positions/{vp['id']}/close", {"type": "MARKET", "percent": 50})
    assert resp.status_code == 200, resp.text
    assert set(resp.json()) == {"orderId", "clientOrderId", "status"}
    wait_until(lambda: get_vp(http, vp["id"])["net_qty"] == "0.002")
    resp = http.post(f"/v1/virtual-positions/{vp['id']}/close", {"type": "MARKET"})
    assert resp.status_code == 200, resp.text
    wait_until(lambda: get_vp(http, vp["id"])["net_qty"] == "0")
    assert_error(http.post("/v1/virtual-positions/vp_00000000/close", {"type": "MARKET"}), 404, "UNKNOWN_VP")


def test_tpsl_set_and_clear(http: Client) -> None:
    vp = new_vp(http)
    buy(http, vp, "0.01")
    resp = http.post(f"/v1/virtual-positions/{vp['id']}/tpsl", {"tp_price": "100000.00", "sl_price": "90000.00"})
    assert resp.status_code == 200, resp.text
    tpsl = resp.json()["tpsl"]
    assert TPSL_FIELDS <= set(tpsl)
    assert (tpsl["tp_price"], tpsl["tp_trigger_type"], tpsl["sl_price"], tpsl["sl_trigger_type"]) == \
        ("100000", "LAST_PRICE", "90000", "MARK_PRICE")
    wait_until(lambda: (get_vp(http, vp["id"])["tpsl"] or {}).get("sync_status") == "OK")
    assert_error(http.post(f"/v1/virtual-positions/{vp['id']}/tpsl", {"tp_price": "80000"}), 400,
                 "TPSL_WOULD_TRIGGER")
    assert_error(http.post(f"/v1/virtual-positions/{vp['id']}/tpsl", {"tp_price": "100000",
                                                                      "tp_trigger_type": "INDEX"}), 400)
    assert_error(http.post(f"/v1/virtual-positions/{vp['id']}/tpsl", {}), 400, "TPSL_EMPTY")
    resp = http.request("DELETE", f"/v1/virtual-positions/{vp['id']}/tpsl")
    assert resp.status_code == 200, resp.text
    wait_until(lambda: get_vp(http, vp["id"])["tpsl"] is None or
               get_vp(http, vp["id"])["tpsl"]["tp_order_id"] is None)
    http.post(f"/v1/virtual-positions/{vp['id']}/close", {"type": "MARKET"})


def test_rename_archive(http: Client) -> None:
    vp = new_vp(http)
    resp = http.request("PATCH", f"/v1/virtual-positions/{vp['id']}", {"name": "Renamed"})
    assert resp.status_code == 200 and resp.json()["name"] == "Renamed"
    assert_error(http.request("PATCH", f"/v1/virtual-positions/{vp['id']}", {"name": ""}), 400)
    resp = http.request("DELETE", f"/v1/virtual-positions/{vp['id']}")
    assert resp.status_code == 200, resp.text
    assert_error(http.get(f"/v1/virtual-positions/{vp['id']}"), 404, "UNKNOWN_VP")
    held = new_vp(http)
    buy(http, held, "0.002")
    assert_error(http.request("DELETE", f"/v1/virtual-positions/{held['id']}"), 409, "VP_NOT_FLAT")
    http.post(f"/v1/virtual-positions/{held['id']}/close", {"type": "MARKET"})


def test_transfer_and_unassigned(http: Client, terminal: Terminal) -> None:
    a, b = new_vp(http, "ETHUSDT", "SHORT"), new_vp(http, "ETHUSDT", "SHORT")
    buy(http, a, "0.5")
    resp = http.post("/v1/transfers", {"from_vp": a["id"], "to_vp": b["id"], "qty": "0.2"})
    assert resp.status_code == 200, resp.text
    data = resp.json()
    assert (data["from"]["net_qty"], data["to"]["net_qty"]) == ("0.3", "0.2")
    assert data["to"]["avg_entry"] == data["from"]["avg_entry"]
    assert_error(http.post("/v1/transfers", {"from_vp": a["id"], "to_vp": b["id"], "qty": "5"}), 409,
                 "TRANSFER_EXCEEDS")
    assert_error(http.post("/v1/transfers", {"from_vp": a["id"], "to_vp": a["id"], "qty": "0.1"}), 400,
                 "TRANSFER_SAME_VP")
    assert_error(http.post("/v1/transfers", {"from_vp": a["id"], "to_vp": b["id"], "qty": 0.1}), 400,
                 "DECIMAL_STRING_REQUIRED")
    for vp in (a, b):
        http.post(f"/v1/virtual-positions/{vp['id']}/close", {"type": "MARKET"})


def test_reconcile(http: Client, control: Control) -> None:
    vp = new_vp(http, "ETHUSDT", "LONG")
    buy(http, vp, "0.3")
    state = http.get("/v1/state").json()
    ext = next(p for p in state["external_positions"] if (p["symbol"], p["positionSide"]) == ("ETHUSDT", "LONG"))
    total = Decimal(ext["qty"])
    assert_error(http.post("/v1/reconcile", {"symbol": "ETHUSDT", "positionSide": "LONG", "assignments": [
        {"virtual_position_id": vp["id"], "qty": str(total + 1)}]}), 409, "OVER_ASSIGNED")
    assert_error(http.post("/v1/reconcile", {"symbol": "ETHUSDT", "positionSide": "LONG", "assignments": [
        {"virtual_position_id": vp["id"], "qty": "0.1", "extra": 1}]}), 400, "UNKNOWN_FIELD")
    assert_error(http.post("/v1/reconcile", {"symbol": "ETHUSDT", "positionSide": "LONG", "assignments": {}}), 400)
    mine = Decimal(get_vp(http, vp["id"])["net_qty"])
    resp = http.post("/v1/reconcile", {"symbol": "ETHUSDT", "positionSide": "LONG", "assignments": [
        {"virtual_position_id": vp["id"], "qty": str(mine)}]})
    assert resp.status_code == 200, resp.text
    data = resp.json()
    assert data["status"] == "OK" and data["positionSide"] == "LONG"
    after = get_vp(http, vp["id"])
    assert after["reset_at"] is not None and Decimal(after["net_qty"]) == mine
    http.post(f"/v1/virtual-positions/{vp['id']}/close", {"type": "MARKET"})


def test_unassigned_vp_is_listed_and_usable(http: Client, control: Control) -> None:
    control.post("/external-order", {"symbol": "BTCUSDT", "side": "SELL", "positionSide": "SHORT",
                                     "type": "MARKET", "quantity": "0.003"})
    def unassigned() -> dict[str, Any] | None:
        for v in http.get("/v1/state").json()["virtual_positions"]:
            if (v["name"], v["symbol"], v["positionSide"]) == ("UNASSIGNED", "BTCUSDT", "SHORT") and \
                    v["net_qty"] != "0":
                return v
        return None
    ua = wait_until(unassigned)
    assert VP_FIELDS <= set(ua)
    dest = new_vp(http, "BTCUSDT", "SHORT")
    resp = http.post("/v1/transfers", {"from_vp": ua["id"], "to_vp": dest["id"], "qty": ua["net_qty"]})
    assert resp.status_code == 200, resp.text
    assert_error(http.request("PATCH", f"/v1/virtual-positions/{ua['id']}", {"name": "Mine"}), 409, "SYSTEM_VP")
    http.post(f"/v1/virtual-positions/{dest['id']}/close", {"type": "MARKET"})


def test_fills_json_parquet_arrow(http: Client) -> None:
    vp = new_vp(http)
    buy(http, vp, "0.002")
    wait_until(lambda: http.get("/v1/fills", params={"vp": vp["id"]}).json())
    fills = http.get("/v1/fills", params={"vp": vp["id"]}).json()
    assert len(fills) == 1
    fill = fills[0]
    assert {"tradeId", "orderId", "clientOrderId", "virtual_position_id", "symbol", "side", "positionSide", "qty",
            "price", "commission", "commissionAsset", "realizedPnl", "maker", "time"} <= set(fill)
    assert (fill["qty"], fill["price"], fill["virtual_position_id"]) == ("0.002", "95000", vp["id"])
    pq = http.get("/v1/fills", params={"vp": vp["id"], "format": "parquet"})
    assert pq.status_code == 200 and pq.headers["Content-Type"] == "application/vnd.apache.parquet"
    frame = pl.read_parquet(io.BytesIO(pq.content))
    assert frame.height == 1 and frame["vp_id"][0] == vp["id"]
    arrow = http.get("/v1/fills", params={"vp": vp["id"], "format": "arrow"})
    assert arrow.status_code == 200
    assert pl.read_ipc_stream(io.BytesIO(arrow.content)).height == 1
    assert http.get("/v1/fills", params={"limit": "1"}).json().__len__() == 1
    assert http.get("/v1/fills", params={"since": str(10 ** 14)}).json() == []
    assert_error(http.get("/v1/fills", params={"format": "csv"}), 400, "INVALID_FORMAT")
    assert_error(http.get("/v1/fills", params={"limit": "-1"}), 400, "INVALID_PARAMETER")
    assert_error(http.get("/v1/fills", params={"since": "yesterday"}), 400, "INVALID_PARAMETER")
    assert_error(http.get("/v1/fills", params={"bogus": "1"}), 400, "UNKNOWN_PARAMETER")
    http.post(f"/v1/virtual-positions/{vp['id']}/close", {"type": "MARKET"})


def test_health_and_openapi(http: Client) -> None:
    health = http.get("/v1/health").json()
    assert health["venue"] == "sim" and health["connection"] == "CONNECTED" and health["status"] == "ok"
    doc = http.get("/v1/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    for path in ("/v1/state", "/v1/virtual-positions", "/v1/orders", "/v1/orders/{orderId}/cancel",
                 "/v1/virtual-positions/{id}/close", "/v1/virtual-positions/{id}/tpsl", "/v1/reconcile",
                 "/v1/virtual-positions/{id}", "/v1/orders/{orderId}/amend", "/v1/transfers", "/v1/fills",
                 "/v1/orders/history", "/v1/health", "/v1/openapi.json", "/v1/stream"):
        assert path in doc["paths"], path


# == generic errors =================================================================================
@pytest.mark.parametrize("raw, code", [
    (b"[1, 2]", "BODY_NOT_OBJECT"), (b"\"text\"", "BODY_NOT_OBJECT"), (b"{not json", "INVALID_JSON"),
    (b"{\"qty\": NaN}", "INVALID_JSON"), (b"\xff\xfe", "INVALID_JSON"),
    (b"{\"name\": \"a\", \"name\": \"b\", \"symbol\": \"BTCUSDT\", \"positionSide\": \"LONG\"}", "INVALID_JSON"),
    (b"null", "BODY_NOT_OBJECT"),
])
def test_bad_bodies(http: Client, raw: bytes, code: str) -> None:
    assert_error(http.request("POST", "/v1/virtual-positions", raw=raw), 400, code)


def test_wrong_media_type_unknown_route_and_method(http: Client) -> None:
    assert_error(http.request("POST", "/v1/virtual-positions", raw="name=a",
                              headers={"Content-Type": "application/x-www-form-urlencoded"}), 415,
                 "UNSUPPORTED_MEDIA_TYPE")
    assert_error(http.get("/v1/nope"), 404, "NOT_FOUND")
    assert_error(http.get("/v1"), 404, "NOT_FOUND")
    assert_error(http.request("PUT", "/v1/state", {}), 405, "METHOD_NOT_ALLOWED")
    assert_error(http.get("/v1/orders"), 405, "METHOD_NOT_ALLOWED")
    assert_error(http.post("/v1/orders/123456789/cancel"), 404, "UNKNOWN_ORDER")
    assert_error(http.post("/v1/orders/%00%01/cancel"), 404, "UNKNOWN_ORDER")
    assert_error(http.post("/v1/orders/123/cancel", {"force": True}), 400, "UNKNOWN_FIELD")
    assert_error(http.get("/v1/virtual-positions/..%2f..%2fetc"), 404)


def test_mismatch_lock_is_409_and_reconcile_heals(http: Client, control: Control) -> None:
    vp = new_vp(http, "ETHUSDT", "SHORT")
    buy(http, vp, "0.2")
    # a reduction from the Binance app: no VP can take it, the side goes MISMATCH and reduces are locked
    control.post("/external-order", {"symbol": "ETHUSDT", "side": "BUY", "positionSide": "SHORT",
                                     "type": "MARKET", "quantity": "0.1", "clientOrderId": "web_close_api"})
    wait_until(lambda: http.get("/v1/state").json()["reconcile"]["ETHUSDT"]["SHORT"] == "MISMATCH", timeout=20)
    assert_error(http.post(f"/v1/virtual-positions/{vp['id']}/close", {"type": "MARKET"}), 409, "MISMATCH_LOCK")
    assert_error(http.post(f"/v1/virtual-positions/{vp['id']}/tpsl", {"sl_price": "4000"}), 409, "MISMATCH_LOCK")
    ext = next(p for p in http.get("/v1/state").json()["external_positions"]
               if (p["symbol"], p["positionSide"]) == ("ETHUSDT", "SHORT"))
    resp = http.post("/v1/reconcile", {"symbol": "ETHUSDT", "positionSide": "SHORT", "assignments": [
        {"virtual_position_id": vp["id"], "qty": ext["qty"]}]})
    assert resp.status_code == 200 and resp.json()["status"] == "OK", resp.text
    assert http.post(f"/v1/virtual-positions/{vp['id']}/close", {"type": "MARKET"}).status_code == 200

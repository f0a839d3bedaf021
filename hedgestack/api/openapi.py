"""The OpenAPI 3.1 document of ``/v1`` (data, not generated from code; bodies share validation.py's specs)."""

from __future__ import annotations

from typing import Any

from hedgestack.api import validation as v
from hedgestack.api.context import CONFIRM_HEADER, LIVE_COOKIE, VENUE_HEADER
from hedgestack.api.exports import SQL_BODY
from hedgestack.engine.views import EVENT_TYPES, EXTENSION_EVENT_TYPES

DEC = {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$", "description": "an unrounded decimal string"}
DEC_OR_NULL = {"anyOf": [DEC, {"type": "null"}]}
STR_OR_NULL = {"type": ["string", "null"]}
MS = {"type": "integer", "description": "Unix time in milliseconds"}
MS_OR_NULL = {"type": ["integer", "null"], "description": "Unix time in milliseconds"}
SIDE = {"type": "string", "enum": ["LONG", "SHORT"]}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(props: dict[str, Any], required: list[str] | None = None, extra: bool = True, **kw: Any) -> dict[str, Any]:
    out = {"type": "object", "properties": props, "required": list(props) if required is None else required,
           "additionalProperties": extra}
    out.update(kw)
    return out


SCHEMAS: dict[str, Any] = {
    "Error": _obj({"error": {"type": "string", "description": "stable upper-case code, e.g. VP_GUARD"},
                   "message": {"type": "string", "description": "what went wrong, for humans"}},
                  extra=False, description="the seed's error envelope; the only shape any error has"),
    "TpSl": _obj({"tp_price": DEC_OR_NULL, "tp_trigger_type": {"type": "string", "enum": list(v.TRIGGER)},
                  "sl_price": DEC_OR_NULL, "sl_trigger_type": {"type": "string", "enum": list(v.TRIGGER)},
                  "tp_order_id": STR_OR_NULL, "sl_order_id": STR_OR_NULL,
                  "sync_status": {"type": "string", "enum": ["OK", "SYNCING", "ERROR"]}},
                 description="the seed's TpSlConfig (+ client order ids, leg quantities and sync_reason)"),
    "VirtualPosition": _obj({
        "id": {"type": "string", "pattern": v.VP_ID_PATTERN}, "name": {"type": "string"},
        "symbol": {"type": "string"}, "positionSide": SIDE, "net_qty": DEC, "avg_entry": DEC,
        "unrealized_pnl": DEC, "realized_pnl": DEC, "tpsl": {"anyOf": [_ref("TpSl"), {"type": "null"}]},
        "created_at": MS, "fees": {**DEC, "description": "USDT commissions (extension)"},
        "fees_by_asset": {"type": "object", "additionalProperties": DEC},
        "funding": {**DEC, "description": "funding received (+) or paid (−), USDT (extension)"},
        "net_pnl": {**DEC, "description": "realized − fees + funding (extension)"},
        "reset_at": MS_OR_NULL}, description="the seed's VirtualPosition with the extensions; the UNASSIGNED VP "
        "of each (symbol, side) is one of these (name UNASSIGNED)"),
    "ExternalPosition": _obj({"symbol": {"type": "string"}, "positionSide": SIDE, "qty": DEC,
                              "avgEntryPrice": DEC_OR_NULL, "unrealizedPnl": DEC_OR_NULL}),
    "Order": _obj({"orderId": STR_OR_NULL, "clientOrderId": {"type": "string"},
                   "virtual_position_id": {"type": "string"}, "symbol": {"type": "string"},
                   "side": {"type": "string", "enum": ["BUY", "SELL"]}, "positionSide": SIDE,
                   "type": {"type": "string"}, "qty": DEC, "price": DEC_OR_NULL, "status": {"type": "string"},
                   "reduceOnly": {"type": "boolean"}, "created_at": MS},
                  description="the seed's OrderRecord (+ role, filled_qty, trigger fields, updated_at, reason)"),
    "Fill": _obj({"tradeId": {"type": "string"}, "orderId": {"type": "string"}, "clientOrderId": STR_OR_NULL,
                  "virtual_position_id": {"type": "string"}, "symbol": {"type": "string"},
                  "side": {"type": "string"}, "positionSide": SIDE, "qty": DEC, "price": DEC,
                  "commission": DEC, "commissionAsset": {"type": "string"}, "realizedPnl": DEC,
                  "maker": {"type": "boolean"}, "time": MS}),
    "State": _obj({
        "external_positions": {"type": "array", "items": _ref("ExternalPosition")},
        "virtual_positions": {"type": "array", "items": _ref("VirtualPosition")},
        "open_orders": {"type": "array", "items": _ref("Order")},
        "fills": {"type": "array", "items": _ref("Fill"), "description": "recent fills, newest first"},
        "reconcile": {"type": "object", "additionalProperties": _obj(
            {"LONG": {"enum": ["OK", "MISMATCH"]}, "SHORT": {"enum": ["OK", "MISMATCH"]}}),
            "description": "{symbol: {LONG: OK|MISMATCH, SHORT: ...}}"},
        "venue": {"type": "string", "enum": ["sim", "testnet", "live"]},
        "connection": {"type": "string"}, "wallet_balance": DEC_OR_NULL,
        "marks": {"type": "object", "additionalProperties": DEC}},
        required=["external_positions", "virtual_positions", "open_orders", "fills", "reconcile", "venue"]),
    "OrderAck": _obj({"orderId": STR_OR_NULL, "clientOrderId": {"type": "string"}, "status": {"type": "string"}},
                     description="status PENDING with orderId null: the exchange's answer was lost; the order "
                     "is resolved by its clientOrderId and reported by ORDER_UPSERT"),
    "CancelAck": _obj({"orderId": STR_OR_NULL, "status": {"type": "string"}}),
    "Transfer": _obj({"from": _ref("VirtualPosition"), "to": _ref("VirtualPosition")}),
    "ReconcileResult": _obj({"symbol": {"type": "string"}, "positionSide": SIDE,
                             "status": {"enum": ["OK", "MISMATCH"]},
                             "virtual_positions": {"type": "array", "items": _ref("VirtualPosition")}}),
    "Health": _obj({"status": {"enum": ["ok", "degraded", "starting", "stopping", "failed"]},
                    "live": {"type": "boolean", "description": "started and its exchange connection CONNECTED"},
                    "reason": STR_OR_NULL, "venue": {"enum": ["sim", "testnet", "live"]},
                    "connection": {"type": "string"}, "symbols": {"type": "array", "items": {"type": "string"}},
                    "uptime_s": {"type": "number"},
                    "engine": {"type": "object", "description": "loop_lag_ms (p99, max over the last minute), "
                               "last_event, last_market_event, last_account_event ({type, at, age_ms}), events"},
                    "stream": {"type": "object", "description": "clients, queue_depths, queue_limit, max_lag_ms, "
                               "events, dropped_clients"},
                    "live_sessions_confirmed": {"type": ["integer", "null"]}, "stats": {"type": "object"}},
                   required=["status", "live", "venue", "connection", "symbols", "engine"],
                   description="200 only while live; 503 with the same body otherwise. Under hedgestack serve also "
                   "dashboard: {state, sessions, stream_lag_ms, dropped_slow_browsers, ...}"),
    "Event": _obj({"type": {"type": "string", "enum": ["SNAPSHOT", *EVENT_TYPES, *EXTENSION_EVENT_TYPES]},
                   "payload": {}, "ts": MS},
                  description="a /v1/stream message: SNAPSHOT (payload State) first, then the seed's seven event "
                  "types, and the extension types asked for with ?types="),
    "Instrument": _obj({"symbol": {"type": "string"}, "price_precision": {"type": "integer"},
                        "quantity_precision": {"type": "integer"}, "tick_size": DEC, "min_price": DEC,
                        "max_price": DEC, "step_size": DEC, "min_qty": DEC, "max_qty": DEC, "market_step_size": DEC,
                        "market_min_qty": DEC, "market_max_qty": DEC, "min_notional": DEC, "multiplier_up": DEC,
                        "multiplier_down": DEC}, description="a symbol's trading rules (exchangeInfo filters)"),
    "Candle": _obj({"open_time": MS, "open": DEC, "high": DEC, "low": DEC, "close": DEC, "volume": DEC,
                    "closed": {"type": "boolean"}}),
}

ERRORS = {
    "400": "bad input: not a JSON object, unknown field, missing field, JSON number where a decimal string is "
           "required, bad enum (VALIDATION_ERROR, INVALID_JSON, UNKNOWN_FIELD, MISSING_FIELD, "
           "DECIMAL_STRING_REQUIRED, INVALID_NUMBER, ...)",
    "401": "no or wrong token (UNAUTHORIZED) when the server has HEDGESTACK_TOKEN",
    "403": "TOKEN_REQUIRED (non-loopback client, no token configured) or FORBIDDEN_ORIGIN",
    "404": "unknown VP (UNKNOWN_VP), order (UNKNOWN_ORDER) or route (NOT_FOUND)",
    "405": "method not allowed on this route (METHOD_NOT_ALLOWED)",
    "409": "refused by a rule: VP guard (VP_GUARD), MISMATCH lock (MISMATCH_LOCK), ledger rules (VP_FLAT, "
           "CLOSE_QTY_ZERO, NAME_TAKEN, SYSTEM_VP, ...), reconcile (OVER_ASSIGNED, RECONCILE_FILLS_PENDING), "
           "HEDGE_MODE_REQUIRED",
    "415": "a body that is not Content-Type: application/json (UNSUPPORTED_MEDIA_TYPE)",
    "422": "refused by an exchange filter before sending (PRICE_TICK_SIZE, QTY_STEP_SIZE, MIN_NOTIONAL, "
           "PERCENT_PRICE, ...); the message names the Binance code",
    "426": "/v1/stream called without a WebSocket upgrade (UPGRADE_REQUIRED)",
    "428": "LIVE venue: the client session's first order needs the confirmation header "
           "(LIVE_CONFIRMATION_REQUIRED)",
    "502": "the exchange refused (EXCHANGE_REJECTED); the message carries Binance's code and message",
    "503": "the exchange is unavailable, rate limited or banned, or the engine is starting (ENGINE_STARTING) or "
           "stopped",
}
_READ_ERRORS = ("400", "401", "403", "404", "503")
_WRITE_ERRORS = ("400", "401", "403", "404", "405", "409", "415", "422", "502", "503")


def _json_response(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}},
            "headers": {VENUE_HEADER: {"$ref": "#/components/headers/Venue"}}}


def _errors(codes: tuple[str, ...]) -> dict[str, Any]:
    return {code: {"$ref": f"#/components/responses/E{code}"} for code in codes}


def _op(op_id: str, summary: str, ok: tuple[str, str, dict[str, Any]], *, body: v.Body | None = None,
        errors: tuple[str, ...] = _WRITE_ERRORS, params: list[dict[str, Any]] | None = None,
        live: bool = False, tags: tuple[str, ...] = ()) -> dict[str, Any]:
    code, description, schema = ok
    op: dict[str, Any] = {"operationId": op_id, "summary": summary, "tags": list(tags),
                          "responses": {code: _json_response(description, schema), **_errors(errors)}}
    if body is not None:
        op["requestBody"] = {"required": bool(body.required),
                             "content": {"application/json": {"schema": body.schema()}}}
    parameters = list(params or [])
    if live:
        parameters.append({"$ref": "#/components/parameters/ConfirmLive"})
        op["responses"].update(_errors(("428",)))
    if parameters:
        op["parameters"] = parameters
    return op


def _path_param(name: str, description: str, pattern: str | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": 64}
    if pattern:
        schema["pattern"] = pattern
    return {"name": name, "in": "path", "required": True, "description": description, "schema": schema}


def _query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


VP_PARAM = _path_param("id", "virtual position id", v.VP_ID_PATTERN)
ORDER_PARAM = _path_param("orderId", "the exchange orderId (or algoId) or our clientOrderId",
                          r"^[A-Za-z0-9._:/-]{1,36}$")
FORMAT = _query("format", "json (default), parquet or arrow (Arrow IPC stream)",
                {"type": "string", "enum": ["json", "parquet", "arrow"]})
VP_QUERY = _query("vp", "only this VP", {"type": "string", "pattern": v.VP_ID_PATTERN})
SYMBOL_QUERY = _query("symbol", "only this symbol", {"type": "string", "pattern": v.SYMBOL_PATTERN})
TABLE = {"application/json": {}, "application/vnd.apache.parquet": {"schema": {"type": "string",
         "format": "binary"}}, "application/vnd.apache.arrow.stream": {"schema": {"type": "string",
                                                                                 "format": "binary"}}}


def document(server_url: str | None = None) -> dict[str, Any]:
    vp = _ref("VirtualPosition")
    fills_ok = {"description": "fills in time order", "content": {
        **TABLE, "application/json": {"schema": {"type": "array", "items": _ref("Fill")}}}}
    orders_ok = {"description": "every order of ours (open and finished)", "content": {
        **TABLE, "application/json": {"schema": {"type": "array", "items": _ref("Order")}}}}
    paths: dict[str, Any] = {
        "/v1/state": {"get": _op("getState", "full snapshot: external and virtual positions, open orders, recent "
                                 "fills, reconcile status", ("200", "the state", _ref("State")),
                                 errors=_READ_ERRORS, tags=("state",),
                                 params=[_query("fills", "how many recent fills (default 50)",
                                                {"type": "integer", "minimum": 0, "maximum": 1000})])},
        "/v1/virtual-positions": {"post": _op("createVirtualPosition", "create a virtual position",
                                              ("201", "the new VP", vp), body=v.CREATE_VP, tags=("vp",))},
        "/v1/virtual-positions/{id}": {
            "parameters": [VP_PARAM],
            "get": _op("getVirtualPosition", "one VP", ("200", "the VP", vp), errors=_READ_ERRORS, tags=("vp",)),
            "patch": _op("renameVirtualPosition", "rename (extension; UNASSIGNED cannot be renamed)",
                         ("200", "the VP", vp), body=v.RENAME_VP, tags=("vp",)),
            "delete": _op("archiveVirtualPosition", "archive a flat VP without open orders (extension)",
                          ("200", "the archived VP", vp), tags=("vp",))},
        "/v1/virtual-positions/{id}/close": {
            "parameters": [VP_PARAM],
            "post": _op("closeVirtualPosition", "close percent (default 100) or qty of a VP, MARKET or LIMIT; "
                        "a flat VP or an amount rounding to 0 is refused (409)", ("200", "the close order",
                        _ref("OrderAck")), body=v.CLOSE_VP, live=True, tags=("vp",))},
        "/v1/virtual-positions/{id}/tpsl": {
            "parameters": [VP_PARAM],
            "post": _op("setTpSl", "set or change TP/SL (cancel + create); sync status arrives as "
                        "TPSL_SYNC_STATUS events", ("200", "the VP", vp), body=v.SET_TPSL, live=True,
                        tags=("tpsl",)),
            "delete": _op("clearTpSl", "remove TP and SL (extension)", ("200", "the VP", vp), tags=("tpsl",))},
        "/v1/orders": {"post": _op("placeOrder", "place an order into a VP", ("200", "accepted by the exchange",
                                   _ref("OrderAck")), body=v.PLACE_ORDER, live=True, tags=("orders",))},
        "/v1/orders/history": {"get": {"operationId": "orderHistory", "summary": "order history (extension)",
                                       "tags": ["orders"], "parameters": [VP_QUERY, SYMBOL_QUERY, FORMAT],
                                       "responses": {"200": orders_ok, **_errors(_READ_ERRORS)}}},
        "/v1/orders/{orderId}/cancel": {
            "parameters": [ORDER_PARAM],
            "post": _op("cancelOrder", "cancel an open order (TP/SL legs are managed by the VP's TP/SL)",
                        ("200", "the cancel result", _ref("CancelAck")), tags=("orders",))},
        "/v1/orders/{orderId}/amend": {
            "parameters": [ORDER_PARAM],
            "post": _op("amendOrder", "amend = cancel + new (extension)", ("200", "the new order",
                        _ref("OrderAck")), body=v.AMEND_ORDER, live=True, tags=("orders",))},
        "/v1/reconcile": {"post": _op("reconcile", "assign the exchange quantity of one side to VPs (the rest to "
                                      "UNASSIGNED); assigned VPs restart at the exchange entry price",
                                      ("200", "the side after reconciling", _ref("ReconcileResult")),
                                      body=v.RECONCILE, tags=("reconcile",))},
        "/v1/transfers": {"post": _op("transfer", "move quantity between two VPs of one side at the source's "
                                      "average cost (extension; nothing is sent)", ("200", "both VPs",
                                      _ref("Transfer")), body=v.TRANSFER, tags=("vp",))},
        "/v1/fills": {"get": {"operationId": "fills", "summary": "fill history (extension)", "tags": ["history"],
                              "parameters": [VP_QUERY, SYMBOL_QUERY,
                                             _query("since", "from (inclusive), Unix ms", {"type": "integer",
                                                    "minimum": 0}),
                                             _query("until", "to (exclusive), Unix ms", {"type": "integer",
                                                    "minimum": 0}),
                                             _query("limit", "at most this many (the oldest first)",
                                                    {"type": "integer", "minimum": 1, "maximum": 1_000_000}),
                                             FORMAT],
                              "responses": {"200": fills_ok, **_errors(_READ_ERRORS)}}},
        "/v1/vp-history": {"get": {"operationId": "vpHistory", "summary": "every change of every VP (extension)",
                                   "tags": ["history"], "parameters": [VP_QUERY, FORMAT],
                                   "responses": {"200": {"description": "VP history rows", "content": {
                                       **TABLE, "application/json": {"schema": {"type": "array",
                                                                                "items": {"type": "object"}}}}},
                                                 **_errors(_READ_ERRORS)}}},
        "/v1/sql": {"post": {"operationId": "sql", "tags": ["history"],
                             "summary": "one read-only SELECT over the views fills, orders, vp_history, marks, "
                             "vp_eod_current, vp_equity (extension)",
                             "description": "Anything else (another statement, another table, a file, a table "
                             "function) is refused with INVALID_QUERY before it runs; a query is interrupted after "
                             "30 s (QUERY_TIMEOUT).",
                             "parameters": [FORMAT],
                             "requestBody": {"required": True,
                                             "content": {"application/json": {"schema": SQL_BODY.schema()}}},
                             "responses": {"200": {"description": "the result", "content": {
                                 **TABLE, "application/json": {"schema": {"type": "array",
                                                                          "items": {"type": "object"}}}}},
                                 **_errors(("400", "401", "403", "415", "503"))}}},
        "/v1/instruments": {"get": _op("instruments", "every traded symbol's trading rules (extension)",
                                       ("200", "the rules", {"type": "array", "items": _ref("Instrument")}),
                                       errors=_READ_ERRORS, tags=("market",), params=[SYMBOL_QUERY])},
        "/v1/candles": {"get": _op("candles", "klines from the venue, oldest first (extension)",
                                   ("200", "the candles", {"type": "array", "items": _ref("Candle")}),
                                   errors=_READ_ERRORS, tags=("market",), params=[
                                       {**SYMBOL_QUERY, "required": True},
                                       _query("interval", "1m (default), 3m ... 1M", {"type": "string", "enum": [
                                           "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h",
                                           "1d", "3d", "1w", "1M"]}),
                                       _query("limit", "how many (default 500)", {"type": "integer", "minimum": 1,
                                                                                  "maximum": 1500})])},
        "/v1/health": {"get": {"operationId": "health", "tags": ["meta"],
                               "summary": "is the engine live: connection, last exchange events, loop lag, queues",
                               "responses": {"200": _json_response("live", _ref("Health")),
                                             "503": _json_response("starting, reconnecting, stopped or failed "
                                                                   "(same body)", _ref("Health")),
                                             **_errors(("401", "403"))}}},
        "/v1/openapi.json": {"get": {"operationId": "openapi", "summary": "this document", "tags": ["meta"],
                                     "responses": {"200": {"description": "OpenAPI 3.1",
                                                           "content": {"application/json": {}}},
                                                   **_errors(("401", "403"))}}},
        "/v1/stream": {"get": {
            "operationId": "stream", "tags": ["events"],
            "summary": "WebSocket (upgrade required): SNAPSHOT, then the seed's events",
            "description": "Messages are Event objects {type, payload, ts}: the seed's seven types, plus the "
                           f"extension types named in ?types= ({', '.join(EXTENSION_EVENT_TYPES)}). A client "
                           "that falls behind is closed with code 4008 and a reason; reconnect to get a new "
                           "SNAPSHOT. Browser Origins other than the server's own (and those configured) are "
                           "refused (403).",
            "parameters": [_query("types", "comma-separated extension event types to add",
                                  {"type": "string", "pattern": "^[A-Z_]+(,[A-Z_]+)*$"})],
            "x-websocket": True, "x-events": _ref("Event"),
            "responses": {"101": {"description": "switching protocols"},
                          **_errors(("400", "401", "403", "426", "503"))}}},
        "/v1/login": {"get": {"operationId": "loginPage", "summary": "login form (HTML)", "tags": ["auth"],
                              "responses": {"200": {"description": "HTML form", "content": {"text/html": {}}},
                                            "302": {"description": "no token configured: redirect"}}},
                      "post": {"operationId": "login", "summary": "exchange the token for a session cookie",
                               "tags": ["auth"], "requestBody": {"content": {
                                   "application/x-www-form-urlencoded": {"schema": _obj(
                                       {"token": {"type": "string"}})}}},
                               "responses": {"303": {"description": "cookie set, redirect to next"},
                                             "401": {"description": "wrong token (HTML form again)"},
                                             **_errors(("403", "404"))}}},
        "/v1/logout": {"post": {"operationId": "logout", "summary": "clear the session cookie", "tags": ["auth"],
                                "responses": {"200": {"description": "logged out",
                                                      "content": {"application/json": {}}}}}},
    }
    errors = {f"E{code}": {"description": text, "content": {"application/json": {"schema": _ref("Error")}}}
              for code, text in ERRORS.items()}
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": "hedgestack", "version": "1",
                 "description": "Virtual positions on Binance USDT-M Futures Hedge Mode: the seed's REST API "
                 "and event stream. Money and quantities are decimal strings (a JSON number for them is "
                 "refused), times Unix ms. Every error is {\"error\": CODE, \"message\": ...}. Every response "
                 f"carries {VENUE_HEADER}. On the LIVE venue each client session confirms its first "
                 f"order-sending request with the header {CONFIRM_HEADER}: yes (else 428); the answer sets the "
                 f"session's {LIVE_COOKIE} cookie, so later requests of the same session need nothing."},
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "responses": errors,
            "headers": {"Venue": {"description": "sim, testnet or live", "schema": {
                "type": "string", "enum": ["sim", "testnet", "live"]}}},
            "parameters": {"ConfirmLive": {
                "name": CONFIRM_HEADER, "in": "header", "required": False,
                "description": "LIVE venue only: 'yes' confirms trading on the real account; required on the "
                "client session's first order-sending request (428 LIVE_CONFIRMATION_REQUIRED without it)",
                "schema": {"type": "string", "enum": ["yes"]}}},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "HEDGESTACK_TOKEN; needed when the server has one "
                                           "(always when it binds a non-loopback address)"},
                                "cookie": {"type": "apiKey", "in": "cookie", "name": "hedgestack_session",
                                           "description": "set by POST /v1/login"}},
        },
        "security": [{}, {"bearer": []}, {"cookie": []}],
    }
    if server_url:
        doc["servers"] = [{"url": server_url}]
    return doc

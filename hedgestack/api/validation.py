"""Request validation: one definition per body gives both the check and the OpenAPI JSON Schema.

Rules: a body is a JSON object; unknown fields are refused; quantities and prices are decimal strings
(a JSON number is refused, never turned into a float); optional fields may be ``null`` (= not given);
enums are exact (upper case, as in the seed).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from hedgestack.domain.errors import ValidationError

#: a plain decimal: no sign, no exponent, at most 20 digits on each side of the point
DECIMAL_PATTERN = r"^[0-9]{1,20}(\.[0-9]{1,20})?$"
_DECIMAL = re.compile(DECIMAL_PATTERN)
VP_ID_PATTERN = r"^vp_[0-9a-z]{8}$"
_VP_ID = re.compile(VP_ID_PATTERN)
SYMBOL_PATTERN = r"^[A-Z0-9]{1,20}$"
_SYMBOL = re.compile(SYMBOL_PATTERN)
MAX_BODY = 64 * 1024


def _bad(code: str, message: str) -> ValidationError:
    return ValidationError(message, code=code)


class Field:
    """One field: ``check`` returns the clean value or raises ValidationError; ``schema`` is JSON Schema."""

    description: str = ""

    def check(self, name: str, value: Any) -> Any:
        raise NotImplementedError

    def schema(self) -> dict[str, Any]:
        raise NotImplementedError


@dataclass
class Decimal_(Field):  # noqa: N801 - reads as the type it checks
    description: str = ""
    example: str = "0.01"

    def check(self, name: str, value: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, str):
            if isinstance(value, (int, float)):
                raise _bad("DECIMAL_STRING_REQUIRED", f"{name} must be a decimal string such as \"{self.example}\", "
                           f"not the JSON number {json.dumps(value)} (a JSON number would pass through a float)")
            raise _bad("INVALID_FIELD", f"{name} must be a decimal string such as \"{self.example}\"")
        if not _DECIMAL.match(value):
            raise _bad("INVALID_NUMBER", f"{name} must be a plain non-negative decimal string such as "
                       f"\"{self.example}\" (digits, optional point; no sign or exponent), got {value[:40]!r}")
        return value

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "pattern": DECIMAL_PATTERN, "description": self.description,
                "examples": [self.example]}


@dataclass
class Percent(Field):
    """The seed's close example sends ``"percent": 50``: an integer or a decimal string, in (0, 100]."""

    description: str = "percent of net_qty to close, (0, 100]: an integer or a decimal string"

    def check(self, name: str, value: Any) -> str:
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        if isinstance(value, float):
            raise _bad("DECIMAL_STRING_REQUIRED", f"{name} must be an integer or a decimal string such as \"12.5\", "
                       f"not the JSON number {json.dumps(value)}")
        return Decimal_(example="50").check(name, value)

    def schema(self) -> dict[str, Any]:
        return {"oneOf": [{"type": "integer", "minimum": 1, "maximum": 100},
                          {"type": "string", "pattern": DECIMAL_PATTERN}],
                "description": self.description, "examples": [50, "12.5"]}


@dataclass
class Text(Field):
    description: str = ""
    min_length: int = 1
    max_length: int = 64
    pattern: str | None = None
    example: str | None = None

    def check(self, name: str, value: Any) -> str:
        if not isinstance(value, str):
            raise _bad("INVALID_FIELD", f"{name} must be a string")
        if not self.min_length <= len(value) <= self.max_length:
            raise _bad("INVALID_FIELD", f"{name} must be {self.min_length}–{self.max_length} characters")
        if self.pattern is not None and not re.match(self.pattern, value):
            raise _bad("INVALID_FIELD", f"{name} must match {self.pattern}, got {value[:40]!r}")
        return value

    def schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "string", "minLength": self.min_length, "maxLength": self.max_length,
                               "description": self.description}
        if self.pattern is not None:
            out["pattern"] = self.pattern
        if self.example is not None:
            out["examples"] = [self.example]
        return out


@dataclass
class VpId(Field):
    description: str = "a virtual position id (vp_ + 8 characters [0-9a-z]); UNASSIGNED VPs have one too"

    def check(self, name: str, value: Any) -> str:
        if not isinstance(value, str) or not _VP_ID.match(value):
            raise _bad("INVALID_VP_ID", f"{name} must be a VP id like \"vp_abc12345\"")
        return value

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "pattern": VP_ID_PATTERN, "description": self.description,
                "examples": ["vp_abc12345"]}


@dataclass
class Symbol(Field):
    description: str = "a symbol the terminal trades, e.g. BTCUSDT"

    def check(self, name: str, value: Any) -> str:
        if not isinstance(value, str) or not _SYMBOL.match(value):
            raise _bad("INVALID_SYMBOL", f"{name} must be an upper-case symbol such as \"BTCUSDT\"")
        return value

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "pattern": SYMBOL_PATTERN, "description": self.description,
                "examples": ["BTCUSDT"]}


@dataclass
class Enum(Field):
    values: Sequence[str] = ()
    description: str = ""

    def check(self, name: str, value: Any) -> str:
        if not isinstance(value, str) or value not in self.values:
            raise _bad(f"INVALID_{name.upper()}", f"{name} must be one of {', '.join(self.values)}"
                       + (f", got {value[:40]!r}" if isinstance(value, str) else ""))
        return value

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "enum": list(self.values), "description": self.description}


@dataclass
class CloseType(Enum):
    """A close's type: MARKET or LIMIT. Another order type is refused as the terminal refuses it
    (INVALID_ORDER_TYPE), anything else as an unknown type (INVALID_TYPE)."""

    values: Sequence[str] = ("MARKET", "LIMIT")
    description: str = "close order type"
    order_types: Sequence[str] = ("MARKET", "LIMIT", "STOP_MARKET", "STOP", "TAKE_PROFIT_MARKET", "TAKE_PROFIT",
                                  "TRAILING_STOP_MARKET")

    def check(self, name: str, value: Any) -> str:
        if isinstance(value, str) and value in self.order_types and value not in self.values:
            raise _bad("INVALID_ORDER_TYPE", "a close is MARKET or LIMIT")
        return super().check(name, value)


@dataclass
class Bool(Field):
    description: str = ""

    def check(self, name: str, value: Any) -> bool:
        if not isinstance(value, bool):
            raise _bad("INVALID_FIELD", f"{name} must be true or false")
        return value

    def schema(self) -> dict[str, Any]:
        return {"type": "boolean", "description": self.description}


@dataclass
class ArrayOf(Field):
    item: Body = None  # type: ignore[assignment]
    min_items: int = 0
    max_items: int = 200
    description: str = ""

    def check(self, name: str, value: Any) -> list[dict[str, Any]]:
        if not isinstance(value, list):
            raise _bad("INVALID_FIELD", f"{name} must be an array")
        if not self.min_items <= len(value) <= self.max_items:
            raise _bad("INVALID_FIELD", f"{name} must hold {self.min_items}–{self.max_items} items")
        return [self.item.check(item, where=f"{name}[{i}]") for i, item in enumerate(value)]

    def schema(self) -> dict[str, Any]:
        return {"type": "array", "items": self.item.schema(), "minItems": self.min_items,
                "maxItems": self.max_items, "description": self.description}


@dataclass
class Body:
    """An object with required and optional fields; anything else is refused."""

    required: dict[str, Field] = field(default_factory=dict)
    optional: dict[str, Field] = field(default_factory=dict)
    description: str = ""

    def check(self, data: Any, *, where: str = "body") -> dict[str, Any]:
        if not isinstance(data, dict):
            raise _bad("BODY_NOT_OBJECT", f"{where} must be a JSON object")
        unknown = sorted(set(data) - set(self.required) - set(self.optional))
        if unknown:
            allowed = ", ".join([*self.required, *self.optional]) or "none"
            raise _bad("UNKNOWN_FIELD", f"{where}: unknown field(s) {', '.join(repr(u[:40]) for u in unknown[:5])}; "
                       f"allowed: {allowed}")
        missing = [name for name in self.required if data.get(name) is None]
        if missing:
            raise _bad("MISSING_FIELD", f"{where}: missing required field(s) {', '.join(missing)}")
        out: dict[str, Any] = {}
        for name, spec in self.required.items():
            out[name] = spec.check(f"{where}.{name}" if where != "body" else name, data[name])
        for name, spec in self.optional.items():
            if data.get(name) is not None:
                out[name] = spec.check(f"{where}.{name}" if where != "body" else name, data[name])
        return out

    def schema(self) -> dict[str, Any]:
        props: dict[str, Any] = {name: spec.schema() for name, spec in self.required.items()}
        for name, spec in self.optional.items():
            inner = spec.schema()
            props[name] = {"anyOf": [inner, {"type": "null"}], "description": inner.get("description", "")}
        out: dict[str, Any] = {"type": "object", "properties": props, "additionalProperties": False}
        if self.required:
            out["required"] = list(self.required)
        if self.description:
            out["description"] = self.description
        return out


def _reject_constant(name: str) -> Any:
    raise _bad("INVALID_JSON", f"{name} is not JSON")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _bad("INVALID_JSON", f"duplicate key {key[:40]!r}")
        out[key] = value
    return out


def parse_json(raw: bytes) -> Any:
    """Strict JSON: UTF-8, no NaN/Infinity, no duplicate keys; an empty body is ``{}``."""
    if len(raw) > MAX_BODY:
        raise _bad("BODY_TOO_LARGE", f"body larger than {MAX_BODY} bytes")
    if not raw.strip():
        return {}
    try:
        text = raw.decode("utf-8")
        return json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_no_duplicates)
    except ValidationError:
        raise
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise _bad("INVALID_JSON", f"body is not valid JSON: {str(exc)[:120]}") from None


# == the bodies ==================================================================================
POSITION_SIDE = Enum(("LONG", "SHORT"), "the Hedge Mode side")
TRIGGER = ("LAST_PRICE", "MARK_PRICE")

CREATE_VP = Body(
    required={"name": Text("1–64 printable characters, unique per symbol + side; UNASSIGNED is reserved",
                           example="Long-Term"),
              "symbol": Symbol(), "positionSide": POSITION_SIDE},
    description="create a virtual position")
RENAME_VP = Body(required={"name": Text("the new name (1–64 printable characters)", example="Swing")})
PLACE_ORDER = Body(
    required={"virtual_position_id": VpId(), "symbol": Symbol("must be the VP's symbol"),
              "positionSide": Enum(("LONG", "SHORT"), "must be the VP's positionSide"),
              "side": Enum(("BUY", "SELL"), "BUY+LONG / SELL+SHORT open, SELL+LONG / BUY+SHORT close"),
              "type": Enum(("MARKET", "LIMIT", "STOP_MARKET", "STOP", "TAKE_PROFIT_MARKET", "TAKE_PROFIT"),
                           "order type; conditional types need triggerPrice"),
              "qty": Decimal_("quantity (a decimal string)", "0.01")},
    optional={"price": Decimal_("limit price, required by LIMIT / STOP / TAKE_PROFIT", "94000.00"),
              "timeInForce": Enum(("GTC", "IOC", "FOK"), "LIMIT orders: default GTC"),
              "reduceOnly": Bool("true: this order must reduce the VP (checked by the VP guard); never "
                                 "forwarded to Binance, which refuses reduceOnly in Hedge Mode"),
              "triggerPrice": Decimal_("trigger price of a conditional order (extension)", "90000"),
              "triggerType": Enum(TRIGGER, "what the trigger watches (extension); default MARK_PRICE")},
    description="place an order into a virtual position")
AMEND_ORDER = Body(optional={"price": Decimal_("the new limit price", "94100"),
                             "qty": Decimal_("the new quantity (default: what is left)", "0.02")},
                   description="amend = cancel + new (the new order keeps VP, side, type and time in force)")
CLOSE_VP = Body(
    required={"type": CloseType()},
    optional={"percent": Percent(), "qty": Decimal_("quantity to close (instead of percent)", "0.5"),
              "price": Decimal_("LIMIT price", "96000.00"),
              "timeInForce": Enum(("GTC", "IOC", "FOK"), "LIMIT closes: default GTC (extension)")},
    description="close a VP: percent (default 100) or qty, rounded down to the step size")
SET_TPSL = Body(
    optional={"tp_price": Decimal_("take-profit trigger price", "100000.00"),
              "tp_trigger_type": Enum(TRIGGER, "default LAST_PRICE"),
              "sl_price": Decimal_("stop-loss trigger price", "90000.00"),
              "sl_trigger_type": Enum(TRIGGER, "default MARK_PRICE"),
              "qty": Decimal_("must equal the VP's net_qty less its open closes (full-position TP/SL only)",
                              "0.01")},
    description="set or change the VP's single TP and SL (cancel + create); follow TPSL_SYNC_STATUS events")
ASSIGNMENT = Body(required={"virtual_position_id": VpId(), "qty": Decimal_("quantity assigned", "2.0")})
RECONCILE = Body(
    required={"symbol": Symbol(), "positionSide": POSITION_SIDE,
              "assignments": ArrayOf(ASSIGNMENT, 0, 200, "VPs of that side not listed get 0; the rest of the "
                                     "exchange quantity goes to UNASSIGNED")},
    description="assign the exchange quantity of one side to its VPs")
TRANSFER = Body(required={"from_vp": VpId("the source VP"), "to_vp": VpId("the destination VP (same side)"),
                          "qty": Decimal_("quantity moved at the source's average cost", "0.01")},
                description="move quantity between two VPs of one side (nothing is sent to the exchange)")

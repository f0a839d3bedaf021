"""Domain enumerations. Values are Binance's own strings where Binance has one."""

from __future__ import annotations

import enum


@enum.unique
class Side(enum.StrEnum):
    BUY = "BUY"
    SELL = "SELL"

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


@enum.unique
class PositionSide(enum.StrEnum):
    LONG = "LONG"
    SHORT = "SHORT"

    @property
    def sign(self) -> int:
        """d in the ledger rules: +1 for LONG, -1 for SHORT."""
        return 1 if self is PositionSide.LONG else -1

    @property
    def opening_side(self) -> Side:
        """The order side that increases this position side (BUY+LONG, SELL+SHORT)."""
        return Side.BUY if self is PositionSide.LONG else Side.SELL

    @property
    def closing_side(self) -> Side:
        return self.opening_side.opposite

    def increases(self, side: Side) -> bool:
        return side is self.opening_side


@enum.unique
class OrderType(enum.StrEnum):
    MARKET = "MARKET"
    LIMIT = "LIMIT"
    STOP = "STOP"
    STOP_MARKET = "STOP_MARKET"
    TAKE_PROFIT = "TAKE_PROFIT"
    TAKE_PROFIT_MARKET = "TAKE_PROFIT_MARKET"
    TRAILING_STOP_MARKET = "TRAILING_STOP_MARKET"
    LIQUIDATION = "LIQUIDATION"

    @property
    def is_conditional(self) -> bool:
        """Conditional types go to the algo API since 2025-12-09."""
        return self in _CONDITIONAL

    @property
    def has_limit_price(self) -> bool:
        return self in (OrderType.LIMIT, OrderType.STOP, OrderType.TAKE_PROFIT)


_CONDITIONAL = frozenset({OrderType.STOP, OrderType.STOP_MARKET, OrderType.TAKE_PROFIT,
                          OrderType.TAKE_PROFIT_MARKET, OrderType.TRAILING_STOP_MARKET})


@enum.unique
class TimeInForce(enum.StrEnum):
    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"
    GTX = "GTX"


@enum.unique
class TriggerType(enum.StrEnum):
    """The seed's trigger names; ``working_type`` gives Binance's ``workingType``."""

    LAST_PRICE = "LAST_PRICE"
    MARK_PRICE = "MARK_PRICE"

    @property
    def working_type(self) -> str:
        return "CONTRACT_PRICE" if self is TriggerType.LAST_PRICE else "MARK_PRICE"

    @classmethod
    def parse(cls, text: str) -> TriggerType:
        """Accept the seed's names, Binance's workingType and the short LAST/MARK."""
        key = text.strip().upper()
        aliases = {"LAST": cls.LAST_PRICE, "LAST_PRICE": cls.LAST_PRICE, "CONTRACT_PRICE": cls.LAST_PRICE,
                   "MARK": cls.MARK_PRICE, "MARK_PRICE": cls.MARK_PRICE}
        if key not in aliases:
            from hedgestack.domain.errors import ValidationError

            raise ValidationError(f"unknown trigger type {text!r}; use LAST_PRICE or MARK_PRICE",
                                  code="INVALID_TRIGGER_TYPE")
        return aliases[key]


@enum.unique
class OrderRole(enum.StrEnum):
    """Why we sent an order: it opens/adds to a VP, closes part of it, or is its TP or SL."""

    ENTRY = "ENTRY"
    CLOSE = "CLOSE"
    TP = "TP"
    SL = "SL"

    @property
    def reduces(self) -> bool:
        return self is not OrderRole.ENTRY


@enum.unique
class OrderStatus(enum.StrEnum):
    PENDING = "PENDING"  # intent stored, no answer yet
    NEW = "NEW"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"
    EXPIRED_IN_MATCH = "EXPIRED_IN_MATCH"
    # algo order states (ALGO_UPDATE X)
    TRIGGERING = "TRIGGERING"
    TRIGGERED = "TRIGGERED"
    FINISHED = "FINISHED"

    @property
    def is_open(self) -> bool:
        return self in _OPEN_STATUSES


_OPEN_STATUSES = frozenset({OrderStatus.PENDING, OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED, OrderStatus.TRIGGERING,
                            OrderStatus.TRIGGERED})


@enum.unique
class SyncStatus(enum.StrEnum):
    OK = "OK"
    SYNCING = "SYNCING"
    ERROR = "ERROR"


@enum.unique
class ConsistencyStatus(enum.StrEnum):
    OK = "OK"
    MISMATCH = "MISMATCH"

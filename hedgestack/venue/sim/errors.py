"""Binance's refusals as one exception type carrying ``{"code", "msg"}`` and the HTTP status."""

from __future__ import annotations

from hedgestack.domain.errors import FilterViolation


class BinanceCodeError(Exception):
    """A request the simulated exchange refuses, answered as ``{"code": code, "msg": msg}``."""

    def __init__(self, code: int, msg: str, status: int = 400) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg
        self.status = status

    @classmethod
    def from_filter(cls, exc: FilterViolation) -> BinanceCodeError:
        """Map a domain FilterViolation to Binance's code and message."""
        return cls(exc.binance_code if exc.binance_code is not None else -1013, exc.message)


def mandatory(name: str) -> BinanceCodeError:
    return BinanceCodeError(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


def not_required(name: str) -> BinanceCodeError:
    return BinanceCodeError(-1106, f"Parameter '{name}' sent when not required.")


def bad_symbol() -> BinanceCodeError:
    return BinanceCodeError(-1121, "Invalid symbol.")


def unknown_order() -> BinanceCodeError:
    return BinanceCodeError(-2011, "Unknown order sent.")


def no_such_order() -> BinanceCodeError:
    return BinanceCodeError(-2013, "Order does not exist.")


REDUCE_ONLY_REJECT = (-2022, "ReduceOnly Order is rejected.")
MARGIN_INSUFFICIENT = (-2019, "Margin is insufficient.")
POSITION_SIDE_NOT_MATCH = (-4061, "Order's position side does not match user's setting.")
STOP_ORDER_SWITCH_ALGO = (-4120, "Order type not supported for this endpoint. Please use the Algo Order API "
                                 "endpoints instead.")
INVALID_CLIENT_ID = (-4015, "Client order id is not valid.")
CLIENT_ID_TOO_LONG = (-4015, "Client order id length should not be more than 36 chars")
DUPLICATED_CLIENT_ID = (-4116, "clientOrderId is duplicated")
GTX_REJECT = (-5022, "Due to the order could not be executed as maker, the Post Only order will be rejected.")
WOULD_TRIGGER = (-2021, "Order would immediately trigger.")


def err(pair: tuple[int, str]) -> BinanceCodeError:
    return BinanceCodeError(pair[0], pair[1])

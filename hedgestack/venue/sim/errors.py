"""Binance's refusals as one exception type carrying ``{"code", "msg"}`` and the HTTP status.

``msg`` is always Binance's exact wording (the USDⓈ-M error-code page, reference/binance-usdm.md §6); anything
the simulator knows beyond it (which value broke which rule) travels in ``detail`` and goes to the simulator's
log, never into the answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hedgestack.domain.numbers import to_str

if TYPE_CHECKING:
    from decimal import Decimal

    from hedgestack.domain.errors import FilterViolation


class BinanceCodeError(Exception):
    """A request the simulated exchange refuses, answered as ``{"code": code, "msg": msg}``."""

    def __init__(self, code: int, msg: str, status: int = 400, detail: str = "") -> None:
        super().__init__(f"{code}: {msg}" + (f" ({detail})" if detail else ""))
        self.code = code
        self.msg = msg
        self.status = status
        self.detail = detail

    @classmethod
    def from_filter(cls, exc: FilterViolation) -> BinanceCodeError:
        """Map a domain FilterViolation to Binance's code and exact message (the domain's text is the detail)."""
        code = exc.binance_code if exc.binance_code is not None else -1013
        return cls(code, FILTER_TEXTS.get(code, "INVALID_MESSAGE."), detail=exc.message)


FILTER_TEXTS = {
    -1013: "INVALID_MESSAGE.",
    -1102: "A mandatory parameter was not sent, was empty/null, or malformed.",
    -1111: "Precision is over the maximum defined for this asset.",
    -4001: "Price less than 0.",
    -4002: "Price greater than max price.",
    -4003: "Quantity less than zero.",
    -4004: "Quantity less than min quantity.",
    -4005: "Quantity greater than max quantity.",
    -4013: "Price less than min price.",
    -4014: "Price not increased by tick size.",
    -4016: "Price is higher than mark price multiplier cap.",
    -4023: "Qty not increased by step size.",
    -4024: "Price is lower than mark price multiplier floor.",
}


def min_notional(notional: Decimal) -> BinanceCodeError:
    """-4164 with the symbol's MIN_NOTIONAL written as Binance writes it (an integer when it is one)."""
    text = to_str(notional.normalize()) if notional == notional.to_integral_value() else to_str(notional)
    return BinanceCodeError(-4164, f"Order's notional must be no smaller than {text} (unless you choose reduce "
                                   "only)")


def mandatory(name: str) -> BinanceCodeError:
    return BinanceCodeError(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


def either(a: str, b: str) -> BinanceCodeError:
    return BinanceCodeError(-1102, f"Param '{a}' or '{b}' must be sent, but both were empty/null!")


def not_required(name: str) -> BinanceCodeError:
    return BinanceCodeError(-1106, f"Parameter '{name}' sent when not required.")


def invalid(name: str) -> BinanceCodeError:
    return BinanceCodeError(-1130, f"Data sent for parameter '{name}' is not valid.")


def bad_symbol() -> BinanceCodeError:
    return BinanceCodeError(-1121, "Invalid symbol.")


def unknown_order() -> BinanceCodeError:
    return BinanceCodeError(-2011, "Unknown order sent.")


def no_such_order() -> BinanceCodeError:
    return BinanceCodeError(-2013, "Order does not exist.")


UNKNOWN = (-1000, "An unknown error occured while processing the request.")
REDUCE_ONLY_REJECT = (-2022, "ReduceOnly Order is rejected.")
MARGIN_INSUFFICIENT = (-2019, "Margin is insufficient.")
MAX_LEVERAGE_RATIO = (-2027, "Exceeded the maximum allowable position at current leverage.")
MIN_LEVERAGE_RATIO = (-2028, "Leverage is smaller than permitted: insufficient margin balance.")
POSITION_SIDE_NOT_MATCH = (-4061, "Order's position side does not match user's setting.")
STOP_ORDER_SWITCH_ALGO = (-4120, "Order type not supported for this endpoint. Please use the Algo Order API "
                                 "endpoints instead.")
INVALID_CLIENT_ID = (-4015, "Client order id is not valid.")
CLIENT_ID_TOO_LONG = (-4015, "Client order id length should not be more than 36 chars")
DUPLICATED_CLIENT_ID = (-4116, "clientOrderId is duplicated")
FOK_REJECT = (-5021, "Due to the order could not be filled immediately, the FOK order has been rejected. The order "
                     "will not be recorded in the order history")
GTX_REJECT = (-5022, "Due to the order could not be executed as maker, the Post Only order will be rejected. The "
                     "order will not be recorded in the order history")
WOULD_TRIGGER = (-2021, "Order would immediately trigger.")
MARKET_ORDER_REJECT = (-4131, "The counterparty's best price does not meet the PERCENT_PRICE filter limit")
INVALID_TIF = (-1115, "Invalid timeInForce.")
INVALID_TYPE = (-1116, "Invalid orderType.")
INVALID_SIDE = (-1117, "Invalid side.")
INVALID_POSITION_SIDE = (-4060, "Invalid position side.")
INVALID_RESP_TYPE = (-1136, "Invalid newOrderRespType.")
INVALID_WORKING_TYPE = (-4031, "Invalid parameter working type")
LIMIT_ORDER_ONLY = (-5025, "Only limit order is supported.")
MODIFY_LIMIT = (-5026, "Exceed maximum modify order limit.")
SAME_ORDER = (-5027, "No need to modify the order.")
INVALID_PRICE_MATCH = (-5037, "Invalid price match")
PRICE_MATCH_TYPE = (-5038, "Price match only supports order type: LIMIT, STOP AND TAKE_PROFIT")
INVALID_STP = (-5039, "Invalid self trade prevention mode")
GOOD_TILL_DATE = (-5040, "The goodTillDate timestamp must be greater than the current time plus 600 seconds and "
                         "smaller than 253402300799000 (UTC 9999-12-31 23:59:59)")
NO_NEED_MARGIN_TYPE = (-4046, "No need to change margin type.")
MARGIN_TYPE_OPEN_ORDERS = (-4047, "Margin type cannot be changed if there exists open orders.")
MARGIN_TYPE_POSITION = (-4048, "Margin type cannot be changed if there exists position.")
ISOLATED_ONLY = (-4049, "Add margin only support for isolated position.")
NO_NEED_MULTI_ASSETS = (-4171, "Adjusted asset mode is currently set and does not need to be adjusted repeatedly.")
COMBINATION = (-1128, "Combination of optional parameters invalid.")
START_AFTER_END = (-1023, "Start time is greater than end time.")
INVALID_INTERVAL = (-1120, "Invalid interval.")
INVALID_LIMIT = (-4021, "Invalid depth limit.")
LISTEN_KEY = (-1125, "This listenKey does not exist. Please use `POST /fapi/v1/listenKey` to recreate `listenKey`")


def err(pair: tuple[int, str], detail: str = "") -> BinanceCodeError:
    return BinanceCodeError(pair[0], pair[1], detail=detail)


def leverage_not_valid(leverage: str) -> BinanceCodeError:
    return BinanceCodeError(-4028, f"Leverage {leverage} is not valid")


def batch_size(count: int) -> BinanceCodeError:
    return BinanceCodeError(-4082, f"Invalid number of batch place orders: {count}")


def depth_limit(limit: str) -> BinanceCodeError:
    return BinanceCodeError(-4021, f"'{limit}' is not valid depth limit.")

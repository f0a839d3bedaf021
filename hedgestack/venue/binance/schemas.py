"""Binance USDT-M Futures wire payloads as frozen msgspec Structs.

One Struct per Binance message, wire names kept (the short names of the WebSocket events are
commented). The simulator (``hedgestack.venue.sim``) encodes its answers with these Structs and the
Binance adapter decodes with the same ones, so the two sides cannot drift.

Conventions, as on the wire (reference/binance-usdm.md):
- money, prices and quantities are JSON strings; ids and times are JSON integers; flags are booleans;
- ``X | None`` where Binance sends ``null`` (see reference/payloads/);
- ``X | UnsetType = UNSET`` where Binance sends the key on some messages and not on others: the decoder
  accepts its absence, the encoder leaves it out while it is unset.

Schemas carry no behaviour.
"""

from __future__ import annotations

import msgspec
from msgspec import UNSET, UnsetType

__all__ = [
    "AccountAsset",
    "AccountConfig",
    "AccountConfigLeverage",
    "AccountConfigMultiAssets",
    "AccountConfigUpdate",
    "AccountPositionV2",
    "AccountPositionV3",
    "AccountUpdate",
    "AccountUpdateBalance",
    "AccountUpdateData",
    "AccountUpdatePosition",
    "AccountV2",
    "AccountV3",
    "AdlQuantile",
    "AggTrade",
    "AggTradeRow",
    "AlgoCancelResponse",
    "AlgoOrder",
    "AlgoOrderResponse",
    "AlgoUpdate",
    "AlgoUpdateOrder",
    "Balance",
    "BinanceError",
    "BookTicker",
    "BookTickerRest",
    "CodeMsg",
    "CommissionRate",
    "ContinuousKline",
    "Countdown",
    "Depth",
    "DepthUpdate",
    "ForceOrder",
    "ForceOrderBody",
    "ForceOrderEvent",
    "FundingInfo",
    "FundingRateRow",
    "IncomeRow",
    "Kline",
    "KlineData",
    "LeverageBracketRow",
    "LeverageBrackets",
    "LeverageChange",
    "ListenKey",
    "ListenKeyExpired",
    "MarginCall",
    "MarginCallPosition",
    "MarkPriceUpdate",
    "MiniTicker",
    "MultiAssetsMode",
    "NewOrderResponse",
    "OpenInterest",
    "Order",
    "OrderAmendment",
    "OrderAmendmentChange",
    "OrderAmendmentValue",
    "OrderTradeUpdate",
    "OrderUpdate",
    "PositionMode",
    "PositionRiskV2",
    "PositionRiskV3",
    "PremiumIndex",
    "PublicTradeRow",
    "RateLimit",
    "ServerTime",
    "SymbolConfig",
    "Ticker24h",
    "TickerEvent",
    "TickerPrice",
    "TradeEvent",
    "TradeLite",
    "UserEvent",
    "UserTrade",
]


class _Wire(msgspec.Struct, frozen=True, kw_only=True):
    """Base: frozen, keyword-only."""


# -- generic -----------------------------------------------------------------------------------------
class BinanceError(_Wire, frozen=True, kw_only=True):
    """Error body ``{"code": -2022, "msg": "ReduceOnly Order is rejected."}``."""

    code: int
    msg: str


class CodeMsg(_Wire, frozen=True, kw_only=True):
    """``{"code": 200, "msg": "success"}`` answers (positionSide/dual, allOpenOrders, algoOpenOrders)."""

    code: int
    msg: str


class ServerTime(_Wire, frozen=True, kw_only=True):
    serverTime: int  # noqa: N815


class ListenKey(_Wire, frozen=True, kw_only=True):
    listenKey: str  # noqa: N815


class PositionMode(_Wire, frozen=True, kw_only=True):
    dualSidePosition: bool  # noqa: N815


# -- orders (REST) -----------------------------------------------------------------------------------
class _OrderBase(_Wire, frozen=True, kw_only=True):
    orderId: int  # noqa: N815
    symbol: str
    status: str
    clientOrderId: str  # noqa: N815
    price: str
    avgPrice: str  # noqa: N815
    origQty: str  # noqa: N815
    executedQty: str  # noqa: N815
    cumQuote: str  # noqa: N815
    timeInForce: str  # noqa: N815
    type: str
    reduceOnly: bool  # noqa: N815
    closePosition: bool  # noqa: N815
    side: str
    positionSide: str  # noqa: N815
    stopPrice: str  # noqa: N815
    workingType: str  # noqa: N815
    priceProtect: bool  # noqa: N815
    origType: str  # noqa: N815
    priceMatch: str  # noqa: N815
    selfTradePreventionMode: str  # noqa: N815
    goodTillDate: int  # noqa: N815
    updateTime: int  # noqa: N815
    # trailing orders only
    activatePrice: str | UnsetType = UNSET  # noqa: N815
    priceRate: str | UnsetType = UNSET  # noqa: N815


class NewOrderResponse(_OrderBase, frozen=True, kw_only=True):
    """Answer of POST / DELETE /fapi/v1/order (has ``cumQty``, no ``time``)."""

    cumQty: str  # noqa: N815


class Order(_OrderBase, frozen=True, kw_only=True):
    """GET /fapi/v1/order, openOrders, allOrders (has ``time``)."""

    time: int
    pair: str | UnsetType = UNSET


class AlgoOrderResponse(_Wire, frozen=True, kw_only=True):
    """Answer of POST /fapi/v1/algoOrder."""

    algoId: int  # noqa: N815
    clientAlgoId: str  # noqa: N815
    algoType: str  # noqa: N815
    orderType: str  # noqa: N815
    symbol: str
    side: str
    positionSide: str  # noqa: N815
    timeInForce: str  # noqa: N815
    quantity: str
    algoStatus: str  # noqa: N815
    triggerPrice: str  # noqa: N815
    price: str
    icebergQuantity: str | None  # noqa: N815
    selfTradePreventionMode: str  # noqa: N815
    workingType: str  # noqa: N815
    priceMatch: str  # noqa: N815
    closePosition: bool  # noqa: N815
    priceProtect: bool  # noqa: N815
    reduceOnly: bool  # noqa: N815
    activatePrice: str  # noqa: N815  "" unless trailing
    callbackRate: str  # noqa: N815  "" unless trailing
    createTime: int  # noqa: N815
    updateTime: int  # noqa: N815
    triggerTime: int  # noqa: N815
    goodTillDate: int  # noqa: N815


class AlgoOrder(_Wire, frozen=True, kw_only=True):
    """GET /fapi/v1/algoOrder, openAlgoOrders, allAlgoOrders."""

    algoId: int  # noqa: N815
    clientAlgoId: str  # noqa: N815
    algoType: str  # noqa: N815
    orderType: str  # noqa: N815
    symbol: str
    side: str
    positionSide: str  # noqa: N815
    timeInForce: str  # noqa: N815
    quantity: str
    algoStatus: str  # noqa: N815
    actualOrderId: str  # noqa: N815  "" until triggered
    actualPrice: str  # noqa: N815
    triggerPrice: str  # noqa: N815
    price: str
    icebergQuantity: str | None  # noqa: N815
    selfTradePreventionMode: str  # noqa: N815
    workingType: str  # noqa: N815
    priceMatch: str  # noqa: N815
    closePosition: bool  # noqa: N815
    priceProtect: bool  # noqa: N815
    reduceOnly: bool  # noqa: N815
    activatePrice: str  # noqa: N815
    callbackRate: str  # noqa: N815
    createTime: int  # noqa: N815
    updateTime: int  # noqa: N815
    triggerTime: int  # noqa: N815
    goodTillDate: int  # noqa: N815


class AlgoCancelResponse(_Wire, frozen=True, kw_only=True):
    """DELETE /fapi/v1/algoOrder: note ``code`` is a string here."""

    algoId: int  # noqa: N815
    clientAlgoId: str  # noqa: N815
    code: str
    msg: str


class UserTrade(_Wire, frozen=True, kw_only=True):
    """GET /fapi/v1/userTrades row (no clientOrderId: join on orderId)."""

    buyer: bool
    commission: str
    commissionAsset: str  # noqa: N815
    id: int
    maker: bool
    orderId: int  # noqa: N815
    price: str
    qty: str
    quoteQty: str  # noqa: N815
    realizedPnl: str  # noqa: N815
    side: str
    positionSide: str  # noqa: N815
    symbol: str
    time: int
    marginAsset: str | UnsetType = UNSET  # noqa: N815  (SDK 17.0.0, 2026-08)
    baseQty: str | UnsetType = UNSET  # noqa: N815
    pair: str | UnsetType = UNSET


class IncomeRow(_Wire, frozen=True, kw_only=True):
    """GET /fapi/v1/income row."""

    symbol: str
    incomeType: str  # noqa: N815
    income: str
    asset: str
    info: str
    time: int
    tranId: int  # noqa: N815
    tradeId: str  # noqa: N815  "" for funding


# -- positions and account ---------------------------------------------------------------------------
class PositionRiskV2(_Wire, frozen=True, kw_only=True):
    entryPrice: str  # noqa: N815
    breakEvenPrice: str  # noqa: N815
    marginType: str  # noqa: N815
    isAutoAddMargin: str  # noqa: N815
    isolatedMargin: str  # noqa: N815
    leverage: str
    liquidationPrice: str  # noqa: N815
    markPrice: str  # noqa: N815
    maxNotionalValue: str  # noqa: N815
    positionAmt: str  # noqa: N815  signed: SHORT is negative
    notional: str
    isolatedWallet: str  # noqa: N815
    symbol: str
    unRealizedProfit: str  # noqa: N815
    positionSide: str  # noqa: N815
    updateTime: int  # noqa: N815


class PositionRiskV3(_Wire, frozen=True, kw_only=True):
    symbol: str
    positionSide: str  # noqa: N815
    positionAmt: str  # noqa: N815
    entryPrice: str  # noqa: N815
    breakEvenPrice: str  # noqa: N815
    markPrice: str  # noqa: N815
    unRealizedProfit: str  # noqa: N815
    liquidationPrice: str  # noqa: N815
    isolatedMargin: str  # noqa: N815
    notional: str
    marginAsset: str  # noqa: N815
    isolatedWallet: str  # noqa: N815
    initialMargin: str  # noqa: N815
    maintMargin: str  # noqa: N815
    positionInitialMargin: str  # noqa: N815
    openOrderInitialMargin: str  # noqa: N815
    adl: int
    bidNotional: str  # noqa: N815
    askNotional: str  # noqa: N815
    updateTime: int  # noqa: N815


class AccountAsset(_Wire, frozen=True, kw_only=True):
    asset: str
    walletBalance: str  # noqa: N815
    unrealizedProfit: str  # noqa: N815
    marginBalance: str  # noqa: N815
    maintMargin: str  # noqa: N815
    initialMargin: str  # noqa: N815
    positionInitialMargin: str  # noqa: N815
    openOrderInitialMargin: str  # noqa: N815
    crossWalletBalance: str  # noqa: N815
    crossUnPnl: str  # noqa: N815
    availableBalance: str  # noqa: N815
    maxWithdrawAmount: str  # noqa: N815
    updateTime: int  # noqa: N815
    marginAvailable: bool | UnsetType = UNSET  # noqa: N815  v2 only


class AccountPositionV3(_Wire, frozen=True, kw_only=True):
    symbol: str
    positionSide: str  # noqa: N815
    positionAmt: str  # noqa: N815
    unrealizedProfit: str  # noqa: N815
    isolatedMargin: str  # noqa: N815
    notional: str
    isolatedWallet: str  # noqa: N815
    initialMargin: str  # noqa: N815
    maintMargin: str  # noqa: N815
    updateTime: int  # noqa: N815


class AccountPositionV2(_Wire, frozen=True, kw_only=True):
    symbol: str
    initialMargin: str  # noqa: N815
    maintMargin: str  # noqa: N815
    unrealizedProfit: str  # noqa: N815
    positionInitialMargin: str  # noqa: N815
    openOrderInitialMargin: str  # noqa: N815
    leverage: str
    isolated: bool
    entryPrice: str  # noqa: N815
    breakEvenPrice: str  # noqa: N815
    maxNotional: str  # noqa: N815
    bidNotional: str  # noqa: N815
    askNotional: str  # noqa: N815
    positionSide: str  # noqa: N815
    positionAmt: str  # noqa: N815
    updateTime: int  # noqa: N815


class AccountV3(_Wire, frozen=True, kw_only=True):
    totalInitialMargin: str  # noqa: N815
    totalMaintMargin: str  # noqa: N815
    totalWalletBalance: str  # noqa: N815
    totalUnrealizedProfit: str  # noqa: N815
    totalMarginBalance: str  # noqa: N815
    totalPositionInitialMargin: str  # noqa: N815
    totalOpenOrderInitialMargin: str  # noqa: N815
    totalCrossWalletBalance: str  # noqa: N815
    totalCrossUnPnl: str  # noqa: N815
    availableBalance: str  # noqa: N815
    maxWithdrawAmount: str  # noqa: N815
    assets: list[AccountAsset]
    positions: list[AccountPositionV3]


class AccountV2(_Wire, frozen=True, kw_only=True):
    feeTier: int  # noqa: N815
    canTrade: bool  # noqa: N815
    canDeposit: bool  # noqa: N815
    canWithdraw: bool  # noqa: N815
    updateTime: int  # noqa: N815
    multiAssetsMargin: bool  # noqa: N815
    totalInitialMargin: str  # noqa: N815
    totalMaintMargin: str  # noqa: N815
    totalWalletBalance: str  # noqa: N815
    totalUnrealizedProfit: str  # noqa: N815
    totalMarginBalance: str  # noqa: N815
    totalPositionInitialMargin: str  # noqa: N815
    totalOpenOrderInitialMargin: str  # noqa: N815
    totalCrossWalletBalance: str  # noqa: N815
    totalCrossUnPnl: str  # noqa: N815
    availableBalance: str  # noqa: N815
    maxWithdrawAmount: str  # noqa: N815
    assets: list[AccountAsset]
    positions: list[AccountPositionV2]


class Balance(_Wire, frozen=True, kw_only=True):
    accountAlias: str  # noqa: N815
    asset: str
    balance: str
    crossWalletBalance: str  # noqa: N815
    crossUnPnl: str  # noqa: N815
    availableBalance: str  # noqa: N815
    maxWithdrawAmount: str  # noqa: N815
    marginAvailable: bool  # noqa: N815
    updateTime: int  # noqa: N815


# -- market data (REST) ------------------------------------------------------------------------------
class PremiumIndex(_Wire, frozen=True, kw_only=True):
    symbol: str
    markPrice: str  # noqa: N815
    indexPrice: str  # noqa: N815
    estimatedSettlePrice: str  # noqa: N815
    lastFundingRate: str  # noqa: N815
    interestRate: str  # noqa: N815
    nextFundingTime: int  # noqa: N815
    time: int


class TickerPrice(_Wire, frozen=True, kw_only=True):
    symbol: str
    price: str
    time: int


# -- user data stream --------------------------------------------------------------------------------
class OrderUpdate(_Wire, frozen=True, kw_only=True):
    """``o`` of ORDER_TRADE_UPDATE."""

    s: str  # symbol
    c: str  # client order id (autoclose-…, adl_autoclose-…, settlement_autoclose-…, web_…)
    S: str  # side
    o: str  # order type
    f: str  # time in force
    q: str  # original quantity
    p: str  # original price
    ap: str  # average price
    sp: str | None  # stop price
    x: str  # execution type NEW/CANCELED/CALCULATED/EXPIRED/TRADE/AMENDMENT
    X: str  # order status
    i: int  # order id
    l: str  # noqa: E741  last filled quantity
    z: str  # cumulative filled quantity
    L: str  # last filled price
    N: str | None  # commission asset
    n: str | None  # commission of this fill
    T: int  # order trade time
    t: int  # trade id (0 when no trade)
    b: str  # bids notional
    a: str  # ask notional
    m: bool  # maker
    R: bool  # reduce only
    wt: str  # working type
    ot: str  # original order type
    ps: str  # position side
    cp: bool  # close-all
    AP: str | None  # activation price (trailing)
    cr: str | None  # callback rate (trailing)
    pP: bool  # price protection  # noqa: N815
    si: int  # ignore
    ss: int  # ignore
    rp: str  # realized profit of this fill
    V: str | None | UnsetType = UNSET  # STP mode
    pm: str | UnsetType = UNSET  # price match
    gtd: int  # GTD auto-cancel time
    er: str | UnsetType = UNSET  # expiry reason
    W: int | None | UnsetType = UNSET  # working time (seen null on liquidation shapes)
    M: int | UnsetType = UNSET  # modifyId (AMENDMENT only)


class OrderTradeUpdate(_Wire, frozen=True, kw_only=True, tag_field="e", tag="ORDER_TRADE_UPDATE"):
    E: int  # event time
    T: int  # transaction time
    o: OrderUpdate


class AccountUpdateBalance(_Wire, frozen=True, kw_only=True):
    a: str  # asset
    wb: str  # wallet balance
    cw: str  # cross wallet balance
    bc: str  # balance change except PnL and commission


class AccountUpdatePosition(_Wire, frozen=True, kw_only=True):
    s: str  # symbol
    pa: str  # position amount (signed)
    ep: str  # entry price
    bep: str  # breakeven price
    cr: str  # (pre-fee) accumulated realized
    up: str  # unrealized PnL
    mt: str  # margin type cross/isolated
    iw: str  # isolated wallet
    ps: str  # position side
    ma: str | UnsetType = UNSET  # margin asset (live payloads)


class AccountUpdateData(_Wire, frozen=True, kw_only=True):
    m: str  # reason: ORDER, FUNDING_FEE, ...
    B: list[AccountUpdateBalance]
    P: list[AccountUpdatePosition]
    S: str | UnsetType = UNSET  # symbol of a FUNDING_FEE event


class AccountUpdate(_Wire, frozen=True, kw_only=True, tag_field="e", tag="ACCOUNT_UPDATE"):
    E: int
    T: int
    a: AccountUpdateData


class AlgoUpdateOrder(_Wire, frozen=True, kw_only=True):
    """``o`` of ALGO_UPDATE."""

    caid: str  # client algo id
    aid: int  # algo id
    at: str  # algo type
    o: str  # order type
    s: str  # symbol
    S: str  # side
    ps: str  # position side
    f: str  # time in force
    q: str  # quantity
    X: str  # algo status NEW/CANCELED/TRIGGERING/TRIGGERED/FINISHED/REJECTED/EXPIRED
    ai: str  # matching-engine order id, "" until triggered
    ap: str | UnsetType = UNSET  # avg fill price in ME (absent on TRIGGERING)
    aq: str | UnsetType = UNSET  # executed qty in ME
    act: str | UnsetType = UNSET  # actual order type in ME
    tp: str  # trigger price
    p: str  # order price
    V: str  # STP mode
    wt: str  # working type
    pm: str  # price match
    cp: bool  # close-all
    pP: bool  # price protection  # noqa: N815
    R: bool  # reduce only
    tt: int  # trigger time
    gtd: int  # GTD time
    rm: str | UnsetType = UNSET  # failure reason
    ia: bool | UnsetType = UNSET  # trailing activated


class AlgoUpdate(_Wire, frozen=True, kw_only=True, tag_field="e", tag="ALGO_UPDATE"):
    T: int
    E: int
    o: AlgoUpdateOrder


class TradeLite(_Wire, frozen=True, kw_only=True, tag_field="e", tag="TRADE_LITE"):
    E: int
    T: int
    s: str
    q: str
    p: str
    m: bool
    c: str
    S: str
    L: str
    l: str  # noqa: E741
    t: int
    i: int


class ListenKeyExpired(_Wire, frozen=True, kw_only=True, tag_field="e", tag="listenKeyExpired"):
    E: int
    listenKey: str  # noqa: N815


# -- market streams ----------------------------------------------------------------------------------
class MarkPriceUpdate(_Wire, frozen=True, kw_only=True, tag_field="e", tag="markPriceUpdate"):
    E: int
    s: str
    p: str  # mark price
    ap: str  # mark price moving average
    i: str  # index price
    P: str  # estimated settle price
    r: str  # funding rate
    T: int  # next funding time
    st: int | UnsetType = UNSET  # 1 = USDⓈ-M (routed payloads)


class AggTrade(_Wire, frozen=True, kw_only=True, tag_field="e", tag="aggTrade"):
    E: int
    s: str
    a: int  # aggregate trade id
    p: str
    q: str
    nq: str  # qty without RPI
    f: int  # first trade id
    l: int  # noqa: E741  last trade id
    T: int
    m: bool  # buyer is maker
    st: int | UnsetType = UNSET


class KlineData(_Wire, frozen=True, kw_only=True):
    t: int  # open time
    T: int  # close time
    s: str
    i: str  # interval
    f: int  # first trade id
    L: int  # last trade id
    o: str
    c: str
    h: str
    l: str  # noqa: E741
    v: str  # base volume
    n: int  # number of trades
    x: bool  # closed
    q: str  # quote volume
    V: str  # taker buy base volume
    Q: str  # taker buy quote volume
    B: str  # ignore


class Kline(_Wire, frozen=True, kw_only=True, tag_field="e", tag="kline"):
    E: int
    s: str
    k: KlineData


class ContinuousKline(_Wire, frozen=True, kw_only=True, tag_field="e", tag="continuous_kline"):
    E: int
    ps: str  # pair
    ct: str  # contract type
    k: KlineData


class BookTicker(_Wire, frozen=True, kw_only=True, tag_field="e", tag="bookTicker"):
    u: int  # update id
    E: int
    T: int
    s: str
    b: str  # best bid price
    B: str  # best bid qty
    a: str  # best ask price
    A: str  # best ask qty
    ps: str | UnsetType = UNSET  # pair
    st: int | UnsetType = UNSET


# -- account configuration and risk (REST) -------------------------------------------------------------
class LeverageBracketRow(_Wire, frozen=True, kw_only=True):
    """One bracket of /fapi/v1/leverageBracket (JSON numbers, not strings)."""

    bracket: int
    initialLeverage: int  # noqa: N815
    notionalCap: int | float  # noqa: N815
    notionalFloor: int | float  # noqa: N815
    maintMarginRatio: float  # noqa: N815
    cum: float


class LeverageBrackets(_Wire, frozen=True, kw_only=True):
    symbol: str
    brackets: list[LeverageBracketRow]
    notionalCoef: float | UnsetType = UNSET  # noqa: N815


class LeverageChange(_Wire, frozen=True, kw_only=True):
    """Answer of POST /fapi/v1/leverage."""

    leverage: int
    maxNotionalValue: str  # noqa: N815
    symbol: str


class SymbolConfig(_Wire, frozen=True, kw_only=True):
    symbol: str
    marginType: str  # noqa: N815  CROSSED / ISOLATED
    isAutoAddMargin: bool  # noqa: N815
    leverage: int
    maxNotionalValue: str  # noqa: N815


class AccountConfig(_Wire, frozen=True, kw_only=True):
    feeTier: int  # noqa: N815
    canTrade: bool  # noqa: N815
    canDeposit: bool  # noqa: N815
    canWithdraw: bool  # noqa: N815
    dualSidePosition: bool  # noqa: N815
    updateTime: int  # noqa: N815
    multiAssetsMargin: bool  # noqa: N815
    tradeGroupId: int  # noqa: N815


class MultiAssetsMode(_Wire, frozen=True, kw_only=True):
    multiAssetsMargin: bool  # noqa: N815


class CommissionRate(_Wire, frozen=True, kw_only=True):
    symbol: str
    makerCommissionRate: str  # noqa: N815
    takerCommissionRate: str  # noqa: N815
    rpiCommissionRate: str | UnsetType = UNSET  # noqa: N815


class ForceOrder(_Wire, frozen=True, kw_only=True):
    """GET /fapi/v1/forceOrders row."""

    orderId: int  # noqa: N815
    symbol: str
    status: str
    clientOrderId: str  # noqa: N815
    price: str
    avgPrice: str  # noqa: N815
    origQty: str  # noqa: N815
    executedQty: str  # noqa: N815
    cumQuote: str  # noqa: N815
    timeInForce: str  # noqa: N815
    type: str
    reduceOnly: bool  # noqa: N815
    closePosition: bool  # noqa: N815
    side: str
    positionSide: str  # noqa: N815
    stopPrice: str  # noqa: N815
    workingType: str  # noqa: N815
    origType: str  # noqa: N815
    time: int
    updateTime: int  # noqa: N815
    pair: str | UnsetType = UNSET
    cumBase: str | UnsetType = UNSET  # noqa: N815


class AdlQuantile(_Wire, frozen=True, kw_only=True):
    symbol: str
    adlQuantile: dict[str, int]  # noqa: N815  LONG / SHORT / HEDGE (or BOTH)


class OrderAmendmentValue(_Wire, frozen=True, kw_only=True):
    before: str
    after: str


class OrderAmendmentChange(_Wire, frozen=True, kw_only=True):
    price: OrderAmendmentValue
    origQty: OrderAmendmentValue  # noqa: N815
    count: int


class OrderAmendment(_Wire, frozen=True, kw_only=True):
    """GET /fapi/v1/orderAmendment row."""

    amendmentId: int  # noqa: N815
    symbol: str
    pair: str
    orderId: int  # noqa: N815
    clientOrderId: str  # noqa: N815
    time: int
    amendment: OrderAmendmentChange


class Countdown(_Wire, frozen=True, kw_only=True):
    """Answer of POST /fapi/v1/countdownCancelAll (``countdownTime`` is a string)."""

    symbol: str
    countdownTime: str  # noqa: N815


class RateLimit(_Wire, frozen=True, kw_only=True):
    rateLimitType: str  # noqa: N815
    interval: str
    intervalNum: int  # noqa: N815
    limit: int


# -- market data (REST) ------------------------------------------------------------------------------
class Depth(_Wire, frozen=True, kw_only=True):
    """GET /fapi/v1/depth: ``[price, qty]`` string pairs."""

    lastUpdateId: int  # noqa: N815
    E: int
    T: int
    bids: list[list[str]]
    asks: list[list[str]]


class Ticker24h(_Wire, frozen=True, kw_only=True):
    symbol: str
    priceChange: str  # noqa: N815
    priceChangePercent: str  # noqa: N815
    weightedAvgPrice: str  # noqa: N815
    lastPrice: str  # noqa: N815
    lastQty: str  # noqa: N815
    openPrice: str  # noqa: N815
    highPrice: str  # noqa: N815
    lowPrice: str  # noqa: N815
    volume: str
    quoteVolume: str  # noqa: N815
    openTime: int  # noqa: N815
    closeTime: int  # noqa: N815
    firstId: int  # noqa: N815
    lastId: int  # noqa: N815
    count: int


class BookTickerRest(_Wire, frozen=True, kw_only=True):
    symbol: str
    bidPrice: str  # noqa: N815
    bidQty: str  # noqa: N815
    askPrice: str  # noqa: N815
    askQty: str  # noqa: N815
    time: int
    lastUpdateId: int | UnsetType = UNSET  # noqa: N815


class PublicTradeRow(_Wire, frozen=True, kw_only=True):
    """GET /fapi/v1/trades and historicalTrades row."""

    id: int
    price: str
    qty: str
    quoteQty: str  # noqa: N815
    time: int
    isBuyerMaker: bool  # noqa: N815
    isRPITrade: bool | UnsetType = UNSET  # noqa: N815


class AggTradeRow(_Wire, frozen=True, kw_only=True):
    """GET /fapi/v1/aggTrades row."""

    a: int
    p: str
    q: str
    f: int
    l: int  # noqa: E741
    T: int
    m: bool
    nq: str | UnsetType = UNSET


class FundingRateRow(_Wire, frozen=True, kw_only=True):
    symbol: str
    fundingRate: str  # noqa: N815
    fundingTime: int  # noqa: N815
    markPrice: str  # noqa: N815
    rateType: str | UnsetType = UNSET  # noqa: N815


class FundingInfo(_Wire, frozen=True, kw_only=True):
    symbol: str
    adjustedFundingRateCap: str  # noqa: N815
    adjustedFundingRateFloor: str  # noqa: N815
    fundingIntervalHours: int  # noqa: N815
    disclaimer: bool


class OpenInterest(_Wire, frozen=True, kw_only=True):
    openInterest: str  # noqa: N815
    symbol: str
    time: int


# -- user data stream (more events) ------------------------------------------------------------------
class AccountConfigLeverage(_Wire, frozen=True, kw_only=True):
    s: str  # symbol
    l: int  # noqa: E741  leverage


class AccountConfigMultiAssets(_Wire, frozen=True, kw_only=True):
    j: bool  # multi-assets mode


class AccountConfigUpdate(_Wire, frozen=True, kw_only=True, tag_field="e", tag="ACCOUNT_CONFIG_UPDATE"):
    E: int
    T: int
    ac: AccountConfigLeverage | UnsetType = UNSET
    ai: AccountConfigMultiAssets | UnsetType = UNSET


class MarginCallPosition(_Wire, frozen=True, kw_only=True):
    s: str
    ps: str
    pa: str
    mt: str
    iw: str
    mp: str  # mark price
    up: str
    mm: str  # maintenance margin required


class MarginCall(_Wire, frozen=True, kw_only=True, tag_field="e", tag="MARGIN_CALL"):
    E: int
    cw: str  # cross wallet balance
    p: list[MarginCallPosition]


# -- market streams (more) ---------------------------------------------------------------------------
class DepthUpdate(_Wire, frozen=True, kw_only=True, tag_field="e", tag="depthUpdate"):
    """``@depth`` (diff) and ``@depth<N>`` (partial) payloads."""

    E: int
    T: int
    s: str
    U: int  # first update id of the event
    u: int  # last update id
    pu: int  # last update id of the previous event
    b: list[list[str]]
    a: list[list[str]]
    ps: str | UnsetType = UNSET
    st: int | UnsetType = UNSET


class TradeEvent(_Wire, frozen=True, kw_only=True, tag_field="e", tag="trade"):
    E: int
    T: int
    s: str
    t: int
    p: str
    q: str
    X: str  # MARKET / INSURANCE_FUND / ADL / NA
    m: bool


class MiniTicker(_Wire, frozen=True, kw_only=True, tag_field="e", tag="24hrMiniTicker"):
    E: int
    s: str
    c: str
    o: str
    h: str
    l: str  # noqa: E741
    v: str
    q: str


class TickerEvent(_Wire, frozen=True, kw_only=True, tag_field="e", tag="24hrTicker"):
    E: int
    s: str
    p: str  # price change
    P: str  # percent
    w: str  # weighted average price
    c: str  # last price
    Q: str  # last quantity
    o: str
    h: str
    l: str  # noqa: E741
    v: str
    q: str
    O: int  # noqa: E741  statistics open time
    C: int  # statistics close time
    F: int  # first trade id
    L: int  # last trade id
    n: int  # trades


class ForceOrderBody(_Wire, frozen=True, kw_only=True):
    s: str
    S: str
    o: str
    f: str
    q: str
    p: str
    ap: str
    X: str
    l: str  # noqa: E741
    z: str
    T: int


class ForceOrderEvent(_Wire, frozen=True, kw_only=True, tag_field="e", tag="forceOrder"):
    E: int
    o: ForceOrderBody


UserEvent = (OrderTradeUpdate | AccountUpdate | AlgoUpdate | TradeLite | ListenKeyExpired | AccountConfigUpdate
             | MarginCall)
"""Every user-data event, decodable with ``msgspec.json.decode(raw, type=UserEvent)``."""

"""Render the simulator's state as Binance payloads (the schema Structs of venue/binance)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from hedgestack.domain.numbers import ZERO
from hedgestack.venue.binance import schemas as w
from hedgestack.venue.sim.exchange import Exchange, average, fixed, money

if TYPE_CHECKING:
    from hedgestack.venue.sim.history import Candle, PublicTrade
    from hedgestack.venue.sim.state import SimAlgo, SimAmendment, SimIncome, SimOrder, SimPosition, SimTrade

EIGHT = Decimal("0.00000001")


def _order_fields(ex: Exchange, order: SimOrder) -> dict[str, object]:
    spec = ex.specs[order.symbol]
    pp, qp = spec.price_precision, spec.quantity_precision
    otype = "LIMIT" if order.liquidation else order.type
    return dict(
        orderId=order.order_id, symbol=order.symbol, status=order.status, clientOrderId=order.client_order_id,
        price=fixed(order.price, pp), avgPrice=average(order, pp), origQty=fixed(order.qty, qp),
        executedQty=fixed(order.executed, qp), cumQuote=fixed(order.cum_quote, 5),
        timeInForce=order.time_in_force, type=otype, reduceOnly=order.reduce_only,
        closePosition=order.close_position, side=order.side, positionSide=order.position_side,
        stopPrice=fixed(order.stop_price, pp), workingType=order.working_type, priceProtect=order.price_protect,
        origType="LIMIT" if order.liquidation else order.orig_type, priceMatch=order.price_match,
        selfTradePreventionMode=order.stp, goodTillDate=order.good_till, updateTime=order.update_time)


def new_order_response(ex: Exchange, order: SimOrder) -> w.NewOrderResponse:
    qp = ex.specs[order.symbol].quantity_precision
    return w.NewOrderResponse(**_order_fields(ex, order), cumQty=fixed(order.executed, qp))  # type: ignore[arg-type]


def order(ex: Exchange, o: SimOrder) -> w.Order:
    return w.Order(**_order_fields(ex, o), time=o.time, pair=o.symbol)  # type: ignore[arg-type]


def force_order(ex: Exchange, o: SimOrder) -> w.ForceOrder:
    spec = ex.specs[o.symbol]
    pp, qp = spec.price_precision, spec.quantity_precision
    return w.ForceOrder(
        orderId=o.order_id, symbol=o.symbol, status=o.status, clientOrderId=o.client_order_id,
        price=fixed(o.price, pp), avgPrice=average(o, pp), origQty=fixed(o.qty, qp),
        executedQty=fixed(o.executed, qp), cumQuote=fixed(o.cum_quote, 5), timeInForce=o.time_in_force,
        type="LIMIT", reduceOnly=False, closePosition=False, side=o.side, positionSide=o.position_side,
        stopPrice="0", workingType="CONTRACT_PRICE", origType="LIMIT", time=o.time, updateTime=o.update_time,
        pair=o.symbol, cumBase=fixed(o.executed, qp))


def force_order_event(ex: Exchange, o: SimOrder) -> w.ForceOrderEvent:
    spec = ex.specs[o.symbol]
    pp, qp = spec.price_precision, spec.quantity_precision
    return w.ForceOrderEvent(E=ex.clock(), o=w.ForceOrderBody(
        s=o.symbol, S=o.side, o="LIMIT", f="IOC", q=fixed(o.qty, qp), p=fixed(o.price, pp),
        ap=average(o, pp), X=o.status, l=fixed(o.executed, qp), z=fixed(o.executed, qp), T=o.update_time))


def _algo_fields(ex: Exchange, algo: SimAlgo) -> dict[str, object]:
    spec = ex.specs[algo.symbol]
    pp, qp = spec.price_precision, spec.quantity_precision
    trailing = algo.order_type == "TRAILING_STOP_MARKET"
    return dict(
        algoId=algo.algo_id, clientAlgoId=algo.client_algo_id, algoType="CONDITIONAL",
        orderType=algo.order_type, symbol=algo.symbol, side=algo.side, positionSide=algo.position_side,
        timeInForce=algo.time_in_force, quantity=fixed(algo.qty, qp), algoStatus=algo.status,
        triggerPrice=fixed(algo.trigger_price, pp), price=fixed(algo.price, pp), icebergQuantity=None,
        selfTradePreventionMode=algo.stp, workingType=algo.working_type, priceMatch="NONE",
        closePosition=algo.close_position, priceProtect=algo.price_protect, reduceOnly=algo.reduce_only,
        activatePrice=fixed(algo.activate_price, pp) if trailing and algo.activate_price else "",
        callbackRate=str(algo.callback_rate) if trailing and algo.callback_rate else "",
        createTime=algo.create_time, updateTime=algo.update_time, triggerTime=algo.trigger_time,
        goodTillDate=algo.good_till)


def algo_response(ex: Exchange, algo: SimAlgo) -> w.AlgoOrderResponse:
    return w.AlgoOrderResponse(**_algo_fields(ex, algo))  # type: ignore[arg-type]


def algo_order(ex: Exchange, algo: SimAlgo) -> w.AlgoOrder:
    child = ex.account.orders.get(algo.actual_order_id) if algo.actual_order_id is not None else None
    pp = ex.specs[algo.symbol].price_precision
    return w.AlgoOrder(
        **_algo_fields(ex, algo),  # type: ignore[arg-type]
        actualOrderId=str(algo.actual_order_id) if algo.actual_order_id is not None else "",
        actualPrice=average(child, pp) if child is not None else "0")


def user_trade(ex: Exchange, t: SimTrade) -> w.UserTrade:
    spec = ex.specs[t.symbol]
    qty = fixed(t.qty, spec.quantity_precision)
    return w.UserTrade(
        buyer=t.side == "BUY", commission=fixed(t.commission, 8), commissionAsset="USDT", id=t.trade_id,
        maker=t.maker, orderId=t.order_id, price=fixed(t.price, spec.price_precision), qty=qty,
        quoteQty=fixed(t.quote_qty, 5), realizedPnl=fixed(t.realized_pnl, 8), side=t.side,
        positionSide=t.position_side, symbol=t.symbol, time=t.time, marginAsset="USDT", baseQty=qty, pair=t.symbol)


def income_row(row: SimIncome) -> w.IncomeRow:
    return w.IncomeRow(symbol=row.symbol, incomeType=row.income_type, income=fixed(row.income, 8), asset="USDT",
                       info=row.info, time=row.time, tranId=row.tran_id, tradeId=row.trade_id)


def amendment(ex: Exchange, row: SimAmendment) -> w.OrderAmendment:
    spec = ex.specs[row.symbol]
    pp, qp = spec.price_precision, spec.quantity_precision
    return w.OrderAmendment(
        amendmentId=row.amendment_id, symbol=row.symbol, pair=row.symbol, orderId=row.order_id,
        clientOrderId=row.client_order_id, time=row.time,
        amendment=w.OrderAmendmentChange(
            price=w.OrderAmendmentValue(before=fixed(row.price_before, pp), after=fixed(row.price_after, pp)),
            origQty=w.OrderAmendmentValue(before=fixed(row.qty_before, qp), after=fixed(row.qty_after, qp)),
            count=row.count))


def price8(value: Decimal | None) -> str:
    """A liquidation (or other derived) price with 8 decimals, "0" when there is none."""
    if value is None or value <= 0:
        return "0"
    return fixed(value.quantize(EIGHT, rounding=ROUND_HALF_UP), 8)


def _pos_numbers(ex: Exchange, pos: SimPosition) -> dict[str, str]:
    spec = ex.specs[pos.symbol]
    mark = ex.markets[pos.symbol].mark
    notional = money(ex.risk.notional(pos))
    return dict(
        positionAmt=fixed(ex.risk.signed(pos), spec.quantity_precision),
        entryPrice=fixed(money(pos.entry_price), 1), breakEvenPrice=fixed(money(ex.risk.break_even(pos)), 1),
        markPrice=fixed(mark, 8), unRealizedProfit=fixed(ex.risk.unrealized(pos), 8), notional=fixed(notional, 8),
        initialMargin=fixed(money(ex.risk.position_im(pos)), 8),
        maintMargin=fixed(money(ex.risk.maintenance(pos)), 8),
        liquidationPrice=price8(ex.risk.liquidation_price(pos.symbol)) if pos.amount else "0")


def position_v2(ex: Exchange, pos: SimPosition) -> w.PositionRiskV2:
    n = _pos_numbers(ex, pos)
    return w.PositionRiskV2(
        entryPrice=n["entryPrice"], breakEvenPrice=n["breakEvenPrice"], marginType="cross",
        isAutoAddMargin="false", isolatedMargin="0.00000000", leverage=str(ex.risk.leverage(pos.symbol)),
        liquidationPrice=n["liquidationPrice"], markPrice=n["markPrice"],
        maxNotionalValue=fixed(ex.risk.max_notional(pos.symbol), 0), positionAmt=n["positionAmt"],
        notional=n["notional"], isolatedWallet="0", symbol=pos.symbol, unRealizedProfit=n["unRealizedProfit"],
        positionSide=pos.position_side, updateTime=pos.update_time)


def _order_notional(ex: Exchange, pos: SimPosition, side: str) -> Decimal:
    return sum((o.remaining * o.price for o in ex.open_orders(pos.symbol)
                if o.position_side == pos.position_side and o.side == side), ZERO)


def position_v3(ex: Exchange, pos: SimPosition) -> w.PositionRiskV3:
    n = _pos_numbers(ex, pos)
    orders = [o for o in ex.open_orders(pos.symbol) if o.position_side == pos.position_side]
    return w.PositionRiskV3(
        symbol=pos.symbol, positionSide=pos.position_side, positionAmt=n["positionAmt"],
        entryPrice=n["entryPrice"], breakEvenPrice=n["breakEvenPrice"], markPrice=n["markPrice"],
        unRealizedProfit=n["unRealizedProfit"], liquidationPrice=n["liquidationPrice"], isolatedMargin="0",
        notional=n["notional"], marginAsset="USDT", isolatedWallet="0", initialMargin=n["initialMargin"],
        maintMargin=n["maintMargin"], positionInitialMargin=n["initialMargin"],
        openOrderInitialMargin=fixed(money(ex.risk.order_im(orders)), 8), adl=ex.risk.adl_quantile(pos),
        bidNotional=fixed(_order_notional(ex, pos, "BUY"), 8),
        askNotional=fixed(_order_notional(ex, pos, "SELL"), 8), updateTime=pos.update_time)


def _totals(ex: Exchange) -> dict[str, str]:
    t = ex.risk.totals(ex.open_orders())
    return dict(
        totalInitialMargin=fixed(money(t.position_im + t.order_im), 8), totalMaintMargin=fixed(money(t.maintenance), 8),
        totalWalletBalance=fixed(money(t.wallet), 8), totalUnrealizedProfit=fixed(money(t.unrealized), 8),
        totalMarginBalance=fixed(money(t.margin_balance), 8), totalPositionInitialMargin=fixed(money(t.position_im), 8),
        totalOpenOrderInitialMargin=fixed(money(t.order_im), 8), totalCrossWalletBalance=fixed(money(t.wallet), 8),
        totalCrossUnPnl=fixed(money(t.unrealized), 8), availableBalance=fixed(money(t.available), 8),
        maxWithdrawAmount=fixed(money(t.max_withdraw), 8))


def _asset(ex: Exchange, t: dict[str, str], *, v2: bool) -> w.AccountAsset:
    return w.AccountAsset(
        asset="USDT", walletBalance=t["totalWalletBalance"], unrealizedProfit=t["totalUnrealizedProfit"],
        marginBalance=t["totalMarginBalance"], maintMargin=t["totalMaintMargin"],
        initialMargin=t["totalInitialMargin"], positionInitialMargin=t["totalPositionInitialMargin"],
        openOrderInitialMargin=t["totalOpenOrderInitialMargin"], crossWalletBalance=t["totalCrossWalletBalance"],
        crossUnPnl=t["totalCrossUnPnl"], availableBalance=t["availableBalance"],
        maxWithdrawAmount=t["maxWithdrawAmount"], updateTime=ex.clock(),
        **({"marginAvailable": True} if v2 else {}))


def account_v3(ex: Exchange) -> w.AccountV3:
    t = _totals(ex)
    positions = []
    for pos in ex.positions():
        if pos.amount == 0:
            continue
        n = _pos_numbers(ex, pos)
        positions.append(w.AccountPositionV3(
            symbol=pos.symbol, positionSide=pos.position_side, positionAmt=n["positionAmt"],
            unrealizedProfit=n["unRealizedProfit"], isolatedMargin="0", notional=n["notional"],
            isolatedWallet="0", initialMargin=n["initialMargin"], maintMargin=n["maintMargin"],
            updateTime=pos.update_time))
    return w.AccountV3(**t, assets=[_asset(ex, t, v2=False)], positions=positions)


def account_v2(ex: Exchange) -> w.AccountV2:
    t = _totals(ex)
    positions = []
    for pos in ex.positions():
        n = _pos_numbers(ex, pos)
        positions.append(w.AccountPositionV2(
            symbol=pos.symbol, initialMargin=n["initialMargin"], maintMargin=n["maintMargin"],
            unrealizedProfit=n["unRealizedProfit"], positionInitialMargin=n["initialMargin"],
            openOrderInitialMargin="0", leverage=str(ex.risk.leverage(pos.symbol)), isolated=False,
            entryPrice=n["entryPrice"], breakEvenPrice=n["breakEvenPrice"],
            maxNotional=fixed(ex.risk.max_notional(pos.symbol), 0),
            bidNotional=fixed(_order_notional(ex, pos, "BUY"), 8),
            askNotional=fixed(_order_notional(ex, pos, "SELL"), 8), positionSide=pos.position_side,
            positionAmt=n["positionAmt"], updateTime=pos.update_time))
    return w.AccountV2(feeTier=0, canTrade=True, canDeposit=True, canWithdraw=True,
                       updateTime=ex.account.config_time, multiAssetsMargin=False, **t,
                       assets=[_asset(ex, t, v2=True)], positions=positions)


def balance(ex: Exchange) -> list[w.Balance]:
    t = _totals(ex)
    return [w.Balance(accountAlias="SgsR", asset="USDT", balance=t["totalWalletBalance"],
                      crossWalletBalance=t["totalCrossWalletBalance"], crossUnPnl=t["totalCrossUnPnl"],
                      availableBalance=t["availableBalance"], maxWithdrawAmount=t["maxWithdrawAmount"],
                      marginAvailable=True, updateTime=ex.clock())]


def premium_index(ex: Exchange, symbol: str) -> w.PremiumIndex:
    m = ex.markets[symbol]
    state = ex.funding[symbol]
    return w.PremiumIndex(symbol=symbol, markPrice=fixed(m.mark, 8), indexPrice=fixed(m.index, 8),
                          estimatedSettlePrice=fixed(m.index, 8), lastFundingRate=fixed(m.funding_rate, 8),
                          interestRate=fixed(state.interest, 8), nextFundingTime=m.next_funding_time,
                          time=ex.clock())


def mark_price_update(ex: Exchange, symbol: str) -> w.MarkPriceUpdate:
    m = ex.markets[symbol]
    return w.MarkPriceUpdate(E=ex.clock(), s=symbol, p=fixed(m.mark, 8), ap=fixed(m.mark, 8), i=fixed(m.index, 8),
                             P=fixed(m.index, 8), r=fixed(m.funding_rate, 8), T=m.next_funding_time, st=1)


def kline_row(ex: Exchange, symbol: str, c: Candle, close_time: int, *, volumes: bool = True) -> list[object]:
    """One REST kline: 12 slots, prices and volumes as strings."""
    spec = ex.specs[symbol]
    tick, step = spec.tick, spec.step
    pp, qp = spec.price_precision, spec.quantity_precision
    if not volumes:
        return [c.t, fixed(c.o * tick, pp), fixed(c.h * tick, pp), fixed(c.l * tick, pp), fixed(c.c * tick, pp), "0",
                close_time, "0", 0, "0", "0", "0"]
    return [c.t, fixed(c.o * tick, pp), fixed(c.h * tick, pp), fixed(c.l * tick, pp), fixed(c.c * tick, pp),
            fixed(c.v * step, qp), close_time, fixed(money(c.q * tick * step), 5), c.n, fixed(c.bv * step, qp),
            fixed(money(c.bq * tick * step), 5), "0"]


def kline_data(ex: Exchange, symbol: str, interval: str, c: Candle, close_time: int, closed: bool) -> w.KlineData:
    spec = ex.specs[symbol]
    tick, step = spec.tick, spec.step
    pp, qp = spec.price_precision, spec.quantity_precision
    return w.KlineData(
        t=c.t, T=close_time, s=symbol, i=interval, f=c.f, L=c.L, o=fixed(c.o * tick, pp), c=fixed(c.c * tick, pp),
        h=fixed(c.h * tick, pp), l=fixed(c.l * tick, pp), v=fixed(c.v * step, qp), n=c.n, x=closed,
        q=fixed(money(c.q * tick * step), 5), V=fixed(c.bv * step, qp), Q=fixed(money(c.bq * tick * step), 5), B="0")


def public_trade(ex: Exchange, symbol: str, t: PublicTrade) -> w.PublicTradeRow:
    spec = ex.specs[symbol]
    return w.PublicTradeRow(id=t.id, price=fixed(t.price, spec.price_precision),
                            qty=fixed(t.qty, spec.quantity_precision),
                            quoteQty=fixed(money(t.price * t.qty), 5), time=t.time, isBuyerMaker=t.buyer_maker,
                            isRPITrade=False)


def agg_trade_row(ex: Exchange, symbol: str, t: PublicTrade) -> w.AggTradeRow:
    spec = ex.specs[symbol]
    qty = fixed(t.qty, spec.quantity_precision)
    return w.AggTradeRow(a=t.id, p=fixed(t.price, spec.price_precision), q=qty, nq=qty, f=t.id, l=t.id, T=t.time,
                         m=t.buyer_maker)


__all__ = ["account_v2", "account_v3", "agg_trade_row", "algo_order", "algo_response", "amendment", "balance",
           "force_order", "force_order_event", "income_row", "kline_data", "kline_row", "mark_price_update",
           "new_order_response", "order", "position_v2", "position_v3", "premium_index", "price8", "public_trade",
           "user_trade"]

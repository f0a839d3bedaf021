"""Render the simulator's state as Binance REST payloads (the schema Structs of venue/binance)."""

from __future__ import annotations

from decimal import Decimal

from hedgestack.domain.numbers import ZERO
from hedgestack.venue.binance import schemas as w
from hedgestack.venue.sim.exchange import STP_MODE, Exchange, fixed, money
from hedgestack.venue.sim.state import SimAlgo, SimIncome, SimOrder, SimPosition, SimTrade


def _order_fields(ex: Exchange, order: SimOrder) -> dict[str, object]:
    spec = ex.specs[order.symbol]
    pp, qp = spec.price_precision, spec.quantity_precision
    return dict(
        orderId=order.order_id, symbol=order.symbol, status=order.status, clientOrderId=order.client_order_id,
        price=fixed(order.price, pp), avgPrice=fixed(order.avg_price, pp), origQty=fixed(order.qty, qp),
        executedQty=fixed(order.executed, qp), cumQuote=fixed(order.cum_quote, 5),
        timeInForce=order.time_in_force, type=order.type, reduceOnly=False, closePosition=order.close_position,
        side=order.side, positionSide=order.position_side, stopPrice=fixed(order.stop_price, pp),
        workingType=order.working_type, priceProtect=order.price_protect, origType=order.orig_type,
        priceMatch="NONE", selfTradePreventionMode=STP_MODE, goodTillDate=0, updateTime=order.update_time)


def new_order_response(ex: Exchange, order: SimOrder) -> w.NewOrderResponse:
    qp = ex.specs[order.symbol].quantity_precision
    return w.NewOrderResponse(**_order_fields(ex, order), cumQty=fixed(order.executed, qp))  # type: ignore[arg-type]


def order(ex: Exchange, o: SimOrder) -> w.Order:
    return w.Order(**_order_fields(ex, o), time=o.time)  # type: ignore[arg-type]


def _algo_fields(ex: Exchange, algo: SimAlgo) -> dict[str, object]:
    spec = ex.specs[algo.symbol]
    pp, qp = spec.price_precision, spec.quantity_precision
    trailing = algo.order_type == "TRAILING_STOP_MARKET"
    return dict(
        algoId=algo.algo_id, clientAlgoId=algo.client_algo_id, algoType="CONDITIONAL",
        orderType=algo.order_type, symbol=algo.symbol, side=algo.side, positionSide=algo.position_side,
        timeInForce=algo.time_in_force, quantity=fixed(algo.qty, qp), algoStatus=algo.status,
        triggerPrice=fixed(algo.trigger_price, pp), price=fixed(algo.price, pp), icebergQuantity=None,
        selfTradePreventionMode=STP_MODE, workingType=algo.working_type, priceMatch="NONE",
        closePosition=algo.close_position, priceProtect=algo.price_protect, reduceOnly=False,
        activatePrice=fixed(algo.activate_price, pp) if trailing and algo.activate_price else "",
        callbackRate=str(algo.callback_rate) if trailing and algo.callback_rate else "",
        createTime=algo.create_time, updateTime=algo.update_time, triggerTime=algo.trigger_time,
        goodTillDate=0)


def algo_response(ex: Exchange, algo: SimAlgo) -> w.AlgoOrderResponse:
    return w.AlgoOrderResponse(**_algo_fields(ex, algo))  # type: ignore[arg-type]


def algo_order(ex: Exchange, algo: SimAlgo) -> w.AlgoOrder:
    child = ex.account.orders.get(algo.actual_order_id) if algo.actual_order_id is not None else None
    pp = ex.specs[algo.symbol].price_precision
    return w.AlgoOrder(
        **_algo_fields(ex, algo),  # type: ignore[arg-type]
        actualOrderId=str(algo.actual_order_id) if algo.actual_order_id is not None else "",
        actualPrice=fixed(child.avg_price, pp) if child is not None else "0")


def user_trade(ex: Exchange, t: SimTrade) -> w.UserTrade:
    spec = ex.specs[t.symbol]
    return w.UserTrade(
        buyer=t.side == "BUY", commission=fixed(t.commission, 8), commissionAsset="USDT", id=t.trade_id,
        maker=t.maker, orderId=t.order_id, price=fixed(t.price, spec.price_precision),
        qty=fixed(t.qty, spec.quantity_precision), quoteQty=fixed(t.quote_qty, 5),
        realizedPnl=fixed(t.realized_pnl, 8), side=t.side, positionSide=t.position_side, symbol=t.symbol,
        time=t.time)


def income_row(row: SimIncome) -> w.IncomeRow:
    return w.IncomeRow(symbol=row.symbol, incomeType=row.income_type, income=fixed(row.income, 8), asset="USDT",
                       info=row.info, time=row.time, tranId=row.tran_id, tradeId=row.trade_id)


def _signed(pos: SimPosition) -> Decimal:
    return -pos.amount if pos.position_side == "SHORT" else pos.amount


def _pos_numbers(ex: Exchange, pos: SimPosition) -> dict[str, str]:
    spec = ex.specs[pos.symbol]
    mark = ex.markets[pos.symbol].mark
    lev = Decimal(ex.config.leverage)
    notional = money(_signed(pos) * mark)
    im = money(abs(notional) / lev)
    return dict(
        positionAmt=fixed(_signed(pos), spec.quantity_precision), entryPrice=fixed(money(pos.entry_price), 1),
        breakEvenPrice=fixed(money(pos.entry_price), 1), markPrice=fixed(mark, 8),
        unRealizedProfit=fixed(ex.unrealized(pos), 8), notional=fixed(notional, 8), initialMargin=fixed(im, 8),
        maintMargin=fixed(money(abs(notional) * Decimal("0.004")), 8))


def position_v2(ex: Exchange, pos: SimPosition) -> w.PositionRiskV2:
    n = _pos_numbers(ex, pos)
    return w.PositionRiskV2(
        entryPrice=n["entryPrice"], breakEvenPrice=n["breakEvenPrice"], marginType="cross",
        isAutoAddMargin="false", isolatedMargin="0.00000000", leverage=str(ex.config.leverage),
        liquidationPrice="0", markPrice=n["markPrice"], maxNotionalValue="1000000",
        positionAmt=n["positionAmt"], notional=n["notional"], isolatedWallet="0", symbol=pos.symbol,
        unRealizedProfit=n["unRealizedProfit"], positionSide=pos.position_side, updateTime=pos.update_time)


def _order_notional(ex: Exchange, pos: SimPosition, side: str) -> Decimal:
    return sum((o.remaining * o.price for o in ex.open_orders(pos.symbol)
                if o.position_side == pos.position_side and o.side == side), ZERO)


def position_v3(ex: Exchange, pos: SimPosition) -> w.PositionRiskV3:
    n = _pos_numbers(ex, pos)
    return w.PositionRiskV3(
        symbol=pos.symbol, positionSide=pos.position_side, positionAmt=n["positionAmt"],
        entryPrice=n["entryPrice"], breakEvenPrice=n["breakEvenPrice"], markPrice=n["markPrice"],
        unRealizedProfit=n["unRealizedProfit"], liquidationPrice="0", isolatedMargin="0",
        notional=n["notional"], marginAsset="USDT", isolatedWallet="0", initialMargin=n["initialMargin"],
        maintMargin=n["maintMargin"], positionInitialMargin=n["initialMargin"], openOrderInitialMargin="0",
        adl=0, bidNotional=fixed(_order_notional(ex, pos, "BUY"), 8),
        askNotional=fixed(_order_notional(ex, pos, "SELL"), 8), updateTime=pos.update_time)


def _totals(ex: Exchange) -> dict[str, str]:
    wallet = money(ex.account.wallet)
    upnl = ex.total_unrealized()
    pim = money(ex.position_margin())
    oim = money(ex.open_order_margin())
    avail = ex.available_balance()
    maint = money(sum((abs(p.amount) * ex.markets[p.symbol].mark * Decimal("0.004")
                       for p in ex.account.positions.values()), ZERO))
    return dict(
        totalInitialMargin=fixed(pim + oim, 8), totalMaintMargin=fixed(maint, 8),
        totalWalletBalance=fixed(wallet, 8), totalUnrealizedProfit=fixed(upnl, 8),
        totalMarginBalance=fixed(wallet + upnl, 8), totalPositionInitialMargin=fixed(pim, 8),
        totalOpenOrderInitialMargin=fixed(oim, 8), totalCrossWalletBalance=fixed(wallet, 8),
        totalCrossUnPnl=fixed(upnl, 8), availableBalance=fixed(avail, 8),
        maxWithdrawAmount=fixed(max(min(avail, wallet), ZERO), 8))


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
            openOrderInitialMargin="0", leverage=str(ex.config.leverage), isolated=False,
            entryPrice=n["entryPrice"], breakEvenPrice=n["breakEvenPrice"], maxNotional="1000000",
            bidNotional=fixed(_order_notional(ex, pos, "BUY"), 8),
            askNotional=fixed(_order_notional(ex, pos, "SELL"), 8), positionSide=pos.position_side,
            positionAmt=n["positionAmt"], updateTime=pos.update_time))
    return w.AccountV2(feeTier=0, canTrade=True, canDeposit=True, canWithdraw=True, updateTime=0,
                       multiAssetsMargin=False, **t, assets=[_asset(ex, t, v2=True)], positions=positions)


def balance(ex: Exchange) -> list[w.Balance]:
    t = _totals(ex)
    return [w.Balance(accountAlias="SgsR", asset="USDT", balance=t["totalWalletBalance"],
                      crossWalletBalance=t["totalCrossWalletBalance"], crossUnPnl=t["totalCrossUnPnl"],
                      availableBalance=t["availableBalance"], maxWithdrawAmount=t["maxWithdrawAmount"],
                      marginAvailable=True, updateTime=ex.clock())]


def premium_index(ex: Exchange, symbol: str) -> w.PremiumIndex:
    m = ex.markets[symbol]
    return w.PremiumIndex(symbol=symbol, markPrice=fixed(m.mark, 8), indexPrice=fixed(m.index, 8),
                          estimatedSettlePrice=fixed(m.index, 8), lastFundingRate=fixed(m.funding_rate, 8),
                          interestRate="0.00010000", nextFundingTime=m.next_funding_time, time=ex.clock())


def mark_price_update(ex: Exchange, symbol: str) -> w.MarkPriceUpdate:
    m = ex.markets[symbol]
    return w.MarkPriceUpdate(E=ex.clock(), s=symbol, p=fixed(m.mark, 8), ap=fixed(m.mark, 8), i=fixed(m.index, 8),
                             P=fixed(m.index, 8), r=fixed(m.funding_rate, 8), T=m.next_funding_time)

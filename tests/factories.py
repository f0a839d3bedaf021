"""Builders for ids, fills and events used across the tests."""

from __future__ import annotations

import itertools
from decimal import Decimal

from hedgestack.domain.enums import OrderRole, OrderType, PositionSide, Side
from hedgestack.domain.events import Fill, OrderIntent, VpCreated

_trade_ids = itertools.count(1)

VP_A = "vp_aaaaaaaa"
VP_B = "vp_bbbbbbbb"
VP_C = "vp_cccccccc"


def vp(vp_id: str, name: str | None = None, symbol: str = "BTCUSDT", side: PositionSide = PositionSide.LONG,
       ts: int = 0) -> VpCreated:
    return VpCreated(ts=ts, vp_id=vp_id, name=name or vp_id, symbol=symbol, position_side=side)


def fill(vp_id: str, side: Side | str, qty: str, price: str, *, position_side: PositionSide | str = "LONG",
         symbol: str = "BTCUSDT", fee: str = "0", asset: str = "USDT", trade_id: int | None = None,
         ts: int | None = None, cid: str | None = None, order_id: int | None = None) -> Fill:
    tid = next(_trade_ids) if trade_id is None else trade_id
    return Fill(ts=tid if ts is None else ts, symbol=symbol, trade_id=tid, order_id=order_id or tid,
                client_order_id=cid, vp_id=vp_id, side=Side(side), position_side=PositionSide(position_side),
                qty=Decimal(qty), price=Decimal(price), commission=Decimal(fee), commission_asset=asset,
                exchange_rp=Decimal(0), maker=False)


def intent(cid: str, vp_id: str, qty: str, *, role: OrderRole = OrderRole.CLOSE, side: Side = Side.SELL,
           position_side: PositionSide = PositionSide.LONG, order_type: OrderType = OrderType.LIMIT,
           price: str | None = "100", trigger: str | None = None, ts: int = 1, symbol: str = "BTCUSDT",
           is_algo: bool = False) -> OrderIntent:
    return OrderIntent(ts=ts, client_order_id=cid, vp_id=vp_id, symbol=symbol, position_side=position_side,
                       side=side, order_type=order_type, role=role, qty=Decimal(qty),
                       price=None if price is None else Decimal(price),
                       trigger_price=None if trigger is None else Decimal(trigger), is_algo=is_algo)

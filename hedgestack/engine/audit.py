"""An audit of a ledger and its event log against the exchange's own record: the end-of-scenario check of the
tests and of ``hedgestack soak``.

It holds the ledger to DESIGN.md's invariants 1–5 against an exchange truth:

1. Σ VP (UNASSIGNED included) == the exchange position, per side;
2. no VP below zero, no cost on a flat VP;
3. no VP's closing orders plus TP/SL cover more than it holds;
4. every exchange trade is in the log exactly once (nothing lost, nothing doubled), attributed by the one rule
   (``attribution.py``) to the VP its clientOrderId (or its algo parent) names, else to the side's UNASSIGNED VP,
   with the exchange's quantity, price and commission;
5. every trade of one of our orders has that order's intent in the log, written no later than the trade;
   and every order of ours open on the exchange is open in the ledger (an orphan could reduce a VP unseen).

The truth is the exchange's account as the simulator's control API reports it (``GET /sim/v1/account``):
``positions`` (symbol, positionSide, positionAmt), ``trades`` (id, orderId, symbol, positionSide, qty,
price, commission, time, clientOrderId) and, when given, ``open_orders`` (clientOrderId) and
``open_algo_orders`` (clientAlgoId).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from hedgestack.domain.enums import PositionSide
from hedgestack.domain.ids import OurOrderId, parse_client_order_id
from hedgestack.domain.invariants import check_invariants
from hedgestack.engine.attribution import attribute

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from hedgestack.domain.ledger import Ledger

#: How many problems of one kind are spelled out; the counts are always complete.
_EXAMPLES = 5


@dataclass
class AuditReport:
    """What the audit found. ``ok`` when every count is zero and ``problems`` is empty."""

    trades: int = 0  # trades on the exchange
    logged: int = 0  # fill rows in the log
    lost: int = 0  # exchange trades missing from the log
    doubled: int = 0  # fill rows beyond one per (symbol, tradeId)
    unknown: int = 0  # fill rows the exchange never made
    misattributed: int = 0  # fills booked to another VP than their clientOrderId names
    wrong_figures: int = 0  # quantity, price or commission differs from the exchange's
    intents_missing: int = 0  # trades of our orders with no intent in the log (or one written after the trade)
    orphans: int = 0  # orders of ours open on the exchange that the ledger holds as closed or does not know
    invariants: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.lost or self.doubled or self.unknown or self.misattributed or self.wrong_figures
                    or self.intents_missing or self.orphans or self.invariants or self.problems)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "trades": self.trades, "logged": self.logged, "lost": self.lost,
                "doubled": self.doubled, "unknown": self.unknown, "misattributed": self.misattributed,
                "wrong_figures": self.wrong_figures, "intents_missing": self.intents_missing,
                "orphans": self.orphans,
                "invariants": self.invariants, "problems": self.problems}


def state_digest(ledger: Ledger) -> str:
    """A SHA-256 of everything the fold determines, so two processes can compare ledgers: equal ledgers
    (``==``, where Decimal('1.0') equals Decimal('1.00')) give equal digests."""
    return hashlib.sha256(repr(_comparable(ledger.canonical())).encode()).hexdigest()


def _comparable(value: object) -> object:
    if isinstance(value, Decimal):
        return "0" if value == 0 else str(value.normalize())
    if isinstance(value, tuple | list):
        return tuple(_comparable(v) for v in value)
    return value


def exchange_sides(truth: Mapping[str, Any]) -> dict[tuple[str, PositionSide], Decimal]:
    """The exchange's absolute position per (symbol, side) from a truth record."""
    sides: dict[tuple[str, PositionSide], Decimal] = {}
    for p in truth["positions"]:
        if p["positionSide"] in ("LONG", "SHORT"):
            sides[(p["symbol"], PositionSide(p["positionSide"]))] = abs(Decimal(str(p["positionAmt"])))
    return sides


def log_fill_rows(store: Any) -> list[tuple[str, int, str, str, str, str]]:
    """(symbol, trade_id, vp_id, qty, price, commission) of every fill row of an EventLog."""
    rows = store.execute("SELECT symbol, trade_id, vp_id, CAST(qty AS VARCHAR), CAST(price AS VARCHAR), "
                         "CAST(commission AS VARCHAR) FROM fills")
    return [(str(r[0]), int(r[1]), str(r[2]), str(r[3]), str(r[4]), str(r[5])) for r in rows]


def audit(ledger: Ledger, fill_rows: Iterable[Sequence[Any]], truth: Mapping[str, Any], *,
          check_sides: bool = True) -> AuditReport:
    """Audit ``ledger`` and its log's ``fill_rows`` (see :func:`log_fill_rows`) against ``truth``."""
    report = AuditReport()
    report.invariants = check_invariants(ledger, exchange_sides(truth) if check_sides else None)
    rows = list(fill_rows)
    report.logged = len(rows)
    keyed: dict[tuple[str, int], Sequence[Any]] = {}
    counts = Counter((str(r[0]), int(r[1])) for r in rows)
    report.doubled = sum(n - 1 for n in counts.values())
    for r in rows:
        keyed[(str(r[0]), int(r[1]))] = r
    trades = list(truth["trades"])
    report.trades = len(trades)
    on_exchange = {(t["symbol"], int(t["id"])) for t in trades}
    report.unknown = sum(1 for key in counts if key not in on_exchange)
    if report.doubled:
        _note(report, "doubled", [f"{k} × {n}" for k, n in counts.items() if n > 1])
    for trade in trades:
        key = (trade["symbol"], int(trade["id"]))
        row = keyed.get(key)
        if row is None:
            report.lost += 1
            _note(report, "lost", [f"{key} ({trade.get('clientOrderId')})"], report.lost)
            continue
        expected = _expected_vp(ledger, trade)
        if str(row[2]) != expected:
            report.misattributed += 1
            _note(report, "misattributed", [f"{key}: booked to {row[2]}, expected {expected}"], report.misattributed)
        figures = (Decimal(str(row[3])), Decimal(str(row[4])), Decimal(str(row[5])))
        theirs = (Decimal(str(trade["qty"])), Decimal(str(trade["price"])), Decimal(str(trade["commission"])))
        if figures != theirs:
            report.wrong_figures += 1
            _note(report, "wrong figures", [f"{key}: {figures} vs {theirs}"], report.wrong_figures)
        parsed = parse_client_order_id(str(trade.get("clientOrderId") or ""))
        if isinstance(parsed, OurOrderId):
            order = ledger.orders.get(str(trade["clientOrderId"]))
            if order is None or ("time" in trade and order.created_at > int(trade["time"])):
                report.intents_missing += 1
                _note(report, "intent missing", [f"{key} ({trade['clientOrderId']})"], report.intents_missing)
    if report.unknown:
        _note(report, "unknown", [str(k) for k in counts if k not in on_exchange])
    open_ids = [(str(o.get("clientOrderId") or ""), o.get("status")) for o in truth.get("open_orders", [])]
    open_ids += [(str(o.get("clientAlgoId") or ""), o.get("algoStatus")) for o in truth.get("open_algo_orders", [])]
    for cid, status in open_ids:
        if isinstance(parse_client_order_id(cid), OurOrderId):
            order = ledger.orders.get(cid)
            if order is None or not order.is_open:
                report.orphans += 1
                _note(report, "orphan", [f"{cid} is {status} on the exchange, "
                                         f"{'unknown' if order is None else order.status} in the ledger"],
                      report.orphans)
    return report


def _expected_vp(ledger: Ledger, trade: Mapping[str, Any]) -> str:
    """The VP a trade belongs to, by the one attribution rule against the ledger's orders."""
    return attribute(ledger, symbol=str(trade["symbol"]), client_order_id=str(trade.get("clientOrderId") or "") or None,
                     order_id=int(trade["orderId"]), position_side=PositionSide(str(trade["positionSide"])))


def _note(report: AuditReport, kind: str, examples: list[str], count: int = 1) -> None:
    if count <= _EXAMPLES:
        report.problems.extend(f"{kind}: {text}" for text in examples[:_EXAMPLES])


__all__ = ["AuditReport", "audit", "exchange_sides", "log_fill_rows", "state_digest"]

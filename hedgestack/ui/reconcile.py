"""Safe reconcile: the plan a trader reviews before one side's VP quantities are rewritten.

A reconcile (``TerminalApi.reconcile``) assigns the exchange's quantity of one side to its VPs: the listed VPs get
what is assigned, the others 0, the rest goes to UNASSIGNED, and every VP of the side restarts at the exchange's
entry price (realized PnL is kept). That rewrites positions, so the screen makes it deliberate:

- the inputs start from each VP's *current* quantity, and are put back there whenever the side changes, the form
  is opened again, or the quantities move while the trader has not edited them (a changed quantity under an
  edited form is flagged, never overwritten silently);
- on a side the engine calls OK (or SYNCING/STALE) the form is read-only unless the trader opens "reassign";
- :func:`plan` gives the before/after of every VP (quantity and entry, and who is reset), and the command is
  sent only after a confirmation of that plan.

The plan shows what the engine's reconcile does (DESIGN.md, "Reconcile"); the result shown afterwards is the
engine's own answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from hedgestack.engine.views import ExternalPositionView, VirtualPositionView

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class PlanRow:
    vp_id: str
    name: str
    system: bool
    before_qty: Decimal
    before_entry: Decimal
    after_qty: Decimal
    after_entry: Decimal

    @property
    def changes(self) -> bool:
        return self.before_qty != self.after_qty or self.before_entry != self.after_entry


@dataclass(frozen=True, slots=True)
class Plan:
    rows: tuple[PlanRow, ...]
    exchange_qty: Decimal
    exchange_entry: Decimal
    assigned: Decimal
    error: str | None = None

    @property
    def unassigned(self) -> Decimal:
        return self.exchange_qty - self.assigned

    @property
    def changes(self) -> bool:
        return any(row.changes for row in self.rows)


def plan(vps: Sequence[VirtualPositionView], exchange: ExternalPositionView,
         inputs: Mapping[str, Decimal | None], step: Decimal) -> Plan:
    """The before/after of reconciling one side with ``inputs`` (VP id → assigned qty; missing or None = 0)."""
    error = None
    assigned = ZERO
    for vp in vps:
        if vp.system:
            continue
        qty = inputs.get(vp.id)
        if qty is None:
            continue
        if qty < 0:
            error = f"{vp.name}: a quantity cannot be negative"
        elif step > 0 and qty % step != 0:
            error = f"{vp.name}: {qty} is not a multiple of the step {step.normalize()}"
        assigned += qty
    if error is None and assigned > exchange.qty:
        error = f"the assignments total {assigned.normalize()} exceed the exchange's {exchange.qty.normalize()}"
    entry = exchange.avg_entry_price
    rows = []
    for vp in vps:
        if vp.system:
            after = exchange.qty - assigned if error is None else vp.net_qty
        else:
            after = inputs.get(vp.id) or ZERO
        rows.append(PlanRow(vp_id=vp.id, name=vp.name, system=vp.system, before_qty=vp.net_qty,
                            before_entry=vp.avg_entry, after_qty=after, after_entry=entry if after != 0 else ZERO))
    if not any(row.system for row in rows) and error is None and exchange.qty - assigned != 0:
        rows.append(PlanRow(vp_id="UNASSIGNED", name="UNASSIGNED", system=True, before_qty=ZERO, before_entry=ZERO,
                            after_qty=exchange.qty - assigned, after_entry=entry))
    return Plan(tuple(rows), exchange.qty, entry, assigned, error)


__all__ = ["Plan", "PlanRow", "plan"]

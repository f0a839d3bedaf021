"""The rollups of the log: ``vp_eod`` and ``vp_equity``, brought up to the log incrementally.

- ``vp_eod`` (the last state of each VP per UTC day): the ``vp_history`` rows appended since its mark
  (``meta['rollup:vp_eod']``) are folded in; the ``vp_eod_current`` view adds the rows after the mark, so
  readers are exact whenever they read.
- ``vp_equity`` (each VP's equity at each kept mark sample): only the samples after its watermark are
  computed, and a VP's rows again from a late history row on (:meth:`Rollups.refresh` gives the rules).

The publisher and live analytics call :meth:`Rollups.refresh`, never the append path. It runs on the calling
thread's cursor in its own transaction, so the engine keeps appending meanwhile; one refresh at a time.
"""

from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from hedgestack.domain.errors import StoreError
from hedgestack.store.schema import EQUITY_MARK, HISTORY_KEY, ROLLUP_MARK, SAMPLE_KEY, eod_rows, equity_rows

if TYPE_CHECKING:
    import duckdb

    from hedgestack.store.database import Database

_DAY_MS = 86_400_000


def equity_mark_from(cur: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """The ``vp_equity`` watermarks read on ``cur``: ``seq`` (history folded), ``ts`` (mark samples computed),
    ``gen`` (the refreshes that wrote rows), ``last`` (each VP's last sample)."""
    rows = cur.execute("SELECT value FROM meta WHERE key = ?", [EQUITY_MARK]).fetchall()
    return {"seq": 0, "ts": 0, "gen": 0, "last": {}} | (json.loads(rows[0][0]) if rows else {})


class Rollups:
    """Keeps ``vp_eod`` and ``vp_equity`` of one database up to its log."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._lock = threading.Lock()

    def mark(self, cursor: duckdb.DuckDBPyConnection | None = None) -> int:
        """The seq up to which ``vp_eod`` is folded (0: never)."""
        value = self._db.get_meta(ROLLUP_MARK, cursor)
        return int(value) if value is not None else 0

    def refresh(self, upto: int) -> int:
        """Bring the rollups up to the log's seq ``upto``; return the ``vp_eod`` mark.

        ``vp_eod``: the ``vp_history`` rows after its mark are folded in. ``vp_equity``: see
        :meth:`_refresh_equity`. Cost: the rows and mark samples since the last refresh. The caller has made
        the log's rows up to ``upto`` readable (flushed)."""
        with self._lock:
            cur = self._db.cursor()
            mark = self.mark(cur)
            cur.execute("BEGIN TRANSACTION")
            try:
                if upto > mark:
                    cur.execute("INSERT OR REPLACE INTO vp_eod "
                                + eod_rows(f"(SELECT * FROM vp_history WHERE seq > {mark} AND seq <= {int(upto)})"))
                    self._db.set_meta(ROLLUP_MARK, str(int(upto)), cur)
                    mark = int(upto)
                self._refresh_equity(cur, mark)
                cur.execute("COMMIT")
            except Exception as exc:
                cur.execute("ROLLBACK")
                raise StoreError(f"rollup refresh failed and was rolled back: {exc}", code="STORE_WRITE") from exc
            return mark

    def _refresh_equity(self, cur: duckdb.DuckDBPyConnection, upto: int) -> None:
        """Compute the ``vp_equity`` rows of the mark samples after the watermark (inside the caller's
        transaction, with ``vp_eod`` already folded up to ``upto``).

        Rules, with ``S``/``W`` the history seq and mark ts of the watermark and ``M`` the latest mark now:

        - Every VP gets a row per sample of its symbol with ``W < ts <= M`` at or after its first history row,
          valued with its state as of the sample (its latest ``vp_history`` row by ``(ts, seq)`` with
          ``seq <= upto``). The state comes from the VP's last ``vp_equity`` row (its anchor) plus the
          history rows after that row's sample: per refresh, the new samples and the rows since the last one.
        - A late history row (``S < seq``, ``ts <= W``: a fill stamped before a sample already computed)
          makes its VP's rows from that ts on wrong: they are deleted and computed again with the rest.
        - A sample stored with ``ts <= W`` after the refresh that moved ``W`` past it (marks arrive in time
          order; the publisher makes the same assumption) is never computed.
        """
        state = equity_mark_from(cur)
        since, water, gen = state["seq"], state["ts"], state["gen"]
        latest = int(cur.execute("SELECT coalesce(max(ts), 0) FROM marks").fetchall()[0][0])
        if upto <= since and latest <= water:
            return
        first_new = dict(cur.execute("SELECT vp_id, min(ts) FROM vp_history WHERE seq > ? AND seq <= ? "
                                     "GROUP BY vp_id", [since, upto]).fetchall())
        vps = cur.execute("SELECT vp_id, any_value(symbol) FROM vp_eod GROUP BY vp_id ORDER BY vp_id").fetchall()
        starts = [(vp_id, symbol, min(water + 1, int(first_new.get(vp_id, water + 1)))) for vp_id, symbol in vps]
        gen += 1
        if starts:

            low = min(start for _, _, start in starts)
            # each VP's last sample (kept in the watermark, so finding the anchors reads only their rows)
            last: dict[str, int] = dict(state.get("last", {}))
            for vp_id, _, start in starts:
                if start <= water and last.get(vp_id, -1) >= start:  # late: its rows from start on go
                    cur.execute("DELETE FROM vp_equity WHERE ts >= ? AND vp_id = ?", [start, vp_id])
                    found = cur.execute("SELECT max(ts) FROM vp_equity WHERE vp_id = ? AND ts < ? AND ts >= ?",
                                        [vp_id, start, start - _DAY_MS]).fetchall()[0][0]
                    if found is None:  # an older sample, or none at all
                        found = cur.execute("SELECT max(ts) FROM vp_equity WHERE vp_id = ? AND ts < ?",
                                            [vp_id, start]).fetchall()[0][0]
                    if found is None:
                        last.pop(vp_id)
                    else:
                        last[vp_id] = int(found)
            table = pa.table({"vp_id": [v for v, _, _ in starts], "symbol": [s for _, s, _ in starts],
                              "start_ts": pa.array([t for _, _, t in starts], pa.int64())})
            cur.register("_equity_starts", table)
            try:
                anchors = pa.table({"vp_id": list(last), "ts": pa.array(list(last.values()), pa.int64())})
                cur.register("_equity_last", anchors)
                lowest_anchor = min(last.values(), default=0)
                cur.execute(f"""CREATE OR REPLACE TEMP TABLE _equity_anchors AS
                    SELECT e.vp_id, e.ts, e.vp_name AS name, e.position_side, e.net_qty, e.avg_entry,
                           e.realized AS realized_pnl, e.fees, e.funding
                    FROM vp_equity e JOIN _equity_last a ON e.vp_id = a.vp_id AND e.ts = a.ts
                    WHERE e.ts >= {int(lowest_anchor)}""")
                anchored = len(last)
                figures = "vp_id, name, position_side, net_qty, avg_entry, realized_pnl, fees, funding"
                parts = [f"SELECT {figures}, {SAMPLE_KEY} AS k FROM _equity_anchors"]
                if anchored:  # the rows after each anchor's sample
                    parts.append(
                        f"SELECT h.vp_id, h.name, h.position_side, h.net_qty, h.avg_entry, h.realized_pnl, h.fees, "
                        f"h.funding, {HISTORY_KEY.replace('ts', 'h.ts').replace('seq', 'h.seq')} AS k "
                        f"FROM vp_history h JOIN _equity_anchors a ON a.vp_id = h.vp_id AND h.ts > a.ts "
                        f"WHERE h.seq <= {upto} AND h.ts > {int(lowest_anchor)}")
                if anchored < len(starts):  # VPs with no row yet: their whole history
                    parts.append(
                        f"SELECT {figures}, {HISTORY_KEY} AS k FROM vp_history WHERE seq <= {upto} AND vp_id IN "
                        "(SELECT vp_id FROM _equity_starts ANTI JOIN _equity_anchors USING (vp_id))")
                grid = (f"(SELECT s.vp_id, m.symbol, m.ts, m.mark, {SAMPLE_KEY.replace('ts', 'm.ts')} AS k "
                        f"FROM _equity_starts s JOIN marks m ON m.symbol = s.symbol AND m.ts >= s.start_ts "
                        f"WHERE m.ts >= {low} AND m.ts <= {latest})")
                states = "(" + " UNION ALL ".join(parts) + ")"
                cur.execute(f"INSERT INTO vp_equity SELECT *, {gen} AS gen FROM ({equity_rows(grid, states)}) "
                            "ORDER BY vp_id, ts")
            finally:
                cur.unregister("_equity_starts")
                cur.unregister("_equity_last")
                cur.execute("DROP TABLE IF EXISTS _equity_anchors")
            for vp_id, ts in cur.execute(f"SELECT vp_id, max(ts) FROM vp_equity WHERE gen = {gen} "
                                         "GROUP BY vp_id").fetchall():
                last[vp_id] = int(ts)
            state["last"] = last
        cur.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                    [EQUITY_MARK, json.dumps(state | {"seq": max(upto, since), "ts": max(latest, water),
                                                        "gen": gen})])

"""The DuckDB schema of the event log and its projections.

``events`` is the append-only log: the truth. Fills, the bulk of it, keep their fields in typed columns with
``payload`` NULL; every other event keeps its JSON in ``payload``. Money is ``DECIMAL(38, 18)`` (exact for
every figure with at most 18 decimal places below 10^20), quantities ``DECIMAL(38, 10)``. A fill field that
does not fit its column exactly (Binance sends at most 8 decimals, so only a hand-made fill can) keeps the
whole event as JSON in ``payload`` too, and replay reads that: the log never rounds a fact.

A fill row also carries the projection of the VP it was booked to, as it stood after the fill
(``booked_vp_id``, ``vp_*`` columns), so appending a fill is one INSERT statement. Other events that
change VPs write their projection rows to ``vp_changes`` in the same transaction. The ``vp_history`` view
unites both: one row per VP change with the figures after it (and the realized PnL the change booked).
Projection figures are the ledger's (which keeps its divisions at 1e-18); a funding share with more than
18 decimals (a quantity x an 8-decimal mark x an 8-decimal rate), or a quantity with more than 10, is rounded
half-even there, while the events keep it exactly.

``vp_eod`` is a rollup of ``vp_history``: the last row per VP per UTC day (by seq), maintained incrementally
up to the seq in ``meta['rollup:vp_eod']`` (:meth:`hedgestack.store.eventlog.EventLog.refresh_rollups`).
The ``vp_eod_current`` view adds the rows after that mark, so it is exact whenever it is read.
``vp_equity`` is a rollup of ``vp_history`` valued at ``marks``: each VP's equity at each kept mark sample
(:data:`EQUITY_COLUMNS`), computed once per sample by ``refresh_rollups`` from the watermarks in
``meta['rollup:vp_equity']`` (:meth:`hedgestack.store.eventlog.EventLog.refresh_rollups` gives the rules).
``snapshots`` hold serialized ledgers to speed up a cold start; replay from zero always gives the same state.

Version 3 (typed decimals, ``vp_eod``) replaced version 2 (decimals as text); a version-2 file is migrated
in place when it is opened (:data:`MIGRATIONS`).
"""

from __future__ import annotations

SCHEMA_VERSION = 3
DEC = "DECIMAL(38, 18)"
#: quantities: every quantity Binance can send (step sizes down to 1e-8) exactly; and a quantity times a
#: DECIMAL(38, 18) price is a DECIMAL(38, 28) with no rescaling (rescaling a 128-bit decimal is slow)
QTY = "DECIMAL(38, 10)"
ROLLUP_MARK = "rollup:vp_eod"
#: meta key of the vp_equity rollup: JSON {"seq": history seq folded, "ts": mark ts computed, "gen": refreshes}
EQUITY_MARK = "rollup:vp_equity"
#: an exact product of a quantity and a price (DECIMAL(38, 10) x DECIMAL(38, 18)), as the equity curve keeps it
EQ = "DECIMAL(38, 28)"

FILL_COLUMNS = ("symbol", "trade_id", "order_id", "client_order_id", "vp_id", "side", "position_side", "qty",
                "price", "commission", "commission_asset", "exchange_rp", "maker")
FILL_DECIMALS = ("qty", "price", "commission", "exchange_rp")
PROJECTION_COLUMNS = ("booked_vp_id", "vp_name", "vp_net_qty", "vp_avg_entry", "vp_realized", "vp_realized_delta",
                      "vp_fees", "vp_funding", "vp_archived")
PROJECTION_DECIMALS = ("vp_net_qty", "vp_avg_entry", "vp_realized", "vp_realized_delta", "vp_fees", "vp_funding")
CHANGE_DECIMALS = ("net_qty", "avg_entry", "realized_pnl", "realized_delta", "fees", "funding")

DDL = [
    """CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)""",
    # The write-ahead journal of the append path: one narrow row per appended batch, holding the batch's
    # events and vp_changes rows as JSON. A commit costs DuckDB about the same per column whatever the row
    # count, so the hot path commits three columns here, and the wide tables get the rows in batches
    # (EventLog.flush; on open, before replay). Empty whenever nothing is pending.
    """CREATE TABLE IF NOT EXISTS journal (first_seq BIGINT PRIMARY KEY, last_seq BIGINT NOT NULL,
        body VARCHAR NOT NULL)""",
    f"""CREATE TABLE IF NOT EXISTS events (
        seq BIGINT PRIMARY KEY,
        ts BIGINT NOT NULL,
        recv_ts BIGINT NOT NULL,
        kind VARCHAR NOT NULL,
        dedupe_key VARCHAR UNIQUE,
        payload VARCHAR,
        symbol VARCHAR, trade_id BIGINT, order_id BIGINT, client_order_id VARCHAR, vp_id VARCHAR,
        side VARCHAR, position_side VARCHAR, qty {QTY}, price {DEC}, commission {DEC},
        commission_asset VARCHAR, exchange_rp {DEC}, maker BOOLEAN,
        booked_vp_id VARCHAR, vp_name VARCHAR, vp_net_qty {QTY}, vp_avg_entry {DEC}, vp_realized {DEC},
        vp_realized_delta {DEC}, vp_fees {DEC}, vp_funding {DEC}, vp_archived BOOLEAN
    )""",
    f"""CREATE TABLE IF NOT EXISTS vp_changes (
        seq BIGINT NOT NULL,
        ts BIGINT NOT NULL,
        vp_id VARCHAR NOT NULL,
        name VARCHAR NOT NULL,
        symbol VARCHAR NOT NULL,
        position_side VARCHAR NOT NULL,
        event_kind VARCHAR NOT NULL,
        net_qty {QTY} NOT NULL,
        avg_entry {DEC} NOT NULL,
        realized_pnl {DEC} NOT NULL,
        realized_delta {DEC} NOT NULL,
        fees {DEC} NOT NULL,
        funding {DEC} NOT NULL,
        archived BOOLEAN NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS snapshots (seq BIGINT PRIMARY KEY, created_at BIGINT NOT NULL, payload BLOB)""",
    f"""CREATE TABLE IF NOT EXISTS marks (symbol VARCHAR NOT NULL, ts BIGINT NOT NULL, mark {DEC} NOT NULL)""",
    f"""CREATE TABLE IF NOT EXISTS vp_eod (
        vp_id VARCHAR NOT NULL,
        day DATE NOT NULL,
        seq BIGINT NOT NULL,
        ts BIGINT NOT NULL,
        name VARCHAR NOT NULL,
        symbol VARCHAR NOT NULL,
        position_side VARCHAR NOT NULL,
        net_qty {QTY} NOT NULL,
        avg_entry {DEC} NOT NULL,
        realized_pnl {DEC} NOT NULL,
        fees {DEC} NOT NULL,
        funding {DEC} NOT NULL,
        archived BOOLEAN NOT NULL,
        PRIMARY KEY (vp_id, day)
    )""",
    # The equity of each VP at each kept mark sample, maintained by EventLog.refresh_rollups (see
    # EQUITY_COLUMNS); ``gen`` is the refresh that wrote the row (the publisher rewrites the dates it touched).
    f"""CREATE TABLE IF NOT EXISTS vp_equity (
        vp_id VARCHAR NOT NULL,
        vp_name VARCHAR NOT NULL,
        symbol VARCHAR NOT NULL,
        position_side VARCHAR NOT NULL,
        ts BIGINT NOT NULL,
        mark {DEC} NOT NULL,
        net_qty {QTY} NOT NULL,
        avg_entry {DEC} NOT NULL,
        realized {DEC} NOT NULL,
        unrealized {EQ} NOT NULL,
        equity {EQ} NOT NULL,
        fees {DEC} NOT NULL,
        funding {DEC} NOT NULL,
        net_equity {EQ} NOT NULL,
        gen BIGINT NOT NULL
    )""",
]

# version 2 -> 3: decimals were exact text; every one fits DECIMAL(38, 18) (the ledger keeps 1e-18), and
# vp_eod starts empty (its mark absent: the current view reads all of vp_history until the first refresh).
def column_type(column: str) -> str:
    """The type of a decimal column of events / vp_changes / vp_eod."""
    return QTY if column in ("qty", "vp_net_qty", "net_qty") else DEC


MIGRATIONS: dict[int, list[str]] = {
    2: [*(f"ALTER TABLE events ALTER COLUMN {c} SET DATA TYPE {column_type(c)} USING CAST({c} AS {column_type(c)})"
          for c in (*FILL_DECIMALS, *PROJECTION_DECIMALS)),
        *(f"ALTER TABLE vp_changes ALTER COLUMN {c} SET DATA TYPE {column_type(c)} "
          f"USING CAST({c} AS {column_type(c)})" for c in CHANGE_DECIMALS),
        f"ALTER TABLE marks ALTER COLUMN mark SET DATA TYPE {DEC} USING CAST(mark AS {DEC})"],
}

# Views the analytics queries see (same names and columns live and over the published Parquet).
FILLS_VIEW = """
CREATE OR REPLACE VIEW fills AS
SELECT e.seq, e.ts, e.trade_id, e.order_id, e.client_order_id, coalesce(e.booked_vp_id, e.vp_id) AS vp_id,
       e.vp_name, e.symbol, e.side, e.position_side, e.qty, e.price, e.commission, e.commission_asset,
       e.vp_realized_delta AS realized_pnl, e.exchange_rp, e.maker
FROM events e
WHERE e.kind = 'fill'
"""

VP_HISTORY_VIEW = """
CREATE OR REPLACE VIEW vp_history AS
SELECT seq, ts, booked_vp_id AS vp_id, vp_name AS name, symbol, position_side, 'fill' AS event_kind,
       vp_net_qty AS net_qty, vp_avg_entry AS avg_entry, vp_realized AS realized_pnl,
       vp_realized_delta AS realized_delta, vp_fees AS fees, vp_funding AS funding, vp_archived AS archived
FROM events WHERE kind = 'fill' AND booked_vp_id IS NOT NULL
UNION ALL
SELECT * FROM vp_changes
"""

#: the columns of a vp_eod row, in table order
EOD_COLUMNS = ("vp_id", "day", "seq", "ts", "name", "symbol", "position_side", "net_qty", "avg_entry",
               "realized_pnl", "fees", "funding", "archived")


def eod_rows(history: str) -> str:
    """SQL: the last row per VP per UTC day (by seq) of the ``vp_history``-shaped relation ``history``,
    with the :data:`EOD_COLUMNS`."""
    return f"""
SELECT vp_id, CAST(epoch_ms(ts // 86400000 * 86400000) AS DATE) AS day, max(seq) AS seq,
       arg_max(ts, seq) AS ts, arg_max(name, seq) AS name, any_value(symbol) AS symbol,
       any_value(position_side) AS position_side, arg_max(net_qty, seq) AS net_qty,
       arg_max(avg_entry, seq) AS avg_entry, arg_max(realized_pnl, seq) AS realized_pnl,
       arg_max(fees, seq) AS fees, arg_max(funding, seq) AS funding, arg_max(archived, seq) AS archived
FROM {history}
GROUP BY vp_id, day"""


def eod_current(rollup: str, history: str, mark: str) -> str:
    """SQL: the rollup ``rollup`` (exact up to seq ``mark``) brought up to date with the rows of ``history``
    after ``mark``: per (VP, day) the later of the two."""
    columns = ", ".join(EOD_COLUMNS)
    return f"""
SELECT vp_id, day, max(seq) AS seq, arg_max(ts, seq) AS ts, arg_max(name, seq) AS name,
       any_value(symbol) AS symbol, any_value(position_side) AS position_side,
       arg_max(net_qty, seq) AS net_qty, arg_max(avg_entry, seq) AS avg_entry,
       arg_max(realized_pnl, seq) AS realized_pnl, arg_max(fees, seq) AS fees, arg_max(funding, seq) AS funding,
       arg_max(archived, seq) AS archived
FROM (SELECT {columns} FROM {rollup}
      UNION ALL
      SELECT {columns} FROM ({eod_rows(f"(SELECT * FROM {history} WHERE seq > {mark})")}))
GROUP BY vp_id, day"""


VP_EOD_VIEW = ("CREATE OR REPLACE VIEW vp_eod_current AS "
               + eod_current("vp_eod", "vp_history",
                             f"(SELECT coalesce(max(CAST(value AS BIGINT)), 0) FROM meta WHERE key = '{ROLLUP_MARK}')"))

#: the columns of a vp_equity row (and of the equity curve), in table order
EQUITY_COLUMNS = ("vp_id", "vp_name", "symbol", "position_side", "ts", "mark", "net_qty", "avg_entry", "realized",
                  "unrealized", "equity", "fees", "funding", "net_equity")


def unrealized_sql(qty: str, mark: str, avg: str, sign: str) -> str:
    """``d x qty x (mark - avg)``: DECIMAL(38, 10) x DECIMAL(38, 18) = an exact DECIMAL(38, 28), left at that
    scale (rescaling a 128-bit decimal costs ~1 µs a value: more than the rest of an equity curve)."""
    return f"({sign} * CAST({qty} AS {QTY}) * (CAST({mark} AS {DEC}) - CAST({avg} AS {DEC})))"


def equity_rows(grid: str, states: str) -> str:
    """SQL: the :data:`EQUITY_COLUMNS` of each mark sample of ``grid`` (vp_id, symbol, ts, mark, k) valued
    with the VP's state of ``states`` (vp_id, name, position_side, net_qty, avg_entry, realized_pnl, fees,
    funding, k) as of it: the row with the greatest key ``k`` not above the sample's (an ASOF join). Keys are
    ``ts * 10^12 + seq`` (a sample: ``ts * 10^12 + 10^12 - 1``, after every row of its millisecond). A sample
    with no state before it (before the VP's first row) gives no row."""
    return f"""
SELECT vp_id, vp_name, symbol, position_side, ts, mark, net_qty, avg_entry, realized, unrealized,
       realized + unrealized AS equity, fees, funding, realized + unrealized - fees + funding AS net_equity
FROM (SELECT g.vp_id, r.name AS vp_name, g.symbol, r.position_side, g.ts, g.mark, r.net_qty, r.avg_entry,
             r.realized_pnl AS realized, r.fees, r.funding,
             {unrealized_sql('r.net_qty', 'g.mark', 'r.avg_entry',
                             "(CASE r.position_side WHEN 'LONG' THEN 1 ELSE -1 END)")} AS unrealized
      FROM {grid} g ASOF JOIN {states} r ON g.vp_id = r.vp_id AND g.k >= r.k)"""


def equity_from_scratch(history: str = "vp_history", marks: str = "marks") -> str:
    """SQL: the whole equity curve of every VP of ``history`` at every sample of ``marks`` from its first row
    (what the incremental ``vp_equity`` must equal; demo-data writes it this way)."""
    return equity_rows(
        f"(SELECT v.vp_id, m.symbol, m.ts, m.mark, {SAMPLE_KEY.replace('ts', 'm.ts')} AS k "
        f"FROM (SELECT DISTINCT vp_id, symbol FROM {history}) v JOIN {marks} m ON m.symbol = v.symbol)",
        f"(SELECT vp_id, name, position_side, net_qty, avg_entry, realized_pnl, fees, funding, {HISTORY_KEY} AS k "
        f"FROM {history})")


#: (ts, seq) as one sortable key (ts in ms, seq below 10^12); a mark sample's key comes after its whole ms
HISTORY_KEY = "(CAST(ts AS HUGEINT) * 1000000000000 + seq)"
SAMPLE_KEY = "(CAST(ts AS HUGEINT) * 1000000000000 + 999999999999)"


ORDERS_VIEW = f"""
CREATE OR REPLACE VIEW orders AS
WITH intents AS (
    SELECT seq, ts, payload->>'client_order_id' AS client_order_id, payload->>'vp_id' AS vp_id,
           payload->>'symbol' AS symbol, payload->>'position_side' AS position_side, payload->>'side' AS side,
           payload->>'order_type' AS order_type, payload->>'role' AS role, payload->>'qty' AS qty,
           payload->>'price' AS price, payload->>'trigger_price' AS trigger_price,
           payload->>'trigger_type' AS trigger_type, payload->>'time_in_force' AS time_in_force,
           CAST(payload->>'is_algo' AS BOOLEAN) AS is_algo, payload->>'mark' AS mark_at_intent
    FROM events WHERE kind = 'order_intent'
), updates AS (
    SELECT payload->>'client_order_id' AS client_order_id, payload->>'status' AS status,
           CAST(payload->>'order_id' AS BIGINT) AS order_id, ts,
           payload->>'reason' AS reason, seq
    FROM events WHERE kind = 'order_update'
), last_update AS (
    SELECT * FROM updates QUALIFY row_number() OVER (PARTITION BY client_order_id ORDER BY seq DESC) = 1
), exchange_ids AS (
    SELECT client_order_id, max(order_id) AS order_id FROM updates GROUP BY client_order_id
), filled AS (
    SELECT client_order_id, sum(qty) AS filled_qty
    FROM events WHERE kind = 'fill' GROUP BY client_order_id
)
SELECT i.ts AS created_at, i.client_order_id, x.order_id, i.vp_id, i.symbol, i.position_side, i.side,
       i.order_type, i.role, CAST(i.qty AS {DEC}) AS qty, CAST(i.price AS {DEC}) AS price,
       CAST(i.mark_at_intent AS {DEC}) AS mark_at_intent,
       CAST(i.trigger_price AS {DEC}) AS trigger_price, i.trigger_type, i.time_in_force, i.is_algo,
       coalesce(u.status, 'PENDING') AS status, CAST(coalesce(f.filled_qty, 0) AS {DEC}) AS filled_qty,
       u.ts AS updated_at, u.reason
FROM intents i
LEFT JOIN last_update u USING (client_order_id)
LEFT JOIN exchange_ids x USING (client_order_id)
LEFT JOIN filled f USING (client_order_id)
"""

#: the last mark per symbol per UTC day (and the time of that mark); published as its own small dataset
MARKS_EOD_SELECT = ("SELECT symbol, CAST(epoch_ms(ts // 86400000 * 86400000) AS DATE) AS day, max(ts) AS ts, "
                    "arg_max(mark, ts) AS mark FROM marks")
MARKS_EOD_VIEW = f"CREATE OR REPLACE VIEW marks_eod AS {MARKS_EOD_SELECT} GROUP BY symbol, day"

VIEWS = (FILLS_VIEW, VP_HISTORY_VIEW, ORDERS_VIEW, VP_EOD_VIEW, MARKS_EOD_VIEW)

"""The DuckDB schema of the event log and its projections.

``events`` is the append-only log: the truth. Fills, the bulk of it, keep their fields in typed columns
(decimals as exact strings) with ``payload`` NULL; every other event keeps its JSON in ``payload``.
A fill row also carries the projection of the VP it was booked to, as it stood after the fill
(``booked_vp_id``, ``vp_*`` columns), so appending a fill is one INSERT statement. Other events that
change VPs write their projection rows to ``vp_changes`` in the same transaction. The ``vp_history`` view
unites both: one row per VP change with the figures after it (and the realized PnL the change booked).
``snapshots`` hold serialized ledgers to speed up a cold start; replay from zero always gives the same state.
"""

from __future__ import annotations

SCHEMA_VERSION = 2

FILL_COLUMNS = ("symbol", "trade_id", "order_id", "client_order_id", "vp_id", "side", "position_side", "qty",
                "price", "commission", "commission_asset", "exchange_rp", "maker")
PROJECTION_COLUMNS = ("booked_vp_id", "vp_name", "vp_net_qty", "vp_avg_entry", "vp_realized", "vp_realized_delta",
                      "vp_fees", "vp_funding", "vp_archived")

DDL = [
    """CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS events (
        seq BIGINT PRIMARY KEY,
        ts BIGINT NOT NULL,
        recv_ts BIGINT NOT NULL,
        kind VARCHAR NOT NULL,
        dedupe_key VARCHAR UNIQUE,
        payload VARCHAR,
        symbol VARCHAR, trade_id BIGINT, order_id BIGINT, client_order_id VARCHAR, vp_id VARCHAR,
        side VARCHAR, position_side VARCHAR, qty VARCHAR, price VARCHAR, commission VARCHAR,
        commission_asset VARCHAR, exchange_rp VARCHAR, maker BOOLEAN,
        booked_vp_id VARCHAR, vp_name VARCHAR, vp_net_qty VARCHAR, vp_avg_entry VARCHAR, vp_realized VARCHAR,
        vp_realized_delta VARCHAR, vp_fees VARCHAR, vp_funding VARCHAR, vp_archived BOOLEAN
    )""",
    """CREATE TABLE IF NOT EXISTS vp_changes (
        seq BIGINT NOT NULL,
        ts BIGINT NOT NULL,
        vp_id VARCHAR NOT NULL,
        name VARCHAR NOT NULL,
        symbol VARCHAR NOT NULL,
        position_side VARCHAR NOT NULL,
        event_kind VARCHAR NOT NULL,
        net_qty VARCHAR NOT NULL,
        avg_entry VARCHAR NOT NULL,
        realized_pnl VARCHAR NOT NULL,
        realized_delta VARCHAR NOT NULL,
        fees VARCHAR NOT NULL,
        funding VARCHAR NOT NULL,
        archived BOOLEAN NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS snapshots (seq BIGINT PRIMARY KEY, created_at BIGINT NOT NULL, payload BLOB)""",
    """CREATE TABLE IF NOT EXISTS marks (symbol VARCHAR NOT NULL, ts BIGINT NOT NULL, mark VARCHAR NOT NULL)""",
]

# Views the analytics queries see (same names live and over the published Parquet).
FILLS_VIEW = """
CREATE OR REPLACE VIEW fills AS
SELECT e.seq, e.ts, e.trade_id, e.order_id, e.client_order_id, coalesce(e.booked_vp_id, e.vp_id) AS vp_id,
       e.vp_name, e.symbol, e.side, e.position_side,
       CAST(e.qty AS DECIMAL(38, 18)) AS qty, CAST(e.price AS DECIMAL(38, 18)) AS price,
       CAST(e.commission AS DECIMAL(38, 18)) AS commission, e.commission_asset,
       CAST(e.vp_realized_delta AS DECIMAL(38, 18)) AS realized_pnl,
       CAST(e.exchange_rp AS DECIMAL(38, 18)) AS exchange_rp, e.maker
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

ORDERS_VIEW = """
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
    SELECT client_order_id, sum(CAST(qty AS DECIMAL(38, 18))) AS filled_qty
    FROM events WHERE kind = 'fill' GROUP BY client_order_id
)
SELECT i.ts AS created_at, i.client_order_id, x.order_id, i.vp_id, i.symbol, i.position_side, i.side,
       i.order_type, i.role, CAST(i.qty AS DECIMAL(38, 18)) AS qty, CAST(i.price AS DECIMAL(38, 18)) AS price,
       CAST(i.mark_at_intent AS DECIMAL(38, 18)) AS mark_at_intent,
       CAST(i.trigger_price AS DECIMAL(38, 18)) AS trigger_price, i.trigger_type, i.time_in_force, i.is_algo,
       coalesce(u.status, 'PENDING') AS status, coalesce(f.filled_qty, 0) AS filled_qty,
       u.ts AS updated_at, u.reason
FROM intents i
LEFT JOIN last_update u USING (client_order_id)
LEFT JOIN exchange_ids x USING (client_order_id)
LEFT JOIN filled f USING (client_order_id)
"""

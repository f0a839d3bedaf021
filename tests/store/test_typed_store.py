"""Schema 3: typed decimals, exact fills whatever their scale, columnar marks, migration of a version-2 file."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from hedgestack.domain.errors import StoreError
from hedgestack.domain.events import Funding
from hedgestack.domain.ledger import fold
from hedgestack.store.analytics import live
from hedgestack.store.eventlog import EventLog, fits
from hedgestack.store.schema import CHANGE_DECIMALS, FILL_DECIMALS, PROJECTION_DECIMALS, SCHEMA_VERSION
from tests.factories import VP_A, VP_B, fill, vp

D = Decimal


def _types(log: EventLog, table: str) -> dict[str, str]:
    return {name: kind for name, kind in log.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ?", [table])}


def test_decimal_columns_are_typed(tmp_path: Path) -> None:
    with EventLog(tmp_path / "x.duckdb") as log:
        events, changes = _types(log, "events"), _types(log, "vp_changes")
        quantities = {"qty", "vp_net_qty", "net_qty"}
        assert all(events[c] == ("DECIMAL(38,10)" if c in quantities else "DECIMAL(38,18)")
                   for c in (*FILL_DECIMALS, *PROJECTION_DECIMALS))
        assert all(changes[c] == ("DECIMAL(38,10)" if c in quantities else "DECIMAL(38,18)") for c in CHANGE_DECIMALS)
        assert _types(log, "marks")["mark"] == "DECIMAL(38,18)"
        assert log.get_meta("schema_version") == str(SCHEMA_VERSION)


def test_fits() -> None:
    assert fits(D("0.000000000000000001")) and fits(D("-99999999999999999999.5")) and fits(D("1.50000000000000000000"))
    assert not fits(D("0.0000000000000000001")) and not fits(D("1E+20")) and not fits(D("-1E+20"))
    assert fits(D("0.0000000001"), 10) and not fits(D("0.00000000001"), 10) and fits(D("0E-30"), 10)


def test_replay_gives_back_the_same_decimals(tmp_path: Path) -> None:
    events = [vp(VP_A), fill(VP_A, "BUY", "0.0010", "95000.10", fee="0.0475005", trade_id=1),
              fill(VP_A, "SELL", "0.001", "96000", trade_id=2)]
    path = tmp_path / "x.duckdb"
    with EventLog(path) as log:
        log.append(events)
    with EventLog(path, use_snapshots=False) as reopened:
        replayed = [e for _, e in reopened.read()]
        assert replayed == events
        assert str(replayed[1].price) == "95000.1" and str(replayed[1].commission) == "0.0475005"  # no 0E-18 tails
        assert reopened.ledger == fold(events)


def test_a_fill_beyond_18_decimals_is_kept_exactly(tmp_path: Path) -> None:
    dust = fill(VP_A, "BUY", "0.00000000001", "100", trade_id=1)  # 1e-11: no DECIMAL(38, 10) holds it
    events = [vp(VP_A), dust, fill(VP_A, "BUY", "1", "100", trade_id=2)]
    path = tmp_path / "x.duckdb"
    with EventLog(path) as log:
        log.append(events)
        assert log.execute("SELECT count(*) FROM events WHERE kind = 'fill' AND payload IS NOT NULL")[0][0] == 1
        assert live(log).fills()["qty"].to_list() == [D(0), D(1)]  # the typed column: rounded, for analytics
    with EventLog(path, use_snapshots=False) as reopened:
        assert [e for _, e in reopened.read()][1] == dust
        assert reopened.ledger == fold(events)
        assert reopened.ledger.view(VP_A).net_qty == D("1.00000000001")
    with EventLog(tmp_path / "bulk.duckdb") as bulk:
        bulk.append_bulk(events)
        assert bulk.replay(from_zero=True) == fold(events)


def test_projection_rounds_a_funding_share_beyond_18_decimals(tmp_path: Path) -> None:
    share = D("-0.0000000000000000015")  # 19 decimals: rounds half-even to -0.000000000000000002
    with EventLog(tmp_path / "x.duckdb") as log:
        log.append([vp(VP_A), fill(VP_A, "BUY", "1", "100", trade_id=1),
                    Funding(ts=5, symbol="BTCUSDT", funding_time=5, amount=share, asset="USDT", rate=None, mark=None,
                            allocations=((VP_A, share),))])
        assert log.ledger.view(VP_A).funding == share  # the ledger and the event stay exact
        assert live(log).vp_history(vp=VP_A)["funding"].to_list()[-1] == D("-0.000000000000000002")
        assert log.replay(from_zero=True) == log.ledger


def test_append_marks_is_columnar_and_typed(tmp_path: Path) -> None:
    with EventLog(tmp_path / "x.duckdb") as log:
        rows = [("BTCUSDT", 1000 + i, D("95000.1") + i) for i in range(5000)] + [("ETHUSDT", 7, D("3500.25"))]
        assert log.append_marks(rows) == 5001
        assert log.append_marks([]) == 0
        assert log.execute("SELECT count(*), sum(mark) FROM marks WHERE symbol = 'BTCUSDT'")[0] == (
            5000, sum((r[2] for r in rows[:5000]), D(0)))
        assert log.execute("SELECT mark FROM marks WHERE symbol = 'ETHUSDT'")[0][0] == D("3500.25")


def _downgrade_to_v2(path: Path) -> None:
    """Turn a version-3 file into what version 2 wrote: decimals as text, no vp_eod."""
    import duckdb

    con = duckdb.connect(str(path))
    for view in ("fills", "vp_history", "orders", "vp_eod_current"):
        con.execute(f"DROP VIEW {view}")
    con.execute("DROP TABLE vp_eod")
    for table, columns in (("events", (*FILL_DECIMALS, *PROJECTION_DECIMALS)), ("vp_changes", CHANGE_DECIMALS),
                           ("marks", ("mark",))):
        for column in columns:
            con.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET DATA TYPE VARCHAR "
                        f"USING rtrim(rtrim(CAST({column} AS VARCHAR), '0'), '.')")
    con.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    con.close()


def test_a_version_2_file_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "x.duckdb"
    events = [vp(VP_A), vp(VP_B), fill(VP_A, "BUY", "1", "100", fee="0.05", trade_id=1),
              fill(VP_A, "SELL", "0.4", "110", trade_id=2)]
    with EventLog(path) as log:
        log.append(events)
        log.append_marks([("BTCUSDT", 3, D("101.5"))])
        expected_history = live(log).vp_history()
    _downgrade_to_v2(path)
    with EventLog(path) as migrated:
        assert migrated.get_meta("schema_version") == str(SCHEMA_VERSION)
        assert _types(migrated, "events")["vp_realized"] == "DECIMAL(38,18)"
        assert migrated.ledger == fold(events)
        assert live(migrated).vp_history().equals(expected_history)
        assert migrated.execute("SELECT mark FROM marks")[0][0] == D("101.5")


def test_an_unknown_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.duckdb"
    with EventLog(path) as log:
        log.set_meta("schema_version", "1")
    with pytest.raises(StoreError) as caught:
        EventLog(path)
    assert caught.value.code == "STORE_SCHEMA"

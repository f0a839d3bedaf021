"""The simulator's identity and durable state: one SQLite file (``--persist FILE``, or the terminal's data dir).

Problem: a terminal on an old data directory must never take a restarted simulator's new fills for old ones.
So every simulator has an identity (an id drawn when its account is created) and, when it persists, keeps
its account, its ids and its funding history across restarts; trade and order ids never repeat within one
identity.

How: SQLite in WAL mode (the standard library's ``sqlite3``). Each request, market step or timer that changed
anything ends with ``commit()``: one transaction writes the changed orders, algo orders, new trades, income
rows and amendments, and the account, the id counters, the markets and the funding state. The server commits
*before* the answer goes out and before any event reaches a socket (events are sent from other tasks, after
the handler returns), so whatever a client has seen is on disk. A process killed between two commits loses
only what nobody saw; the file is never half written (SQLite's journal), and ids resume after the last
committed ones. ``reset`` wipes the account tables and keeps the identity and the counters.

A file written by the older simulator (one JSON snapshot) is migrated on first open: its account and ids are
kept, a new identity is drawn, the JSON is kept beside it as ``<name>.v1.json``.
"""

from __future__ import annotations

import logging
import os
import secrets
import sqlite3
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec

from hedgestack.venue.sim.funding import FundingRow
from hedgestack.venue.sim.state import (
    AccountState,
    Counters,
    SimAlgo,
    SimAmendment,
    SimIncome,
    SimMarket,
    SimOrder,
    SimPosition,
    SimTrade,
    Snapshot,
)

log = logging.getLogger(__name__)
SCHEMA = 1
SQLITE_MAGIC = b"SQLite format 3\x00"
_TABLES = ("orders", "algos", "trades", "income", "amendments")


@dataclass(frozen=True, slots=True)
class Identity:
    """Who this simulator is: ``GET /sim/v1/identity`` → ``{"id", "created_at"}`` (ms)."""

    id: str
    created_at: int

    @classmethod
    def draw(cls) -> Identity:
        return cls(id=secrets.token_hex(16), created_at=int(time.time() * 1000))


class AccountMeta(msgspec.Struct, kw_only=True):
    wallet: Decimal
    dual_side: bool
    positions: dict[str, SimPosition]
    leverage: dict[str, int]
    margin_type: dict[str, str]
    multi_assets: bool
    force_orders: list[int]
    countdowns: dict[str, list[int]]
    config_time: int


class FundingMeta(msgspec.Struct, kw_only=True):
    rate: Decimal
    fixed: bool
    next_time: int
    premium_sum: Decimal
    premium_count: int
    history: list[FundingRow]


@dataclass(slots=True)
class Dirty:
    orders: dict[int, SimOrder] = field(default_factory=dict)
    algos: dict[int, SimAlgo] = field(default_factory=dict)
    trades: list[SimTrade] = field(default_factory=list)
    income: list[SimIncome] = field(default_factory=list)
    amendments: list[SimAmendment] = field(default_factory=list)
    wiped: bool = False
    any: bool = False


class Store:
    """One simulator's state file (see the module text). Implements the exchange's ``Journal``."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        legacy: Snapshot | None = None
        if self.path.exists() and self.path.stat().st_size > 0:
            with self.path.open("rb") as handle:
                head = handle.read(16)
            if head != SQLITE_MAGIC:
                legacy = self._read_legacy()
        if legacy is not None:
            backup = self.path.with_name(self.path.name + ".v1.json")
            os.replace(self.path, backup)
            log.warning("simulator state %s: migrated the JSON state file (kept as %s)", self.path, backup.name)
        self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL)")
        for table in _TABLES:
            self.db.execute(f"CREATE TABLE IF NOT EXISTS {table} (id INTEGER PRIMARY KEY, body BLOB NOT NULL)")
        existing = self._meta("identity")
        if existing is None:
            self.identity = Identity.draw()
            self._put_meta_now("identity", msgspec.json.encode(self.identity))
            self._put_meta_now("schema", msgspec.json.encode(SCHEMA))
            self.fresh = True
        else:
            self.identity = msgspec.json.decode(existing, type=Identity)
            self.fresh = False
        self.legacy = legacy
        self.dirty = Dirty()

    def _read_legacy(self) -> Snapshot:
        try:
            return msgspec.json.decode(self.path.read_bytes(), type=Snapshot)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise ValueError(f"simulator state {self.path}: neither a SQLite state file nor an older JSON "
                             f"state ({exc})") from None

    def _meta(self, key: str) -> bytes | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else bytes(row[0])

    def _put_meta_now(self, key: str, value: bytes) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    # == the journal ====================================================================================
    def order(self, order: SimOrder) -> None:
        if order.order_id:
            self.dirty.orders[order.order_id] = order
            self.dirty.any = True

    def algo(self, algo: SimAlgo) -> None:
        self.dirty.algos[algo.algo_id] = algo
        self.dirty.any = True

    def trade(self, trade: SimTrade) -> None:
        self.dirty.trades.append(trade)
        self.dirty.any = True

    def income(self, row: SimIncome) -> None:
        self.dirty.income.append(row)
        self.dirty.any = True

    def amendment(self, row: SimAmendment) -> None:
        self.dirty.amendments.append(row)
        self.dirty.any = True

    def wiped(self) -> None:
        self.dirty = Dirty(wiped=True, any=True)

    def touch(self) -> None:
        self.dirty.any = True

    # == writing ========================================================================================
    def commit(self, exchange: Any) -> None:
        """Write everything changed since the last commit, and the account, ids, markets and funding."""
        dirty = self.dirty
        if not dirty.any:
            return
        self.dirty = Dirty()
        try:
            self._write(exchange, dirty)
        except sqlite3.Error:
            # keep what could not be written for the next commit
            merged = self.dirty
            dirty.orders.update(merged.orders)
            dirty.algos.update(merged.algos)
            dirty.trades += merged.trades
            dirty.income += merged.income
            dirty.amendments += merged.amendments
            dirty.wiped = dirty.wiped or merged.wiped
            self.dirty = dirty
            raise

    def _write(self, exchange: Any, dirty: Dirty) -> None:
        enc = msgspec.json.encode
        account: AccountState = exchange.account
        cur = self.db.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            if dirty.wiped:
                for table in _TABLES:
                    cur.execute(f"DELETE FROM {table}")
            cur.executemany("INSERT OR REPLACE INTO orders (id, body) VALUES (?, ?)",
                            [(o.order_id, enc(o)) for o in dirty.orders.values()])
            cur.executemany("INSERT OR REPLACE INTO algos (id, body) VALUES (?, ?)",
                            [(a.algo_id, enc(a)) for a in dirty.algos.values()])
            cur.executemany("INSERT OR REPLACE INTO trades (id, body) VALUES (?, ?)",
                            [(t.trade_id, enc(t)) for t in dirty.trades])
            cur.executemany("INSERT OR REPLACE INTO income (id, body) VALUES (?, ?)",
                            [(r.tran_id, enc(r)) for r in dirty.income])
            cur.executemany("INSERT OR REPLACE INTO amendments (id, body) VALUES (?, ?)",
                            [(a.amendment_id, enc(a)) for a in dirty.amendments])
            meta = AccountMeta(wallet=account.wallet, dual_side=account.dual_side, positions=account.positions,
                               leverage=account.leverage, margin_type=account.margin_type,
                               multi_assets=account.multi_assets, force_orders=account.force_orders,
                               countdowns=account.countdowns, config_time=account.config_time)
            funding = {s: FundingMeta(rate=f.rate, fixed=f.fixed, next_time=f.next_time,
                                      premium_sum=f.premium_sum, premium_count=f.premium_count,
                                      history=f.history) for s, f in exchange.funding.items()}
            rows = [("account", enc(meta)), ("counters", enc(exchange.counters)),
                    ("markets", enc(exchange.markets)), ("funding", enc(funding))]
            cur.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", rows)
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise

    # == reading ========================================================================================
    def load(self, exchange: Any) -> bool:
        """Restore a saved account into ``exchange``; False when the file holds none yet."""
        if self.legacy is not None:
            self._load_legacy(exchange, self.legacy)
            self.legacy = None
            self.wiped()
            self._all_dirty(exchange)
            self.commit(exchange)
            return True
        raw = self._meta("account")
        if raw is None:
            return False
        meta = msgspec.json.decode(raw, type=AccountMeta)
        counters = self._meta("counters")
        if counters is not None:
            exchange.counters = msgspec.json.decode(counters, type=Counters)
        account = AccountState(wallet=meta.wallet, dual_side=meta.dual_side, positions=meta.positions,
                               leverage=meta.leverage, margin_type=meta.margin_type, multi_assets=meta.multi_assets,
                               force_orders=meta.force_orders, countdowns=meta.countdowns,
                               config_time=meta.config_time)
        for (body,) in self.db.execute("SELECT body FROM orders ORDER BY id"):
            order = msgspec.json.decode(body, type=SimOrder)
            account.orders[order.order_id] = order
        for (body,) in self.db.execute("SELECT body FROM algos ORDER BY id"):
            algo = msgspec.json.decode(body, type=SimAlgo)
            account.algos[algo.algo_id] = algo
        account.trades = [msgspec.json.decode(b, type=SimTrade)
                          for (b,) in self.db.execute("SELECT body FROM trades ORDER BY id")]
        account.income = [msgspec.json.decode(b, type=SimIncome)
                          for (b,) in self.db.execute("SELECT body FROM income ORDER BY id")]
        account.amendments = [msgspec.json.decode(b, type=SimAmendment)
                              for (b,) in self.db.execute("SELECT body FROM amendments ORDER BY id")]
        exchange.account = account
        markets = self._meta("markets")
        if markets is not None:
            for symbol, market in msgspec.json.decode(markets, type=dict[str, SimMarket]).items():
                if symbol in exchange.markets:
                    exchange.markets[symbol] = market
        funding = self._meta("funding")
        if funding is not None:
            for symbol, f in msgspec.json.decode(funding, type=dict[str, FundingMeta]).items():
                state = exchange.funding.get(symbol)
                if state is None:
                    continue
                state.rate, state.fixed, state.premium_sum = f.rate, f.fixed, f.premium_sum
                state.premium_count, state.history = f.premium_count, list(f.history)
                state.next_time = max(state.next_time, f.next_time) if f.next_time else state.next_time
        return True

    def _load_legacy(self, exchange: Any, snap: Snapshot) -> None:
        exchange.account = snap.account
        exchange.counters = snap.counters
        for symbol, market in snap.markets.items():
            if symbol in exchange.markets:
                exchange.markets[symbol] = market

    def _all_dirty(self, exchange: Any) -> None:
        account: AccountState = exchange.account
        for order in account.orders.values():
            self.order(order)
        for algo in account.algos.values():
            self.algo(algo)
        for trade in account.trades:
            self.trade(trade)
        for row in account.income:
            self.income(row)
        for amendment in account.amendments:
            self.amendment(amendment)

    def close(self) -> None:
        try:
            self.db.close()
        except sqlite3.Error:  # pragma: no cover - closing a broken file
            log.exception("closing the simulator state %s", self.path)


__all__ = ["Identity", "Store"]

"""``hedgestack bench replay``: build an N-fill event log, then time a cold replay to full state.

The log is built once (bulk insert, not timed) in a temporary data directory (or ``--data-dir``). Then cold
opens are timed ``--repeat`` times each, in a fresh ``EventLog`` (new connection, empty memory): the default
open (latest snapshot + tail) and a replay from zero (every event read and folded); each is checked to give the
same state as the in-memory fold that built the log (``Ledger.__eq__``: every VP's figures, orders, trade ids
and dedupe keys).

``--baseline CHECKOUT`` first runs the same command of another checkout of hedgestack (``python -m
hedgestack.cli bench replay --json`` with ``PYTHONPATH=CHECKOUT``: its own code builds and replays its own log)
and prints both results with the ratios ``baseline / current``.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from hedgestack.domain.enums import PositionSide
from hedgestack.domain.events import Event, Fill, VpCreated
from hedgestack.domain.ids import vp_id_from_entropy
from hedgestack.progress import progress
from hedgestack.store.eventlog import EventLog

SYMBOLS = {"BTCUSDT": (95000, Decimal("0.1")), "ETHUSDT": (3500, Decimal("0.01"))}


def synthetic_fills(n: int, *, vps: int = 8, seed: int = 1) -> list[Event]:
    """A realistic stream: several VPs on both sides of two symbols, round trips, taker/maker fees."""
    rnd = random.Random(seed)
    books: list[tuple[str, str, PositionSide]] = []
    events: list[Event] = []
    for i in range(vps):
        symbol = "BTCUSDT" if i % 2 == 0 else "ETHUSDT"
        book_side = PositionSide.LONG if (i // 2) % 2 == 0 else PositionSide.SHORT
        vp_id = vp_id_from_entropy(rnd.getrandbits(64).to_bytes(8, "big"))
        books.append((vp_id, symbol, book_side))
        events.append(VpCreated(ts=1_764_000_000_000, vp_id=vp_id, name=f"vp{i + 1}", symbol=symbol,
                                position_side=book_side))
    held = [0] * vps  # in steps of 0.001
    prices = {s: p for s, (p, _) in SYMBOLS.items()}
    ts = 1_764_000_000_000
    step = Decimal("0.001")
    for trade_id in range(1, n + 1):
        k = rnd.randrange(vps)
        vp_id, symbol, pside = books[k]
        base, tick = SYMBOLS[symbol]
        prices[symbol] = max(base // 2, prices[symbol] + rnd.randint(-20, 20))
        opening = held[k] == 0 or rnd.random() < 0.55
        steps = rnd.randint(1, 50) if opening else rnd.randint(1, held[k])
        held[k] += steps if opening else -steps
        side = pside.opening_side if opening else pside.closing_side
        qty = step * steps
        price = Decimal(prices[symbol]) * tick * 10
        maker = rnd.random() < 0.4
        fee = (qty * price * (Decimal("0.0002") if maker else Decimal("0.0005"))).quantize(Decimal("1e-8"))
        ts += rnd.randint(1, 2000)
        events.append(Fill(ts=ts, symbol=symbol, trade_id=trade_id, order_id=trade_id, client_order_id=None,
                           vp_id=vp_id, side=side, position_side=pside, qty=qty, price=price, commission=fee,
                           commission_asset="USDT", exchange_rp=Decimal(0), maker=maker))
    return events


def run(fills: int, *, data_dir: str | None = None, repeat: int = 3, show_progress: bool | None = None,
        snapshot_every: int = 100_000, baseline: str | None = None) -> dict[str, Any]:
    """The benchmark's figures; with ``baseline`` (another checkout), {"baseline", "current", ratios}."""
    if baseline is not None:
        before = run_baseline(Path(baseline), fills, repeat)
        now = run(fills, data_dir=data_dir, repeat=repeat, show_progress=show_progress, snapshot_every=snapshot_every)
        ratios = {key: round(before[key] / now[key], 2) for key in now
                  if key.endswith("_median") and before.get(key) and now[key]}
        return {"fills": fills, "baseline": before, "current": now, "baseline_over_current": ratios,
                "open_with_snapshot_seconds_median": now["open_with_snapshot_seconds_median"],
                "replay_from_zero_seconds_median": now["replay_from_zero_seconds_median"]}
    own = data_dir is None
    root = Path(tempfile.mkdtemp(prefix="hedgestack-bench-")) if data_dir is None else Path(data_dir)
    path = root / "hedgestack.duckdb"
    try:
        with progress(show_progress) as bar:
            task = bar.add_task("building the log", total=fills)
            events = synthetic_fills(fills)
            log = EventLog(path, snapshot_every=snapshot_every)
            chunk = 100_000
            started = time.perf_counter()
            for start in range(0, len(events), chunk):
                log.append_bulk(events[start:start + chunk])
                bar.update(task, completed=min(fills, start + chunk))
            build_seconds = time.perf_counter() - started
            expected = log.ledger
            log.write_snapshot()
            log.close(snapshot=False)
            del events
            timings: dict[str, list[float]] = {"open_with_snapshot": [], "replay_from_zero": []}
            task = bar.add_task("cold replays", total=2 * repeat)
            for _ in range(repeat):
                started = time.perf_counter()
                cold = EventLog(path)
                timings["open_with_snapshot"].append(time.perf_counter() - started)
                assert cold.ledger == expected, "snapshot + tail differs from the fold"
                cold.close(snapshot=False)
                bar.advance(task)
                started = time.perf_counter()
                cold = EventLog(path, use_snapshots=False)
                timings["replay_from_zero"].append(time.perf_counter() - started)
                assert cold.ledger == expected, "replay from zero differs from the fold"
                cold.close(snapshot=False)
                bar.advance(task)
        return {"fills": fills, "events": fills + 8, "build_seconds": round(build_seconds, 3),
                "db_bytes": path.stat().st_size,
                **{f"{name}_seconds_median": round(statistics.median(values), 3) for name, values in timings.items()},
                "runs": {name: [round(v, 3) for v in values] for name, values in timings.items()},
                "identical_state": True}
    finally:
        if own:
            shutil.rmtree(root, ignore_errors=True)


def run_baseline(checkout: Path, fills: int, repeat: int) -> dict[str, Any]:
    """``bench replay --json`` of another checkout, with its own code on the path."""
    env = {**os.environ, "PYTHONPATH": str(checkout.resolve())}
    out = subprocess.run([sys.executable, "-m", "hedgestack.cli", "bench", "replay", "--fills", str(fills),
                          "--repeat", str(repeat), "--json"], cwd=checkout, env=env, check=True,
                         capture_output=True, text=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))

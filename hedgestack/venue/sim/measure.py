"""Measured figures of the simulator's market model: ``python -m hedgestack.venue.sim.measure [--json]``.

- slippage of MARKET buys of several sizes on the random market's book (BTCUSDT, ETHUSDT, SOLUSDT), averaged
  over independent book states: the average fill price against the best ask and the mid, levels walked;
- how long a resting LIMIT order that joins the best bid waits for its first and its complete fill;
- the funding rates the random model settles over simulated days;
- the cost of one market step for all bundled symbols.

Everything runs in this process on the simulator's own objects (no sockets), deterministically under a seed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from decimal import Decimal
from typing import Any

from hedgestack.venue.sim.book import ASK, BID
from hedgestack.venue.sim.config import SimConfig
from hedgestack.venue.sim.server import SimServer

SIZES = {"BTCUSDT": ("0.1", "1", "5", "20", "50"), "ETHUSDT": ("1", "10", "50", "250", "1000"),
         "SOLUSDT": ("10", "100", "500", "2000", "5000")}


def _server(seed: int, **kwargs: Any) -> SimServer:
    config = SimConfig(market="random", seed=seed, starting_balance=Decimal(100_000_000), leverage=1,
                       funding="manual", **kwargs)
    return SimServer(config)


def _steps(sim: SimServer, count: int) -> None:
    source = sim.source
    for _ in range(count):
        for spec in sim.config.symbols:
            sim.random_step(source.step(spec), sim.config.tick_interval)  # type: ignore[attr-defined]


def slippage(trials: int = 20) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for symbol, sizes in SIZES.items():
        samples: dict[str, list[tuple[float, float, int]]] = {size: [] for size in sizes}
        price = 0.0
        for trial in range(trials):
            sim = _server(seed=1000 + trial)
            _steps(sim, 8)
            ex = sim.exchange
            book = ex.books[symbol]
            price = float(ex.markets[symbol].mark)
            for size in sizes:
                saved = dict(book.deficit)
                bid, ask = book.best(BID), book.best(ASK)
                assert bid is not None and ask is not None
                best_ask = book.price(ask[0])
                mid = (book.price(bid[0]) + best_ask) / 2
                _, order = ex.place_order({"symbol": symbol, "side": "BUY", "positionSide": "LONG",
                                           "type": "MARKET", "quantity": size})
                fills = sum(1 for t in ex.account.trades if t.order_id == order.order_id)
                avg = order.avg_price
                samples[size].append((float((avg - best_ask) / best_ask * 10_000),
                                      float((avg - mid) / mid * 10_000), fills))
                book.deficit = saved  # the same book for the next size
        out[symbol] = [{"qty": size, "notional_usdt": round(float(size) * price),
                        "slippage_vs_best_ask_bp": round(statistics.median(s[0] for s in samples[size]), 3),
                        "vs_mid_bp": round(statistics.median(s[1] for s in samples[size]), 3),
                        "levels": statistics.median(s[2] for s in samples[size])} for size in sizes]
    return out


def queue_wait(trials: int = 30, max_steps: int = 4000) -> dict[str, Any]:
    """A 0.010 BTC bid joining the best bid: seconds to its first and to its complete fill."""
    first, full = [], []
    for trial in range(trials):
        sim = _server(seed=2000 + trial)
        _steps(sim, 4)
        ex = sim.exchange
        book = ex.books["BTCUSDT"]
        bid = book.best(BID)
        assert bid is not None
        _, order = ex.place_order({"symbol": "BTCUSDT", "side": "BUY", "positionSide": "LONG", "type": "LIMIT",
                                   "timeInForce": "GTC", "quantity": "0.010", "price": str(book.price(bid[0]))})
        got_first = None
        for step in range(1, max_steps + 1):
            _steps(sim, 1)
            if order.executed > 0 and got_first is None:
                got_first = step
            if order.status == "FILLED":
                first.append((got_first or step) * sim.config.tick_interval)
                full.append(step * sim.config.tick_interval)
                break
    return {"trials": trials, "filled": len(full), "median_first_fill_s": statistics.median(first) if first else None,
            "median_full_fill_s": statistics.median(full) if full else None,
            "p90_full_fill_s": sorted(full)[int(len(full) * 0.9) - 1] if full else None}


def funding_rates(hours: int = 72) -> dict[str, Any]:
    """Rates the random model would settle, one settlement per simulated 8 hours (BTCUSDT)."""
    sim = _server(seed=3000, tick_interval=5.0)  # one sample per 5 simulated seconds, as Binance samples
    state = sim.exchange.funding["BTCUSDT"]
    rates, premiums = [], []
    steps_per_interval = int(8 * 3600 / sim.config.tick_interval)
    for _ in range(hours // 8):
        for _ in range(steps_per_interval):
            step = sim.source.step(sim.config.symbols[0])  # type: ignore[attr-defined]
            sim.random_step(step, sim.config.tick_interval)
        rates.append(state.rate)
        premiums.append(state.premium_sum / max(1, state.premium_count))
        state.settle(sim.exchange.clock(), sim.exchange.markets["BTCUSDT"].mark)
    return {"settlements": len(rates), "at_interest_rate": sum(r == Decimal("0.0001") for r in rates),
            "min": str(min(rates)), "max": str(max(rates)),
            "average_premium_min": f"{min(premiums):.8f}", "average_premium_max": f"{max(premiums):.8f}"}


def step_cost(steps: int = 200) -> dict[str, Any]:
    sim = _server(seed=4000)
    start = time.perf_counter()
    _steps(sim, steps)
    elapsed = time.perf_counter() - start
    per_round = elapsed / steps
    return {"symbols": len(sim.config.symbols), "ms_per_round_of_all_symbols": round(per_round * 1000, 3),
            "cpu_share_at_4_rounds_per_s": round(per_round * 4, 4)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hedgestack.venue.sim.measure", description=__doc__)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--trials", type=int, default=20)
    args = parser.parse_args(argv)
    result = {"slippage": slippage(args.trials), "queue": queue_wait(args.trials),
              "funding": funding_rates(), "step": step_cost()}
    if args.json:
        print(json.dumps(result, indent=1))  # noqa: T201
        return 0
    for symbol, rows in result["slippage"].items():
        print(f"{symbol}: market buy -> median slippage")  # noqa: T201
        for row in rows:
            print(f"  {row['qty']:>6} ({row['notional_usdt']:>12,} USDT): {row['slippage_vs_best_ask_bp']:8.3f} bp "  # noqa: T201
                  f"vs best ask, {row['vs_mid_bp']:8.3f} bp vs mid, {row['levels']} levels")
    print("queue:", result["queue"])  # noqa: T201
    print("funding:", result["funding"])  # noqa: T201
    print("step:", result["step"])  # noqa: T201
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

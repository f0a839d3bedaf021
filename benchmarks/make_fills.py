"""Generate a synthetic fill stream for ``hedgestack bench ledger`` and ``benchmarks/nautilus_position.py``.

    python benchmarks/make_fills.py --fills 200000 --vps 1 --out /tmp/fills.parquet [--seed 1]

Columns: ts (int64 ms), vp, symbol, side (BUY|SELL), position_side (LONG|SHORT), qty, price, fee (decimal strings).
VP ``k`` (1-based) trades BTCUSDT for k in 1,2 (mod 4), ETHUSDT otherwise, LONG for odd k, SHORT for even k; with
``--vps 1`` the single VP is named ``trend`` (BTCUSDT LONG). Each symbol's price is a random walk on its tick grid;
about 60 % of fills open (BUY for LONG, SELL for SHORT) and a closing fill never exceeds the VP's held quantity
(a close drawn while flat becomes an open). fee = qty * price * 0.0005 rounded to 8 decimals.
"""

from __future__ import annotations

import argparse
import random
from decimal import ROUND_HALF_EVEN, Decimal

import polars as pl

# symbol -> (start price in ticks, decimals of the tick)
SYMBOLS = {"BTCUSDT": (950_000, 1), "ETHUSDT": (350_000, 2)}
FEE_RATE = Decimal("0.0005")
FEE_QUANTUM = Decimal("1e-8")
OPEN_SHARE = 0.6
MAX_LOTS = 100  # qty is 1..MAX_LOTS multiples of 0.001
COLUMNS = ("ts", "vp", "symbol", "side", "position_side", "qty", "price", "fee")


def vp_specs(count: int) -> list[tuple[str, str, str]]:
    if count == 1:
        return [("trend", "BTCUSDT", "LONG")]
    return [(f"vp{k}", "BTCUSDT" if (k - 1) % 4 < 2 else "ETHUSDT", "LONG" if k % 2 else "SHORT")
            for k in range(1, count + 1)]


def fixed(units: int, decimals: int) -> str:
    """Render an integer number of 10**-decimals units as a plain decimal string."""
    sign = "-" if units < 0 else ""
    whole, frac = divmod(abs(units), 10**decimals)
    return f"{sign}{whole}.{frac:0{decimals}d}" if decimals else f"{sign}{whole}"


def generate(fills: int, vps: int, seed: int, trip_length: int = 0) -> pl.DataFrame:
    """``trip_length`` > 0: each VP trades in round trips of that many fills, flat at the end of each
    (half opening, half closing, the last fill closing whatever is left); 0: a drifting position."""
    rng = random.Random(seed)
    specs = vp_specs(vps)
    held = [0] * len(specs)  # lots of 0.001
    steps = [0] * len(specs)
    ticks = {symbol: start for symbol, (start, _) in SYMBOLS.items()}
    ts = 1_735_689_600_000  # 2025-01-01T00:00:00Z in ms
    cols: dict[str, list] = {name: [] for name in COLUMNS}
    for _ in range(fills):
        ts += rng.randint(1, 500)
        index = rng.randrange(len(specs))
        name, symbol, pside = specs[index]
        start, decimals = SYMBOLS[symbol]
        ticks[symbol] = max(start // 10, ticks[symbol] + rng.randint(-20, 20))
        lots = rng.randint(1, MAX_LOTS)
        if trip_length:
            phase = steps[index] % trip_length
            steps[index] += 1
            opening = phase < trip_length // 2 or held[index] == 0
            if not opening and phase == trip_length - 1:
                lots = held[index]  # the trip ends flat
        else:
            opening = rng.random() < OPEN_SHARE or held[index] == 0
        if opening:
            held[index] += lots
        else:
            lots = min(lots, held[index])
            held[index] -= lots
        buy = opening == (pside == "LONG")
        qty, price = fixed(lots, 3), fixed(ticks[symbol], decimals)
        fee = (Decimal(qty) * Decimal(price) * FEE_RATE).quantize(FEE_QUANTUM, rounding=ROUND_HALF_EVEN)
        for key, value in (("ts", ts), ("vp", name), ("symbol", symbol), ("side", "BUY" if buy else "SELL"),
                           ("position_side", pside), ("qty", qty), ("price", price), ("fee", format(fee, "f"))):
            cols[key].append(value)
    return pl.DataFrame(cols, schema={"ts": pl.Int64, "vp": pl.String, "symbol": pl.String, "side": pl.String,
                                      "position_side": pl.String, "qty": pl.String, "price": pl.String,
                                      "fee": pl.String})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fills", type=int, default=200_000)
    parser.add_argument("--vps", type=int, default=1)
    parser.add_argument("--out", required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--trip-length", type=int, default=0,
                        help="round trips of N fills per VP, flat at the end of each (0: a drifting position)")
    args = parser.parse_args()
    if args.fills < 0 or args.vps < 1:
        parser.error("--fills must be >= 0 and --vps >= 1")
    frame = generate(args.fills, args.vps, args.seed, args.trip_length)
    frame.write_parquet(args.out)
    print(f"wrote {frame.height} fills over {args.vps} VP(s) to {args.out}")


if __name__ == "__main__":
    main()

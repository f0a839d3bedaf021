"""A terminal process that trades in a burst until it is killed (for the SIGKILL recovery test)."""

from __future__ import annotations

import sys

from hedgestack.engine.terminal import Terminal


def main(sim_url: str, data_dir: str) -> None:
    t = Terminal.sim(data_dir, sim_url=sim_url).start_sync()
    vp = t.sync.create_vp("Burst", "BTCUSDT", "LONG")
    print(vp.id, flush=True)  # noqa: T201
    n = 0
    while True:
        n += 1
        t.sync.place_order(vp.id, "BUY" if n % 3 else "SELL", "MARKET", "0.002")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

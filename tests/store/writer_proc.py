"""A writer process for the crash and cross-process tests: appends batches forever (or N), publishing."""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path

from hedgestack.domain.enums import PositionSide, Side
from hedgestack.domain.events import Fill, VpCreated
from hedgestack.store.eventlog import EventLog
from hedgestack.store.publish import Publisher

BATCH = 50


def main(data_dir: str, batches: int, publish_every: int, hold: bool = False) -> None:
    log = EventLog(Path(data_dir) / "hedgestack.duckdb", snapshot_every=1_000)
    publisher = Publisher(log, data_dir)
    if log.last_seq == 0:
        log.append([VpCreated(ts=0, vp_id="vp_aaaaaaaa", name="a", symbol="BTCUSDT",
                              position_side=PositionSide.LONG)])
    trade = log.ledger.trade_count
    n = 0
    print("ready", flush=True)
    while batches < 0 or n < batches:
        batch = []
        for _ in range(BATCH):
            trade += 1
            side = Side.BUY if trade % 3 else Side.SELL
            batch.append(Fill(ts=1_764_000_000_000 + trade, symbol="BTCUSDT", trade_id=trade, order_id=trade,
                              client_order_id=None, vp_id="vp_aaaaaaaa", side=side,
                              position_side=PositionSide.LONG, qty=Decimal("0.001"),
                              price=Decimal(95000 + trade % 100), commission=Decimal("0.01"),
                              commission_asset="USDT", exchange_rp=Decimal(0), maker=False))
        log.append(batch)
        n += 1
        if publish_every and n % publish_every == 0:
            publisher.publish()
            print(f"published {log.last_seq}", flush=True)
    if hold:  # keep the file (and its lock) until the test says so
        print("finished", flush=True)
        sys.stdin.readline()
    log.close()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), hold=sys.argv[4:] == ["hold"])

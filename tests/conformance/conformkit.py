"""How each independent client is pointed at the simulator: its base URLs and the key, nothing else."""

from __future__ import annotations

from typing import Any

from hedgestack.venue.sim import DEFAULT_API_KEY, DEFAULT_API_SECRET, SimServer

KEY, SECRET = DEFAULT_API_KEY, DEFAULT_API_SECRET
LIVE_REST = ("https://fapi.binance.com", "https://api.binance.com")
LIVE_WS = "wss://fstream.binance.com"


def point_ccxt(exchange: Any, sim: SimServer) -> Any:
    """Replace Binance's hosts in ccxt's ``urls['api']`` (REST and WebSocket) by the simulator's."""
    api = exchange.urls["api"]
    for name, url in list(api.items()):
        if isinstance(url, str):
            for live in LIVE_REST:
                url = url.replace(live, sim.url)
            api[name] = url
    ws = api.get("ws")
    if isinstance(ws, dict):
        for name, url in list(ws.items()):
            if isinstance(url, str):
                ws[name] = url.replace(LIVE_WS, sim.ws_url.rstrip("/"))
    return exchange

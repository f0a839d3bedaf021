"""The simulated Binance USDT-M Futures exchange (Hedge Mode), served on loopback with Binance's wire format.

The unchanged python-binance code path trades on it: point ``FUTURES_URL`` at ``sim.url + "/fapi"``,
``API_URL`` at ``sim.url + "/api"`` and ``BinanceSocketManager.FSTREAM_URL`` at ``sim.ws_url``; use the
API key ``hedgestack-sim`` / secret ``hedgestack-sim-secret`` unless configured otherwise. A control API
under ``/sim/v1`` moves prices, settles funding, trades "from another app" and injects faults.
"""

from hedgestack.venue.sim.config import (
    DEFAULT_API_KEY,
    DEFAULT_API_SECRET,
    DEFAULT_SYMBOLS,
    RateLimits,
    SimConfig,
    SymbolSpec,
)
from hedgestack.venue.sim.exchange import Exchange
from hedgestack.venue.sim.server import SimServer

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_API_SECRET",
    "DEFAULT_SYMBOLS",
    "Exchange",
    "RateLimits",
    "SimConfig",
    "SimServer",
    "SymbolSpec",
]

"""hedgestack: virtual positions on Binance USDT-M Futures Hedge Mode.

``hedgestack.connect(url)`` is a client of a running ``hedgestack serve`` with the same Python API as the local
``hedgestack.engine.terminal.Terminal``; ``hedgestack.analytics.open(data_dir)`` reads a terminal's published
fill history from any process.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hedgestack.client.remote import RemoteTerminal


def connect(url: str, token: str | None = None, **options: Any) -> RemoteTerminal:
    """A client of the ``hedgestack serve`` at ``url`` with the local terminal's Python API: see
    :func:`hedgestack.client.remote.connect` (``confirm_live``, ``timeout``). Imported on first use, so that
    ``import hedgestack`` stays light."""
    from hedgestack.client.remote import connect as _connect

    return _connect(url, token, **options)


__all__ = ["connect"]

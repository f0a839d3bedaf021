"""A process-wide home for the Terminal, shared by a notebook and the API plugin.

``panel serve notebooks/terminal.ipynb --plugins hedgestack.api.plugin`` imports the plugin once at server
start, before any notebook session runs; the notebook runs per browser session. Both go through here, so
they share one Terminal (one owner of the DuckDB file):

- the notebook calls ``terminal()`` (get or build from the environment and start), or ``register(t)`` for a
  Terminal it built itself (before the first API request);
- the API resolves the terminal on its first request with ``get_or_start()``: the registered one, else one
  built by ``Terminal.from_env()`` and started (then registered, so the notebook gets the same one).
"""

from __future__ import annotations

import asyncio
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hedgestack.engine.terminal import Terminal

_lock = threading.Lock()
_terminal: Terminal | None = None


def register(terminal: Terminal) -> Terminal:
    """Make ``terminal`` the process's terminal (refused if another one is registered)."""
    global _terminal
    with _lock:
        if _terminal is not None and _terminal is not terminal:
            raise RuntimeError("another Terminal is already registered in this process; use registry.current()")
        _terminal = terminal
    return terminal


def current() -> Terminal | None:
    return _terminal


def clear() -> None:
    """Forget the registered terminal (it is not stopped)."""
    global _terminal
    with _lock:
        _terminal = None


def terminal(start: bool = True) -> Terminal:
    """The registered terminal, or a new one from the environment (``Terminal.from_env()``), started."""
    global _terminal
    with _lock:
        if _terminal is None:
            from hedgestack.engine.terminal import Terminal

            t = Terminal.from_env()
            if start:
                t.start_sync()
            _terminal = t
        return _terminal


async def get_or_start() -> Terminal:
    """For the API: like :func:`terminal` but without blocking the server's loop."""
    existing = _terminal
    if existing is not None:
        return existing
    return await asyncio.get_running_loop().run_in_executor(None, terminal)

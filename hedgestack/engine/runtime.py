"""The terminal's runtime: its own asyncio loop in a daemon thread, its clock, and its supervised tasks.

The same Terminal object works inside a Jupyter kernel (whose loop is busy running cells), inside a web server and
in plain scripts: every part of the engine runs on this one loop, and callers on any other loop or thread reach it
through :meth:`Runtime.call` (await from any loop), :meth:`Runtime.submit` (a concurrent Future) or
:meth:`Runtime.run_sync` (block; never from the loop itself).

Tasks are started with :meth:`Runtime.spawn`: one that ends with an error is logged at once (not when it is
garbage-collected), and :meth:`Runtime.close` cancels every task still on the loop, waits for it, shuts down the
loop's async generators and closes the loop — no "Task was destroyed but it is pending!", no "Event loop is
closed".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine
    from concurrent.futures import Future

log = logging.getLogger("hedgestack.engine")
T = TypeVar("T")

#: how long close() waits for cancelled tasks to finish (seconds)
SHUTDOWN_WAIT = 3.0
#: the nice value of background threads (publication), above the engine's: a trade never waits for them for a core
BACKGROUND_NICE = 10


def lower_priority(nice: int = BACKGROUND_NICE) -> None:
    """Give the calling thread (and the threads it starts) a lower CPU priority: on Linux the nice value is per
    thread. For background work that must not take a core from the order path on a small machine. Elsewhere (or
    when not allowed) nothing changes."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), max(nice, os.getpriority(os.PRIO_PROCESS, 0)))
    except (AttributeError, OSError):  # no per-thread priority here
        log.debug("background threads keep the process's priority")


def wall_ms() -> int:
    """Unix time in ms: the engine's one clock (injectable for tests)."""
    return time.time_ns() // 1_000_000


class Runtime:
    """A loop thread, a clock and the tasks of one terminal."""

    def __init__(self, clock: Callable[[], int] = wall_ms, name: str = "hedgestack-terminal") -> None:
        self.now_ms = clock
        self.name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._lock = threading.Lock()

    # -- the loop ---------------------------------------------------------------------------------
    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The loop, started on first use."""
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                ready = threading.Event()

                def run() -> None:
                    asyncio.set_event_loop(loop)
                    ready.set()
                    loop.run_forever()

                self._thread = threading.Thread(target=run, name=self.name, daemon=True)
                self._thread.start()
                ready.wait()
                self._loop = loop
            return self._loop

    @property
    def running(self) -> bool:
        return self._loop is not None

    def on_loop(self) -> bool:
        """True when called from the terminal's own loop."""
        try:
            return asyncio.get_running_loop() is self._loop
        except RuntimeError:
            return False

    def submit(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        """Schedule a coroutine on the terminal's loop from any thread."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run_sync(self, coro: Coroutine[Any, Any, T], timeout: float | None = 60.0) -> T:
        """Run a coroutine on the terminal's loop and block for its result (not from the terminal's loop)."""
        if self.on_loop():
            coro.close()
            raise RuntimeError("a blocking call on the terminal's own loop: await the coroutine instead")
        return self.submit(coro).result(timeout)

    async def call(self, fn: Callable[..., Coroutine[Any, Any, T]], *args: Any, **kwargs: Any) -> T:
        """Run ``fn(*args, **kwargs)`` on the terminal's loop, awaited from whatever loop the caller is on."""
        if self.on_loop():
            return await fn(*args, **kwargs)
        return await asyncio.wrap_future(self.submit(fn(*args, **kwargs)))

    # -- tasks ------------------------------------------------------------------------------------
    def spawn(self, name: str, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Start a supervised task on the loop (call on the loop): an error that ends it is logged at once."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("task %s ended with %s: %s", task.get_name(), type(exc).__name__, exc, exc_info=exc)

    async def cancel_tasks(self, wait: float = SHUTDOWN_WAIT) -> None:
        """Cancel every supervised task and wait (up to ``wait`` s) for them to end (on the loop)."""
        pending = set(self._tasks)
        deadline = time.monotonic() + wait
        while pending and time.monotonic() < deadline:
            # cancel again each round: asyncio.wait_for (python-binance's recv) can swallow a cancellation that
            # races with a message arriving
            for task in pending:
                task.cancel()
            _, pending = await asyncio.wait(pending, timeout=0.25)
        if pending:
            log.warning("tasks still stopping after %.1f s: %s", wait, sorted(t.get_name() for t in pending))

    def close(self) -> None:
        """Cancel whatever still runs on the loop, stop it, join its thread and close it (not from the loop)."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None:
            return
        if thread is threading.current_thread():
            raise RuntimeError("Runtime.close() from the terminal's own thread")

        async def drain() -> None:
            current = asyncio.current_task()
            others = [t for t in asyncio.all_tasks() if t is not current]
            for task in others:
                task.cancel()
            if others:
                await asyncio.wait(others, timeout=SHUTDOWN_WAIT)
            await asyncio.get_running_loop().shutdown_asyncgens()

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(drain(), loop).result(SHUTDOWN_WAIT + 2)
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(timeout=10)
        if not loop.is_running():
            loop.close()


__all__ = ["BACKGROUND_NICE", "lower_priority", "Runtime", "wall_ms"]

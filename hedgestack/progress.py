"""A rich progress bar on long work when run in a terminal; silent otherwise.

One helper for every long command (demo-data, soak, bench, export, rebuild, the simulator's replay loading, a
terminal's first publication). It shows only when stderr is a terminal, and never in CI (``CI`` set) or when
the caller asks for machine output (``enabled=False``, e.g. under ``--json``). A leaf module: it imports
nothing of hedgestack, so every layer may use it.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

if TYPE_CHECKING:
    from collections.abc import Iterator


class _Silent:
    def add_task(self, *args: Any, **kwargs: Any) -> int:
        return 0

    def update(self, *args: Any, **kwargs: Any) -> None:
        pass

    def advance(self, *args: Any, **kwargs: Any) -> None:
        pass


def wanted(enabled: bool | None = None) -> bool:
    """Whether a bar is shown: ``enabled`` when given, else only on a terminal and outside CI."""
    if enabled is not None:
        return enabled
    return sys.stderr.isatty() and not os.environ.get("CI")


@contextmanager
def progress(enabled: bool | None = None) -> Iterator[Any]:
    """Yield a rich Progress (see :func:`wanted`) or a silent stand-in with the same methods."""
    if not wanted(enabled):
        yield _Silent()
        return
    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   transient=True)
    with bar:
        yield bar

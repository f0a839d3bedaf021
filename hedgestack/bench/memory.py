"""This process's memory, as Linux reports it."""

from __future__ import annotations

from pathlib import Path


def rss_mb(pid: int | str = "self") -> dict[str, float]:
    """Resident memory now (``rss_mb``, VmRSS) and at its peak (``peak_rss_mb``, VmHWM), in MB."""
    figures: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            figures["rss_mb" if key == "VmRSS" else "peak_rss_mb"] = round(int(value.split()[0]) / 1024, 1)
    return figures

"""Fill-history analytics from any process: ``hedgestack.analytics.open(data_dir)``."""

from __future__ import annotations

from hedgestack.store.analytics import Analytics, open_published

open = open_published  # noqa: A001 - the documented name

__all__ = ["Analytics", "open"]

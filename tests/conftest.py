"""Suite-wide pytest configuration."""

from __future__ import annotations

import pytest


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Make "no tests collected" (exit 5) a failure: a run that tests nothing must not pass."""
    if session.testscollected == 0 and exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Browser tests last: playwright's sync API keeps an event loop running in the main thread for the rest
    of the session, which pytest-asyncio's tests cannot run beside."""
    items.sort(key=lambda item: item.get_closest_marker("ui") is not None)

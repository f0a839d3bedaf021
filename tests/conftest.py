"""Suite-wide pytest configuration."""

from __future__ import annotations

import traceback

import pytest
from hypothesis import HealthCheck, settings

# ``pytest --hypothesis-profile=long``: many more examples everywhere (the stateful attack on the Terminal runs
# 200 sequences of 40 steps instead of CI's 8 of 12)
settings.register_profile("long", max_examples=200, stateful_step_count=40, deadline=None,
                          suppress_health_check=list(HealthCheck))

# CPython 3.11.7's AST converter is not thread-safe ("SystemError: AST constructor recursion depth mismatch"),
# and 3.11's traceback module ast-parses each source line for its ^^^ markers: a terminal thread logging an
# exception while pytest's main thread rewrites or formats a module breaks one of them. The markers are
# cosmetic; without them no thread but pytest's own ever parses.
if hasattr(traceback, "_extract_caret_anchors_from_line_segment"):
    traceback._extract_caret_anchors_from_line_segment = lambda segment: None  # type: ignore[attr-defined]

# Imported now, in the main thread before any terminal thread runs: schemathesis's plugin imports these in
# its sessionfinish hook, where pytest's assertion rewriter would ast.parse them while terminal threads may
# still be formatting tracebacks (Python 3.11's traceback module ast-parses source lines for its ^^^ markers), and
# CPython 3.11.7's AST converter is not thread-safe ("SystemError: AST constructor recursion depth mismatch").
import schemathesis.reporting.html.writer  # noqa: E402, F401
import schemathesis.reporting.junitxml  # noqa: E402, F401

try:
    import schemathesis.reporting.allure  # noqa: F401
except ImportError:  # allure is optional there
    pass


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Make "no tests collected" (exit 5) a failure: a run that tests nothing must not pass."""
    if session.testscollected == 0 and exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Browser tests last: playwright's sync API keeps an event loop running in the main thread for the rest
    of the session, which pytest-asyncio's tests cannot run beside."""
    items.sort(key=lambda item: item.get_closest_marker("ui") is not None)

"""The simulator's index of open orders against a scan of every order."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from hedgestack.venue.sim.state import OpenIndex


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(("add", "close", "read", "replace")), st.integers(0, 30)), max_size=80))
def test_the_index_reads_what_a_scan_reads(plan: list[tuple[str, int]]) -> None:
    """Entries added, closed (never reopened), read in between, the whole dict replaced (a reset)."""
    source: dict[int, list[bool]] = {}
    next_id = iter(range(1, 10**6))  # ids are never reused, as order ids
    index: OpenIndex[int, list[bool]] = OpenIndex(lambda entry: entry[0])
    for action, number in plan:
        if action == "add":
            source[next(next_id)] = [bool(number % 5)]
        elif action == "close" and source:
            list(source.values())[number % len(source)][0] = False
        elif action == "replace":
            source = {key: value for key, value in source.items() if number % 2 or value[0]}
        assert [id(v) for v in index.read(source)] == [id(v) for v in source.values() if v[0]]

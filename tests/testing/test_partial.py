"""Partial orders: a set in the expected sequence means "these next, in any order"."""

from __future__ import annotations

import pytest

from flowtrace.instrument import Bus
from flowtrace.testing import Capture, Expected, assert_order, match_order

from ._samples import emit_diamond_run

RUN = ["a started", "c started", "b started", "d started"]


def test_a_set_matches_its_lines_in_either_order() -> None:
    expected: Expected = ["a started", {"b started", "c started"}, "d started"]
    assert match_order(RUN, expected) is None
    assert match_order(["a started", "b started", "c started", "d started"], expected) is None


def test_plain_lines_must_come_exactly_in_order() -> None:
    mismatch = match_order(RUN, ["a started", "b started", "c started", "d started"])
    assert mismatch is not None
    assert (mismatch.position, mismatch.step) == (1, 1)
    assert mismatch.reason == "expected 'b started'"


def test_a_line_outside_its_set_is_a_mismatch() -> None:
    mismatch = match_order(RUN, [{"a started", "b started"}, "c started", "d started"])
    assert mismatch is not None
    assert mismatch.position == 0
    assert "'c started' came before all of any order of {'a started', 'b started'}" in (
        mismatch.reason
    )


def test_each_line_of_a_set_is_needed_exactly_once() -> None:
    assert match_order(["x", "x"], [{"x", "y"}]) is not None


def test_missing_and_surplus_lines_are_mismatches() -> None:
    short = match_order(["a", "b"], ["a", "b", {"c", "d"}])
    assert short is not None and short.reason == "the run ended before 'c', 'd'"
    long = match_order(["a", "b", "c"], ["a", "b"])
    assert long is not None
    assert long.reason == "1 more line(s) than expected, starting with 'c'"


def test_an_expected_line_matches_a_line_that_goes_on_with_what_its_event_implies() -> None:
    actual = ["a started (0,); now executing", "a emitted (0,): 'x; y'", "b started (0,)"]
    expected: Expected = ["a started (0,)", "a emitted (0,): 'x; y'", "b started (0,)"]
    assert match_order(actual, expected) is None
    assert match_order(actual, [actual[0], {actual[2], actual[1]}]) is None
    assert match_order(actual, ["a started (0,)", "b started (0,)"], only_listed=True) is None
    # Only up to a "; ": a line is never matched by any other start of it.
    for wrong in ("a started", "a started (0,);", "b started"):
        assert match_order(actual, [wrong], only_listed=True) is not None
    mismatch = match_order(actual, ["b started (0,)", "a started (0,)"], only_listed=True)
    assert mismatch is not None and mismatch.reason == "expected 'b started (0,)'"


def test_only_listed_ignores_lines_the_expectation_does_not_mention() -> None:
    cap = Capture()
    emit_diamond_run(Bus("run-1", [cap]))
    lines = cap.lines("scheduling")
    expected: Expected = ["a started (0,)", {"b started (0,)", "c started (0,)"}, "d started (0,)"]
    assert_order(lines, expected, only_listed=True)
    with pytest.raises(AssertionError):
        assert_order(lines, expected)
    with pytest.raises(AssertionError):
        assert_order(lines, ["d started (0,)", "a started (0,)"], only_listed=True)


def test_the_failure_message_shows_the_step_and_marks_the_actual_lines() -> None:
    with pytest.raises(AssertionError) as info:
        assert_order(RUN, ["a started", {"b started", "d started"}, "c started"])
    assert str(info.value) == (
        "execution order differs at line 1: 'c started' came before all of any order "
        "of {'b started', 'd started'} had happened\n"
        "  expected: any order of {'b started', 'd started'}\n"
        "  got:      ['c started', 'b started']\n"
        "actual order:\n"
        "       0  a started\n"
        "  >    1  c started\n"
        "  >    2  b started\n"
        "       3  d started"
    )


def test_long_runs_are_cut_to_the_lines_around_the_failure() -> None:
    lines = [f"line {i}" for i in range(20)]
    expected: list[str | set[str]] = [*lines[:10], "other", *lines[11:]]
    message = str(match_order(lines, expected))
    assert "line 0\n" not in message and "line 19" not in message
    assert "  >   10  line 10" in message
    assert message.count("…") == 2


@pytest.mark.parametrize("bad", [[3], [["a", "b"]], [set()]])
def test_malformed_expectations_are_refused(bad: list[object]) -> None:
    with pytest.raises((TypeError, ValueError)):
        match_order(["a"], bad)  # type: ignore[arg-type]

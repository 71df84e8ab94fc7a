"""A failed ``flowtrace_snapshot`` assertion starts with the first divergence: the
event where the received order departs from the snapshot, both versions, the nodes."""

from __future__ import annotations

import pytest

from flowtrace.diff.text import divergence_summary, first_divergence

pytest_plugins = ["pytester"]

USER_TEST = """
import os
from flowtrace import FlowHDL, node

@node
async def Source() -> int:
    return 1

@node
async def Scale(x: int) -> int:
    return x * int(os.environ.get("FACTOR", "2"))

@node
async def Sink(x: int) -> int:
    return x

def test_order(flowtrace_capture, flowtrace_snapshot):
    with FlowHDL() as f:
        f.source = Source()
        f.scale = Scale(f.source)
        f.sink = Sink(f.scale)
    f.run_until_complete()
    assert flowtrace_capture.order() == flowtrace_snapshot
"""


def test_the_failure_message_starts_with_the_first_divergent_line_and_its_nodes(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeini("[pytest]\ntestpaths = tests\n")
    pytester.mkdir("tests")
    (pytester.path / "tests" / "test_user.py").write_text(USER_TEST)
    args = ("-p", "no:hypothesispytest", "-p", "no:cacheprovider")
    pytester.runpytest(*args, "--snapshot-update").assert_outcomes(passed=1)
    monkeypatch.setenv("FACTOR", "3")
    result = pytester.runpytest(*args)
    result.assert_outcomes(failed=1)
    out = result.stdout.lines
    head = next(i for i, line in enumerate(out) if "first divergence at event" in line)
    assert "nodes: scale at (0,)" in out[head]
    assert out[head + 1].endswith("-   14  scale emitted (0,): 2")
    assert out[head + 2].endswith("+   14  scale emitted (0,): 3")
    syrupy_diff = next(i for i, line in enumerate(out) if "13  scale inputs (0,)" in line)
    assert head < syrupy_diff  # before syrupy's own diff


def test_numbers_do_not_count_an_inserted_line_is_found_as_one() -> None:
    expected = "   0  flow started: [a, b]\n   1  a started (0,)\n   2  b started (0,)\n"
    actual = (
        "   0  flow started: [a, b]\n   1  a started (0,)\n   2  a emitted (0,): 1\n"
        "   3  b started (0,)\n"
    )
    d = first_divergence(expected, actual)
    assert d is not None
    assert (d.expected, d.actual, d.nodes, d.generations) == (
        (),
        ("a emitted (0,): 1",),
        ("a",),
        ("(0,)",),
    )
    assert (d.expected_line, d.actual_line) == (3, 3)
    assert first_divergence(actual, actual) is None
    assert divergence_summary(expected, expected) == []


def test_the_nodes_are_those_the_flow_start_declares() -> None:
    expected = "flow started: [a, b]; a: mono A() -> 1 output; b: mono B(x <- a.0) -> 1 output\n"
    actual = expected + "b emitted (0,): 2\n"
    d = first_divergence(expected, actual)
    assert d is not None and d.nodes == ("b",)
    # A rewired node: the parts of the line that changed say which nodes are involved.
    rewired = expected.replace("B(x <- a.0)", "B(x <- c.0)").replace("[a, b]", "[a, b, c]")
    rewired = rewired.replace("1 output\n", "1 output; c: mono C() -> 1 output\n", 1)
    wired = expected.replace("[a, b]", "[a, b, c]").replace(
        "B(x <- a.0) -> 1 output", "B(x <- a.0) -> 1 output; c: mono C() -> 1 output"
    )
    d = first_divergence(wired, rewired)
    assert d is not None and d.nodes == ("b", "a", "c")


def test_node_ids_are_matched_whole() -> None:
    expected = "flow started: [a, ab, a#1]\nab started (0,)\n"
    actual = "flow started: [a, ab, a#1]\na#1 started (0,)\n"
    d = first_divergence(expected, actual)
    assert d is not None and d.nodes == ("ab", "a#1")

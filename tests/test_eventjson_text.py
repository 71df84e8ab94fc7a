"""The msgspec encoder writes the text the plain ``json`` module writes (UTF-8, compact,
kind first, fields in order) for every shape of value, and it reads back equal."""

from __future__ import annotations

import json
import math
from typing import Any

import msgspec
import pytest

from flowtrace.eventjson import DECODER, decode_event, decode_line, encode_event, encode_lines
from flowtrace.events import (
    DataEmitted,
    Event,
    GenerationLimitReached,
    InputRead,
    InputsGathered,
    NodeStarted,
    SolutionFound,
    StreamCancelled,
    TaskFinished,
)

VALUES: list[Any] = [
    0,
    -7,
    2**70,
    True,
    False,
    None,
    1.5,
    -0.0,
    0.1 + 0.2,
    "",
    "plain",
    'héllo\n"q" \t\x00\x1f\x7f \u2028 \U0001f600 \\ /',
    [1, "a", None],
    {"k": [1, {"z": 2.5}]},
    {"$repr": "<X>", "$type": "m.X", "$truncated": False},
]
GENERATIONS: list[Any] = [None, (0,), (3, 1), (1, 2, 3), (2**40,), (0, 0, 0, 0, 7)]


def reference_line(event: Event) -> str:
    """The line as the plain ``json`` module writes it: kind first, fields in order,
    text as UTF-8."""
    obj = msgspec.to_builtins(event)
    assert next(iter(obj)) == "kind"
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def events() -> list[Event]:
    out: list[Event] = []
    for i, gen in enumerate(GENERATIONS):
        out.append(NodeStarted(i, 10**12 + i, "run-1", f"n{i}", gen, 0))
        out.append(GenerationLimitReached(i, 1, "run-1", "n", gen, gen))
    for i, value in enumerate(VALUES):
        out.append(DataEmitted(i, 2, "run-1", "n", (i,), 0, (value,), i % 3, False))
        out.append(DataEmitted(i, 2, "run-1", "n", (i,), 1, (value, 3, value), 0, True))
        out.append(TaskFinished(i, 2, "run-1", 1, "returned", value, None))
        read = InputRead(i, "p", 0, (i, 1), value, False, False)
        out.append(InputsGathered(i, 3, "run-1", "c", (i,), (read, read), ()))
    out.append(DataEmitted(0, 2, "run-1", "n", (0,), 0, (), 0, False))
    out.append(InputsGathered(0, 3, "run-1", "c", None, (), (0, 2)))
    out.append(SolutionFound(0, 1, "run-1", "h", (), (), ()))
    out.append(SolutionFound(0, 1, "run-1", "h", ("h",), (("a", "b"),), ()))
    out.append(SolutionFound(0, 1, "run-1", "h", ("a", "b\u00e9", "c"), (), ()))
    out.append(StreamCancelled(0, 1, "run-1", "p", (2, 0), ("x", "y"), True))
    return out


@pytest.mark.parametrize("event", events(), ids=lambda e: f"{type(e).__name__}-{e.seq}")
def test_the_encoder_writes_what_the_json_module_writes(event: Event) -> None:
    assert encode_event(event) == reference_line(event)


@pytest.mark.parametrize("event", events(), ids=lambda e: f"{type(e).__name__}-{e.seq}")
def test_what_is_written_reads_back_equal(event: Event) -> None:
    line = encode_event(event)
    assert decode_event(json.loads(line)) == event
    assert DECODER.decode(line.encode()) == event


def test_a_batch_is_the_lines_one_by_one() -> None:
    batch = events()
    data = encode_lines(batch)
    assert data == b"".join(encode_event(e).encode() + b"\n" for e in batch)
    assert DECODER.decode_lines(data) == batch


def test_a_batch_with_a_lone_surrogate_falls_back_for_that_event_only() -> None:
    batch = events()[:3]
    odd = NodeStarted(9, 1, "run-1", "bad-\ud800", None, 0)
    data = encode_lines([*batch, odd, *batch])
    lines = data.splitlines()
    assert lines[3].isascii() and b"\\ud800" in lines[3]
    assert [decode_line(line) for line in lines] == [*batch, odd, *batch]


def test_spelling_of_floats_and_non_finite_floats() -> None:
    """Documented in docs/trace-format.md: exponents without ``+``/leading zeros, and
    NaN/infinity as ``null`` (the codec never puts one in an event)."""
    cases = {1e308: "1e308", 1e-7: "1e-7", 1e16: "1e16", math.inf: "null", math.nan: "null"}
    for value, text in cases.items():
        line = encode_event(TaskFinished(0, 1, "r", 1, "returned", value, None))
        assert f'"result":{text},' in line
        if text != "null":
            assert decode_line(line) == TaskFinished(0, 1, "r", 1, "returned", value, None)

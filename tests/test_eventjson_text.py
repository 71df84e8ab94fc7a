"""The compiled encoders' shortcuts (memoised generations and node ids, inline scalars)
write exactly the text the general JSON encoder writes, for every shape of value."""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

import pytest

from flowtrace.eventjson import decode_event, encode_event
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
    math.inf,
    -math.inf,
    "",
    "plain",
    'héllo\n"q" \udc80',
    [1, "a", None],
    {"k": [1, {"z": 2.5}]},
    {"$repr": "<X>", "$type": "m.X", "$truncated": False},
]
GENERATIONS: list[Any] = [None, (0,), (3, 1), (1, 2, 3), (2**40,), (0, 0, 0, 0, 7)]


def reference_line(event: Event) -> str:
    """The line as the plain ``json`` module writes it: kind first, fields in order."""

    def plain(value: Any) -> Any:
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, tuple):
            return [plain(v) for v in value]
        return value

    obj = {"kind": type(event).__name__, **plain(event)}
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=True)


def events() -> list[Event]:
    out: list[Event] = []
    for i, gen in enumerate(GENERATIONS):
        out.append(NodeStarted(i, 10**12 + i, "run-1", f"n{i}", gen, 0))
        out.append(GenerationLimitReached(i, 1, "run-1", "n", gen, gen))
    for i, value in enumerate(VALUES):
        out.append(DataEmitted(i, 2, "run-1", "n", (i,), 0, (value,)))
        out.append(DataEmitted(i, 2, "run-1", "n", (i,), 1, (value, 3, value)))
        out.append(TaskFinished(i, 2, "run-1", 1, "returned", value, None))
        read = InputRead(i, "p", 0, (i, 1), value, False, False)
        out.append(InputsGathered(i, 3, "run-1", "c", (i,), (read, read), ()))
    out.append(DataEmitted(0, 2, "run-1", "n", (0,), 0, ()))
    out.append(InputsGathered(0, 3, "run-1", "c", None, (), (0, 2)))
    out.append(SolutionFound(0, 1, "run-1", "h", (), (), ()))
    out.append(SolutionFound(0, 1, "run-1", "h", ("h",), (("a", "b"),), ()))
    out.append(SolutionFound(0, 1, "run-1", "h", ("a", "b\u00e9", "c"), (), ()))
    out.append(StreamCancelled(0, 1, "run-1", "p", (2, 0), ("x", "y"), True))
    return out


@pytest.mark.parametrize("event", events(), ids=lambda e: f"{type(e).__name__}-{e.seq}")
def test_the_compiled_encoder_writes_what_the_json_module_writes(event: Event) -> None:
    assert encode_event(event) == reference_line(event)


@pytest.mark.parametrize("event", events(), ids=lambda e: f"{type(e).__name__}-{e.seq}")
def test_what_is_written_reads_back_equal(event: Event) -> None:
    assert decode_event(json.loads(encode_event(event))) == event


def test_the_memoised_texts_do_not_grow_without_bound() -> None:
    from flowtrace import eventjson

    for i in range(10_000):
        encode_event(NodeStarted(i, 1, f"run-{i}", f"node-{i}", (i, i), 0))
    assert len(eventjson._INT_TUPLES) <= 8192
    assert len(eventjson._QUOTED) <= 8192
    assert encode_event(NodeStarted(0, 1, "r", "n", None, 0)).endswith(
        '"generation":null,"run_level":0}'
    )

"""Instruments that take events as parts (``on_event_fields``): the recorder's fast path.

When every listener of a kind takes parts, the bus builds no event object; when a kind
also has object listeners, everyone still hears every event once, in registration order.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from flowtrace import FlowHDL, node
from flowtrace.eventjson import decode_event, encode_event
from flowtrace.events import EVENT_TYPES, Event, NodeStarted, NodeStatusChanged
from flowtrace.instrument import Bus, FieldsInstrument
from flowtrace.record import Recorder

Parts = tuple[int, int, int, str, tuple[Any, ...]]


class Taker:
    def __init__(self, name: str = "taker", log: list[tuple[str, object]] | None = None) -> None:
        self.name = name
        self.log = log if log is not None else []
        self.parts: list[Parts] = []

    def on_event(self, event: Event) -> None:  # required, but the bus prefers parts
        raise AssertionError("the bus should hand a field taker parts, not objects")

    def on_event_fields(
        self, kind: int, seq: int, t_ns: int, run_id: str, fields: tuple[Any, ...]
    ) -> None:
        self.parts.append((kind, seq, t_ns, run_id, fields))
        self.log.append((self.name, seq))


class Listener:
    def __init__(self, name: str, log: list[tuple[str, object]]) -> None:
        self.name = name
        self.log = log

    def on_event(self, event: Event) -> None:
        self.log.append((self.name, event.seq))


def test_a_field_taker_is_an_instrument_of_the_fields_kind() -> None:
    assert isinstance(Taker(), FieldsInstrument)


def test_with_only_field_takers_no_object_is_built_and_the_parts_rebuild_the_event() -> None:
    taker = Taker()
    bus = Bus("r", [taker])
    assert bus.emit(NodeStatusChanged, "n", "waiting", "queued", None, None) is None
    [(kind, seq, t_ns, run_id, fields)] = taker.parts
    assert EVENT_TYPES[kind] is NodeStatusChanged
    rebuilt = EVENT_TYPES[kind](seq, t_ns, run_id, *fields)
    assert rebuilt == NodeStatusChanged(0, t_ns, "r", "n", "waiting", "queued", None, None)


def test_mixed_listeners_hear_each_event_once_in_registration_order() -> None:
    log: list[tuple[str, object]] = []
    first, last = Taker("first", log), Taker("last", log)
    bus = Bus("r", [first, Listener("middle", log), last])
    event = bus.emit(NodeStarted, "n", (0,), 0)
    assert event is not None
    assert log == [("first", 0), ("middle", 0), ("last", 0)]
    assert first.parts == last.parts == [(NodeStarted.kind, 0, event.t_ns, "r", ("n", (0,), 0))]


def test_a_user_subclass_of_an_event_reaches_a_taker_as_its_vocabulary_parts() -> None:
    @dataclass(frozen=True, slots=True)
    class Tagged(NodeStarted):
        tag: str = "x"

    taker = Taker()
    emitted = Bus("r", [taker]).emit(Tagged, "n", (0,), 0, "u")
    assert isinstance(emitted, Tagged)
    assert taker.parts == [(NodeStarted.kind, 0, emitted.t_ns, "r", ("n", (0,), 0))]


def test_a_wrong_field_count_still_raises_the_classes_own_error_with_takers_only() -> None:
    with pytest.raises(TypeError, match="run_level"):
        Bus("r", [Taker()]).emit(NodeStarted, "n", (0,))


def test_a_raising_taker_is_detached_and_the_others_still_hear(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken(Taker):
        def on_event_fields(self, *parts: Any) -> None:
            raise RuntimeError("taker bug")

    broken, good = Broken(), Taker()
    bus = Bus("r", [broken, good], strict=False)
    with caplog.at_level(logging.ERROR, logger="flowtrace.instrument"):
        bus.emit(NodeStarted, "n", (0,), 0)
        bus.emit(NodeStarted, "n", (1,), 0)
    assert [p[1] for p in good.parts] == [0, 1]
    assert broken not in bus.instruments
    assert sum("taker bug" in r.exc_text for r in caplog.records if r.exc_text) == 1
    with pytest.raises(RuntimeError, match="taker bug"):
        Bus("r", [Broken()], strict=True).emit(NodeStarted, "n", (0,), 0)


def test_a_taker_behind_an_object_listener_that_raises_is_detached_by_its_adapter() -> None:
    class Broken(Taker):
        def on_event_fields(self, *parts: Any) -> None:
            raise RuntimeError("taker bug")

    log: list[tuple[str, object]] = []
    broken = Broken()
    bus = Bus("r", [Listener("objects", log), broken], strict=False)
    bus.emit(NodeStarted, "n", (0,), 0)
    assert broken not in bus.instruments and len(bus.instruments) == 1


@node
async def Double(x: int) -> int:
    return x * 2


def _run_chain(instruments: list[Any]) -> None:
    with FlowHDL() as f:
        f.a = Double(1)
        f.b = Double(f.a)
        f.c = Double(f.b)
    f.run_until_complete(instruments=instruments)


def test_a_recorder_writes_from_parts_exactly_the_lines_of_the_event_objects(
    tmp_path: Path,
) -> None:
    """The recorder alone on a bus takes parts (no objects built); each line it wrote
    must be byte-identical to the line of the event object read back from it."""
    recorder = Recorder(tmp_path / "parts.ftrace.jsonl", flush_interval=0)
    _run_chain([recorder])
    recorder.close()
    assert recorder.path is not None
    lines = Path(recorder.path).read_text().splitlines()[1:]
    assert len(lines) > 30
    for line in lines:
        assert encode_event(decode_event(json.loads(line))) == line


def test_a_recorder_fed_objects_and_one_fed_parts_write_the_same_lines(tmp_path: Path) -> None:
    by_parts = Recorder(tmp_path / "parts.ftrace.jsonl", flush_interval=0)
    by_objects = Recorder(tmp_path / "objects.ftrace.jsonl", flush_interval=0)

    class Relay:
        def on_event(self, event: Event) -> None:
            by_objects.on_event(event)

    class RelayParts:
        def on_event(self, event: Event) -> None:  # pragma: no cover - parts preferred
            raise AssertionError

        def on_event_fields(self, *parts: Any) -> None:
            by_parts.on_event_fields(*parts)

    bus = Bus("r", [RelayParts()])
    objects = Bus("r", [Relay()])
    for fields in (("n", (0,), 0), ("m", (3, 1), 1)):
        bus.emit(NodeStarted, *fields)
        objects.emit(NodeStarted, *fields)
    by_parts.close()
    by_objects.close()
    assert by_parts.path is not None and by_objects.path is not None
    parts_lines = Path(by_parts.path).read_text().splitlines()[1:]
    object_lines = Path(by_objects.path).read_text().splitlines()[1:]
    assert len(parts_lines) == 2
    strip = [line.split('"run_id"')[1] for line in parts_lines]
    assert strip == [line.split('"run_id"')[1] for line in object_lines]

"""Events are built by a fast constructor, which must be indistinguishable from the
dataclass one: same values, same frozenness, same class, for every kind."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import pickle
from typing import Any

import pytest

from flowtrace.events import (
    _BUILDERS,
    EVENT_TYPES,
    ErrorInfo,
    Event,
    InputRead,
    NodeStarted,
    NodeStatusChanged,
)
from flowtrace.instrument import Bus


def _sample_fields(event_type: type[Event]) -> tuple[Any, ...]:
    """Distinct placeholder values, one per field after the header."""
    return tuple(f"v{i}" for i in range(len(dataclasses.fields(event_type)) - 3))


@pytest.mark.parametrize("event_type", EVENT_TYPES, ids=lambda t: t.__name__)
def test_the_constructor_stores_every_field_and_keeps_the_class(
    event_type: type[Event],
) -> None:
    fields = _sample_fields(event_type)
    event = event_type(1, 2, "run", *fields)
    assert type(event) is event_type
    assert dataclasses.astuple(event) == (1, 2, "run", *fields)
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.seq = 5  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del event.seq


@pytest.mark.parametrize("event_type", EVENT_TYPES, ids=lambda t: t.__name__)
def test_the_bus_builder_builds_the_same_event_as_the_class(event_type: type[Event]) -> None:
    fields = _sample_fields(event_type)
    built = _BUILDERS[event_type](1, 2, "run", fields)
    made = event_type(1, 2, "run", *fields)
    assert type(built) is event_type
    assert built == made and hash(built) == hash(made) and repr(built) == repr(made)
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.run_id = "other"  # type: ignore[misc]


def test_keywords_signature_replace_copy_and_pickle_still_work() -> None:
    e = NodeStatusChanged(
        seq=1,
        t_ns=2,
        run_id="r",
        node_id="n",
        old="queued",
        new="executing",
        run_level=None,
        port=None,
    )
    assert list(inspect.signature(NodeStatusChanged).parameters) == [
        f.name for f in dataclasses.fields(NodeStatusChanged)
    ]
    assert dataclasses.replace(e, seq=9).seq == 9
    assert copy.copy(e) == e and copy.deepcopy(e) == e
    assert pickle.loads(pickle.dumps(e)) == e
    with pytest.raises(TypeError):
        NodeStatusChanged(1, 2, "r")  # type: ignore[call-arg]


def test_a_field_named_like_a_builtin_does_not_confuse_the_constructor() -> None:
    info = ErrorInfo("ValueError", "bad", "tb")  # ErrorInfo has a field called ``type``
    assert (info.type, info.message, info.traceback) == ("ValueError", "bad", "tb")
    read = InputRead(0, "a", 0, (1,), 5, False, False)
    assert read.producer_generation == (1,)


def test_user_subclasses_are_built_as_themselves() -> None:
    @dataclasses.dataclass(frozen=True)
    class Tagged(NodeStarted):
        tag: str = "x"

    event = Tagged(1, 2, "r", "n", (0,), 0, "t")
    assert type(event) is Tagged and event.tag == "t"
    bus = Bus("r")
    emitted = bus.emit(Tagged, "n", (0,), 0, "u")
    assert type(emitted) is Tagged and emitted.tag == "u" and emitted.seq == 0


def test_emit_with_a_wrong_field_count_raises_the_classes_own_type_error() -> None:
    bus = Bus("r")
    with pytest.raises(TypeError, match="run_level"):
        bus.emit(NodeStarted, "n", (0,))


def test_emit_delivers_one_event_to_each_listener_in_order() -> None:
    got: list[tuple[str, Event]] = []

    class Listener:
        def __init__(self, name: str) -> None:
            self.name = name

        def on_event(self, event: Event) -> None:
            got.append((self.name, event))

    bus = Bus("r", [Listener("a"), Listener("b")])
    event = bus.emit(NodeStarted, "n", (0,), 0)
    assert event is not None
    assert got == [("a", event), ("b", event)]
    assert event == NodeStarted(0, event.t_ns, "r", "n", (0,), 0)


def test_a_raising_listener_among_several_is_detached_and_the_others_still_receive() -> None:
    got: list[Event] = []

    class Broken:
        def on_event(self, event: Event) -> None:
            raise RuntimeError("instrument bug")

    class Good:
        def on_event(self, event: Event) -> None:
            got.append(event)

    broken = Broken()
    bus = Bus("r", [broken, Good()], strict=False)
    first = bus.emit(NodeStarted, "n", (0,), 0)
    second = bus.emit(NodeStarted, "n", (1,), 0)
    assert got == [first, second]
    assert broken not in bus.instruments
    with pytest.raises(RuntimeError, match="instrument bug"):
        Bus("r", [Broken()], strict=True).emit(NodeStarted, "n", (0,), 0)

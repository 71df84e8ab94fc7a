"""The event vocabulary: immutable plain records, indexed kinds, a versioned schema.

Events are msgspec Structs: frozen, compared by value, tagged by class name, built by
position in declaration order (the header first), and equal after a trip through JSON.
"""

from __future__ import annotations

import copy
import pickle
import re
import typing

import msgspec
import pytest

from flowtrace import events
from flowtrace.events import (
    EVENT_TYPES,
    EVENT_TYPES_BY_NAME,
    FLOW_EVENT_TYPES,
    LOOP_EVENT_TYPES,
    SCHEMA_VERSION,
    AnyEvent,
    ErrorInfo,
    Event,
    InputRead,
    LoopStarted,
    NodeStarted,
    NodeStatusChanged,
    TaskSpawned,
)
from flowtrace.instrument import Bus


def _sample_fields(event_type: type[Event]) -> tuple[str, ...]:
    """Distinct placeholder values, one per field after the header."""
    return tuple(f"v{i}" for i in range(len(event_type.__struct_fields__) - 3))


def test_kinds_are_the_indexes_in_event_types() -> None:
    assert [t.kind for t in EVENT_TYPES] == list(range(len(EVENT_TYPES)))
    assert EVENT_TYPES == LOOP_EVENT_TYPES + FLOW_EVENT_TYPES
    assert Event.kind == -1
    assert SCHEMA_VERSION == (2, 0)


def test_names_are_unique_exported_and_all_in_the_decoded_union() -> None:
    assert len(EVENT_TYPES_BY_NAME) == len(EVENT_TYPES)
    assert all(EVENT_TYPES_BY_NAME[t.__name__] is t for t in EVENT_TYPES)
    assert all(t.__name__ in events.__all__ for t in EVENT_TYPES)
    assert list(typing.get_args(AnyEvent)) == list(EVENT_TYPES)


@pytest.mark.parametrize("event_type", EVENT_TYPES, ids=lambda t: t.__name__)
def test_every_event_starts_with_the_common_header_and_says_what_it_means(
    event_type: type[Event],
) -> None:
    assert event_type.__struct_fields__[:3] == ("seq", "t_ns", "run_id")
    assert event_type.__doc__ and event_type.__doc__.strip()
    assert event_type.__struct_config__.tag == event_type.__name__
    assert event_type.__struct_config__.tag_field == "kind"


@pytest.mark.parametrize("event_type", EVENT_TYPES, ids=lambda t: t.__name__)
def test_fields_are_plain_data_never_live_objects(event_type: type[Event]) -> None:
    # The annotations as written (postponed: strings), over the class and its bases.
    for cls in event_type.__mro__:
        for name, hint in getattr(cls, "__annotations__", {}).items():
            if name == "kind":
                continue
            for live in ("Any", "object", "Task", "Coroutine", "Callable"):
                assert not re.search(rf"\b{live}\b", str(hint)), (event_type.__name__, name, hint)


@pytest.mark.parametrize("event_type", EVENT_TYPES, ids=lambda t: t.__name__)
def test_the_constructor_stores_every_field_and_events_cannot_be_changed(
    event_type: type[Event],
) -> None:
    fields = _sample_fields(event_type)
    event = event_type(1, 2, "run", *fields)
    assert type(event) is event_type
    assert msgspec.structs.astuple(event) == (1, 2, "run", *fields)
    with pytest.raises(AttributeError):
        event.seq = 5  # type: ignore[misc]
    assert not hasattr(event, "__dict__")


def test_events_compare_by_value_and_survive_copy_pickle_and_replace() -> None:
    a = TaskSpawned(0, 1, "run", 3, "name", None, None)
    b = TaskSpawned(0, 1, "run", 3, "name", None, None)
    assert a == b and hash(a) == hash(b)
    assert LoopStarted(0, 0, "r", 0, 0, False, False) != LoopStarted(0, 0, "r", 0, 0, True, False)
    e = NodeStatusChanged(
        seq=1,
        t_ns=2,
        run_id="r",
        node_id="n",
        old="waiting",
        new="queued",
        run_level=None,
        port=None,
    )
    assert msgspec.structs.replace(e, seq=9).seq == 9
    assert copy.copy(e) == e and copy.deepcopy(e) == e
    assert pickle.loads(pickle.dumps(e)) == e
    with pytest.raises(TypeError):
        NodeStatusChanged(1, 2, "r")  # type: ignore[call-arg]


def test_a_field_named_like_a_builtin_is_an_ordinary_field() -> None:
    info = ErrorInfo("ValueError", "bad", "tb")  # ErrorInfo has a field called ``type``
    assert (info.type, info.message, info.traceback) == ("ValueError", "bad", "tb")
    read = InputRead(0, "a", 0, (1,), 5, False, False)
    assert read.producer_generation == (1,)


def test_json_names_the_class_on_kind_and_decodes_back_equal() -> None:
    event = NodeStarted(4, 10, "run-1", "a", (0,), 0)
    line = msgspec.json.encode(event)
    assert line.startswith(b'{"kind":"NodeStarted","seq":4,')
    assert msgspec.json.Decoder(AnyEvent).decode(line) == event
    with pytest.raises(msgspec.ValidationError, match=r"\$\.seq"):
        msgspec.json.Decoder(AnyEvent).decode(line.replace(b'"seq":4', b'"seq":"4"'))


def test_user_subclasses_are_built_as_themselves_and_dispatched_as_their_base() -> None:
    class Tagged(NodeStarted, frozen=True, gc=False):
        tag: str = "x"

    got: list[Event] = []

    class Listener:
        kinds = (NodeStarted,)

        def on_event(self, event: Event) -> None:
            got.append(event)

    bus = Bus("r", [Listener()])
    emitted = bus.emit(Tagged, "n", (0,), 0, "u")
    assert type(emitted) is Tagged and emitted.tag == "u" and emitted.seq == 0
    assert got == [emitted]


def test_emit_with_a_missing_field_raises_the_classes_own_type_error() -> None:
    bus = Bus("r")
    with pytest.raises(TypeError, match="run_level"):
        bus.emit(NodeStarted, "n", (0,))  # type: ignore[call-arg]


def test_emit_delivers_one_event_to_each_listener_in_order() -> None:
    got: list[tuple[str, Event]] = []

    class Listener:
        def __init__(self, name: str) -> None:
            self.name = name

        def on_event(self, event: Event) -> None:
            got.append((self.name, event))

    bus = Bus("r", [Listener("a"), Listener("b")])
    event = bus.emit(NodeStarted, "n", (0,), 0)
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

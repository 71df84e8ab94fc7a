"""The event vocabulary: immutable plain records, indexed kinds, a versioned schema."""

from __future__ import annotations

import dataclasses
import typing

import pytest

from flowtrace import events
from flowtrace.events import (
    EVENT_TYPES,
    EVENT_TYPES_BY_NAME,
    FLOW_EVENT_TYPES,
    LOOP_EVENT_TYPES,
    Event,
    LoopStarted,
    TaskSpawned,
)


def test_kinds_are_the_indexes_in_event_types() -> None:
    assert [t.kind for t in EVENT_TYPES] == list(range(len(EVENT_TYPES)))
    assert EVENT_TYPES == LOOP_EVENT_TYPES + FLOW_EVENT_TYPES
    assert Event.kind == -1


def test_names_are_unique_and_exported() -> None:
    assert len(EVENT_TYPES_BY_NAME) == len(EVENT_TYPES)
    assert all(EVENT_TYPES_BY_NAME[t.__name__] is t for t in EVENT_TYPES)
    assert all(t.__name__ in events.__all__ for t in EVENT_TYPES)


@pytest.mark.parametrize("event_type", EVENT_TYPES, ids=lambda t: t.__name__)
def test_every_event_starts_with_the_common_header_and_says_what_it_means(
    event_type: type[Event],
) -> None:
    names = [f.name for f in dataclasses.fields(event_type)]
    assert names[:3] == ["seq", "t_ns", "run_id"]
    assert event_type.__doc__


@pytest.mark.parametrize("event_type", EVENT_TYPES, ids=lambda t: t.__name__)
def test_fields_are_plain_data_never_live_objects(event_type: type[Event]) -> None:
    hints = typing.get_type_hints(event_type)
    for name, hint in hints.items():
        if name == "kind":
            continue
        text = repr(hint)
        for live in ("Any", "object", "Task", "Coroutine", "Callable"):
            assert live not in text.replace("typing.", ""), (event_type.__name__, name, text)


def test_events_cannot_be_changed_and_compare_by_value() -> None:
    a = TaskSpawned(0, 1, "run", 3, "name", None, None)
    b = TaskSpawned(0, 1, "run", 3, "name", None, None)
    assert a == b and hash(a) == hash(b)
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.seq = 5  # type: ignore[misc]
    assert not hasattr(a, "__dict__")
    assert LoopStarted(0, 0, "r", 0, 0, False, False) != LoopStarted(0, 0, "r", 0, 0, True, False)

"""``Bus.emit`` is checked by mypy at every call site (issue 13).

``emit`` takes its parameters from the event class's own constructor, so a missing,
extra, swapped or mistyped field is a type error. The calls below are each wrong in one
way and carry the ignore that mypy must need: ``make typecheck`` runs mypy with
``warn_unused_ignores``, so if ``emit`` stopped being checked (typed ``*Any`` again),
every ignore here would be unused and the type check would fail. The test itself
checks that the same calls fail at run time too, where msgspec checks the arity.
"""

from __future__ import annotations

import pytest

from flowtrace.events import NodeFinished, NodeStarted, NodeStatusChanged, ResolutionQueuePut
from flowtrace.instrument import Bus


def wrong_calls(bus: Bus) -> None:
    """Each line is a mistake mypy must report (never called with a real run)."""
    bus.emit(NodeStarted, "n", (0,))  # type: ignore[call-arg]
    bus.emit(NodeStarted, "n", (0,), 0, "extra")  # type: ignore[call-arg]
    bus.emit(NodeStarted, (0,), "n", 0)  # type: ignore[arg-type]
    bus.emit(NodeFinished, "n", (0,), 0, "finished")  # type: ignore[arg-type]
    bus.emit(NodeStatusChanged, "n", "waiting", "running", None, None)  # type: ignore[arg-type]
    reason: str = "consumer"
    bus.emit(ResolutionQueuePut, "n", None, reason, True)  # type: ignore[arg-type]


def right_calls(bus: Bus) -> None:
    """The same events, right: no ignore needed."""
    bus.emit(NodeStarted, "n", (0,), 0)
    bus.emit(NodeFinished, "n", (0,), 0, "completed")
    bus.emit(NodeStatusChanged, "n", "waiting", "queued", None, None)
    bus.emit(ResolutionQueuePut, "n", None, "consumer", True)


def test_a_wrong_field_count_fails_at_run_time_too() -> None:
    bus = Bus("r")
    right_calls(bus)
    assert bus.next_seq == 4
    with pytest.raises(TypeError):
        bus.emit(NodeStarted, "n", (0,))  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        bus.emit(NodeStarted, "n", (0,), 0, "extra")  # type: ignore[call-arg]

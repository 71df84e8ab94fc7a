"""The bus passes free text through the run's codec once, before any listener.

Exception messages and tracebacks, wait descriptions and task names may quote data;
with a redacting codec (``redact_text``) or one that keeps no error text
(``error_text=False``), every listener — plain object or instrument class, first or last —
receives the rewritten text, and the kinds without free text are untouched.
"""

from __future__ import annotations

import pytest

from flowtrace.codec import OMITTED_TEXT, ValueCodec
from flowtrace.events import (
    DeadlockDetected,
    ErrorInfo,
    Event,
    NodeErrored,
    NodeStarted,
    WaitInfo,
)
from flowtrace.instrument import Bus, InstrumentBase

SECRET = ErrorInfo("ValueError", "key hunter2", "Traceback…\nValueError: key hunter2\n")
REDACTING = ValueCodec(redact_text=lambda text: text.replace("hunter2", "<r>"))


class Objects:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def on_event(self, event: Event) -> None:
        self.events.append(event)


class Fields(Objects, InstrumentBase):
    """A listener built on the instrument base class (the other kind of listener)."""

    def on_event(self, event: Event) -> None:
        self.events.append(event)


class Codec(Objects):
    def __init__(self, codec: ValueCodec) -> None:
        super().__init__()
        self.value_codec = codec


def _errors(listener: Objects) -> list[ErrorInfo]:
    return [e.error for e in listener.events if isinstance(e, NodeErrored)]


@pytest.mark.parametrize("first", [Objects, Fields])
@pytest.mark.parametrize("second", [Objects, Fields])
def test_every_listener_gets_the_redacted_error_text(
    first: type[Objects], second: type[Objects]
) -> None:
    a, b = first(), second()
    bus = Bus("r", [a, b], codec=REDACTING)
    bus.emit(NodeErrored, "n", (0,), SECRET, "call")
    expected = ErrorInfo("ValueError", "key <r>", "Traceback…\nValueError: key <r>\n")
    assert _errors(a) == _errors(b) == [expected]
    assert [e.seq for e in a.events] == [0]


def test_a_codec_declared_by_an_instrument_rewrites_for_all_of_them() -> None:
    declaring, other = Codec(REDACTING), Fields()
    bus = Bus("r", [declaring, other])
    bus.emit(NodeErrored, "n", (0,), SECRET, "call")
    assert _errors(other)[0].message == "key <r>"


def test_without_error_text_only_the_type_is_kept() -> None:
    listener = Fields()
    Bus("r", [listener], codec=ValueCodec(error_text=False)).emit(
        NodeErrored, "n", (0,), SECRET, "call"
    )
    assert _errors(listener) == [ErrorInfo("ValueError", OMITTED_TEXT, "")]


def test_wait_descriptions_in_a_deadlock_report_are_redacted() -> None:
    listener = Objects()
    Bus("r", [listener], codec=REDACTING).emit(
        DeadlockDetected, (WaitInfo("n", "executing", (), "blocked on hunter2"),)
    )
    (event,) = listener.events
    assert isinstance(event, DeadlockDetected)
    assert event.waiting[0].detail == "blocked on <r>"


def test_kinds_without_free_text_and_plain_codecs_keep_the_fast_path() -> None:
    listener = Fields()
    bus = Bus("r", [listener], codec=REDACTING)
    assert bus._handlers[NodeStarted.kind] == (listener.on_event,)
    assert bus._handlers[NodeErrored.kind] != (listener.on_event,)  # the text pass
    plain = Bus("r", [listener])
    assert plain._handlers[NodeErrored.kind] == (listener.on_event,)
    plain.emit(NodeErrored, "n", (0,), SECRET, "call")
    assert _errors(listener) == [SECRET]


def test_an_event_of_a_user_subclass_is_rewritten_too() -> None:
    class Mine(NodeErrored, frozen=True, gc=False):
        pass

    listener = Objects()
    Bus("r", [listener], codec=REDACTING).emit(Mine, "n", (0,), SECRET, "call")
    (event,) = listener.events
    assert type(event) is Mine and event.error.message == "key <r>"


def test_a_failing_listener_behind_the_text_pass_is_detached_alone(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken(Fields):
        def on_event(self, event: Event) -> None:
            raise RuntimeError("broken")

    broken, fine = Broken(), Fields()
    bus = Bus("r", [broken, fine], codec=REDACTING, strict=False)
    bus.emit(NodeErrored, "n", (0,), SECRET, "call")
    bus.emit(NodeErrored, "n", (1,), SECRET, "call")
    assert bus.instruments == (fine,)
    errored = [e for e in fine.events if isinstance(e, NodeErrored)]
    assert errored == fine.events
    assert [e.generation for e in errored] == [(0,), (1,)]
    assert "raised and was detached" in caplog.text


def test_strict_mode_re_raises_through_the_text_pass() -> None:
    class Broken(Objects):
        def on_event(self, event: Event) -> None:
            raise RuntimeError("broken")

    bus = Bus("r", [Broken()], codec=REDACTING, strict=True)
    with pytest.raises(RuntimeError, match="broken"):
        bus.emit(NodeErrored, "n", (0,), SECRET, "call")

"""Describing an exception never raises: a recorded run ends exactly as an unrecorded one.

A node's exception is turned into text (type, message, traceback) for ``NodeErrored``,
``FlowFinished``, ``TaskFinished`` and ``LoopExited`` only when someone listens. If that
description could raise (a user's ``__str__`` that fails), attaching a recorder would
change what the program does.
"""

from __future__ import annotations

from typing import Any

import pytest
from _events import Collector

from flowtrace import FlowHDL, node
from flowtrace.codec import exception_message, exception_traceback, exception_type_name
from flowtrace.engine.flow import NodeExecutionError
from flowtrace.events import FlowFinished, NodeErrored


class Unprintable(Exception):
    """An exception whose ``str`` and ``repr`` both raise."""

    def __str__(self) -> str:
        raise RuntimeError("no str")

    def __repr__(self) -> str:
        raise RuntimeError("no repr")


class StrRaisesBaseException(Exception):
    def __str__(self) -> str:
        raise GeneratorExit


@node
async def Boom(x: int = 1) -> int:
    raise Unprintable("secret")


def _outcome(*instruments: Any, **options: Any) -> BaseException:
    with FlowHDL() as f:
        f.boom = Boom()
    with pytest.raises(BaseException) as caught:
        f.run_until_complete(instruments=list(instruments), **options)
    return caught.value


def test_a_node_error_whose_str_raises_ends_the_run_the_same_with_or_without_listeners() -> None:
    bare = _outcome()
    collector = Collector()
    recorded = _outcome(collector)
    assert type(bare) is Unprintable and type(recorded) is Unprintable
    errored = collector.of(NodeErrored)
    assert [e.error.message for e in errored] == ["<str() failed: RuntimeError>"]
    assert errored[0].error.type == "test_error_text.Unprintable"
    assert "test_error_text.Unprintable" in errored[0].error.traceback
    finished = collector.of(FlowFinished)
    assert finished[-1].outcome == "error"
    assert finished[-1].error is not None
    assert finished[-1].error.message == "<str() failed: RuntimeError>"


def test_a_node_error_whose_str_raises_is_wrapped_when_the_flow_keeps_going() -> None:
    for instruments in ((), (Collector(),)):
        error = _outcome(*instruments, terminate_on_node_error=False)
        assert type(error) is NodeExecutionError
        assert "<str() failed: RuntimeError>" in str(error)
        assert type(error.__cause__ if error.__cause__ else error.error) is Unprintable


def test_exception_message_says_which_failure_hid_the_message() -> None:
    assert exception_message(ValueError("plain")) == "plain"
    assert exception_message(Unprintable()) == "<str() failed: RuntimeError>"
    assert exception_message(StrRaisesBaseException()) == "<str() failed: GeneratorExit>"


def test_exception_traceback_survives_broken_notes_and_messages() -> None:
    class BadNotes(Exception):
        @property  # deliberately read-only and raising: a broken exception
        def __notes__(self) -> Any:  # type: ignore[override]
            raise RuntimeError("notes")

    try:
        raise BadNotes("with notes")
    except BadNotes as exc:
        text = exception_traceback(exc, exc.__traceback__)
    assert "test_exception_traceback_survives_broken_notes_and_messages" in text
    # the frames, then the error (Python 3.13 adds a line about the broken notes after it)
    assert ".BadNotes: with notes" in text.splitlines()[-1] or any(
        line.endswith(".BadNotes: with notes") for line in text.splitlines()
    )
    try:
        raise Unprintable()
    except Unprintable as exc:
        assert "Unprintable" in exception_traceback(exc, exc.__traceback__)


def test_exception_type_name_qualifies_all_but_builtins() -> None:
    assert exception_type_name(ValueError) == "ValueError"
    assert exception_type_name(Unprintable) == "test_error_text.Unprintable"


def test_a_keyboard_interrupt_from_str_is_not_swallowed() -> None:
    class Interrupting(Exception):
        def __str__(self) -> str:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        exception_message(Interrupting())

"""What the loop reports when something goes wrong: :class:`DeadlockError` and
:class:`UnknownCommandError` (public as ``flowtrace.engine.loop.X``, the ``__module__``
they carry, so recorded errors name the same type), an exception as event data
(:func:`error_info`), and the text of deadlock reports (immediate, or from the
watchdog).

Functions of ``self: EventLoop`` here are methods of
:class:`~flowtrace.engine.loop.EventLoop`: ``loop.py`` binds each in the class body.
"""

from __future__ import annotations

import os
import types
from typing import TYPE_CHECKING

from flowtrace.codec import exception_message, exception_traceback, exception_type_name
from flowtrace.events import ErrorInfo

if TYPE_CHECKING:
    from flowtrace.engine.loop import EventLoop


#: How long an idle loop with nothing registered still waits while other threads (or,
#: in asyncio mode, other asyncio tasks) are alive: one of them may be about to call
#: ``create_task`` without having registered (Flowno's own suite has a thread calling
#: in 0.1 s after the loop went idle). Past it, the deadlock is reported.
UNREGISTERED_GRACE = 1.0

_ENGINE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _user_traceback(tb: types.TracebackType | None) -> types.TracebackType | None:
    """Skip the engine's own leading frames (where the exception was caught), so the
    recorded traceback starts in the user's code; keep everything when the error came
    from inside the engine."""
    first = tb
    while tb is not None and tb.tb_frame.f_code.co_filename.startswith(_ENGINE_DIR):
        tb = tb.tb_next
    return tb if tb is not None else first


def error_info(exc: BaseException) -> ErrorInfo:
    """An exception as event data (qualified type, message, formatted traceback).
    Never raises, whatever the exception's ``__str__`` does (see flowtrace.codec)."""
    return ErrorInfo(
        exception_type_name(type(exc)),
        exception_message(exc),
        exception_traceback(exc, _user_traceback(exc.__traceback__)),
    )


class DeadlockError(RuntimeError):
    """Nothing can run, no timer is pending and nothing the loop knows of can wake it
    (or, from the watchdog, nothing ran for ``deadlock_timeout`` seconds while it waited
    only on the outside), yet tasks still wait. ``waiting`` lists ``(task name, what it
    waits on)``."""

    __module__ = "flowtrace.engine.loop"

    def __init__(self, message: str, waiting: list[tuple[str, str]]) -> None:
        super().__init__(message)
        self.waiting = waiting


class UnknownCommandError(TypeError):
    """A task awaited something the loop does not understand (raised in that task)."""

    __module__ = "flowtrace.engine.loop"


def deadlock_headline(self: EventLoop, stalled_for: float | None) -> str:
    """The first words of a deadlock report: immediate, or from the watchdog."""
    if stalled_for is None:
        return "deadlock: no task can run and nothing can wake them" + self.grace_note()
    outside = ", ".join(self.outside_wakers()) or "nothing"
    return (
        f"deadlock (watchdog): nothing ran for {stalled_for:.1f} s "
        f"(deadlock_timeout={self.deadlock_timeout:g} s) while the loop waited only "
        f"on the outside ({outside})"
    )


def grace_note(self: EventLoop) -> str:
    """What the report says about unregistered threads or tasks it waited for."""
    others = self.strategy.unregistered(self)
    if not others:
        return ""
    shown = ", ".join(others[:3]) + (f" and {len(others) - 3} more" if len(others) > 3 else "")
    return (
        f" (waited {UNREGISTERED_GRACE:g} s for {shown}, alive but not registered: "
        "code that will hand the loop work holds `loop.waker()`)"
    )


def deadlock_error(self: EventLoop, stalled_for: float | None = None) -> DeadlockError:
    """Build the error raised when every living task waits forever (overridable).
    ``stalled_for`` is set when the watchdog found no progress for that long."""
    waiting = [(t.name, t.waiting_on or "?") for t in self.blocked_tasks()]
    lines = "; ".join(f"task {name!r} waits on {what}" for name, what in waiting)
    return DeadlockError(
        f"{self.deadlock_headline(stalled_for)} ({lines}). "
        "Something must set/release/put/notify what they wait on.",
        waiting,
    )

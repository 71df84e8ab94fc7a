"""Ctrl-C that never lands in the middle of recording an event.

Python raises ``KeyboardInterrupt`` between any two bytecodes of the main thread. Inside
the bus (an event numbered but not yet delivered), inside a recorder's flush (a batch
taken but not yet written, a gzip stream half-advanced) or while a run emits its
closing events, that loses recorded events for good: a gap in ``seq``, a missing
batch, no ``FlowFinished``.

:func:`install` replaces Python's default SIGINT handler with one that behaves exactly
like it — raise ``KeyboardInterrupt`` in the main thread — except while the main thread
is inside one of the *protected* functions (:func:`protect`; checked by walking the
interrupted frame's callers, which costs nothing until a signal arrives). Then the
interrupt is postponed: the signal is sent again a moment later (a couple of
milliseconds, far longer than any protected section lasts), and raised once the main
thread is out of them. Nothing is added to the hot path. A user who presses Ctrl-C
:data:`INSIST` times while it is postponed (a write hanging on a dead disk) gets the
interrupt at once, wherever the program is.

The handler is installed only over ``signal.default_int_handler`` and only from the
main thread, so a program's own SIGINT handler, and asyncio's (``asyncio.run`` turns a
Ctrl-C into a cancellation of its main task), are left alone; :func:`uninstall` puts
the default back when the last user is done.
"""

from __future__ import annotations

import importlib
import signal
import threading
import types
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["protect", "install", "uninstall", "installed", "RETRY_SECONDS"]

#: How long a postponed interrupt waits before it is tried again.
RETRY_SECONDS = 0.002
#: Ctrl-C presses that raise even inside protected code.
INSIST = 3

# The C functions behind ``signal.signal`` / ``signal.getsignal``: the Python wrappers
# convert handlers to enums by trying and failing (an exception, ~4 us, per call), which
# made the per-run install cost a recorded three-node run about a tenth of its time.
try:
    _sig: Any = importlib.import_module("_signal")
except ImportError:  # pragma: no cover - another Python implementation
    _sig = signal

_protected: set[types.CodeType] = set()
_lock = threading.Lock()
_users = 0
_retry_armed = False
_resent = False  # the next SIGINT is our own re-send, not the user pressing again
_presses = 0  # user presses postponed since the last interrupt was raised
_pending = False  # an interrupt was postponed and not raised yet


def protect(functions: Iterable[Callable[..., Any]]) -> None:
    """Never raise a Ctrl-C while the main thread runs inside one of ``functions``
    (or anything they call)."""
    for function in functions:
        code = getattr(function, "__code__", None)
        if isinstance(code, types.CodeType):
            _protected.add(code)


#: Files whose functions run as weakref callbacks: Python prints and *drops* an
#: exception raised there ("Exception ignored in ..."), so a Ctrl-C landing in one would
#: be lost; it is postponed like one landing in protected code.
_SWALLOWING_FILES = ("weakref.py", "_weakrefset.py")


def _inside_protected(frame: types.FrameType | None) -> bool:
    protected = _protected
    while frame is not None:
        code = frame.f_code
        if (
            code in protected
            or code.co_name == "__del__"  # finalizers drop exceptions too
            or code.co_filename.endswith(_SWALLOWING_FILES)
        ):
            return True
        frame = frame.f_back
    return False


def _resend() -> None:
    global _retry_armed, _resent
    _retry_armed = False
    main = threading.main_thread()
    if _pending and main.is_alive() and main.ident is not None:
        _resent = True
        signal.pthread_kill(main.ident, signal.SIGINT)


def _on_sigint(signum: int, frame: types.FrameType | None) -> None:
    global _retry_armed, _resent, _presses, _pending
    if _resent:
        _resent = False
    else:
        _presses += 1
    if _presses >= INSIST or not _inside_protected(frame):
        _presses = 0
        _pending = False
        raise KeyboardInterrupt
    _pending = True
    if not _retry_armed:
        _retry_armed = True
        timer = threading.Timer(RETRY_SECONDS, _resend)
        timer.daemon = True
        timer.start()


def installed() -> bool:
    """True when this module's handler is the process's SIGINT handler."""
    return _sig.getsignal(signal.SIGINT) is _on_sigint


def install() -> bool:
    """Take over SIGINT if it is Python's default and this is the main thread (counted:
    each successful call needs one :func:`uninstall`). Returns whether it did."""
    global _users
    if threading.current_thread() is not threading.main_thread():
        return False
    with _lock:
        if _users:  # ours already (reading the handler back is a system call)
            _users += 1
            return True
        if _sig.getsignal(signal.SIGINT) is not signal.default_int_handler:
            return False
        _sig.signal(signal.SIGINT, _on_sigint)
        _users = 1
        return True


def uninstall() -> None:
    """Undo one :func:`install`; the last one restores Python's default handler (if
    nobody replaced ours meanwhile)."""
    global _users
    if threading.current_thread() is not threading.main_thread():
        return
    with _lock:
        if _users == 0:
            return
        _users -= 1
        if _users == 0 and _sig.getsignal(signal.SIGINT) is _on_sigint:
            _sig.signal(signal.SIGINT, signal.default_int_handler)

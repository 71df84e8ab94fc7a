"""The errors of offloaded calls: refused or lost by the executor, a value that cannot
be pickled, an exception that could not come back, and the remote traceback an
exception from a worker carries as its cause.

All are public as ``flowtrace.engine.offload.X`` (and ``flowtrace.offload.X``): that is
the ``__module__`` they carry, so a recorded error names the same type as before
offloading was split into modules, and pickling finds it there.
"""

from __future__ import annotations


class OffloadError(Exception):
    """An offloaded call could not run or could not report back."""

    __module__ = "flowtrace.engine.offload"


class OffloadLostError(OffloadError):
    """The executor lost the call (a worker died, the pool or the scheduler went
    away) or refused it (shut down, unreachable). ``executor`` names it."""

    __module__ = "flowtrace.engine.offload"

    def __init__(self, message: str, executor: str) -> None:
        super().__init__(message)
        self.executor = executor


class UnpicklableValueError(OffloadError, TypeError):
    """An argument (or the function) of an offloaded call cannot be pickled."""

    __module__ = "flowtrace.engine.offload"


class RemoteError(OffloadError):
    """The offloaded function raised an exception that could not be sent back by
    pickle: its type name, message and the remote traceback, as text."""

    __module__ = "flowtrace.engine.offload"

    def __init__(
        self, message: str, remote_type: str, remote_message: str, remote_traceback: str
    ) -> None:
        super().__init__(message)
        self.remote_type = remote_type
        self.remote_message = remote_message
        self.remote_traceback = remote_traceback


class RemoteTraceback(Exception):
    """Carries the worker's traceback text; set as the ``__cause__`` of an exception
    that came back from a worker, so printed tracebacks show both sides."""

    __module__ = "flowtrace.engine.offload"

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return "\n" + self.text.rstrip()

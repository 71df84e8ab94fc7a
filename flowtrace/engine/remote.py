"""What runs on the worker of an offloaded call, and the pickling both sides share.

An offloaded call crosses a process (or machine) boundary as three pieces of bytes the
submitting side pickled itself — the function, the ``(args, kwargs)`` pair, and
nothing else — plus a small :class:`WorkerContext` (an instrument's context carrier,
e.g. W3C trace context). The executor only moves bytes; :func:`run_call` unpickles,
runs, and pickles the outcome again on the worker, so that

* a value that cannot be pickled is found at submit (naming the argument), and a
  result or exception that cannot be pickled is found on the worker (naming what it
  was), never as an opaque error from the executor's own machinery;
* any exception the user's function raises comes back as data (never through the
  executor's failure path), so an exception *from the executor* always means the call
  was lost (a dead worker, a lost scheduler);
* the worker reports who it is (address, host, pid) and when it started and stopped.

This module must stay cheap to import in a worker: the standard library only, and
nothing of the engine.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

__all__ = [
    "PROTOCOL",
    "WorkerContext",
    "CallOutcome",
    "BodyRef",
    "run_call",
    "dumps_by_value",
]

#: The pickle protocol values travel with (5: out-of-band buffers, fast bytes).
PROTOCOL = 5


@dataclass(frozen=True, slots=True)
class WorkerContext:
    """What an instrument wants active on the worker while the call runs.

    ``activate(carrier)`` is a context manager *function importable on the worker*
    (pickled by reference) and ``carrier`` a dict of strings (e.g. ``{"traceparent":
    "00-…"}``). The engine never looks inside either: the OpenTelemetry instrument
    supplies ``flowtrace.otel.propagation.attach`` and a W3C carrier; the engine
    stays free of OpenTelemetry."""

    activate: Callable[[dict[str, str]], contextlib.AbstractContextManager[Any]]
    carrier: dict[str, str]


@dataclass(frozen=True, slots=True)
class CallOutcome:
    """What a worker sends back.

    ``status``: ``returned`` (``blob`` is the pickled result), ``raised`` (``blob`` is
    the pickled exception, or ``None`` when it could not make the round trip, then
    ``error_type``/``error_message`` describe it), ``failed`` (the call could not be
    unpickled or its result could not be pickled: ``error_*`` say why).
    ``traceback`` is the remote traceback text of an exception."""

    status: str
    blob: bytes | None
    error_type: str
    error_message: str
    traceback: str
    worker: str
    host: str
    pid: int
    started_wall_ns: int
    run_ns: int


class BodyRef:
    """A reference to the function a ``@node`` decorated, by module and name.

    Pickling the function itself by reference fails: its module-level name is now the
    node class. This resolves ``module.qualname`` on the worker and takes the class's
    original function back."""

    __slots__ = ("module", "qualname")

    def __init__(self, module: str, qualname: str) -> None:
        self.module = module
        self.qualname = qualname

    def resolve(self) -> Callable[..., Any]:
        import importlib

        target: Any = importlib.import_module(self.module)
        for part in self.qualname.split("."):
            target = getattr(target, part)
        original = getattr(target, "_original_call", None)  # a function node's class
        resolved: Callable[..., Any] = original.func if original is not None else target
        return resolved

    def __reduce__(self) -> tuple[Any, ...]:
        return (_resolve_body, (self.module, self.qualname))

    def __repr__(self) -> str:
        return f"BodyRef({self.module}.{self.qualname})"


def _resolve_body(module: str, qualname: str) -> Callable[..., Any]:
    return BodyRef(module, qualname).resolve()


def dumps_by_value(obj: Any) -> bytes:
    """Pickle ``obj`` with cloudpickle (functions of ``__main__``, lambdas and closures
    travel by value); ``ImportError`` when cloudpickle is not installed."""
    import cloudpickle

    data: bytes = cloudpickle.dumps(obj, protocol=PROTOCOL)
    return data


def _qualified(kind: type) -> str:
    return (
        kind.__qualname__
        if kind.__module__ == "builtins"
        else (f"{kind.__module__}.{kind.__qualname__}")
    )


_IDENTITY: tuple[str, str, int] | None = None


def _identity(submitter_pid: int) -> tuple[str, str, int]:
    """(worker, host, pid) of the process running the call, cached per process."""
    global _IDENTITY
    pid = os.getpid()
    if pid == submitter_pid:  # a thread pool of the flow's own process
        return f"thread {threading.current_thread().name}", socket.gethostname(), pid
    if _IDENTITY is None or _IDENTITY[2] != pid:
        worker = f"pid {pid}"
        distributed = sys.modules.get("distributed")
        if distributed is not None:
            with contextlib.suppress(Exception):
                worker = str(distributed.get_worker().address)
        _IDENTITY = (worker, socket.gethostname(), pid)
    return _IDENTITY


def _drive(result: Any) -> Any:
    """The value of a coroutine that awaits nothing (an ``async def`` node body)."""
    try:
        awaited = result.send(None)
    except StopIteration as stop:
        return stop.value
    result.close()
    what = "a bare yield (asyncio.sleep(0)?)" if awaited is None else repr(awaited)
    raise RuntimeError(
        f"an offloaded function awaited {what} on the worker, where no event loop "
        "runs: an offloaded body must compute and return without awaiting (await "
        "inside the node, around `await offload(...)`, instead)"
    )


@contextlib.contextmanager
def _activated(context: WorkerContext | None) -> Iterator[None]:
    if context is None:
        yield
        return
    with contextlib.ExitStack() as stack:
        # An instrument's hook (e.g. no OTel on this worker) never fails the call.
        with contextlib.suppress(Exception):
            stack.enter_context(context.activate(context.carrier))
        yield


def _safe_str(exc: BaseException) -> str:
    """``str(exc)`` that never raises: describing an error must not become another."""
    try:
        return str(exc)
    except Exception as failure:
        return f"<str() failed: {type(failure).__name__}>"


def _remote_traceback(exc: BaseException, where: str) -> str:
    try:
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    except Exception as failure:
        text = f"{type(exc).__name__}: <traceback failed: {type(failure).__name__}>\n"
    return (
        f"Traceback on {where}:\n" + text.split("\n", 1)[1]
        if text.startswith("Traceback")
        else text
    )


def run_call(
    fn_blob: bytes,
    args_blob: bytes,
    context: WorkerContext | None,
    submitter_pid: int,
) -> CallOutcome:
    """Run one offloaded call on this worker (see the module docstring)."""
    started_wall = time.time_ns()
    worker, host, pid = _identity(submitter_pid)
    where = f"{worker} ({host})"
    ran = [0]  # ns the function itself ran (0 when it never started)

    def outcome(
        status: str,
        blob: bytes | None,
        exc: BaseException | None = None,
        tb: str = "",
        *,
        error_type: str = "",
        error_message: str = "",
    ) -> CallOutcome:
        if exc is not None and not error_type:
            error_type, error_message = _qualified(type(exc)), _safe_str(exc)
        return CallOutcome(
            status, blob, error_type, error_message, tb, worker, host, pid, started_wall, ran[0]
        )

    try:
        fn = pickle.loads(fn_blob)
        args, kwargs = pickle.loads(args_blob)
    except Exception as exc:
        return outcome(
            "failed",
            None,
            exc,
            _remote_traceback(exc, where),
            error_type=_qualified(type(exc)),
            error_message=(f"could not unpickle the call on {where}: {_safe_str(exc)}"),
        )
    t0 = time.perf_counter_ns()
    try:
        with _activated(context):
            try:
                result = fn(*args, **kwargs)
                if (
                    hasattr(result, "send")
                    and hasattr(result, "throw")
                    and hasattr(result, "cr_code")
                ):
                    result = _drive(result)
            finally:
                ran[0] = time.perf_counter_ns() - t0
    except Exception as exc:
        tb = _remote_traceback(exc, where)
        try:
            blob = pickle.dumps(exc, protocol=PROTOCOL)
            pickle.loads(blob)  # some exceptions pickle but cannot be rebuilt
        except Exception as why:
            note = f"\n(not sent back by pickle: {_safe_str(why)})"
            return outcome("raised", None, exc, tb + note)
        return outcome("raised", blob, exc, tb)
    try:
        blob = pickle.dumps(result, protocol=PROTOCOL)
    except Exception as exc:
        return outcome(
            "failed",
            None,
            None,
            _remote_traceback(exc, where),
            error_type=_qualified(type(exc)),
            error_message=f"the result ({_qualified(type(result))}) cannot be pickled to "
            f"send it back from {where}: {_safe_str(exc)}",
        )
    return outcome("returned", blob)

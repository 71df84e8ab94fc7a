"""Offloading: node bodies and single calls run on a process pool or a Dask cluster.

A flow runs on one event loop in one thread; a node that computes blocks every other
node. ``await offload(fn, *args, **kwargs)`` inside a node (or ``@node(offload=True)``
/ ``@node(executor="name")`` for a whole node body) hands the call to an executor and
parks the node's task until the result comes back; other nodes keep running.

Executors are chosen per run: ``run_until_complete(executors={"default": pool, "gpu":
client})``. A value may be any :class:`concurrent.futures.Executor`, a
``dask.distributed.Client`` (its own futures are used: ``client.submit``,
``client.cancel``), or a Dask scheduler address (``"tcp://host:8786"``: flowtrace
connects when the first call needs it, in a thread, and closes the client at the end of
the run). ``"default"`` is what ``offload()`` and ``offload=True`` use; when the run
names none, a :class:`~concurrent.futures.ProcessPoolExecutor` is created at the first
call and shut down when the run ends (pass your own to reuse one across runs).

How waiting works (:class:`OffloadSession`, one per flow run): the task yields an
:class:`OffloadWait` command and is parked; the executor's completion callback (on
some executor thread) collects and unpickles the result there and touches no engine
state: it appends it to a thread-safe inbox and writes one byte to a socket pair
registered in the loop's selector (``loop.selector``, the loop's own way of being woken
by other threads and I/O). The loop, in its thread, drains the inbox, emits the events and
resumes the task. Each call in flight counts as a work waiter
(``loop.add_work_waiter``), so an idle loop blocks in its selector instead of reporting a
deadlock, and the no-progress watchdog leaves a long call alone; in asyncio mode the
same selector is watched by asyncio.

Values travel by pickle (:mod:`flowtrace.engine.remote`); errors, cancellation and the
trace events (``OffloadSubmitted`` / ``OffloadStarted`` / ``OffloadFinished``) are
described in docs/offload.md.
"""

from __future__ import annotations

import collections
import concurrent.futures as cf
import contextlib
import inspect
import logging
import os
import pickle
import secrets
import selectors
import socket
import threading
import time
import types
from collections.abc import Callable, Generator, Mapping
from typing import TYPE_CHECKING, Any

from flowtrace.engine.commands import Command
from flowtrace.engine.loop import EventLoop, current_event_loop, error_info
from flowtrace.engine.remote import (
    PROTOCOL,
    BodyRef,
    CallOutcome,
    WorkerContext,
    dumps_by_value,
    run_call,
)
from flowtrace.events import (
    ErrorInfo,
    OffloadFinished,
    OffloadOutcome,
    OffloadStarted,
    OffloadSubmitted,
)

if TYPE_CHECKING:
    from flowtrace.engine.flow import Flow
    from flowtrace.engine.node import FinalizedNode
    from flowtrace.engine.tasks import Task

__all__ = [
    "DEFAULT_EXECUTOR",
    "OffloadError",
    "OffloadLostError",
    "RemoteError",
    "RemoteTraceback",
    "UnpicklableValueError",
    "OffloadSession",
    "offload",
    "offload_to",
    "offload_body",
]

logger = logging.getLogger("flowtrace.offload")

#: The executor name ``offload()`` and ``@node(offload=True)`` use.
DEFAULT_EXECUTOR = "default"
#: How long connecting to a Dask scheduler given by address may take (seconds).
DASK_CONNECT_TIMEOUT = 10.0
#: How long closing a Dask client flowtrace opened may take at the end of a run.
_DASK_CLOSE_TIMEOUT = 5.0


# --------------------------------------------------------------------------- errors


class OffloadError(Exception):
    """An offloaded call could not run or could not report back."""


class OffloadLostError(OffloadError):
    """The executor lost the call (a worker died, the pool or the scheduler went
    away) or refused it (shut down, unreachable). ``executor`` names it."""

    def __init__(self, message: str, executor: str) -> None:
        super().__init__(message)
        self.executor = executor


class UnpicklableValueError(OffloadError, TypeError):
    """An argument (or the function) of an offloaded call cannot be pickled."""


class RemoteError(OffloadError):
    """The offloaded function raised an exception that could not be sent back by
    pickle: its type name, message and the remote traceback, as text."""

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

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return "\n" + self.text.rstrip()


# --------------------------------------------------------------------------- executors


def _is_dask_client(value: object) -> bool:
    kind = type(value)
    return (
        kind.__module__.split(".")[0] == "distributed"
        and hasattr(value, "submit")
        and (hasattr(value, "cancel"))
    )


def _check_executor(name: str, value: object) -> None:
    if isinstance(value, cf.Executor) or _is_dask_client(value):
        return
    if isinstance(value, str) and "://" in value:
        return
    raise TypeError(
        f"executors[{name!r}] must be a concurrent.futures.Executor, a "
        "dask.distributed.Client or a Dask scheduler address ('tcp://host:8786'), not "
        f"{type(value).__name__} {value!r}"
    )


def normalize_executors(executors: Any) -> dict[str, Any]:
    """``executors=`` as a name → executor dict (one executor alone is ``default``);
    TypeError for anything that is not an executor."""
    if executors is None:
        return {}
    if isinstance(executors, Mapping):
        out: dict[str, Any] = {}
        for name, value in executors.items():
            if not isinstance(name, str):
                raise TypeError(f"executor names must be strings, not {name!r}")
            _check_executor(name, value)
            out[name] = value
        return out
    _check_executor(DEFAULT_EXECUTOR, executors)
    return {DEFAULT_EXECUTOR: executors}


class _Backend:
    """One executor of a run, as the session uses it."""

    #: Whether functions of ``__main__`` must travel by value (remote interpreters).
    by_value = False

    def __init__(self, name: str, kind: str, owned: bool) -> None:
        self.name = name
        self.kind = kind
        self.owned = owned

    def describe(self) -> str:
        return f"executor {self.name!r} ({self.kind})"

    def submit(self, key: str, *args: Any) -> Any:
        raise NotImplementedError

    def cancel(self, future: Any) -> bool:
        """Ask that ``future`` not run; True when it certainly will not."""
        raise NotImplementedError

    def close(self, abandoned: int) -> None:
        """End of the run (``abandoned`` calls were still running)."""


class _PoolBackend(_Backend):
    """A :class:`concurrent.futures.Executor` (process or thread pool, or another)."""

    def __init__(self, name: str, executor: cf.Executor, owned: bool) -> None:
        workers = getattr(executor, "_max_workers", None)
        kind = type(executor).__name__
        if isinstance(workers, int):
            kind += f", {workers} worker{'s' if workers != 1 else ''}"
        super().__init__(name, kind, owned)
        self.executor = executor

    def submit(self, key: str, *args: Any) -> Any:
        return self.executor.submit(run_call, *args)

    def cancel(self, future: Any) -> bool:
        return bool(future.cancel())

    def close(self, abandoned: int) -> None:
        if not self.owned:
            return  # the caller's executor: theirs to shut down
        executor = self.executor
        if abandoned and isinstance(executor, cf.ProcessPoolExecutor):
            # Our own pool, still busy with calls nobody waits for: stop its processes
            # rather than wait for work whose result would be dropped.
            # The pool may still be starting a worker: its table (mutated in place) is
            # read again after the first round, so a late starter is stopped too.
            table = getattr(executor, "_processes", None) or {}
            manager = getattr(executor, "_executor_manager_thread", None)
            stopped: dict[Any, Any] = {}
            executor.shutdown(wait=False, cancel_futures=True)
            for round_ in range(3):
                if round_ and manager is not None:
                    manager.join(2.0)  # it may still be adding a worker to the table
                fresh = {pid: p for pid, p in dict(table).items() if pid not in stopped}
                if not fresh:
                    break
                for process in fresh.values():
                    with contextlib.suppress(Exception):
                        process.terminate()
                stopped.update(fresh)
                for process in fresh.values():
                    with contextlib.suppress(Exception):
                        process.join(2.0)
            return
        executor.shutdown(wait=True, cancel_futures=True)


def _quietly(fn: Callable[[], object]) -> Callable[[], None]:
    def run() -> None:
        with contextlib.suppress(Exception):
            fn()

    return run


class _DaskBackend(_Backend):
    """A ``dask.distributed.Client``: calls are ``client.submit`` tasks, keyed by node
    and call so Dask's own tools name them; cancelling is ``client.cancel``, sent
    from a thread (it waits for the scheduler, which must never stall the loop)."""

    by_value = True

    def __init__(self, name: str, client: Any, owned: bool) -> None:
        address = getattr(getattr(client, "scheduler", None), "address", None)
        super().__init__(name, "dask" + (f" {address}" if address else ""), owned)
        self.client = client

    def submit(self, key: str, *args: Any) -> Any:
        return self.client.submit(run_call, *args, key=key, pure=False)

    def cancel(self, future: Any) -> bool:
        threading.Thread(
            target=_quietly(future.cancel), name="flowtrace-dask-cancel", daemon=True
        ).start()
        return True

    def close(self, abandoned: int) -> None:
        if self.owned:
            with contextlib.suppress(Exception):
                self.client.close(timeout=_DASK_CLOSE_TIMEOUT)


class _DaskAddressBackend(_DaskBackend):
    """A Dask scheduler address: the client is created on first use, in a thread (a
    connection may take seconds, or fail after ``DASK_CONNECT_TIMEOUT``); calls
    submitted meanwhile wait in order. Each call's future is a
    :class:`concurrent.futures.Future` that mirrors the Dask one."""

    def __init__(self, name: str, address: str) -> None:
        _Backend.__init__(self, name, f"dask {address}", True)
        self.address = address
        self.client: Any = None
        self._lock = threading.Lock()
        self._error: BaseException | None = None
        self._queued: list[tuple[cf.Future[Any], str, tuple[Any, ...]]] = []
        self._connecting = False

    def submit(self, key: str, *args: Any) -> Any:
        proxy: cf.Future[Any] = cf.Future()
        with self._lock:
            if self._error is not None:
                proxy.set_exception(self._error)
                return proxy
            if self.client is None:
                self._queued.append((proxy, key, args))
                if not self._connecting:
                    self._connecting = True
                    threading.Thread(
                        target=self._connect, name="flowtrace-dask-connect", daemon=True
                    ).start()
                return proxy
        self._forward(proxy, key, args)
        return proxy

    def _connect(self) -> None:
        try:
            import importlib

            client_class: Any = importlib.import_module("distributed").Client
            client = client_class(self.address, timeout=DASK_CONNECT_TIMEOUT, set_as_default=False)
        except BaseException as exc:
            error = ConnectionError(
                f"cannot connect to the Dask scheduler at {self.address}: "
                f"{type(exc).__name__}: {exc}"
            )
            with self._lock:
                self._error = error
                queued, self._queued = self._queued, []
            for proxy, _key, _args in queued:
                if proxy.set_running_or_notify_cancel():
                    proxy.set_exception(error)
            return
        with self._lock:
            self.client = client
            queued, self._queued = self._queued, []
        for proxy, key, args in queued:
            self._forward(proxy, key, args)

    def _forward(self, proxy: cf.Future[Any], key: str, args: tuple[Any, ...]) -> None:
        if not proxy.set_running_or_notify_cancel():
            return
        try:
            inner = self.client.submit(run_call, *args, key=key, pure=False)
        except BaseException as exc:
            proxy.set_exception(exc)
            return

        def copy(done: Any) -> None:
            try:
                proxy.set_result(done.result())
            except BaseException as exc:
                with contextlib.suppress(cf.InvalidStateError):
                    proxy.set_exception(exc)

        inner.add_done_callback(copy)
        proxy.inner = inner  # type: ignore[attr-defined]

    def cancel(self, future: Any) -> bool:
        inner = getattr(future, "inner", None)
        if inner is not None:
            return super().cancel(inner)
        return bool(future.cancel())

    def close(self, abandoned: int) -> None:
        with self._lock:
            self._error = self._error or ConnectionError("the run ended")
            client = self.client
        if client is not None:
            with contextlib.suppress(Exception):
                client.close(timeout=_DASK_CLOSE_TIMEOUT)


def _backend(name: str, value: Any, owned: bool) -> _Backend:
    if isinstance(value, str):
        return _DaskAddressBackend(name, value)
    if _is_dask_client(value):
        return _DaskBackend(name, value, owned)
    return _PoolBackend(name, value, owned)


# --------------------------------------------------------------------------- calls


class _Call:
    """One offloaded call, from submit to its last event."""

    __slots__ = (
        "args_desc",
        "backend",
        "call_id",
        "function",
        "future",
        "generation",
        "node_id",
        "pending",
        "submit_t_ns",
        "submit_wall_ns",
        "task",
    )

    def __init__(
        self, call_id: int, node_id: str | None, generation: Any, function: str, backend: _Backend
    ) -> None:
        self.call_id = call_id
        self.node_id = node_id
        self.generation = generation
        self.function = function
        self.backend = backend
        self.future: Any = None
        self.task: Task | None = None
        self.pending = True
        self.submit_t_ns = 0
        self.submit_wall_ns = 0

    def label(self) -> str:
        where = f" of node {self.node_id!r}" if self.node_id is not None else ""
        gen = f" (generation {_gen_text(self.generation)})" if self.generation else ""
        return f"offloaded call #{self.call_id} {self.function}(){where}{gen}"


def _gen_text(generation: Any) -> str:
    if not generation:
        return "-"
    return ".".join(str(g) for g in generation)


class _Resolution:
    """What the completion thread learned about a finished future (the loop thread
    turns it into events and a resumed task)."""

    __slots__ = ("exc", "outcome", "value")

    def __init__(
        self, outcome: CallOutcome | None, value: Any = None, exc: BaseException | None = None
    ) -> None:
        self.outcome = outcome
        self.value = value
        self.exc = exc


def _resolve(future: Any) -> _Resolution:
    """Runs on the executor's callback thread: collect the result, unpickle it."""
    try:
        outcome = future.result()
    except BaseException as exc:  # the executor's failure, never the user's
        return _Resolution(None, None, exc)
    if not isinstance(outcome, CallOutcome):
        return _Resolution(None, None, TypeError(f"unexpected reply {outcome!r}"))
    if outcome.blob is None:
        return _Resolution(outcome)
    try:
        value = pickle.loads(outcome.blob)
    except BaseException as exc:
        return _Resolution(outcome, None, exc)
    return _Resolution(outcome, value)


class OffloadWait(Command):
    """A node's task waits for an offloaded call (see the module docstring)."""

    __slots__ = ("call",)

    def __init__(self, call: _Call) -> None:
        self.call = call


@types.coroutine
def _wait(call: _Call) -> Generator[Any, Any, Any]:
    return (yield OffloadWait(call))


def _handle_wait(loop: EventLoop, task: Task, command: OffloadWait) -> None:
    call = command.call
    call.task = task
    session: OffloadSession = call.backend.session  # type: ignore[attr-defined]

    def cleanup() -> None:  # the task was cancelled while it waited
        session.cancel(call, "cancelled while its node waited")

    loop.park(
        task,
        cleanup,
        f"offloaded call #{call.call_id} {call.function}() on {call.backend.describe()}",
    )


OffloadWait.handler = staticmethod(_handle_wait)


# --------------------------------------------------------------------------- session


class OffloadSession:
    """The offloading state of one flow run: its executors, calls in flight, and the
    socket pair that wakes the loop. Opened by the run, closed when it ends (pending
    calls cancelled and reported, executors it created shut down)."""

    def __init__(self, flow: Flow, executors: Any) -> None:
        self.flow = flow
        self._specs = normalize_executors(executors)
        self._backends: dict[str, _Backend] = {}
        self._calls: dict[int, _Call] = {}  # in flight, in submit order
        self._next_id = 0
        self._inbox: collections.deque[tuple[_Call, _Resolution]] = collections.deque()
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        self._loop: EventLoop | None = None
        self._fn_blobs: dict[tuple[int, bool], tuple[Any, bytes]] = {}
        self._hooks: list[Callable[[str, int], WorkerContext | None]] | None = None
        self._pid = os.getpid()
        self._token = secrets.token_hex(4)
        self._closed = False

    # -- executors --------------------------------------------------------------------

    def backend(self, name: str) -> _Backend:
        found = self._backends.get(name)
        if found is not None:
            return found
        if name in self._specs:
            found = _backend(name, self._specs[name], owned=False)
        elif name == DEFAULT_EXECUTOR:
            found = _PoolBackend(name, cf.ProcessPoolExecutor(), owned=True)
        else:
            known = ", ".join(sorted(self._specs)) or "none"
            raise OffloadError(
                f"no executor named {name!r} in this run (executors given: {known}); pass "
                f"run_until_complete(executors={{{name!r}: ...}})"
            )
        found.session = self  # type: ignore[attr-defined]
        self._backends[name] = found
        return found

    # -- submit -----------------------------------------------------------------------

    def submit(
        self,
        task: Task | None,
        node: FinalizedNode | None,
        executor: str,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        body: bool,
    ) -> _Call:
        """Pickle, emit ``OffloadSubmitted``, hand the call to the executor. Raises
        (into the node) when a value cannot be pickled or the executor refuses."""
        if self._closed:
            raise OffloadError("this flow run has ended; offload() needs a running flow")
        node_id = node.node_id if node is not None else None
        generation = node._rt.eval_gen if node is not None and node._rt is not None else None
        function = getattr(fn, "__qualname__", None) or type(fn).__name__
        backend = self.backend(executor)
        where = (
            f"node {node_id!r} (generation {_gen_text(generation)})"
            if node_id is not None
            else "a task"
        )
        fn_blob = self._function_blob(fn, body, backend, where, function)
        args_blob = self._args_blob(fn, args, kwargs, body, backend, where, function, node)
        call = _Call(self._next_id, node_id, generation, function, backend)
        self._next_id += 1
        loop = self._ensure_wakeup()
        bus = self.flow._bus
        call.submit_wall_ns = time.time_ns()
        call.submit_t_ns = time.perf_counter_ns()
        if bus.listening[OffloadSubmitted.kind]:
            bus.emit(
                OffloadSubmitted,
                call.call_id,
                node_id,
                generation,
                task.task_id if task is not None else -1,
                executor,
                backend.kind,
                function,
                body,
                len(args_blob),
            )
        context = self._worker_context(bus.run_id, call.call_id, bus)
        # Unique across processes and clients sharing a cluster (Dask merges equal keys).
        key = f"{node_id or 'task'}-{function}-{bus.run_id}-{self._token}-{call.call_id}"
        try:
            future = backend.submit(key, fn_blob, args_blob, context, self._pid)
        except Exception as exc:
            error = OffloadLostError(
                f"{call.label()} was refused by {backend.describe()}: {type(exc).__name__}: {exc}",
                executor,
            )
            error.__cause__ = exc
            call.pending = False
            self._finished(call, "refused", None, None, error_info(error))
            raise error from exc
        call.future = future
        self._calls[call.call_id] = call
        loop.add_work_waiter()
        future.add_done_callback(lambda done: self._completed(call, done))
        return call

    def _function_blob(
        self, fn: Callable[..., Any], body: bool, backend: _Backend, where: str, function: str
    ) -> bytes:
        key = (id(fn), backend.by_value)
        cached = self._fn_blobs.get(key)
        if cached is not None and cached[0] is fn:
            return cached[1]
        module = getattr(fn, "__module__", None) or ""
        target: Any = fn
        if body and "<locals>" not in function and module:
            ref = BodyRef(module, function)
            with contextlib.suppress(Exception):
                if ref.resolve() is fn:
                    target = ref
        blob: bytes | None = None
        why: BaseException | None = None
        if not (backend.by_value and module == "__main__"):
            try:
                blob = pickle.dumps(target, protocol=PROTOCOL)
            except Exception as exc:
                why = exc
        if blob is None:
            try:
                blob = dumps_by_value(fn)
            except ImportError:
                pass
            except Exception as exc:
                why = exc
        if blob is None:
            raise UnpicklableValueError(
                f"{where}: cannot offload {function}() to {backend.describe()}: the "
                f"function cannot be pickled ({type(why).__name__ if why else 'error'}: "
                f"{why}). Define it at module level (or install cloudpickle, which "
                "pickles lambdas and nested functions by value)."
            )
        self._fn_blobs[key] = (fn, blob)
        return blob

    def _args_blob(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        body: bool,
        backend: _Backend,
        where: str,
        function: str,
        node: FinalizedNode | None,
    ) -> bytes:
        try:
            blob = pickle.dumps((args, kwargs), protocol=PROTOCOL)
        except Exception as exc:
            what, value, why = self._culprit(fn, args, kwargs, body, node, exc)
            raise UnpicklableValueError(
                f"{where}: cannot offload {function}() to {backend.describe()}: {what} "
                f"({type(value).__name__}) cannot be pickled ({type(why).__name__}: "
                f"{why}). Values sent to an executor travel by pickle: pass plain data, "
                "or keep this part in the node."
            ) from None
        if backend.by_value and b"__main__" in blob:
            with contextlib.suppress(Exception):
                blob = dumps_by_value((args, kwargs))
        return blob

    @staticmethod
    def _culprit(
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        body: bool,
        node: FinalizedNode | None,
        fallback: BaseException,
    ) -> tuple[str, Any, BaseException]:
        """Which argument failed to pickle, named as the user wrote it."""
        names: list[str] = []
        if body and node is not None:
            names = list(type(node._draft_node)._param_names)
        else:
            with contextlib.suppress(TypeError, ValueError):
                names = [
                    p.name
                    for p in inspect.signature(fn).parameters.values()
                    if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
                ]
        noun = "input" if body else "argument"
        for i, value in enumerate(args):
            try:
                pickle.dumps(value, protocol=PROTOCOL)
            except Exception as exc:
                name = f" `{names[i]}`" if i < len(names) else ""
                return f"{noun} {i}{name}", value, exc
        for name, value in kwargs.items():
            try:
                pickle.dumps(value, protocol=PROTOCOL)
            except Exception as exc:
                return f"keyword argument `{name}`", value, exc
        return "the arguments", args, fallback

    def _worker_context(self, run_id: str, call_id: int, bus: Any) -> WorkerContext | None:
        hooks = self._hooks
        if hooks is None:
            hooks = self._hooks = [
                hook
                for hook in (getattr(i, "offload_context", None) for i in bus.instruments)
                if callable(hook)
            ]
        for hook in hooks:
            try:
                context = hook(run_id, call_id)
            except Exception:
                logger.exception("offload_context hook %r failed", hook)
                continue
            if context is not None:
                return context
        return None

    # -- waking the loop ----------------------------------------------------------------

    def _ensure_wakeup(self) -> EventLoop:
        loop = current_event_loop()
        if loop is None:
            raise OffloadError("offload() must be awaited inside a running flow")
        if self._wake_r is None or self._loop is not loop:
            r, w = socket.socketpair()
            r.setblocking(False)
            w.setblocking(False)
            loop.selector.register(r, selectors.EVENT_READ, self._on_readable)
            self._wake_r, self._wake_w, self._loop = r, w, loop
        return loop

    def _completed(self, call: _Call, future: Any) -> None:
        """Executor thread: the future is done. Never touches engine state."""
        if not call.pending:
            return
        self._inbox.append((call, _resolve(future)))
        wake = self._wake_w
        if wake is not None:
            with contextlib.suppress(OSError):
                wake.send(b"\0")

    def _on_readable(self, mask: int) -> None:
        """Loop thread: deliver every finished call, in the order they finished."""
        r = self._wake_r
        if r is not None:
            with contextlib.suppress(OSError):
                while r.recv(4096):
                    pass
        inbox = self._inbox
        while inbox:
            call, resolution = inbox.popleft()
            if call.pending:
                self._deliver(call, resolution)

    def _deliver(self, call: _Call, res: _Resolution) -> None:
        call.pending = False
        self._calls.pop(call.call_id, None)
        loop = self._loop
        if loop is not None:
            loop.remove_work_waiter()
        outcome = res.outcome
        bus = self.flow._bus
        if outcome is not None and bus.listening[OffloadStarted.kind]:
            queue_ns = max(0, outcome.started_wall_ns - call.submit_wall_ns)
            bus.emit(
                OffloadStarted,
                call.call_id,
                call.node_id,
                outcome.worker,
                outcome.host,
                outcome.pid,
                queue_ns,
                call.submit_t_ns + queue_ns,
            )
        value, exc, kind, info = self._outcome(call, res)
        size = len(outcome.blob) if outcome is not None and outcome.blob is not None else None
        self._finished(call, kind, outcome.run_ns if outcome is not None else None, size, info)
        task = call.task
        if task is not None and loop is not None and not task.done:
            loop.make_ready(task, value, exc)

    def _outcome(
        self, call: _Call, res: _Resolution
    ) -> tuple[Any, BaseException | None, OffloadOutcome, ErrorInfo | None]:
        """(value, exception for the node, outcome, error for the trace)."""
        outcome = res.outcome
        backend = call.backend
        if outcome is None:  # the executor failed: the call is lost
            cause = res.exc
            assert cause is not None
            lost = OffloadLostError(
                f"{call.label()} was lost: {backend.describe()} failed "
                f"({type(cause).__name__}: {cause or 'no message'})",
                backend.name,
            )
            lost.__cause__ = cause
            return None, lost, "lost", error_info(lost)
        where = f"{outcome.worker} ({outcome.host})"
        if outcome.status == "returned":
            if res.exc is not None:
                err = OffloadError(
                    f"{call.label()}: the result sent back by {where} cannot be unpickled "
                    f"here ({type(res.exc).__name__}: {res.exc})"
                )
                err.__cause__ = res.exc
                return None, err, "raised", error_info(err)
            return res.value, None, "returned", None
        remote_tb = RemoteTraceback(outcome.traceback)
        info = ErrorInfo(outcome.error_type, outcome.error_message, outcome.traceback)
        if outcome.status == "raised":
            user = res.value
            if isinstance(user, BaseException):
                user.__cause__ = remote_tb
                return None, user, "raised", info
            wrapped = RemoteError(
                f"{call.label()} raised {outcome.error_type}: {outcome.error_message} on "
                f"{where} (the exception could not be sent back by pickle, so it arrives "
                "as RemoteError; the remote traceback is its cause)",
                outcome.error_type,
                outcome.error_message,
                outcome.traceback,
            )
            wrapped.__cause__ = remote_tb
            return None, wrapped, "raised", info
        failed = OffloadError(f"{call.label()} failed on {where}: {outcome.error_message}")
        failed.__cause__ = remote_tb
        return None, failed, "raised", info

    def _finished(
        self,
        call: _Call,
        outcome: OffloadOutcome,
        run_ns: int | None,
        result_bytes: int | None,
        error: ErrorInfo | None,
    ) -> None:
        bus = self.flow._bus
        if bus.listening[OffloadFinished.kind]:
            bus.emit(
                OffloadFinished, call.call_id, call.node_id, outcome, run_ns, result_bytes, error
            )

    # -- cancellation and the end of the run ---------------------------------------------

    def cancel(self, call: _Call, why: str) -> None:
        """Stop waiting for ``call``: cancel it at the executor when it has not
        started (``cancelled``), else drop its result (``abandoned``)."""
        if not call.pending:
            return
        call.pending = False
        self._calls.pop(call.call_id, None)
        if self._loop is not None:
            self._loop.remove_work_waiter()
        try:
            stopped = call.backend.cancel(call.future)
        except Exception:
            stopped = False
        self._finished(call, "cancelled" if stopped else "abandoned", None, None, None)

    def interrupt(self, task: Task, exc: BaseException) -> bool:
        """If ``task`` waits on an offloaded call: drop the call (cancel it at the
        executor, or abandon it if running) and throw ``exc`` into the task where it
        waits. False when it waits on nothing offloaded."""
        for call in self._calls.values():
            if call.task is task and call.pending:
                self.cancel(call, "interrupted")
                loop = self._loop
                if loop is not None:
                    loop.make_ready(task, None, exc)
                return True
        return False

    def close(self) -> None:
        """The run ended: report and cancel calls still in flight (submit order), shut
        down executors this run created, release the wake-up sockets. Never raises."""
        if self._closed:
            return
        self._closed = True
        try:
            abandoned: dict[str, int] = {}
            for call in list(self._calls.values()):
                self.cancel(call, "the run ended")
                if call.future is not None and not call.future.done():
                    abandoned[call.backend.name] = abandoned.get(call.backend.name, 0) + 1
            for name, backend in self._backends.items():
                try:
                    backend.close(abandoned.get(name, 0))
                except Exception:
                    logger.exception("closing %s failed", backend.describe())
        finally:
            for s in (self._wake_r, self._wake_w):
                if s is not None:
                    with contextlib.suppress(OSError):
                        s.close()
            self._wake_r = self._wake_w = None
            self._inbox.clear()


# --------------------------------------------------------------------------- API


def _session() -> tuple[OffloadSession, FinalizedNode | None, Task | None]:
    from flowtrace.engine.flow import current_flow, current_node

    flow = current_flow()
    session: OffloadSession | None = getattr(flow, "_offload_session", None)
    loop = current_event_loop()
    if session is None or loop is None:
        raise OffloadError(
            "offload() must be awaited inside a node of a running flow (or a task a node spawned)"
        )
    return session, current_node(), loop.running_task


async def _offload(
    executor: str, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], body: bool
) -> Any:
    session, node, task = _session()
    call = session.submit(task, node, executor, fn, args, kwargs, body)
    return await _wait(call)


async def offload(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """Run ``fn(*args, **kwargs)`` on the run's ``default`` executor and return its
    result; the node's task waits, the loop does not. Arguments and result travel by
    pickle; an exception ``fn`` raises is raised here, with the remote traceback as
    its ``__cause__``."""
    return await _offload(DEFAULT_EXECUTOR, fn, args, kwargs, False)


async def offload_to(executor: str, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """:func:`offload` on the executor the run names ``executor``."""
    return await _offload(executor, fn, args, kwargs, False)


def offload_body(executor: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """The ``_func`` of a node declared with ``offload=True`` / ``executor=``: an async
    function that runs ``fn``, the node's body, on ``executor``."""

    async def offloaded(*args: Any) -> Any:
        return await _offload(executor, fn, args, {}, True)

    offloaded.__qualname__ = getattr(fn, "__qualname__", "offloaded")
    offloaded.__name__ = getattr(fn, "__name__", "offloaded")
    return offloaded

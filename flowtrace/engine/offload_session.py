"""The offloading state of one flow run (:class:`OffloadSession`): submitting a call
(events, the executor, the worker's context), tracking the calls in flight, waking the
loop from executor threads, delivering results, cancelling, and closing at the end of
the run. Also :class:`_Call` (one call, submit to last event) and the command a node's
task waits with (:class:`OffloadWait`). How waiting works: :mod:`flowtrace.engine.offload`.
"""

from __future__ import annotations

import collections
import concurrent.futures as cf
import contextlib
import logging
import os
import secrets
import selectors
import socket
import time
import types
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

from flowtrace.engine import offload_pack
from flowtrace.engine.commands import Command
from flowtrace.engine.loop import EventLoop, current_event_loop, error_info
from flowtrace.engine.offload_errors import OffloadError, OffloadLostError
from flowtrace.engine.offload_executors import (
    DEFAULT_EXECUTOR,
    _Backend,
    _backend,
    _PoolBackend,
    normalize_executors,
)
from flowtrace.engine.offload_outcome import _outcome, _Resolution, _resolve
from flowtrace.engine.remote import WorkerContext
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

logger = logging.getLogger("flowtrace.offload")


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


class OffloadWait(Command):
    """A node's task waits for an offloaded call: parked until the loop delivers the
    call's result (:meth:`OffloadSession._deliver`); cancelling the task drops the call."""

    __slots__ = ("call",)

    def __init__(self, call: _Call) -> None:
        self.call = call

    @staticmethod
    def handler(loop: EventLoop, task: Task, command: OffloadWait) -> None:
        call = command.call
        call.task = task
        session = call.backend.session

        def cleanup() -> None:  # the task was cancelled while it waited
            session.cancel(call, "cancelled while its node waited")

        loop.park(
            task,
            cleanup,
            f"offloaded call #{call.call_id} {call.function}() on {call.backend.describe()}",
        )


@types.coroutine
def _wait(call: _Call) -> Generator[Any, Any, Any]:
    return (yield OffloadWait(call))


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
        found.session = self
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

    # Pickling the function and the arguments (offload_pack.py).
    _function_blob = offload_pack._function_blob
    _args_blob = offload_pack._args_blob

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
        value, exc, kind, info = _outcome(call, res)
        size = len(outcome.blob) if outcome is not None and outcome.blob is not None else None
        self._finished(call, kind, outcome.run_ns if outcome is not None else None, size, info)
        task = call.task
        if task is not None and loop is not None and not task.done:
            loop.make_ready(task, value, exc)

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

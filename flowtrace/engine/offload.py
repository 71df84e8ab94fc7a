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

The jobs, one module each: this one is the user API (``offload``, ``offload_to``, the
body of an offloaded node) and the import path of every offloading name;
:mod:`~flowtrace.engine.offload_executors` names and drives the executors,
:mod:`~flowtrace.engine.offload_session` submits and tracks the calls of a run,
:mod:`~flowtrace.engine.offload_pack` pickles a call for its worker,
:mod:`~flowtrace.engine.offload_outcome` maps what came back to what the node sees,
:mod:`~flowtrace.engine.offload_errors` holds the errors; :mod:`flowtrace.engine.remote`
runs on the worker.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flowtrace.engine.loop import current_event_loop
from flowtrace.engine.offload_errors import (
    OffloadError,
    OffloadLostError,
    RemoteError,
    RemoteTraceback,
    UnpicklableValueError,
)
from flowtrace.engine.offload_executors import DEFAULT_EXECUTOR
from flowtrace.engine.offload_executors import normalize_executors as normalize_executors
from flowtrace.engine.offload_session import OffloadSession, _wait
from flowtrace.engine.offload_session import OffloadWait as OffloadWait

if TYPE_CHECKING:
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

#: How long connecting to a Dask scheduler given by address may take (seconds). The
#: executors module reads it here each time a connection starts, so setting it here
#: (docs/offload.md) takes effect.
DASK_CONNECT_TIMEOUT = 10.0


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

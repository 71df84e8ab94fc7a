"""Offloaded calls: a call handed to an executor, where it ran, and how it ended."""

from __future__ import annotations

from flowtrace.events.base import Event, Generation, OffloadOutcome
from flowtrace.events.records import ErrorInfo

__all__ = ["OffloadSubmitted", "OffloadStarted", "OffloadFinished"]


class OffloadSubmitted(Event, frozen=True, gc=False):
    """A call was handed to an executor (``await offload(...)``, or a whole node body
    with ``@node(offload=True)``). Span key: ``call_id``, numbered per run from 0 in
    submit order. ``executor`` is the name the run gave it (``executors={name: ...}``),
    ``executor_kind`` its type (``ProcessPoolExecutor``, ``dask``…), ``function`` the
    qualified name of what runs there, ``body`` whether it is the node's whole body,
    ``payload_bytes`` the size of the pickled arguments."""

    call_id: int
    node_id: str | None
    generation: Generation
    task_id: int
    executor: str
    executor_kind: str
    function: str
    body: bool
    payload_bytes: int


class OffloadStarted(Event, frozen=True, gc=False):
    """Where and when a worker began call ``call_id``. The worker's report arrives
    with its result, so this event is emitted just before :class:`OffloadFinished`;
    ``started_t_ns`` is when the worker started, on the run's clock (the submit's
    ``t_ns`` plus ``queue_ns``, measured with wall clocks of both processes).
    ``worker`` is the Dask worker address, ``pid N`` for a process pool, ``thread
    NAME`` for a thread pool of the flow's own process."""

    call_id: int
    node_id: str | None
    worker: str
    host: str
    pid: int
    queue_ns: int
    started_t_ns: int


class OffloadFinished(Event, frozen=True, gc=False):
    """Call ``call_id`` ended: ``returned``, ``raised`` (the user's function raised,
    ``error`` says what, with the remote traceback), ``cancelled`` (it never ran),
    ``abandoned`` (it was running when its node stopped waiting; its result is
    dropped), ``lost`` (the executor failed: a worker died, the scheduler went away)
    or ``refused`` (the executor would not take it: shut down, unreachable).
    ``run_ns`` is the time the function ran on the worker, when known."""

    call_id: int
    node_id: str | None
    outcome: OffloadOutcome
    run_ns: int | None
    result_bytes: int | None
    error: ErrorInfo | None

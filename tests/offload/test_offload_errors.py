"""Errors and cancellation cross the boundary: remote exceptions arrive as themselves
with the remote traceback, unpicklable values fail at submit naming the argument, lost
and refused calls fail the node naming the executor, and a run that ends early cancels
the work still pending."""

from __future__ import annotations

import pickle
import threading
import time
from collections.abc import AsyncIterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any

import pytest
from _events import Collector

from flowtrace import FlowHDL, Stream, node, sleep
from flowtrace.events import NodeErrored, OffloadFinished, OffloadSubmitted, StreamCancelled
from flowtrace.offload import (
    OffloadError,
    OffloadLostError,
    RemoteError,
    RemoteTraceback,
    UnpicklableValueError,
    offload,
)

from .offload_workloads import (
    RAN,
    Dies,
    Fails,
    Nap,
    PickyError,
    TwoArgsError,
    fail,
    fail_picky,
    fail_two_args,
    nap,
    record,
    unpicklable_result,
)


def test_a_remote_exception_arrives_as_its_own_type_with_the_remote_traceback(
    pool: ProcessPoolExecutor,
) -> None:
    with FlowHDL() as f:
        f.bad = Fails("no good")
    events = Collector([NodeErrored, OffloadFinished])
    with pytest.raises(ValueError, match="no good") as info:
        f.run_until_complete(executors=pool, instruments=[events])
    cause = info.value.__cause__
    assert isinstance(cause, RemoteTraceback)
    assert "Traceback on pid" in cause.text and "raise ValueError(message)" in cause.text
    (finished,) = events.of(OffloadFinished)
    assert finished.outcome == "raised" and finished.error is not None
    assert (finished.error.type, finished.error.message) == ("ValueError", "no good")
    assert "raise ValueError(message)" in finished.error.traceback
    (errored,) = events.of(NodeErrored)
    assert errored.node_id == "bad" and errored.error.type == "ValueError"
    # The node's error carries the worker's traceback too (as its cause).
    assert "raise ValueError(message)" in errored.error.traceback


def test_an_exception_that_cannot_come_back_by_pickle_arrives_as_remote_error(
    pool: ProcessPoolExecutor,
) -> None:
    @node
    async def Picky(x: int) -> None:
        await offload(fail_picky)

    with FlowHDL() as f:
        f.p = Picky(0)
    with pytest.raises(RemoteError) as info:
        f.run_until_complete(executors=pool)
    err = info.value
    assert err.remote_type == f"{PickyError.__module__}.PickyError"
    assert err.remote_message == "left/right"
    assert "raise PickyError" in err.remote_traceback
    assert "could not be sent back by pickle" in str(err)
    assert "of node 'p'" in str(err)


def test_an_exception_is_sent_back_only_if_it_survives_the_round_trip() -> None:
    # Checked on the worker: loads(dumps(exc)) must rebuild it, or it arrives wrapped.
    from flowtrace.engine.remote import run_call

    fn = pickle.dumps(fail_two_args)
    outcome = run_call(fn, pickle.dumps(((), {})), None, -1)
    assert outcome.status == "raised"
    rebuilt = outcome.blob is not None
    try:
        pickle.loads(pickle.dumps(TwoArgsError("left", "right")))
        survives = True
    except TypeError:
        survives = False
    assert rebuilt == survives
    assert outcome.error_type.endswith("TwoArgsError")
    assert outcome.error_message == "left/right"


def test_an_unpicklable_argument_fails_at_submit_naming_the_node_and_the_argument(
    pool: ProcessPoolExecutor,
) -> None:
    @node
    async def Sends(x: int) -> None:
        await offload(nap, 0.0, threading.Lock())

    with FlowHDL() as f:
        f.sends = Sends(1)
    events = Collector([OffloadSubmitted])
    with pytest.raises(UnpicklableValueError) as info:
        f.run_until_complete(executors=pool, instruments=[events])
    text = str(info.value)
    assert "node 'sends' (generation 0)" in text
    assert "argument 1 `value` (lock) cannot be pickled" in text
    assert "travel by pickle" in text
    assert events.of(OffloadSubmitted) == []  # nothing was sent


def test_an_unpicklable_node_input_is_named_by_its_port(pool: ProcessPoolExecutor) -> None:
    @node
    async def MakeLock() -> threading.Lock:
        return threading.Lock()

    with FlowHDL() as f:
        f.lock = MakeLock()
        f.nap = Nap(f.lock)
    with pytest.raises(UnpicklableValueError, match=r"node 'nap' .*input 0 `seconds` \(lock\)"):
        f.run_until_complete(executors=pool)


def test_a_function_that_cannot_be_pickled_is_reported(
    pool: ProcessPoolExecutor, monkeypatch: pytest.MonkeyPatch
) -> None:
    import flowtrace.engine.offload_pack as offload_pack  # where calls are pickled

    def no_cloudpickle(obj: object) -> bytes:
        raise ImportError("cloudpickle")

    monkeypatch.setattr(offload_pack, "dumps_by_value", no_cloudpickle)

    @node
    async def Local(x: int) -> int:
        return int(await offload(lambda: x))

    with FlowHDL() as f:
        f.loc = Local(1)
    with pytest.raises(UnpicklableValueError, match=r"<lambda>\(\).*function cannot be pickled"):
        f.run_until_complete(executors=pool)


def test_lambdas_travel_by_value_when_cloudpickle_is_installed(
    pool: ProcessPoolExecutor,
) -> None:
    pytest.importorskip("cloudpickle", reason="cloudpickle (installed with dask) is missing")

    @node
    async def Local(x: int) -> int:
        return int(await offload(lambda: x + 1))

    with FlowHDL() as f:
        f.loc = Local(1)
    f.run_until_complete(executors=pool)
    assert f.loc.get_data() == (2,)


def test_a_result_that_cannot_be_pickled_fails_naming_it(pool: ProcessPoolExecutor) -> None:
    @node
    async def Gets(x: int) -> None:
        await offload(unpicklable_result)

    with FlowHDL() as f:
        f.g = Gets(1)
    with pytest.raises(OffloadError, match=r"the result \(_thread.lock\) cannot be pickled"):
        f.run_until_complete(executors=pool)


def test_a_worker_killed_mid_task_fails_the_node_naming_the_executor() -> None:
    with ProcessPoolExecutor(1) as doomed:
        with FlowHDL() as f:
            f.dies = Dies(0)
        events = Collector([OffloadFinished, NodeErrored])
        with pytest.raises(OffloadLostError) as info:
            f.run_until_complete(executors={"default": doomed}, instruments=[events])
    err = info.value
    assert err.executor == "default"
    assert "offloaded call #0 Dies() of node 'dies'" in str(err)
    assert "executor 'default' (ProcessPoolExecutor, 1 worker) failed" in str(err)
    assert "BrokenProcessPool" in str(err)
    (finished,) = events.of(OffloadFinished)
    assert finished.outcome == "lost" and finished.node_id == "dies"
    assert events.of(NodeErrored)[0].node_id == "dies"


def test_an_executor_already_shut_down_refuses_the_call() -> None:
    closed = ThreadPoolExecutor(1)
    closed.shutdown()
    with FlowHDL() as f:
        f.n = Nap(0.0)
    events = Collector([OffloadSubmitted, OffloadFinished])
    with pytest.raises(OffloadLostError, match=r"refused by executor 'default' \(ThreadPool"):
        f.run_until_complete(executors=closed, instruments=[events])
    (submitted,) = events.of(OffloadSubmitted)
    (finished,) = events.of(OffloadFinished)
    assert finished.call_id == submitted.call_id and finished.outcome == "refused"
    assert finished.error is not None and "shutdown" in finished.error.message


def test_a_run_aborted_by_an_error_cancels_the_calls_still_pending() -> None:
    # One worker thread: the first call runs (abandoned at the abort), the second
    # waits in the executor's queue (cancelled: it never runs).
    RAN.clear()

    @node
    async def Job(name: str, seconds: float) -> str:
        return str(await offload(record, name, seconds))

    @node
    async def Boom(x: int) -> None:
        await sleep(0.05)  # in the loop, while the calls are in flight
        raise KeyError("abort")

    with ThreadPoolExecutor(1) as one:
        with FlowHDL() as f:
            f.first = Job("first", 0.3)
            f.second = Job("second", 0.0)
            f.boom = Boom(0)
        events = Collector([OffloadSubmitted, OffloadFinished])
        started = time.perf_counter()
        with pytest.raises(KeyError, match="abort"):
            f.run_until_complete(executors=one, instruments=[events])
        elapsed = time.perf_counter() - started
    outcomes = {e.node_id: e.outcome for e in events.of(OffloadFinished)}
    assert outcomes["first"] == "abandoned"
    assert outcomes["second"] == "cancelled"
    assert RAN == ["first"]  # the second call never ran
    # every submitted call has its end in the trace, reported before the run's end
    assert {e.call_id for e in events.of(OffloadSubmitted)} == {
        e.call_id for e in events.of(OffloadFinished)
    }
    assert elapsed < 5  # the run did not wait for the abandoned call's result


def test_the_run_s_own_pool_is_stopped_when_calls_are_abandoned() -> None:
    import multiprocessing

    @node
    async def Boom(x: int) -> None:
        raise KeyError("abort")

    before = {p.pid for p in multiprocessing.active_children()}
    with FlowHDL() as f:
        f.slow = Nap(30.0)
        f.boom = Boom(0)
    events = Collector([OffloadFinished])
    started = time.perf_counter()
    with pytest.raises(KeyError):
        f.run_until_complete(instruments=[events])
    assert time.perf_counter() - started < 20
    assert [e.outcome for e in events.of(OffloadFinished)] in (["abandoned"], ["cancelled"])
    assert {p.pid for p in multiprocessing.active_children()} <= before, [
        (p.name, p.exitcode, p.is_alive()) for p in multiprocessing.active_children()
    ]


def test_cancelling_a_waiting_task_cancels_its_call() -> None:
    from flowtrace import spawn

    @node
    async def Canceller(x: int) -> str:
        handle = await spawn(offload(nap, 0.3, "late"))
        await handle.cancel()
        return "done"

    with ThreadPoolExecutor(1) as one:
        with FlowHDL() as f:
            f.c = Canceller(0)
        events = Collector([OffloadFinished])
        f.run_until_complete(executors=one, instruments=[events])
    assert f.c.get_data() == ("done",)
    (finished,) = events.of(OffloadFinished)
    assert finished.outcome in ("abandoned", "cancelled")
    assert finished.node_id is None  # the spawned task is not the node itself


def test_a_thread_pool_raising_keeps_the_original_exception_too(
    threads: ThreadPoolExecutor,
) -> None:
    @node
    async def T(x: int) -> None:
        await offload(fail, "from a thread")

    with FlowHDL() as f:
        f.t = T(0)
    with pytest.raises(ValueError, match="from a thread"):
        f.run_until_complete(executors=threads)


def test_a_stream_cancel_cancels_the_call_its_producer_waits_on() -> None:
    # Two readers of one stream: `all` keeps asking for items, so the producer is busy
    # with call 1 when `first` cancels the stream; that call is dropped at once.
    RAN.clear()

    @node
    async def Items(n: int) -> AsyncIterator[Any]:
        for i in range(n):
            yield await offload(record, i, 0.0 if i == 0 else 0.5)

    @node(stream_in=["items"])
    async def FirstOnly(items: Stream[Any]) -> int:
        async for value in items:
            await sleep(0.1)  # meanwhile the producer works on the next item
            await items.cancel()
            return int(value)
        return -1

    @node(stream_in=["items"])
    async def All(items: Stream[Any]) -> int:
        count = 0
        async for _ in items:
            count += 1
        return count

    with ThreadPoolExecutor(1) as one:
        with FlowHDL() as f:
            f.items = Items(3)
            f.first = FirstOnly(f.items)
            f.all = All(f.items)
        events = Collector([OffloadFinished, StreamCancelled])
        started = time.perf_counter()
        f.run_until_complete(executors=one, instruments=[events])
        elapsed = time.perf_counter() - started
    assert f.first.get_data() == (0,)
    outcomes = [(e.call_id, e.outcome) for e in events.of(OffloadFinished)]
    assert outcomes == [(0, "returned"), (1, "abandoned")]  # call 1 was running
    assert RAN == [0, 1]  # and item 2 was never asked for
    (cancelled,) = events.of(StreamCancelled)
    assert cancelled.producer == "items" and cancelled.requested_by == ("first",)
    assert not cancelled.handled
    assert elapsed < 0.45  # the producer did not wait for the call it no longer needs


def test_a_call_the_worker_cannot_unpickle_fails_saying_so() -> None:
    from flowtrace.engine.remote import run_call

    outcome = run_call(pickle.dumps(nap), b"not a pickle", None, -1)
    assert outcome.status == "failed" and outcome.run_ns == 0
    assert outcome.error_message.startswith("could not unpickle the call on pid ")
    assert outcome.error_type == "_pickle.UnpicklingError"


class _Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no text for you")


def _raise_unprintable() -> None:
    raise _Unprintable()


def test_a_remote_exception_whose_str_fails_is_still_described() -> None:
    import os

    from flowtrace.engine.remote import run_call

    outcome = run_call(pickle.dumps(_raise_unprintable), pickle.dumps(((), {})), None, os.getpid())
    assert outcome.status in ("raised", "failed")
    assert outcome.error_message == "<str() failed: RuntimeError>"
    assert "_Unprintable" in outcome.traceback

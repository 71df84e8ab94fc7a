"""Anything but ``KeyboardInterrupt``/``SystemExit`` escaping a node is that node's error.

``asyncio.CancelledError`` (a node awaiting a future another asyncio task cancels),
a ``GeneratorExit`` the node raises, a custom ``BaseException`` subclass: each ends the
run through the usual error path — ``NodeErrored`` naming node, generation and phase,
``FlowFinished(outcome="error")`` — on the first run and on a re-run, never as
``DeadlockError``. Exceptions that are not ``Exception``\\ s reach the caller wrapped in
``NodeExecutionError`` (``__cause__`` is the original), so a caller in asyncio does not
mistake a node's ``CancelledError`` for its own cancellation.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from _loop_support import Collector

from flowtrace import FlowHDL, NodeExecutionError, Stream, node, sleep
from flowtrace.events import FlowFinished, NodeErrored


class Meltdown(BaseException):
    """A user's own BaseException subclass."""


def _raising(make: Callable[[], BaseException]) -> FlowHDL:
    @node
    async def Source(x: int = 1) -> int:
        return x

    @node
    async def Bad(x: int) -> int:
        raise make()

    with FlowHDL() as f:
        f.source = Source()
        f.bad = Bad(f.source)
    return f


@pytest.mark.parametrize(
    "make",
    [
        lambda: asyncio.CancelledError("cancelled under the node"),
        lambda: GeneratorExit("raised by the node"),
        lambda: Meltdown("custom"),
    ],
    ids=["CancelledError", "GeneratorExit", "custom BaseException"],
)
def test_a_node_raising_a_base_exception_is_a_node_error_on_every_run(
    make: Callable[[], BaseException],
) -> None:
    f = _raising(make)
    for _run in range(2):
        rec = Collector([NodeErrored, FlowFinished])
        with pytest.raises(NodeExecutionError) as info:
            f.run_until_complete(instruments=[rec])
        error = info.value
        assert (error.node_id, error.generation) == ("bad", (0,))
        assert type(error.__cause__) is type(make())
        assert error.error is error.__cause__
        (errored,) = rec.of(NodeErrored)
        assert (errored.node_id, errored.generation, errored.phase) == ("bad", (0,), "call")
        assert errored.error.type.endswith(type(make()).__name__)
        (finished,) = rec.of(FlowFinished)
        assert (finished.outcome, finished.node_id, finished.generation) == ("error", "bad", (0,))


def test_a_node_awaiting_a_future_another_asyncio_task_cancels_fails_with_its_error() -> None:
    @node
    async def Awaiter(x: int = 0) -> int:
        aloop = asyncio.get_running_loop()
        future: asyncio.Future[int] = aloop.create_future()
        aloop.call_later(0.01, future.cancel)  # someone else cancels it
        return await future

    with FlowHDL() as f:
        f.awaiter = Awaiter()

    async def driver() -> None:
        await f.run_until_complete_async()

    for _run in range(2):
        with pytest.raises(NodeExecutionError) as info:
            asyncio.run(asyncio.wait_for(driver(), 10))
        assert info.value.node_id == "awaiter"
        assert isinstance(info.value.__cause__, asyncio.CancelledError)


def test_a_streaming_node_raising_a_base_exception_is_a_node_error_in_phase_stream() -> None:
    rec = Collector([NodeErrored])

    @node
    async def Items(x: int = 0):  # type: ignore[no-untyped-def]
        yield 1
        raise Meltdown("mid-stream")

    @node(stream_in=["items"])
    async def Reader(items: Stream[int]) -> int:
        return sum([item async for item in items])

    with FlowHDL() as f:
        f.items = Items()
        f.reader = Reader(f.items)
    with pytest.raises(NodeExecutionError) as info:
        f.run_until_complete(instruments=[rec])
    assert isinstance(info.value.__cause__, Meltdown)
    (errored,) = rec.of(NodeErrored)
    assert (errored.node_id, errored.phase) == ("items", "stream")


def test_without_termination_a_base_exception_is_collected_with_the_others() -> None:
    @node
    async def Bad(x: int = 0) -> int:
        raise Meltdown("one")

    @node
    async def Good(x: int = 0) -> int:
        await sleep(0.01)
        return 7

    with FlowHDL() as f:
        f.bad = Bad()
        f.good = Good()
    with pytest.raises(NodeExecutionError) as info:
        f.run_until_complete(terminate_on_node_error=False, virtual_time=True)
    assert [(node_id, gen) for node_id, gen, _exc in info.value.errors] == [("bad", (0,))]
    assert isinstance(info.value.__cause__, Meltdown)
    assert f.good.get_data() == (7,)


def test_a_plain_exception_still_reaches_the_caller_unchanged() -> None:
    boom = ValueError("boom")
    f = _raising(lambda: boom)
    with pytest.raises(ValueError) as info:
        f.run_until_complete()
    assert info.value is boom


def test_a_keyboard_interrupt_in_a_node_still_interrupts_the_run() -> None:
    rec = Collector([NodeErrored, FlowFinished])
    f = _raising(KeyboardInterrupt)
    with pytest.raises(KeyboardInterrupt):
        f.run_until_complete(instruments=[rec])
    assert rec.of(NodeErrored) == []
    assert [e.outcome for e in rec.of(FlowFinished)] == ["interrupted"]


def test_nodes_abandoned_when_a_run_ends_are_closed_without_becoming_node_errors() -> None:
    # Closing an abandoned node's coroutine throws GeneratorExit into it: that is the
    # engine ending it, not the node failing.
    log: list[str] = []
    rec = Collector([NodeErrored])

    @node
    async def Sleeper(x: int = 0) -> int:
        try:
            await sleep(10)
        finally:
            log.append("sleeper closed")
        return x

    @node
    async def Bad(x: int = 0) -> int:
        await sleep(0.01)
        raise Meltdown("ends the run")

    with FlowHDL() as f:
        f.sleeper = Sleeper()
        f.bad = Bad()
    with pytest.raises(NodeExecutionError):
        f.run_until_complete(instruments=[rec], virtual_time=True)
    assert log == ["sleeper closed"]
    assert [e.node_id for e in rec.of(NodeErrored)] == ["bad"]


def test_an_exception_escaping_the_engine_code_around_a_node_is_still_its_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Stands for a bug in the engine's handling after the user's code returned: the
    # node's task dies, and the run must end with that error, not with a deadlock.
    from flowtrace.engine.flow import Flow

    def broken(self: Flow, *args: object) -> bool:
        raise RuntimeError("engine bug")

    monkeypatch.setattr(Flow, "_finish_mono", broken)
    rec = Collector([NodeErrored, FlowFinished])
    f = _raising(lambda: Meltdown("never reached"))
    with pytest.raises(RuntimeError, match="engine bug"):
        f.run_until_complete(instruments=[rec])
    (errored,) = rec.of(NodeErrored)
    assert errored.node_id == "source"
    assert [e.outcome for e in rec.of(FlowFinished)] == ["error"]

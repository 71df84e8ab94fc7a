"""The rest of Flowno's public surface under flowtrace's names: utilities, node typing
classes, two-parameter node generics, ``EventLoop.finished``."""

from __future__ import annotations

import importlib
import logging
from collections.abc import AsyncGenerator, Generator
from types import coroutine
from typing import Any, Unpack

import pytest

from flowtrace import EventLoop, FlowHDL, node, sleep
from flowtrace.core.mono_node import MonoNode, MonoNode0, MonoNode1, MonoNode2, MonoNode_1
from flowtrace.core.node_base import DraftNode, FinalizedNode
from flowtrace.core.streaming_node import StreamingNode0, StreamingNode1
from flowtrace.utilities.asyncgen_wrapper import AsyncGeneratorWrapper
from flowtrace.utilities.coroutine_wrapper import CoroutineWrapper
from flowtrace.utilities.logging import log_async


def test_node_types_take_flownos_two_type_parameters() -> None:
    # Flowno spells it with Unpack (it supports Python 3.10):
    assert DraftNode[Unpack[tuple[Any, ...]], tuple[object, ...]] is not None  # noqa: UP044
    assert DraftNode[int, tuple[int]].__origin__ is DraftNode  # type: ignore[attr-defined]
    # Subscriptable at run time for Flowno's spelling; flowtrace does not type it generic:
    assert FinalizedNode[int, tuple[int]].__origin__ is FinalizedNode  # type: ignore[misc]

    class Increment(DraftNode[int, tuple[int]]):
        async def call(self, x: int = 0) -> tuple[int]:
            return (x + 1,)

    with FlowHDL() as f:
        f.inc = Increment(41)
    f.run_until_complete()
    assert f.inc.get_data() == (42,)


def test_mono_and_streaming_node_classes_annotate() -> None:
    assert issubclass(MonoNode0, DraftNode) and issubclass(StreamingNode0, DraftNode)
    for generic in (
        MonoNode0[tuple[int]],
        MonoNode1[int, tuple[int]],
        MonoNode2[int, str, tuple[int]],
        StreamingNode1[int, tuple[str]],
        MonoNode_1[int],
        MonoNode[int, tuple[int]],
    ):
        assert generic is not None


@coroutine
def yields(value: int) -> Generator[int, None, str]:
    yield value
    return "Done"


async def constant(value: int) -> str:
    return await yields(value)


def test_a_coroutine_wrapper_forwards_send_throw_and_close(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    wrapped = CoroutineWrapper(constant(42), "constant", "42")
    assert repr(wrapped) == "CoroutineWrapper(constant(42))"
    assert wrapped.send(None) == 42
    with pytest.raises(StopIteration) as stop:
        wrapped.send(None)
    assert stop.value.value == "Done"

    thrown = CoroutineWrapper(constant(1), "constant", "1")
    thrown.send(None)
    with pytest.raises(KeyError):
        thrown.throw(KeyError("k"))
    closed = CoroutineWrapper(constant(2), "constant", "2")
    closed.send(None)
    closed.close()
    messages = "\n".join(r.message for r in caplog.records)
    for fragment in (
        "Resuming coroutine: constant(42) with send(None)",
        "Coroutine constant(42) yielded 42",
        "Finished coroutine: constant(42) with result 'Done'",
        "Throwing into coroutine: constant(1) exception KeyError",
        "Coroutine constant(1) raised exception after throw: KeyError('k')",
        "Coroutine constant(2) closed",
    ):
        assert fragment in messages, fragment


def test_log_async_logs_tasks_awaits_and_async_generators(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)

    @log_async
    async def numbers(n: int) -> AsyncGenerator[int, None]:
        for i in range(n):
            await sleep(0)
            yield i

    @log_async
    async def double(x: int, *, by: int = 2) -> int:
        return x * by

    @log_async
    async def main() -> list[int]:
        out = [await double(3, by=3)]
        async for i in numbers(2):
            out.append(i)
        return out

    loop = EventLoop()
    root = main()
    assert loop.run_until_complete(root, join=True) == [9, 0, 1]
    assert loop.finished[root] == [9, 0, 1]
    messages = "\n".join(r.message for r in caplog.records)
    for fragment in (
        "Calling function: main()",
        "main() is a coroutine",
        "Calling function: double(3, by=3)",
        "Starting coroutine: double(3, by=3) via __await__",
        "Coroutine double(3, by=3) completed via __await__ with result 9",
        "numbers(2) is an async generator",
        "Async generator numbers(2) yielded 0",
        "Async generator numbers(2) finished",
        "Finished coroutine: main() with result [9, 0, 1]",
    ):
        assert fragment in messages, fragment


def test_an_async_generator_wrapper_forwards_asend_athrow_and_aclose(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)

    async def echo() -> AsyncGenerator[str, str]:
        got = "start"
        while True:
            try:
                got = yield got
            except ValueError:
                got = "recovered"

    async def main() -> list[str]:
        gen = AsyncGeneratorWrapper(echo(), "echo", "")
        assert gen.__aiter__() is gen
        out = [await gen.__anext__(), await gen.asend("a"), await gen.athrow(ValueError)]
        await gen.aclose()
        return out

    assert EventLoop().run_until_complete(main(), join=True) == ["start", "a", "recovered"]
    messages = "\n".join(r.message for r in caplog.records)
    assert "Resuming async generator echo() with asend('a')" in messages
    assert "Async generator echo() closed" in messages


def test_log_async_under_node_and_on_a_plain_function(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    @node
    @log_async
    async def Answer() -> int:
        return 42

    with FlowHDL() as f:
        f.answer = Answer()
    f.run_until_complete()
    assert f.answer.get_data() == (42,)

    @log_async
    def plain(x: int) -> int:
        return x

    assert plain(5) == 5
    assert "Function plain(5) is not a coroutine or async generator" in caplog.text


def test_wrappers_log_and_reraise_every_exception_path(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    async def fails() -> None:
        raise ValueError("inside")

    with pytest.raises(ValueError, match="inside"):
        CoroutineWrapper(fails(), "fails", "").send(None)

    async def catches() -> str:
        try:
            await yields(1)
        except KeyError:
            return "caught"
        return "missed"

    wrapped = CoroutineWrapper(catches(), "catches", "")
    wrapped.send(None)
    with pytest.raises(StopIteration) as stop:
        wrapped.throw(KeyError, KeyError("typed"), None)
    assert stop.value.value == "caught"

    async def awaits_failure() -> None:
        await CoroutineWrapper(fails(), "inner", "")

    with pytest.raises(ValueError):
        CoroutineWrapper(awaits_failure(), "outer", "").send(None)

    async def gen_fails() -> AsyncGenerator[int, None]:
        yield 1
        raise RuntimeError("gen broke")

    async def drive() -> list[str]:
        out = []
        agen = AsyncGeneratorWrapper(gen_fails(), "gen_fails", "")
        await agen.__anext__()
        try:
            await agen.__anext__()
        except RuntimeError as exc:
            out.append(str(exc))
        done = AsyncGeneratorWrapper(gen_fails(), "gen_fails", "")
        await done.__anext__()
        try:
            await done.athrow(ValueError("stop"))
        except ValueError as exc:
            out.append(str(exc))
        fresh = AsyncGeneratorWrapper(gen_fails(), "fresh", "")
        out.append(str(await fresh.asend(None)))
        await fresh.aclose()
        return out

    assert EventLoop().run_until_complete(drive(), join=True) == ["gen broke", "stop", "1"]
    text = caplog.text
    assert "Coroutine fails() raised exception ValueError('inside')" in text
    assert "Finished coroutine after throw: catches() with result 'caught'" in text
    assert "Coroutine inner() raised exception via __await__" in text
    assert "Exception in async generator: gen_fails(): RuntimeError('gen broke')" in text


FLOWNO_PATHS = {
    "flowtrace.io": ["HttpClient", "Headers", "HttpServer"],
    "flowtrace.io.headers": ["Headers"],
    "flowtrace.io.http_client": [
        "HttpClient",
        "Response",
        "OkStreamingResponse",
        "ErrStreamingResponse",
        "HTTPException",
        "streaming_response_is_ok",
    ],
    "flowtrace.io.http_server": ["HttpServer"],
    "flowtrace.core.event_loop.instrumentation": [
        "EventLoopInstrument",
        "PrintInstrument",
        "LogInstrument",
        "InstrumentationMetadata",
        "ReadySocketInstrumentationMetadata",
        "SocketRecvDataMetadata",
        "SocketSendDataMetadata",
        "SocketConnectStartMetadata",
        "SocketConnectReadyMetadata",
        "TLSHandshakeMetadata",
        "TaskSendMetadata",
        "TaskThrowMetadata",
        "get_current_instrument",
        "_instrument_stack",
        "_CompositeInstrument",
    ],
    "flowtrace.utilities.logging": ["log_async"],
    "flowtrace.utilities.coroutine_wrapper": ["CoroutineWrapper"],
    "flowtrace.utilities.asyncgen_wrapper": ["AsyncGeneratorWrapper"],
    "flowtrace.core.mono_node": [
        "MonoNode",
        "MonoNode0",
        "MonoNode0_0",
        "MonoNode0_1",
        "MonoNode1",
        "MonoNode2",
        "MonoNode_1",
    ],
    "flowtrace.core.streaming_node": [
        "StreamingNode",
        "StreamingNode0",
        "StreamingNode0_0",
        "StreamingNode0_1",
        "StreamingNode1",
        "StreamingNode2",
    ],
}


@pytest.mark.parametrize("module", sorted(FLOWNO_PATHS))
def test_flownos_module_paths_import_under_flowtrace(module: str) -> None:
    imported = importlib.import_module(module)
    missing = [name for name in FLOWNO_PATHS[module] if not hasattr(imported, name)]
    assert not missing, f"{module}: {missing}"


EVENT_LOOP_HOOKS = [
    "on_queue_get",
    "on_queue_put",
    "on_socket_connect_start",
    "on_socket_connect_ready",
    "on_socket_recv_start",
    "on_socket_recv_ready",
    "on_socket_recv_data",
    "on_socket_send_data",
    "on_tls_handshake_complete",
    "on_socket_send_start",
    "on_socket_send_ready",
    "on_socket_accept_start",
    "on_socket_accept_ready",
    "on_socket_close",
    "on_task_before_send",
    "on_task_after_send",
    "on_task_before_throw",
    "on_task_after_throw",
    "on_task_completed",
    "on_task_error",
    "on_task_cancelled",
]


def test_the_event_loop_instrument_has_every_flowno_hook() -> None:
    from flowtrace.core.event_loop.instrumentation import EventLoopInstrument

    missing = [h for h in EVENT_LOOP_HOOKS if not callable(getattr(EventLoopInstrument, h, None))]
    assert missing == []

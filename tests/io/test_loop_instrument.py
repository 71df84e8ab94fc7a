"""Flowno's EventLoopInstrument hooks fire from flowtrace's events (and step watchers)."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Any, Generic, TypeVar

import pytest

from flowtrace import EventLoop, sleep, spawn
from flowtrace.core.event_loop.instrumentation import (
    EMPTY_INSTRUMENT,
    EventLoopInstrument,
    LogInstrument,
    PrintInstrument,
    SocketRecvDataMetadata,
    SocketSendDataMetadata,
    TaskSendMetadata,
    _CompositeInstrument,
    _instrument_stack,
    get_current_instrument,
)
from flowtrace.engine.queues import AsyncQueue
from flowtrace.engine.sockets import socket
from flowtrace.testing.llm_server import LocalLLMServer
from flowtrace.testing.tls import self_signed_certificate, trusting

T = TypeVar("T")


class Recorder(EventLoopInstrument, Generic[T]):
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def on_queue_put(self, queue: Any, item: Any, immediate: bool) -> None:
        self.calls.append(("put", (item, immediate)))

    def on_queue_get(self, queue: Any, item: Any, immediate: bool) -> None:
        self.calls.append(("get", (item, immediate)))

    def on_socket_recv_data(self, metadata: SocketRecvDataMetadata) -> None:
        self.calls.append(("recv-data", metadata.data))

    def on_socket_send_data(self, metadata: SocketSendDataMetadata) -> None:
        self.calls.append(("send-data", (metadata.data, metadata.bytes_sent)))

    def on_socket_connect_ready(self, metadata: Any) -> None:
        self.calls.append(("connected", metadata.socket_handle is not None))

    def on_socket_close(self, metadata: Any) -> None:
        self.calls.append(("close", None))

    def on_task_before_send(self, metadata: TaskSendMetadata) -> None:
        self.calls.append(("step", None))

    def on_task_completed(self, task: Any, result: Any) -> None:
        self.calls.append(("completed", result))


def test_every_socket_queue_and_task_hook_gets_live_objects() -> None:
    item = object()

    async def main() -> str:
        queue: AsyncQueue[object] = AsyncQueue()
        getter = await spawn(queue.get())
        await queue.put(item)
        got = await getter.join()
        server = socket()
        server.bind(("127.0.0.1", 0))
        server.listen()
        client = socket()
        client.connect(server.getsockname())
        conn, _ = await server.accept()
        await client.sendAll(b"hello")
        assert await conn.recv(5) == b"hello"
        for s in (client, conn, server):
            s.close()
        return "done" if got is item else "wrong item"

    with Recorder[int]() as rec:
        result = EventLoop().run_until_complete(main(), join=True)
    assert result == "done"
    names = [name for name, _ in rec.calls]
    assert ("put", (item, True)) in rec.calls
    assert ("get", (item, False)) in rec.calls  # the getter blocked first
    assert ("connected", True) in rec.calls
    assert ("send-data", (b"hello", 5)) in rec.calls
    assert ("recv-data", b"hello") in rec.calls
    assert names.count("close") == 3
    assert names.count("step") > 5
    assert rec.calls[-1] == ("completed", "done")


def test_nested_instruments_fire_innermost_first_and_print_lines(capsys: Any) -> None:
    order: list[str] = []

    class Tag(EventLoopInstrument):
        def __init__(self, tag: str) -> None:
            self.tag = tag

        def on_queue_put(self, queue: Any, item: Any, immediate: bool) -> None:
            order.append(self.tag)

    async def main() -> None:
        await AsyncQueue[int]().put(1)

    with Tag("outer"), Tag("inner"), PrintInstrument():
        EventLoop().run_until_complete(main())
    assert order == ["inner", "outer"]
    assert "[QUEUE-PUT] Item put in queue: 1" in capsys.readouterr().out


def test_task_outcome_and_throw_hooks_get_the_live_task_and_exception() -> None:
    seen: list[tuple[str, str]] = []

    class Outcomes(EventLoopInstrument):
        def on_task_error(self, task: Any, exception: BaseException) -> None:
            seen.append(("error", type(exception).__name__))

        def on_task_cancelled(self, task: Any, exception: BaseException) -> None:
            seen.append(("cancelled", type(exception).__name__))

        def on_task_before_throw(self, metadata: Any) -> None:
            seen.append(("throw", type(metadata.exception).__name__))

        def on_task_after_throw(self, metadata: Any, command: Any) -> None:
            seen.append(("after-throw", type(command).__name__))

        def on_task_after_send(self, metadata: Any, command: Any) -> None:
            pass

    async def fails() -> None:
        raise KeyError("nope")

    async def forever() -> None:
        try:
            await sleep(10)
        finally:
            await sleep(0)

    async def main() -> None:
        bad = await spawn(fails())
        with contextlib.suppress(KeyError):
            await bad.join()
        slow = await spawn(forever())
        await sleep(0)
        await slow.cancel()

    with Outcomes():
        EventLoop(virtual_time=True).run_until_complete(main())
    assert ("error", "KeyError") in seen
    assert ("cancelled", "TaskCancelled") in seen
    assert ("throw", "TaskCancelled") in seen and ("after-throw", "SleepCommand") in seen


def test_a_failing_step_hook_is_switched_off_and_the_run_goes_on(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("flowtrace.loop_adapters.is_strict", lambda: False)
    calls: list[int] = []

    class Broken(EventLoopInstrument):
        def on_task_before_send(self, metadata: Any) -> None:
            calls.append(1)
            raise RuntimeError("hook bug")

    async def main() -> int:
        await sleep(0)
        await sleep(0)
        return 7

    with Broken():
        assert EventLoop().run_until_complete(main(), join=True) == 7
    assert calls == [1]
    assert "raised in a task hook and was switched off" in caplog.text


def test_print_and_log_instruments_describe_sockets_and_tls(
    tmp_path: Path, capsys: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="flowtrace.loop_adapters")
    cert, key = self_signed_certificate(tmp_path)

    async def main() -> None:
        sock = socket(use_tls=True, server_hostname="localhost")
        await sock.connect_async(("127.0.0.1", server.port))
        await sock.sendAll(b"GET /v1/models HTTP/1.1\r\nHost: localhost\r\n\r\n")
        while b"local-echo" not in await sock.recv(4096):
            pass
        sock.close()
        listener = socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        client = socket()
        client.connect(listener.getsockname())
        conn, _ = await listener.accept()
        for s in (client, conn, listener):
            s.close()

    tls_server = LocalLLMServer(certfile=str(cert), keyfile=str(key))
    with tls_server as server, trusting(cert), PrintInstrument(), LogInstrument():
        EventLoop().run_until_complete(main())
    out = capsys.readouterr().out
    for tag in (
        "[CONNECT] Connecting to",
        "[CONNECT] Connected",
        "[TLS] Handshake complete",
        "[SEND] Starting send",
        "[SEND-DATA] Sent",
        "[SEND] Completed send",
        "[RECV] Waiting for data",
        "[RECV] Data ready",
        "[RECV-DATA] Got",
        "[ACCEPT] Accepted",
        "[CLOSE] Connection closed",
    ):
        assert tag in out, tag
    assert "[TLS] Handshake complete" in caplog.text


def test_the_current_instrument_is_the_innermost_stack_as_flowno_has_it() -> None:
    log: list[str] = []

    class Tag(EventLoopInstrument):
        def __init__(self, tag: str) -> None:
            self.tag = tag

        def on_queue_get(self, queue: Any, item: Any, immediate: bool) -> None:
            log.append(self.tag)

    assert get_current_instrument() is EMPTY_INSTRUMENT
    before = len(_instrument_stack.get())
    with Tag("a") as a:
        assert get_current_instrument() is a
        with Tag("b"):
            assert len(_instrument_stack.get()) == before + 2
            current = get_current_instrument()
            assert isinstance(current, _CompositeInstrument)
            current.on_queue_get(None, 1, True)
    assert log == ["b", "a"]
    assert len(_instrument_stack.get()) == before

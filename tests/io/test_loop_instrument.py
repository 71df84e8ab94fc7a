"""Flowno's EventLoopInstrument hooks fire from flowtrace's events (and step watchers)."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from flowtrace import EventLoop, spawn
from flowtrace.core.event_loop.instrumentation import (
    EventLoopInstrument,
    PrintInstrument,
    SocketRecvDataMetadata,
    SocketSendDataMetadata,
    TaskSendMetadata,
)
from flowtrace.engine.queues import AsyncQueue
from flowtrace.engine.sockets import socket

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

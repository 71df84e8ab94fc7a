"""Loop sockets on loopback (127.0.0.1): accept, connect, recv, send, their events."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from _loop_support import Collector

from flowtrace import EventLoop, sleep, spawn
from flowtrace.engine.sockets import SocketHandle, socket
from flowtrace.events import (
    IOWaitBegan,
    IOWaitEnded,
    SocketClosed,
    SocketOpBegan,
    SocketOpEnded,
    TLSHandshakeCompleted,
)
from flowtrace.testing.llm_server import LocalLLMServer
from flowtrace.testing.tls import self_signed_certificate, trusting

ORDER = ["main start", "server start", "client start", "client end", "server end", "main end"]


def listener() -> tuple[SocketHandle, tuple[str, int]]:
    server = socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    return server, server.getsockname()


def test_accept_and_connect_order() -> None:
    log: list[str] = []

    async def main() -> None:
        log.append("main start")
        server, address = listener()

        async def serve() -> None:
            log.append("server start")
            conn, _ = await server.accept()
            conn.close()
            log.append("server end")

        async def client() -> None:
            log.append("client start")
            sock = socket()
            sock.connect(address)
            sock.close()
            log.append("client end")

        s = await spawn(serve())
        c = await spawn(client())
        await c.join()
        await s.join()
        server.close()
        log.append("main end")

    EventLoop().run_until_complete(main(), join=True)
    assert log == ORDER


def test_recv_of_a_delayed_client_and_the_io_events() -> None:
    log: list[str] = []
    rec = Collector([IOWaitBegan, IOWaitEnded])

    async def main() -> bytes:
        log.append("main start")
        server, address = listener()

        async def serve() -> bytes:
            log.append("server start")
            conn, _ = await server.accept()
            data = await conn.recv(1024)
            assert await conn.recv(1024) == b""  # the client closed
            conn.close()
            log.append("server end")
            return data

        async def client() -> None:
            log.append("client start")
            await sleep(0.05)
            sock = socket()
            await sock.connect_async(address)
            await sock.sendAll(b"hello")
            sock.close()
            log.append("client end")

        s = await spawn(serve())
        c = await spawn(client())
        await c.join()
        data: bytes = await s.join()
        server.close()
        log.append("main end")
        return data

    assert EventLoop().run_until_complete(main(), join=True, instruments=[rec]) == b"hello"
    assert log == ORDER
    began = [(e.task_id, e.operation) for e in rec.events if isinstance(e, IOWaitBegan)]
    assert began[0] == (1, "accept")
    ended = [e for e in rec.events if isinstance(e, IOWaitEnded)]
    assert ended[0].operation == "accept" and ended[0].outcome == "ready"
    assert ended[0].target.startswith("127.0.0.1:")
    recvs = [e for e in ended if e.operation == "recv"]
    assert recvs and recvs[0].outcome == "ready" and recvs[0].nbytes == 5


def test_send_and_recv_large_payload_both_ways() -> None:
    payload = bytes(range(256)) * 4096  # 1 MiB: send must wait for the reader

    async def main() -> int:
        server, address = listener()

        async def serve() -> int:
            conn, _ = await server.accept()
            received = 0
            while True:
                chunk = await conn.recv(65536)
                if not chunk:
                    break
                received += len(chunk)
            conn.close()
            return received

        handle = await spawn(serve())
        client = socket()
        await client.connect_async(address)
        await client.sendAll(payload)
        client.close()
        received: int = await handle.join()
        server.close()
        return received

    assert EventLoop().run_until_complete(main(), join=True) == len(payload)


def test_cancelling_a_task_waiting_on_a_socket_unregisters_it() -> None:
    rec = Collector([IOWaitEnded])

    async def main() -> str:
        server, _address = listener()

        async def serve() -> None:
            await server.accept()

        handle = await spawn(serve())
        await sleep(0.01)
        await handle.cancel()
        server.close()
        return "no hang"

    # With the waiter gone and nothing else pending the run must end, not block.
    assert EventLoop().run_until_complete(main(), join=True, instruments=[rec]) == "no hang"
    assert [(e.operation, e.outcome) for e in rec.events] == [("accept", "cancelled")]


def test_two_tasks_receiving_on_one_socket_is_a_clear_error() -> None:
    async def main() -> None:
        server, address = listener()
        client = socket()
        await client.connect_async(address)
        conn, _ = await server.accept()

        async def reader() -> None:
            await conn.recv(10)

        first = await spawn(reader())
        await sleep(0.01)
        try:
            await conn.recv(10)
        finally:
            await first.cancel()
            for s in (client, conn, server):
                s.close()

    rec = Collector()
    with pytest.raises(RuntimeError, match="already waiting to recv"):
        EventLoop().run_until_complete(main(), join=True, instruments=[rec])
    # Every operation that began also ended, the refused second recv as an error.
    assert len(rec.of(SocketOpBegan)) == len(rec.of(SocketOpEnded))
    assert [e.outcome for e in rec.of(SocketOpEnded) if e.operation == "recv"] == [
        "error",
        "cancelled",
    ]


def test_closing_a_socket_wakes_its_waiter_with_an_error() -> None:
    async def main() -> str:
        server, _address = listener()

        async def serve() -> str:
            try:
                await server.accept()
            except OSError as exc:
                return f"error: {exc}"
            return "accepted"

        handle = await spawn(serve())
        await sleep(0.01)
        server.close()
        result: str = await handle.join()
        return result

    assert EventLoop().run_until_complete(main(), join=True) == (
        "error: socket closed while waiting to accept"
    )


def test_a_tls_socket_handshakes_on_the_loop_and_reports_it(tmp_path: Path) -> None:
    cert, key = self_signed_certificate(tmp_path)
    rec = Collector()

    async def main() -> bytes:
        sock = socket(use_tls=True, server_hostname="localhost")
        await sock.connect_async(("127.0.0.1", server.port))
        await sock.sendAll(b"GET /v1/models HTTP/1.1\r\nHost: localhost\r\n\r\n")
        data = b""
        while b"local-echo" not in data:
            piece = await sock.recv(4096)
            assert piece, data
            data += piece
        sock.close()
        return data

    with LocalLLMServer(certfile=str(cert), keyfile=str(key)) as server, trusting(cert):
        data = EventLoop().run_until_complete(main(), join=True, instruments=[rec])
    assert data is not None and data.startswith(b"HTTP/1.1 200")
    (done,) = rec.of(TLSHandshakeCompleted)
    assert done.server_hostname == "localhost" and done.version and done.version.startswith("TLS")
    ops = [(e.operation, e.outcome) for e in rec.of(SocketOpEnded)]
    assert ops[:2] == [("connect", "ready"), ("handshake", "ready")]
    assert ("send", "ready") in ops and ("recv", "ready") in ops


def test_an_untrusted_certificate_fails_the_handshake_in_the_task(tmp_path: Path) -> None:
    cert, key = self_signed_certificate(tmp_path)
    rec = Collector()

    async def main() -> None:
        sock = socket(use_tls=True, server_hostname="localhost")
        try:
            await sock.connect_async(("127.0.0.1", server.port))
        finally:
            sock.close()

    with (
        LocalLLMServer(certfile=str(cert), keyfile=str(key)) as server,
        pytest.raises(ssl.SSLCertVerificationError, match="self-signed"),
    ):
        EventLoop().run_until_complete(main(), join=True, instruments=[rec])
    (failed,) = [e for e in rec.of(SocketOpEnded) if e.operation == "handshake"]
    assert failed.outcome == "error" and failed.error is not None
    assert not rec.of(TLSHandshakeCompleted)


def test_socket_operations_are_events_even_when_they_do_not_wait() -> None:
    rec = Collector()

    async def main() -> None:
        server, address = listener()
        client = socket()
        client.connect(address)
        conn, _ = await server.accept()
        await client.sendAll(b"ping")
        await sleep(0.01)
        assert await conn.recv(10) == b"ping"
        for s in (client, conn, server):
            s.close()

    EventLoop().run_until_complete(main(), instruments=[rec])
    ended = rec.of(SocketOpEnded)
    assert [(e.operation, e.nbytes) for e in ended if e.operation in ("send", "recv")] == [
        ("send", 4),
        ("recv", 4),
    ]
    assert all(not e.waited for e in ended if e.operation in ("send", "recv"))
    assert len(rec.of(SocketOpBegan)) == len(ended)
    assert len(rec.of(SocketClosed)) == 3


def test_a_socket_abandoned_mid_wait_works_in_the_next_run() -> None:
    loop = EventLoop()
    server, address = listener()

    async def abandon() -> None:
        async def serve() -> None:
            await server.accept()

        await spawn(serve())
        await sleep(0.01)

    loop.run_until_complete(abandon(), wait_for_spawned_tasks=False)

    async def accept_again() -> str:
        client = socket()

        async def connect() -> None:
            await client.connect_async(address)

        await spawn(connect())
        conn, _ = await server.accept()
        conn.close()
        client.close()
        return "accepted"

    assert loop.run_until_complete(accept_again(), join=True) == "accepted"
    server.close()

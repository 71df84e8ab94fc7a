"""HttpClient against canned responses from a flowtrace-socket server in the same loop,
HttpServer, Headers, and the client inside asyncio."""

from __future__ import annotations

import asyncio
import gzip
import socket as _socket
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from flowtrace import EventLoop, sleep, spawn
from flowtrace.engine.sockets import socket
from flowtrace.io import (
    ErrStreamingResponse,
    Headers,
    HttpClient,
    HttpServer,
    OkStreamingResponse,
    streaming_response_is_ok,
)
from flowtrace.io.http_client import HTTPException
from flowtrace.testing.llm_server import LocalLLMServer


async def serve_once(response: bytes) -> tuple[str, Callable[[], Awaitable[bytes]]]:
    """Listen on loopback; the first client gets ``response``. Returns the base URL and
    an awaitable giving the request the client sent."""
    listener = socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]

    async def serve() -> bytes:
        conn, _ = await listener.accept()
        request = b""
        while b"\r\n\r\n" not in request:
            request += await conn.recv(4096)
        head, _, body = request.partition(b"\r\n\r\n")
        length = [
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        ]
        while length and len(body) < length[0]:
            body += await conn.recv(4096)
        await conn.sendAll(response)
        conn.close()
        listener.close()
        return request

    task = await spawn(serve())
    return f"http://127.0.0.1:{port}", task.join


def run(coro: Any) -> Any:
    return EventLoop().run_until_complete(coro, join=True)


def test_get_and_post_read_whole_bodies_and_send_what_they_should() -> None:
    body = gzip.compress(b'{"ok": true}')
    response = (
        b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"
        b"Content-Encoding: gzip\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )

    async def main() -> tuple[Any, bytes]:
        url, sent = await serve_once(response)
        headers = Headers()
        headers.set("X-Token", "t")
        reply = await HttpClient(headers=headers).post(f"{url}/items?x=1", json={"a": [1]})
        return reply, await sent()

    reply, request = run(main())
    assert reply.status_code == 201 and reply.is_ok and reply.is_json()
    assert reply.decode_json() == {"ok": True}
    assert request.startswith(b"POST /items?x=1 HTTP/1.1\r\n")
    assert b"x-token: t" in request and b"content-type: application/json" in request
    assert request.endswith(b'{"a": [1]}')


def test_a_chunked_error_body_streams_and_decodes() -> None:
    response = (
        b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n"
        b"Content-Type: application/json\r\n\r\n"
        b'9\r\n{"error":\r\n9\r\n "gone"}\n\r\n0\r\n\r\n'
    )

    async def main() -> Any:
        url, _ = await serve_once(response)
        reply = await HttpClient().stream_get(url)
        assert isinstance(reply, ErrStreamingResponse) and not streaming_response_is_ok(reply)
        return reply.status_code, await reply.decode_json()

    assert run(main()) == (404, {"error": "gone"})


def test_a_plain_streamed_body_yields_bytes_until_the_connection_closes() -> None:
    response = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nline one\nline two\n"

    async def main() -> bytes:
        url, _ = await serve_once(response)
        reply = await HttpClient().stream_get(url)
        assert isinstance(reply, OkStreamingResponse)
        return b"".join([piece async for piece in reply.body])

    assert run(main()) == b"line one\nline two\n"


def test_an_error_response_to_a_plain_request_is_a_response_not_an_exception() -> None:
    with LocalLLMServer() as server:
        reply = run(HttpClient().get(f"{server.base_url}/nowhere"))
        models = run(HttpClient().get(f"{server.base_url}/v1/models"))
    assert reply.status_code == 404 and not reply.is_ok
    assert models.decode_json()["data"][0]["id"] == "local-echo"


def test_http_exception_is_one_line_with_status_and_body() -> None:
    error = HTTPException("HTTP/1.1 500 Internal Server Error", b'{"error":\n "boom"}')
    assert str(error) == 'HTTP/1.1 500 Internal Server Error: {"error": "boom"}'
    assert error.status.endswith("Error") and error.body == b'{"error":\n "boom"}'


def test_urls_are_split_like_flownos_and_keep_their_query() -> None:
    client = HttpClient()
    assert client._parse_url("https://example.com:8443/a/b?q=1") == (
        "example.com",
        8443,
        "/a/b?q=1",
        True,
    )
    assert client._parse_url("http://localhost") == ("localhost", 80, "/", False)
    with pytest.raises(ValueError, match="only http:// and https://"):
        client._parse_url("ftp://example.com/")


def test_headers_are_case_insensitive_and_refuse_line_breaks() -> None:
    h = Headers()
    h.set("Accept", ["a", "b"])
    h.set("X-One", "1")
    other = Headers()
    other.set("x-one", "2")
    h.merge(other)
    assert h.get("ACCEPT") == "a, b" and h.get("X-ONE") == "2" and "x-one" in h
    assert h.stringify() == "accept: a, b\r\nx-one: 2" and len(h) == 2
    h.delete("Accept")
    assert list(h) == [("x-one", "2")] and "Headers(" in repr(h)
    with pytest.raises(ValueError, match="CR or LF"):
        h.set("X-Evil", "a\r\nInjected: yes")


def test_http_server_answers_http_client_on_one_loop() -> None:
    async def main() -> str:
        server = HttpServer("127.0.0.1", 0)
        task = await spawn(server.serve())
        while server.address is None:
            await sleep(0.001)
        reply = await HttpClient().get(f"http://127.0.0.1:{server.address[1]}/hi")
        await task.cancel()
        return reply.body.decode()

    text = run(main())
    assert text == "Hello, world!\nRequest: GET /hi HTTP/1.1"


def test_http_server_helpers_read_requests() -> None:
    async def main() -> tuple[str, Headers, bytes]:
        listener = socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        client = socket()
        client.connect(listener.getsockname())
        conn, _ = await listener.accept()
        await client.sendAll(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nrest")
        server = HttpServer("127.0.0.1", 0)
        line, headers = await server._receive_headers(conn)
        client.close()
        rest = await server._receive_all(conn)
        for s in (conn, listener):
            s.close()
        return line, headers, rest

    line, headers, rest = run(main())
    assert line == "GET / HTTP/1.1" and headers.get("host") == "x"
    assert rest in (b"", b"rest")


def test_the_client_works_inside_asyncio() -> None:
    with LocalLLMServer() as server:

        async def chat() -> list[Any]:
            reply = await HttpClient().stream_post(
                server.url, json={"messages": [{"role": "user", "content": "hi"}], "stream": True}
            )
            assert streaming_response_is_ok(reply)
            return [c["choices"][0]["delta"].get("content") async for c in reply.body]

        async def main() -> list[Any]:
            deltas = await EventLoop().run_until_complete_async(chat(), join=True)
            assert deltas is not None
            return deltas

        assert asyncio.run(main()) == ["You ", "said: ", "hi", None]


def test_an_ipv6_literal_url_connects_over_ipv6() -> None:
    try:
        listener = socket(_socket.AF_INET6)
        listener.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback here")
    listener.listen()
    port = listener.getsockname()[1]

    async def serve() -> None:
        conn, _ = await listener.accept()
        while b"\r\n\r\n" not in await conn.recv(4096):
            pass
        await conn.sendAll(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nv6")
        conn.close()

    async def main() -> bytes:
        await spawn(serve())
        reply = await HttpClient().get(f"http://[::1]:{port}/")
        listener.close()
        return reply.body

    assert run(main()) == b"v6"

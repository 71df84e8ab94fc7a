"""An HTTP/1.1 client on flowtrace's own sockets (Flowno's ``flowno.io.HttpClient``).

Every request opens a connection (``Connection: close``) with
:func:`flowtrace.engine.sockets.socket` — TLS for ``https://``, with the handshake on
the loop and certificates verified against the default trust store (``SSL_CERT_FILE``
honoured) — so it runs in any flowtrace task or node, on the plain loop or inside
asyncio, and every connect, send, receive and handshake is a traced socket event.

* :meth:`HttpClient.request` / :meth:`get` / :meth:`post` read the whole body:
  :class:`Response`.
* :meth:`HttpClient.stream_request` / :meth:`stream_get` / :meth:`stream_post` return
  as soon as the headers are in: :class:`OkStreamingResponse` (2xx), whose ``body`` is
  an async iterator of parsed JSON objects for ``text/event-stream`` (server-sent
  events, ending at ``data: [DONE]``) and JSON-lines bodies, and of raw byte pieces
  otherwise; or :class:`ErrStreamingResponse` with the error body.
  :func:`streaming_response_is_ok` tells them apart (a ``TypeIs`` guard).

Bodies may be chunked, ``Content-Length`` framed or closed-delimited, and gzip or
deflate encoded. A refused connection, a failed TLS handshake, a server closing the
connection mid-stream or sending something unparsable raise at once in the awaiting
code (``ConnectionRefusedError``, ``ssl.SSLCertVerificationError``,
:class:`HTTPConnectionClosed`, :class:`HTTPProtocolError`), each naming the URL.
"""

from __future__ import annotations

import json as _json
import os
import socket as _socket
import ssl
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar
from urllib.parse import urlsplit

from flowtrace.engine.sockets import SocketHandle, socket
from flowtrace.io.body import (
    DONE,
    Decompressor,
    HTTPConnectionClosed,
    HTTPProtocolError,
    JSONLinesDecoder,
    Reader,
    SSEDecoder,
)
from flowtrace.io.headers import Headers

if TYPE_CHECKING:
    from typing_extensions import TypeIs

__all__ = [
    "HttpClient",
    "Response",
    "ResponseBase",
    "OkStreamingResponse",
    "ErrStreamingResponse",
    "HTTPException",
    "HTTPProtocolError",
    "HTTPConnectionClosed",
    "streaming_response_is_ok",
]

T = TypeVar("T")

_JSON_LINES = (
    "application/x-ndjson",
    "application/jsonl",
    "application/json-lines",
    "application/jsonlines",
)


@dataclass
class ResponseBase:
    """What every response has: the client, the status line, the headers."""

    client: HttpClient
    status: str
    headers: Headers

    @property
    def status_code(self) -> int:
        """The numeric status (0 when the status line has none)."""
        parts = self.status.split(" ", 2) if self.status else []
        return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0

    @property
    def is_ok(self) -> bool:
        """A 2xx status."""
        return 200 <= self.status_code < 300

    def is_json(self) -> bool:
        """The content type is ``application/json``."""
        kind = self.headers.get("content-type")
        return isinstance(kind, str) and kind.split(";")[0].strip() == "application/json"


@dataclass
class Response(ResponseBase):
    """A complete response."""

    body: bytes

    def decode_json(self) -> Any:
        return self.client.json_decoder.decode(self.body.decode("utf-8"))


@dataclass
class OkStreamingResponse(ResponseBase, Generic[T]):
    """A 2xx streaming response; iterate ``body`` (once)."""

    body: AsyncIterator[T]


@dataclass
class ErrStreamingResponse(ResponseBase):
    """A non-2xx response to a streaming request: ``body`` is the whole error body
    (bytes), or an async iterator of its pieces when the server chunked it."""

    body: bytes | AsyncIterator[bytes]

    async def decode_json(self) -> Any:
        body = self.body
        if not isinstance(body, bytes):
            body = b"".join([piece async for piece in body])
        return self.client.json_decoder.decode(body.decode("utf-8"))

    async def text(self) -> str:
        """The error body as text (collected when it is streamed)."""
        body = self.body
        if not isinstance(body, bytes):
            body = b"".join([piece async for piece in body])
            self.body = body
        return body.decode("utf-8", "replace")


def streaming_response_is_ok(
    response: OkStreamingResponse[T] | ErrStreamingResponse,
) -> TypeIs[OkStreamingResponse[T]]:
    """True for a 2xx streaming response (narrows its type)."""
    return isinstance(response, OkStreamingResponse) and response.is_ok


class HTTPException(Exception):
    """An HTTP error: ``status`` (the status line) and ``body`` (text or bytes)."""

    def __init__(self, status: str, message: str | bytes) -> None:
        self.status = status
        self.body = message
        text = message.decode("utf-8", "replace") if isinstance(message, bytes) else message
        super().__init__(f"{status}: {' '.join(text.split())[:300]}")


class HttpClient:
    """An HTTP/1.1 client for flowtrace tasks; ``headers`` go with every request."""

    def __init__(self, headers: Headers | None = None) -> None:
        self.override_headers: Headers = headers if headers is not None else Headers()
        self.json_decoder: _json.JSONDecoder = _json.JSONDecoder()
        self.json_encoder: _json.JSONEncoder = _json.JSONEncoder()
        self._compat_sse: SSEDecoder | None = None

    # -- the API --------------------------------------------------------------------------

    async def get(self, url: str) -> Response:
        return await self.request("GET", url)

    async def post(self, url: str, json: Any = None, data: bytes | None = None) -> Response:
        """POST ``json`` (encoded with :attr:`json_encoder`) or raw ``data``."""
        data, headers = self._payload(json, data)
        return await self.request("POST", url, data, headers)

    async def stream_get(self, url: str) -> OkStreamingResponse[Any] | ErrStreamingResponse:
        return await self.stream_request("GET", url)

    async def stream_post(
        self, url: str, json: Any = None, data: bytes | None = None
    ) -> OkStreamingResponse[Any] | ErrStreamingResponse:
        """Streaming POST of ``json`` or raw ``data``."""
        data, headers = self._payload(json, data)
        return await self.stream_request("POST", url, data, headers)

    async def request(
        self,
        method: Literal["GET", "POST"] | str,
        url: str,
        data: bytes | None = None,
        extra_headers: Headers | None = None,
    ) -> Response:
        """Send one request and read the whole response."""
        sock, reader, status, headers = await self._exchange(method, url, data, extra_headers)
        try:
            body = await _collect(reader, headers, url)
        finally:
            sock.close()
        return Response(self, status, headers, body)

    async def stream_request(
        self,
        method: Literal["GET", "POST"] | str,
        url: str,
        data: bytes | None = None,
        extra_headers: Headers | None = None,
    ) -> OkStreamingResponse[Any] | ErrStreamingResponse:
        """Send one request; return once the response headers are in."""
        sock, reader, status, headers = await self._exchange(method, url, data, extra_headers)
        code = status.split(" ", 2)[1]
        if not code.startswith("2"):
            chunked = "chunked" in str(headers.get("transfer-encoding") or "").lower()
            if chunked:
                return ErrStreamingResponse(
                    self, status, headers, _raw_pieces(sock, reader, headers, url)
                )
            try:
                body = await _collect(reader, headers, url)
            finally:
                sock.close()
            return ErrStreamingResponse(self, status, headers, body)
        return OkStreamingResponse(self, status, headers, self._items(sock, reader, headers, url))

    # -- Flowno's helpers (their tests call them) ----------------------------------------

    def _parse_url(self, url: str) -> tuple[str, int, str, bool]:
        """``(host, port, path, use_tls)``; the path keeps its query string."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise ValueError(f"{url!r}: only http:// and https:// URLs are supported")
        tls = parts.scheme == "https"
        path = parts.path or "/"
        if parts.query:
            path = f"{path}?{parts.query}"
        return parts.hostname or "localhost", parts.port or (443 if tls else 80), path, tls

    def _split_chunks_to_message_json(self, chunk: bytes) -> Iterator[Any]:
        """Flowno's name: the JSON payloads of the server-sent events in ``chunk``
        (events split across calls are joined)."""
        if self._compat_sse is None:
            self._compat_sse = SSEDecoder("<sse>", self.json_decoder)
        for item in self._compat_sse.feed(chunk):
            if item is DONE:
                return
            yield item

    # -- the exchange -------------------------------------------------------------------

    def _payload(self, json: Any, data: bytes | None) -> tuple[bytes | None, Headers]:
        headers = Headers()
        if json is not None:
            data = self.json_encoder.encode(json).encode("utf-8")
            headers.set("Content-Type", "application/json")
        return data, headers

    async def _exchange(
        self, method: str, url: str, data: bytes | None, extra: Headers | None
    ) -> tuple[SocketHandle, Reader, str, Headers]:
        host, port, path, tls = self._parse_url(url)
        headers = Headers()
        headers.set("Host", host if port == (443 if tls else 80) else f"{host}:{port}")
        headers.set("User-Agent", "flowtrace/0.1")
        headers.set("Accept-Encoding", ["gzip", "deflate"])
        headers.set("Connection", "close")
        if data is not None:
            headers.set("Content-Length", str(len(data)))
        if extra is not None:
            headers.merge(extra)
        headers.merge(self.override_headers)
        head = f"{method} {path} HTTP/1.1\r\n{headers.stringify()}\r\n\r\n".encode()
        sock = await _connect(method, url, host, port, tls)
        try:
            await sock.sendAll(head + (data or b""))
            reader = Reader(sock, f"{method} {url}")
            status, response_headers = await reader.head()
        except BaseException:
            sock.close()
            raise
        return sock, reader, status, response_headers

    async def _items(
        self, sock: SocketHandle, reader: Reader, headers: Headers, url: str
    ) -> AsyncIterator[Any]:
        """The body of a 2xx streaming response: JSON objects or byte pieces."""
        kind = str(headers.get("content-type") or "").split(";")[0].strip().lower()
        decoder: SSEDecoder | JSONLinesDecoder | None = None
        if kind == "text/event-stream":
            decoder = SSEDecoder(reader.url, self.json_decoder)
        elif kind in _JSON_LINES:
            decoder = JSONLinesDecoder(reader.url, self.json_decoder)
        try:
            decompress = Decompressor(_str(headers.get("content-encoding")), reader.url)
            async for piece in reader.body(headers):
                data = decompress.feed(piece)
                if decoder is None:
                    if data:
                        yield data
                    continue
                for item in decoder.feed(data):
                    if item is DONE:
                        return
                    yield item
            tail = decompress.end()
            if decoder is None:
                if tail:
                    yield tail
                return
            for item in [*decoder.feed(tail), *decoder.end()]:
                if item is DONE:
                    return
                yield item
        finally:
            sock.close()


async def _connect(method: str, url: str, host: str, port: int, tls: bool) -> SocketHandle:
    """A connected (and, for TLS, handshaken) socket to ``host:port``: each address the
    name resolves to is tried in turn (``localhost`` may be ``::1`` then
    ``127.0.0.1``); a TLS failure is final."""
    try:
        infos = _socket.getaddrinfo(host, port, type=_socket.SOCK_STREAM)
    except OSError as exc:
        raise _annotated(exc, f"{method} {url}: cannot resolve {host!r}") from exc
    failure: OSError | None = None
    for family, kind, proto, _, address in infos:
        sock = socket(family, kind, proto, use_tls=tls, server_hostname=host if tls else None)
        try:
            await sock.connect_async(address)
        except ssl.SSLError as exc:
            sock.close()
            raise _annotated(
                exc, f"{method} {url}: TLS handshake with {host}:{port} failed"
            ) from exc
        except OSError as exc:
            sock.close()
            failure = exc
            continue
        except BaseException:
            sock.close()
            raise
        return sock
    assert failure is not None  # getaddrinfo returns at least one address or raises
    raise _annotated(failure, f"{method} {url}: cannot connect to {host}:{port}") from failure


async def _raw_pieces(
    sock: SocketHandle, reader: Reader, headers: Headers, url: str
) -> AsyncIterator[bytes]:
    try:
        decompress = Decompressor(_str(headers.get("content-encoding")), reader.url)
        async for piece in reader.body(headers):
            data = decompress.feed(piece)
            if data:
                yield data
        tail = decompress.end()
        if tail:
            yield tail
    finally:
        sock.close()


async def _collect(reader: Reader, headers: Headers, url: str) -> bytes:
    decompress = Decompressor(_str(headers.get("content-encoding")), reader.url)
    out = bytearray()
    async for piece in reader.body(headers):
        out += decompress.feed(piece)
    out += decompress.end()
    return bytes(out)


def _str(value: str | list[str] | None) -> str | None:
    return ", ".join(value) if isinstance(value, list) else value


def _annotated(exc: OSError, context: str) -> OSError:
    """``exc``'s own class with ``context`` in front of its message."""
    reason = (
        getattr(exc, "verify_message", None)
        or (os.strerror(exc.errno) if exc.errno and not isinstance(exc, ssl.SSLError) else None)
        or exc.strerror
        or str(exc)
    )
    try:
        new = type(exc)(exc.errno, f"{context}: {reason}")
    except Exception:
        return exc
    return new

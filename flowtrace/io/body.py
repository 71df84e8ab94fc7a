"""Reading an HTTP/1.1 response off a flowtrace socket, piece by piece.

Three layers, each incremental so a streamed body is decoded as it arrives:

* :class:`Reader` — bytes from the socket with a look-ahead buffer: the status line and
  headers, then the body framed by ``Transfer-Encoding: chunked`` (sizes, extensions
  and trailers, a size or terminator split across reads), ``Content-Length``, or the
  end of the connection.
* :class:`Decompressor` — ``Content-Encoding: gzip`` / ``deflate`` over the whole body
  (not per chunk; several concatenated gzip members are fine; ``deflate`` with or
  without the zlib wrapper).
* :class:`SSEDecoder` / :class:`JSONLinesDecoder` — server-sent events (``data:``
  fields, multi-line data joined, comments and other fields ignored, ``data: [DONE]``
  ends the stream) or JSON lines, each item parsed as JSON.

Damage is reported, never waited out: a connection closed before the headers or in
the middle of the body raises :class:`HTTPConnectionClosed`; a status line, chunk size
or event that cannot be parsed raises :class:`HTTPProtocolError` — each naming the URL.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

from flowtrace.engine.sockets import SocketHandle
from flowtrace.io.headers import Headers

__all__ = [
    "HTTPProtocolError",
    "HTTPConnectionClosed",
    "Reader",
    "Decompressor",
    "SSEDecoder",
    "JSONLinesDecoder",
    "DONE",
]

_RECV = 65536
_MAX_HEAD = 1 << 20


class HTTPProtocolError(ValueError):
    """The server sent something that is not valid HTTP, chunking, SSE or JSON."""


class HTTPConnectionClosed(ConnectionError):
    """The server closed the connection before the response was complete."""


class Reader:
    """Buffered reads of one response from ``sock`` (``url`` names it in errors)."""

    def __init__(self, sock: SocketHandle, url: str, initial: bytes = b"") -> None:
        self.sock = sock
        self.url = url
        self._buf = bytearray(initial)
        self.received = 0

    async def _fill(self) -> bool:
        data = await self.sock.recv(_RECV)
        if not data:
            return False
        self.received += len(data)
        self._buf += data
        return True

    async def head(self) -> tuple[str, Headers]:
        """The status line and headers (skipping ``1xx`` interim responses)."""
        while True:
            while (end := self._buf.find(b"\r\n\r\n")) < 0:
                if len(self._buf) > _MAX_HEAD:
                    raise HTTPProtocolError(f"{self.url}: response headers exceed 1 MiB")
                if not await self._fill():
                    got = f"after {len(self._buf)} bytes" if self._buf else "before any byte"
                    raise HTTPConnectionClosed(
                        f"{self.url}: the server closed the connection {got} of the "
                        "response headers"
                    )
            block = bytes(self._buf[:end]).decode("utf-8", "replace")
            del self._buf[: end + 4]
            lines = block.split("\r\n")
            status = lines[0]
            parts = status.split(" ", 2)
            if not status.startswith("HTTP/") or len(parts) < 2 or not parts[1].isdigit():
                raise HTTPProtocolError(f"{self.url}: not an HTTP status line: {status[:80]!r}")
            headers = Headers()
            for line in lines[1:]:
                name, sep, value = line.partition(":")
                if sep and name.strip():
                    headers.set(name.strip(), value.strip())
            if parts[1].startswith("1") and parts[1] != "101":
                continue  # 100 Continue and friends: the real response follows
            return status, headers

    async def _line(self) -> bytes:
        while (end := self._buf.find(b"\r\n")) < 0:
            if not await self._fill():
                raise HTTPConnectionClosed(
                    f"{self.url}: the server closed the connection mid-stream (inside the "
                    "chunked framing)"
                )
        line = bytes(self._buf[:end])
        del self._buf[: end + 2]
        return line

    async def chunks(self) -> AsyncIterator[bytes]:
        """The payloads of a ``Transfer-Encoding: chunked`` body, as they arrive."""
        while True:
            size_line = await self._line()
            size_text = size_line.split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise HTTPProtocolError(
                    f"{self.url}: bad chunk size line {size_line[:40]!r}"
                ) from None
            if size == 0:
                while await self._line():  # trailers, up to the blank line
                    pass
                return
            remaining = size
            while remaining:
                if not self._buf and not await self._fill():
                    raise HTTPConnectionClosed(
                        f"{self.url}: the server closed the connection mid-stream "
                        f"({remaining} of a {size}-byte chunk missing)"
                    )
                piece = bytes(self._buf[:remaining])
                del self._buf[: len(piece)]
                remaining -= len(piece)
                yield piece
            while len(self._buf) < 2:
                if not await self._fill():
                    raise HTTPConnectionClosed(
                        f"{self.url}: the server closed the connection mid-stream (after a "
                        "chunk, before its CRLF)"
                    )
            if self._buf[:2] != b"\r\n":
                raise HTTPProtocolError(f"{self.url}: a chunk is not followed by CRLF")
            del self._buf[:2]

    async def exactly(self, length: int) -> AsyncIterator[bytes]:
        """A ``Content-Length`` body, as it arrives."""
        remaining = length
        while remaining:
            if not self._buf and not await self._fill():
                raise HTTPConnectionClosed(
                    f"{self.url}: the server closed the connection with {remaining} of "
                    f"{length} body bytes missing"
                )
            piece = bytes(self._buf[:remaining])
            del self._buf[: len(piece)]
            remaining -= len(piece)
            yield piece

    async def until_close(self) -> AsyncIterator[bytes]:
        """A body delimited by the end of the connection."""
        while True:
            if self._buf:
                piece = bytes(self._buf)
                self._buf.clear()
                yield piece
            if not await self._fill():
                return

    def body(self, headers: Headers) -> AsyncIterator[bytes]:
        """The body's raw pieces, framed as ``headers`` say."""
        encoding = str(headers.get("transfer-encoding") or "").lower()
        if "chunked" in encoding:
            return self.chunks()
        length = headers.get("content-length")
        if length is not None:
            try:
                n = int(str(length))
            except ValueError:
                raise HTTPProtocolError(f"{self.url}: bad Content-Length {length!r}") from None
            return self.exactly(n)
        return self.until_close()


class Decompressor:
    """Undoes ``Content-Encoding`` incrementally (identity when there is none)."""

    def __init__(self, encoding: str | None, url: str) -> None:
        self.encoding = (encoding or "identity").strip().lower()
        self.url = url
        if self.encoding in ("gzip", "x-gzip"):
            self._wbits = 31
        elif self.encoding == "deflate":
            self._wbits = 15
        elif self.encoding in ("identity", ""):
            self._wbits = 0
        else:
            raise HTTPProtocolError(f"{url}: unsupported Content-Encoding {encoding!r}")
        self._z: Any = zlib.decompressobj(self._wbits) if self._wbits else None

    def feed(self, data: bytes) -> bytes:
        z = self._z
        if z is None:
            return data
        out = bytearray()
        try:
            while data:
                out += z.decompress(data)
                data = z.unused_data
                if data:  # another gzip member follows
                    z = self._z = zlib.decompressobj(self._wbits)
        except zlib.error as exc:
            if self._wbits == 15 and not out:  # deflate without the zlib wrapper
                self._wbits = -15
                self._z = zlib.decompressobj(-15)
                return self.feed(data)
            raise HTTPProtocolError(f"{self.url}: bad {self.encoding} body: {exc}") from None
        return bytes(out)

    def end(self) -> bytes:
        return self._z.flush() if self._z is not None else b""


#: Marker an SSE decoder returns for ``data: [DONE]``.
DONE: Any = object()


class SSEDecoder:
    """Server-sent events to parsed JSON ``data`` payloads."""

    def __init__(self, url: str, decoder: json.JSONDecoder | None = None) -> None:
        self.url = url
        self.decoder = decoder or json.JSONDecoder()
        self._text = ""
        self._pending = b""
        self._cr = ""

    def feed(self, data: bytes) -> Iterator[Any]:
        """Every complete event's JSON payload; :data:`DONE` for ``[DONE]``."""
        data = self._pending + data
        # A UTF-8 sequence split between two reads waits for its last bytes.
        for cut in range(len(data), max(len(data) - 4, -1), -1):
            try:
                text = data[:cut].decode("utf-8")
                break
            except UnicodeDecodeError:
                continue
        else:
            text, cut = data.decode("utf-8", "replace"), len(data)
        self._pending = data[cut:]
        raw = self._cr + text
        # A CR at the very end may be the first half of a CRLF: keep it for the next feed.
        self._cr = "\r" if raw.endswith("\r") else ""
        if self._cr:
            raw = raw[:-1]
        self._text += raw.replace("\r\n", "\n").replace("\r", "\n")
        while (end := self._text.find("\n\n")) >= 0:
            block, self._text = self._text[:end], self._text[end + 2 :]
            item = self._event(block)
            if item is not None:
                yield item

    def end(self) -> Iterator[Any]:
        """The last event, if the body ended without a blank line after it."""
        rest, self._text = self._text + self._pending.decode("utf-8", "replace"), ""
        self._pending, self._cr = b"", ""
        if rest.strip():
            item = self._event(rest)
            if item is not None:
                yield item

    def _event(self, block: str) -> Any:
        data_lines = []
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            if name == "data":
                data_lines.append(value[1:] if value.startswith(" ") else value)
        if not data_lines:
            return None
        payload = "\n".join(data_lines)
        if payload.strip() == "[DONE]":
            return DONE
        try:
            return self.decoder.decode(payload)
        except json.JSONDecodeError as exc:
            raise HTTPProtocolError(
                f"{self.url}: malformed server-sent event (data is not JSON: {exc.msg} at "
                f"column {exc.colno}): {payload[:80]!r}"
            ) from None


class JSONLinesDecoder:
    """JSON lines (``application/x-ndjson``, ``application/jsonl``) to parsed objects."""

    def __init__(self, url: str, decoder: json.JSONDecoder | None = None) -> None:
        self.url = url
        self.decoder = decoder or json.JSONDecoder()
        self._buf = b""

    def feed(self, data: bytes) -> Iterator[Any]:
        self._buf += data
        *lines, self._buf = self._buf.split(b"\n")
        for line in lines:
            yield from self._line(line)

    def end(self) -> Iterator[Any]:
        rest, self._buf = self._buf, b""
        yield from self._line(rest)

    def _line(self, line: bytes) -> Iterator[Any]:
        text = line.decode("utf-8", "replace").strip()
        if not text:
            return
        try:
            yield self.decoder.decode(text)
        except json.JSONDecodeError as exc:
            raise HTTPProtocolError(
                f"{self.url}: malformed JSON line ({exc.msg}): {text[:80]!r}"
            ) from None

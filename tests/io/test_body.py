"""Response framing and decoding, fed piece by piece as a network may deliver it."""

from __future__ import annotations

import asyncio
import gzip
import json
import zlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

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


class FakeSocket:
    """``recv`` hands out the scripted pieces, then ``b""`` (end of stream)."""

    def __init__(self, *pieces: bytes) -> None:
        self.pieces = list(pieces)

    async def recv(self, bufsize: int) -> bytes:
        return self.pieces.pop(0) if self.pieces else b""


def bytewise(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


def reader(*pieces: bytes) -> Reader:
    return Reader(FakeSocket(*pieces), "GET http://x/")  # type: ignore[arg-type]


async def collect(items: AsyncIterator[bytes]) -> bytes:
    return b"".join([piece async for piece in items])


def run(coro: Any) -> Any:
    return asyncio.run(coro)


RESPONSE = (
    b"HTTP/1.1 100 Continue\r\n\r\n"
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Odd:spaced \r\n\r\n"
    b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: yes\r\n\r\n"
)


@pytest.mark.parametrize("split", ["whole", "bytewise"])
def test_a_chunked_body_is_read_whatever_the_read_boundaries(split: str) -> None:
    pieces = [RESPONSE] if split == "whole" else bytewise(RESPONSE)

    async def main() -> tuple[str, Headers, bytes]:
        r = reader(*pieces)
        status, headers = await r.head()
        return status, headers, await collect(r.body(headers))

    status, headers, body = run(main())
    assert status == "HTTP/1.1 200 OK"  # the 100 Continue was skipped
    assert headers.get("x-odd") == "spaced"
    assert body == b"hello world"


def test_content_length_and_close_delimited_bodies() -> None:
    async def main() -> tuple[bytes, bytes]:
        h = Headers()
        h.set("Content-Length", "4")
        fixed = await collect(reader(b"ab", b"cdEXTRA").body(h))
        rest = await collect(reader(b"all ", b"of it").body(Headers()))
        return fixed, rest

    assert run(main()) == (b"abcd", b"all of it")


@pytest.mark.parametrize(
    ("pieces", "error", "message"),
    [
        ((b"HTTP/1.1 200 OK\r\nA: b",), HTTPConnectionClosed, "after 21 bytes of the response"),
        ((), HTTPConnectionClosed, "before any byte"),
        ((b"SSH-2.0-OpenSSH\r\n\r\n",), HTTPProtocolError, "not an HTTP status line"),
    ],
)
def test_a_bad_or_missing_head_is_a_clear_error(
    pieces: tuple[bytes, ...], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        run(reader(*pieces).head())


@pytest.mark.parametrize(
    ("body", "error", "message"),
    [
        (b"zz\r\n", HTTPProtocolError, "bad chunk size"),
        (b"5\r\nhel", HTTPConnectionClosed, "2 of a 5-byte chunk missing"),
        (b"5\r\nhelloXX", HTTPProtocolError, "not followed by CRLF"),
        (b"5", HTTPConnectionClosed, "inside the chunked framing"),
    ],
)
def test_broken_chunking_is_a_clear_error(
    body: bytes, error: type[Exception], message: str
) -> None:
    h = Headers()
    h.set("Transfer-Encoding", "chunked")
    with pytest.raises(error, match=message):
        run(collect(reader(body).body(h)))


def test_a_short_content_length_body_and_a_bad_length_are_errors() -> None:
    h = Headers()
    h.set("Content-Length", "10")
    with pytest.raises(HTTPConnectionClosed, match="7 of 10 body bytes missing"):
        run(collect(reader(b"abc").body(h)))
    h.set("Content-Length", "ten")
    with pytest.raises(HTTPProtocolError, match="bad Content-Length"):
        reader().body(h)


def test_gzip_is_decoded_across_pieces_and_members() -> None:
    data = gzip.compress(b"first ") + gzip.compress(b"second")
    d = Decompressor("gzip", "u")
    out = b"".join(d.feed(p) for p in bytewise(data)) + d.end()
    assert out == b"first second"


@pytest.mark.parametrize("wbits", [15, -15])
def test_deflate_with_or_without_the_zlib_wrapper(wbits: int) -> None:
    z = zlib.compressobj(wbits=wbits)
    data = z.compress(b"deflated text") + z.flush()
    d = Decompressor("deflate", "u")
    assert d.feed(data) + d.end() == b"deflated text"


def test_identity_and_unknown_encodings() -> None:
    assert Decompressor(None, "u").feed(b"plain") == b"plain"
    with pytest.raises(HTTPProtocolError, match="unsupported Content-Encoding 'br'"):
        Decompressor("br", "u")
    with pytest.raises(HTTPProtocolError, match="bad gzip body"):
        Decompressor("gzip", "u").feed(b"definitely not gzip")


def test_server_sent_events_are_parsed_whatever_the_splits() -> None:
    text = (
        ": a comment\r\n\r\n"
        'event: message\r\nid: 1\r\ndata: {"a":\r\ndata: "café"}\r\n\r\n'
        "retry: 5\n\n"
        'data:{"b": 2}\n\n'
        "data: [DONE]\n\n"
    ).encode()
    decoder = SSEDecoder("u")
    items = [item for piece in bytewise(text) for item in decoder.feed(piece)]
    assert items == [{"a": "café"}, {"b": 2}, DONE]


def test_a_last_event_without_a_blank_line_still_counts() -> None:
    decoder = SSEDecoder("u")
    assert list(decoder.feed(b'data: {"x": 1}\n\ndata: {"y": 2}')) == [{"x": 1}]
    assert list(decoder.end()) == [{"y": 2}]
    assert list(decoder.end()) == []


def test_malformed_events_and_lines_name_what_was_wrong() -> None:
    with pytest.raises(HTTPProtocolError, match=r"not JSON.*'\{oops'"):
        list(SSEDecoder("u").feed(b"data: {oops\n\n"))
    with pytest.raises(HTTPProtocolError, match="malformed JSON line"):
        list(JSONLinesDecoder("u").feed(b"[1,\n"))


def test_json_lines_are_parsed_across_pieces() -> None:
    decoder = JSONLinesDecoder("u")
    text = b"".join(json.dumps({"n": i}).encode() + b"\n" for i in range(3)) + b'\n{"n": 3}'
    items = [item for piece in bytewise(text) for item in decoder.feed(piece)]
    assert items + list(decoder.end()) == [{"n": 0}, {"n": 1}, {"n": 2}, {"n": 3}]

"""Flowno's ``flowno.io``: HTTP on flowtrace's own sockets.

:class:`HttpClient` (``get``, ``post``, ``stream_get``, ``stream_post``, ``request``,
``stream_request``), :class:`Headers`, :class:`HttpServer`, and, in
:mod:`flowtrace.io.http_client`, the response classes, :func:`streaming_response_is_ok`
and :class:`HTTPException`. See docs/io.md.
"""

from flowtrace.io.headers import Headers
from flowtrace.io.http_client import (
    ErrStreamingResponse,
    HttpClient,
    HTTPConnectionClosed,
    HTTPException,
    HTTPProtocolError,
    OkStreamingResponse,
    Response,
    streaming_response_is_ok,
)
from flowtrace.io.http_server import HttpServer

__all__ = [
    "HttpClient",
    "Headers",
    "HttpServer",
    "Response",
    "OkStreamingResponse",
    "ErrStreamingResponse",
    "HTTPException",
    "HTTPProtocolError",
    "HTTPConnectionClosed",
    "streaming_response_is_ok",
]

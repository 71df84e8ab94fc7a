"""A local OpenAI-compatible chat-completions server, for tests and the chat example.

``POST /v1/chat/completions`` answers like an OpenAI-compatible API, deterministically:
the reply to the last user message ``m`` is ``"You said: m"`` (or the ``reply`` you
configure), word by word. With ``"stream": true`` it streams server-sent events over
chunked transfer encoding — one ``data: {chat.completion.chunk}`` event per word
(``choices[0].delta.content``), a last chunk with ``finish_reason: "stop"``, then
``data: [DONE]`` — exactly the shape :class:`flowtrace.io.HttpClient` parses. Without
``stream`` it returns one ``chat.completion`` object.

It runs in a daemon thread (stdlib ``http.server``) on ``127.0.0.1`` and a free port,
optionally over TLS (``certfile``/``keyfile``, e.g. from
:func:`flowtrace.testing.tls.self_signed_certificate`). ``mode`` makes it misbehave on
purpose, for tests of the client's error paths:

``ok``            the normal stream
``gzip``          the same events, ``Content-Encoding: gzip`` (one gzip stream over
                  the chunks), ``deflate`` likewise
``jsonlines``     ``application/x-ndjson``: one JSON chunk object per line, no SSE
``close``         two events, then the connection is closed mid-stream
``status``        ``500 Internal Server Error`` with a JSON error body
``malformed``     one good event, then a ``data:`` line that is not JSON
``slow``          the normal stream with ``delay`` seconds between events

``api_key`` set: requests without ``Authorization: Bearer <api_key>`` get ``401``.
Every request is appended to :attr:`requests` (method, path, headers with lower-case
names, JSON body).
"""

from __future__ import annotations

import http.server
import json
import ssl
import threading
import time
import zlib
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal, Self

__all__ = ["LocalLLMServer", "RecordedRequest", "Mode"]

Mode = Literal["ok", "gzip", "deflate", "jsonlines", "close", "status", "malformed", "slow"]


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class _Config:
    mode: Mode = "ok"
    api_key: str | None = None
    reply: str | None = None
    delay: float = 0.0
    model: str = "local-echo"
    requests: list[RecordedRequest] = field(default_factory=list)


class LocalLLMServer:
    """``with LocalLLMServer() as server: ... server.url ...`` (see the module docstring)."""

    def __init__(
        self,
        *,
        mode: Mode = "ok",
        api_key: str | None = None,
        reply: str | None = None,
        delay: float = 0.0,
        certfile: str | None = None,
        keyfile: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.config = _Config(mode=mode, api_key=api_key, reply=reply, delay=delay)
        self._httpd = _Server((host, port), _Handler)
        self._httpd.config = self.config
        self.tls = certfile is not None
        if certfile is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(certfile, keyfile)
            self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        scheme = "https" if self.tls else "http"
        host = "localhost" if self.tls else "127.0.0.1"  # the certificate names both
        return f"{scheme}://{host}:{self.port}"

    @property
    def url(self) -> str:
        """The chat-completions endpoint."""
        return f"{self.base_url}/v1/chat/completions"

    @property
    def requests(self) -> list[RecordedRequest]:
        return self.config.requests

    def start(self) -> Self:
        thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"local-llm-{self.port}",
            daemon=True,
        )
        thread.start()
        self._thread = thread
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(5)
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    config: _Config

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hung up, a refused TLS handshake: nothing to report


def chunk_object(content: str | None, finish: str | None, model: str, index: int) -> Any:
    """One ``chat.completion.chunk``."""
    delta: dict[str, str] = {} if content is None else {"content": content}
    if index == 0:
        delta["role"] = "assistant"
    return {
        "id": "chatcmpl-local",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def _lower(headers: Any) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # -- plumbing -------------------------------------------------------------------

    def _json_body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return raw.decode("utf-8", "replace")

    def _send_json(self, status: int, payload: Any) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def _chunk(self, data: bytes) -> None:
        if data:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

    # -- the API ----------------------------------------------------------------------

    def do_GET(self) -> None:
        config = self.server.config
        config.requests.append(RecordedRequest("GET", self.path, _lower(self.headers), None))
        if self.path.rstrip("/") == "/v1/models":
            self._send_json(200, {"object": "list", "data": [{"id": config.model}]})
        else:
            self._send_json(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self) -> None:
        config = self.server.config
        body = self._json_body()
        config.requests.append(RecordedRequest("POST", self.path, _lower(self.headers), body))
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._send_json(404, {"error": {"message": f"no route {self.path}"}})
            return
        if config.api_key is not None and (
            self.headers.get("Authorization") != f"Bearer {config.api_key}"
        ):
            self._send_json(401, {"error": {"message": "invalid API key", "code": 401}})
            return
        if config.mode == "status":
            self._send_json(500, {"error": {"message": "the model is overloaded", "code": 500}})
            return
        words = self._reply_words(body)
        if not (isinstance(body, dict) and body.get("stream")):
            text = "".join(words)
            self._send_json(
                200,
                {
                    "id": "chatcmpl-local",
                    "object": "chat.completion",
                    "model": config.model,
                    "choices": [
                        {
                            "index": 0,
                            "finish_reason": "stop",
                            "message": {"role": "assistant", "content": text},
                        }
                    ],
                },
            )
            return
        self._stream(words, config)

    def _reply_words(self, body: Any) -> list[str]:
        config = self.server.config
        text = config.reply
        if text is None:
            last = ""
            messages = body.get("messages", []) if isinstance(body, dict) else []
            for message in messages:
                if isinstance(message, dict) and message.get("role") == "user":
                    last = str(message.get("content", ""))
            text = f"You said: {last}"
        words = text.split(" ")
        return [w if i == len(words) - 1 else w + " " for i, w in enumerate(words)]

    def _stream(self, words: list[str], config: _Config) -> None:
        mode = config.mode
        jsonlines = mode == "jsonlines"
        self.send_response(200)
        self.send_header(
            "Content-Type", "application/x-ndjson" if jsonlines else "text/event-stream"
        )
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        compressor: Any = None
        if mode == "gzip":
            self.send_header("Content-Encoding", "gzip")
            compressor = zlib.compressobj(wbits=31)
        elif mode == "deflate":
            self.send_header("Content-Encoding", "deflate")
            compressor = zlib.compressobj(wbits=15)
        self.end_headers()
        self.close_connection = True

        def event(payload: Any) -> bytes:
            text = payload if isinstance(payload, str) else json.dumps(payload)
            return (text + "\n").encode() if jsonlines else f"data: {text}\n\n".encode()

        def send(data: bytes) -> None:
            if compressor is not None:
                data = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
            self._chunk(data)

        events = [chunk_object(w, None, config.model, i) for i, w in enumerate(words)]
        events.append(chunk_object(None, "stop", config.model, len(words)))
        for i, payload in enumerate(events):
            if mode == "close" and i == 2:
                self.wfile.flush()
                self.connection.shutdown(2)  # mid-stream: no more events, no last chunk
                return
            if mode == "malformed" and i == 1:
                send(b"data: {this is not json\n\n")
                continue
            send(event(payload))
            if config.delay and mode == "slow":
                time.sleep(config.delay)
        if not jsonlines:
            send(b"data: [DONE]\n\n")
        if compressor is not None:
            self._chunk(compressor.flush())
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

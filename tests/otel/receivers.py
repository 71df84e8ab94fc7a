"""Real OTLP receivers on loopback for the tests: gRPC TraceService and HTTP/protobuf.

Both bind ``127.0.0.1:0`` (a free port the OS picks), decode every
``ExportTraceServiceRequest`` they receive and keep its spans. Nothing here ever talks
to another address.
"""

from __future__ import annotations

import gzip
import threading
import zlib
from collections.abc import Iterator
from concurrent import futures
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

__all__ = [
    "Received",
    "grpc_receiver",
    "http_receiver",
    "hanging_http_receiver",
    "silent_listener",
    "closed_port",
]


def _value(v: Any) -> Any:
    which = v.WhichOneof("value")
    if which == "array_value":
        return [_value(x) for x in v.array_value.values]
    return getattr(v, which) if which else None


def _attrs(kvs: Any) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in kvs}


@dataclass
class Received:
    """What a receiver got: decoded requests and, flattened, their spans."""

    requests: list[Any] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    done: threading.Event = field(default_factory=threading.Event)
    expected: int = 0

    def add(self, request: Any) -> None:
        with self.lock:
            self.requests.append(request)
            if self.expected and len(self.spans()) >= self.expected:
                self.done.set()

    def spans(self) -> list[dict[str, Any]]:
        out = []
        for request in self.requests:
            for rs in request.resource_spans:
                resource = _attrs(rs.resource.attributes)
                for ss in rs.scope_spans:
                    for s in ss.spans:
                        out.append(
                            {
                                "name": s.name,
                                "trace_id": s.trace_id.hex(),
                                "span_id": s.span_id.hex(),
                                "parent": s.parent_span_id.hex(),
                                "start": s.start_time_unix_nano,
                                "end": s.end_time_unix_nano,
                                "attributes": _attrs(s.attributes),
                                "events": [
                                    (e.name, e.time_unix_nano, _attrs(e.attributes))
                                    for e in s.events
                                ],
                                "links": [
                                    (
                                        link.trace_id.hex(),
                                        link.span_id.hex(),
                                        _attrs(link.attributes),
                                    )
                                    for link in s.links
                                ],
                                "status": s.status.code,
                                "scope": ss.scope.name,
                                "resource": resource,
                            }
                        )
        return out


class _Service(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, received: Received) -> None:
        self.received = received

    def Export(self, request: Any, context: Any) -> Any:
        self.received.add(request)
        return trace_service_pb2.ExportTraceServiceResponse()


@contextmanager
def grpc_receiver() -> Iterator[tuple[str, Received]]:
    """A gRPC OTLP receiver; yields ``("127.0.0.1:PORT", received)``."""
    received = Received()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_Service(received), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}", received
    finally:
        server.stop(grace=None).wait(5)


def _handler(received: Received, hang: threading.Event | None) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if hang is not None:
                hang.wait(30)  # a collector that accepts and never answers
                return
            encoding = self.headers.get("Content-Encoding", "")
            if encoding == "gzip":
                body = gzip.decompress(body)
            elif encoding == "deflate":
                body = zlib.decompress(body)
            if self.path != "/v1/traces":
                self.send_response(404)
                self.end_headers()
                return
            request = trace_service_pb2.ExportTraceServiceRequest()
            request.ParseFromString(body)
            received.add(request)
            reply = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def _http(hang: threading.Event | None) -> Iterator[tuple[str, Received]]:
    received = Received()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(received, hang))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        if hang is not None:
            hang.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


@contextmanager
def http_receiver() -> Iterator[tuple[str, Received]]:
    """An HTTP/protobuf OTLP receiver; yields ``("http://127.0.0.1:PORT", received)``."""
    with _http(None) as got:
        yield got


@contextmanager
def hanging_http_receiver() -> Iterator[tuple[str, Received]]:
    """An HTTP endpoint that reads the request and never answers (a stuck collector)."""
    with _http(threading.Event()) as got:
        yield got


@contextmanager
def silent_listener() -> Iterator[str]:
    """A TCP port that accepts connections and never sends a byte (a stuck collector,
    for either protocol); yields ``"127.0.0.1:PORT"``."""
    import socket

    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.05)
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            held.append(connection)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5)
        for connection in held:
            connection.close()
        server.close()


def closed_port() -> int:
    """A loopback port with nothing listening (bound, then released)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port

"""A minimal HTTP server on flowtrace sockets (Flowno's ``flowno.io.HttpServer``).

``await HttpServer(host, port).serve()`` accepts connections forever, one spawned task
per client; each gets ``200 OK`` with the text :meth:`HttpServer._generate_response`
returns for the request line (override it for other answers). Meant for tests and
demos on loopback, as Flowno's is.
"""

from __future__ import annotations

import logging

from flowtrace.engine.commands import spawn
from flowtrace.engine.sockets import SocketHandle, socket
from flowtrace.engine.tasks import TaskHandle
from flowtrace.io.headers import Headers

__all__ = ["HttpServer"]

logger = logging.getLogger(__name__)


class HttpServer:
    """Serves ``host:port`` (``port`` 0 picks a free one: see :attr:`address`)."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.address: tuple[str, int] | None = None
        self.tasks: list[TaskHandle[None]] = []

    async def serve(self) -> None:
        """Bind, listen and handle clients until the task is cancelled."""
        listener = socket()
        listener.bind((self.host, self.port))
        listener.listen()
        self.address = listener.getsockname()
        logger.info("serving on %s:%s", *listener.getsockname()[:2])
        try:
            while True:
                client, _ = await listener.accept()
                self.tasks.append(await spawn(self.handle_client(client)))
        finally:
            listener.close()

    async def handle_client(self, client_sock: SocketHandle) -> None:
        """Read one request's head and answer it; the connection is then closed."""
        try:
            request_line, _headers = await self._receive_headers(client_sock)
            body = await self._generate_response(request_line)
            headers = Headers()
            headers.set("Content-Type", "text/plain; charset=utf-8")
            headers.set("Content-Length", str(len(body)))
            headers.set("Server", "flowtrace/0.1")
            headers.set("Connection", "close")
            head = f"HTTP/1.1 200 OK\r\n{headers.stringify()}\r\n\r\n".encode()
            await client_sock.sendAll(head + body)
        except OSError as exc:
            logger.warning("client connection failed: %s", exc)
        finally:
            client_sock.close()

    async def _receive_headers(self, sock: SocketHandle) -> tuple[str, Headers]:
        data = b""
        while b"\r\n\r\n" not in data:
            piece = await sock.recv(4096)
            if not piece:
                break
            data += piece
        lines = data.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace").split("\r\n")
        headers = Headers()
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep and name.strip():
                headers.set(name.strip(), value.strip())
        return lines[0], headers

    async def _receive_all(self, sock: SocketHandle) -> bytes:
        data = b""
        while piece := await sock.recv(4096):
            data += piece
        return data

    async def _generate_response(self, request_data: str) -> bytes:
        """The body for ``request_data`` (the request line)."""
        return f"Hello, world!\nRequest: {request_data}".encode()

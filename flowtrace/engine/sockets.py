"""Non-blocking sockets driven by the loop's own selector, with TLS.

``socket(...)`` returns a :class:`SocketHandle` over a non-blocking ``socket.socket``.
``bind``, ``listen``, ``close`` are plain calls; ``accept``, ``recv``, ``send``,
``sendAll``, ``connect_async`` and ``handshake`` are awaitables: each tries the operation
at once and, when it would block, parks the task and registers the socket in
``loop.selector`` (one reader and one writer task per socket at a time) until it is
ready. ``connect`` is the blocking connect of Flowno (fine on loopback, where the
kernel completes the handshake at once); ``connect_async`` does not block the loop.

TLS: ``socket(use_tls=True, server_hostname=...)`` (or ``ssl_context=...``) makes a
client socket (server-side TLS is not offered: ``accept`` returns plain sockets) whose
TLS handshake runs on the loop after the TCP connect, without blocking it: the first
``send``/``recv`` (or an explicit ``await handshake()``) drives ``do_handshake``
through the selector, waiting for readability or writability as the TLS layer asks.
Certificates are verified by default with ``ssl.create_default_context()`` (which
honours ``SSL_CERT_FILE`` / ``SSL_CERT_DIR``); a failed verification raises
``ssl.SSLCertVerificationError`` in the awaiting task.

Events (only when listened to): ``SocketOpBegan`` / ``SocketOpEnded`` around every
operation call (``nbytes``, whether it ``waited``, the error), ``IOWaitBegan`` /
``IOWaitEnded`` around every wait, ``SocketClosed``, and ``TLSHandshakeCompleted`` with
the negotiated version and cipher. While ``SocketOpEnded`` of a ``recv``/``send`` is
delivered, ``loop.live_value`` holds the bytes received / offered.
"""

from __future__ import annotations

import contextlib
import errno
import os
import selectors
import socket as _socket
import ssl
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flowtrace.engine.commands import Command, Primitive, yield_command
from flowtrace.engine.loop import EventLoop, current_event_loop, error_info
from flowtrace.events import (
    IOOperation,
    IOOutcome,
    IOWaitBegan,
    IOWaitEnded,
    SocketClosed,
    SocketOpBegan,
    SocketOpEnded,
    SocketOperation,
    TLSHandshakeCompleted,
)

if TYPE_CHECKING:
    from flowtrace.engine.tasks import Task

__all__ = ["SocketHandle", "socket"]

_READ = selectors.EVENT_READ
_WRITE = selectors.EVENT_WRITE


def socket(
    family: int = -1,
    type: int = -1,
    proto: int = -1,
    fileno: int | None = None,
    use_tls: bool = False,
    ssl_context: Any = None,
    server_hostname: str | None = None,
) -> SocketHandle:
    """A non-blocking socket for flowtrace tasks (arguments as ``socket.socket``;
    ``use_tls``/``ssl_context``/``server_hostname`` make it a TLS client socket)."""
    sock = _socket.socket(
        _socket.AF_INET if family == -1 else family,
        _socket.SOCK_STREAM if type == -1 else type,
        0 if proto == -1 else proto,
        fileno,
    )
    handle = SocketHandle(sock)
    if use_tls or ssl_context is not None:
        if ssl_context is not None and not isinstance(ssl_context, ssl.SSLContext):
            raise TypeError(f"ssl_context must be an ssl.SSLContext, got {ssl_context!r}")
        handle._tls = ssl_context if ssl_context is not None else ssl.create_default_context()
        handle._server_hostname = server_hostname
    return handle


class SocketHandle(Primitive):
    """A socket whose blocking operations are loop awaitables."""

    __slots__ = (
        "_handshaken",
        "_loop",
        "_mask",
        "_reader",
        "_run",
        "_server_hostname",
        "_tls",
        "_writer",
        "socket",
    )

    def __init__(self, sock: _socket.socket) -> None:
        super().__init__()
        sock.setblocking(False)
        self.socket: _socket.socket = sock
        self._tls: ssl.SSLContext | None = None
        self._server_hostname: str | None = None
        self._handshaken = False
        self._loop: EventLoop | None = None
        self._run = 0
        self._mask = 0
        self._reader: Callable[[], None] | None = None
        self._writer: Callable[[], None] | None = None

    # -- plain calls -------------------------------------------------------------------

    def bind(self, address: Any) -> None:
        self.socket.bind(address)

    def listen(self, backlog: int = 128) -> None:
        self.socket.listen(backlog)

    def getsockname(self) -> Any:
        return self.socket.getsockname()

    def fileno(self) -> int:
        return self.socket.fileno()

    def connect(self, address: Any) -> None:
        """Connect, blocking the thread until done (Flowno's behaviour). A TLS socket's
        handshake follows on the loop, at the first ``send``/``recv``."""
        self.socket.setblocking(True)
        try:
            loop = current_event_loop()
            task = loop.running_task if loop is not None else None
            target = str(address)
            if loop is not None and task is not None:
                self._op_began(loop, task, "connect", target)
                self._emit_began(loop, task, "connect", target)
            try:
                self.socket.connect(address)
            except OSError as exc:
                if loop is not None and task is not None:
                    self._emit_ended(loop, task, "connect", "error", None, target)
                    self._op_ended(loop, task, "connect", target, "error", None, True, exc)
                raise
            if loop is not None and task is not None:
                self._emit_ended(loop, task, "connect", "ready", None, target)
                self._op_ended(loop, task, "connect", target, "ready", None, True, None)
        finally:
            self.socket.setblocking(False)

    @property
    def tls(self) -> bool:
        """Whether this is a TLS socket."""
        return self._tls is not None

    @property
    def server_hostname(self) -> str | None:
        return self._server_hostname

    def close(self) -> None:
        """Close the socket; a task still waiting on it gets ``OSError``."""
        loop = self._loop
        if loop is not None and self._run != loop.run_serial:
            loop = None  # waits of a finished run: nothing to wake
        waiters = (self._reader, self._writer)
        emitter = loop if loop is not None else current_event_loop()
        if emitter is not None and emitter.bus.listening[SocketClosed.kind]:
            task = emitter.running_task
            emitter.bus.emit(
                SocketClosed,
                task.task_id if task is not None else None,
                emitter.primitive_id(self),
                self._target(),
            )
        if loop is not None and self._mask:
            with contextlib.suppress(OSError, KeyError, ValueError):
                loop.selector.unregister(self.socket)
            self._mask = 0
        self.socket.close()
        if loop is not None:
            for waiter in waiters:
                if waiter is not None:
                    waiter()

    # -- awaitables --------------------------------------------------------------------

    async def accept(self) -> tuple[SocketHandle, Any]:
        """Wait for a connection; returns ``(handle, address)``."""
        conn, address = await yield_command(_SocketOp(self, "accept", 0))
        return SocketHandle(conn), address

    async def recv(self, bufsize: int) -> bytes:
        """Up to ``bufsize`` bytes; ``b""`` at end of stream."""
        if self._tls is not None and not self._handshaken:
            await self.handshake()
        data: bytes = await yield_command(_SocketOp(self, "recv", bufsize))
        return data

    async def send(self, data: bytes) -> int:
        """Send once; returns the number of bytes sent."""
        if self._tls is not None and not self._handshaken:
            await self.handshake()
        sent: int = await yield_command(_SocketOp(self, "send", data))
        return sent

    async def sendAll(self, data: bytes) -> None:
        """Send every byte of ``data``."""
        view = memoryview(data)
        while view:
            sent = await self.send(bytes(view))
            view = view[sent:]

    async def connect_async(self, address: Any) -> None:
        """Connect without blocking the loop (then the TLS handshake, for TLS)."""
        await yield_command(_SocketOp(self, "connect", address))
        if self._tls is not None:
            await self.handshake()

    async def handshake(self) -> None:
        """Run the TLS handshake on the loop (done once; a no-op for plain sockets)."""
        if self._tls is None or self._handshaken:
            return
        if not isinstance(self.socket, ssl.SSLSocket):
            self.socket = self._tls.wrap_socket(
                self.socket,
                server_hostname=self._server_hostname,
                do_handshake_on_connect=False,
            )
            self.socket.setblocking(False)
        await yield_command(_SocketOp(self, "handshake", self._server_hostname))
        self._handshaken = True

    # -- loop side ---------------------------------------------------------------------

    def _target(self) -> str:
        try:
            local = self.socket.getsockname()
        except OSError:
            local = "?"
        try:
            remote = self.socket.getpeername()
        except OSError:
            return _fmt(local)
        return f"{_fmt(local)}->{_fmt(remote)}"

    def _emit_began(
        self, loop: EventLoop, task: Task, op: IOOperation, target: str | None = None
    ) -> None:
        bus = loop.bus
        if bus.listening[IOWaitBegan.kind]:
            bus.emit(IOWaitBegan, task.task_id, op, target or self._target())

    def _emit_ended(
        self,
        loop: EventLoop,
        task: Task,
        op: IOOperation,
        outcome: IOOutcome,
        nbytes: int | None,
        target: str | None = None,
    ) -> None:
        bus = loop.bus
        if bus.listening[IOWaitEnded.kind]:
            bus.emit(IOWaitEnded, task.task_id, op, target or self._target(), outcome, nbytes)

    def _op_began(self, loop: EventLoop, task: Task, op: SocketOperation, target: str) -> None:
        bus = loop.bus
        if bus.listening[SocketOpBegan.kind]:
            bus.emit(SocketOpBegan, task.task_id, loop.primitive_id(self), op, target)

    def _op_ended(
        self,
        loop: EventLoop,
        task: Task,
        op: SocketOperation,
        target: str,
        outcome: IOOutcome,
        result: Any,
        waited: bool,
        exc: BaseException | None,
        offered: Any = None,
    ) -> None:
        bus = loop.bus
        if bus.listening[SocketOpEnded.kind]:
            loop.live_value = result if op == "recv" else offered
            info = error_info(exc) if exc is not None else None
            bus.emit(
                SocketOpEnded,
                task.task_id,
                loop.primitive_id(self),
                op,
                target,
                outcome,
                _nbytes(op, result) if outcome == "ready" else None,
                waited,
                info,
            )
            loop.live_value = None
        if op == "handshake" and exc is None and outcome == "ready":
            self._handshaken = True
            if bus.listening[TLSHandshakeCompleted.kind]:
                sock = self.socket
                cipher = sock.cipher() if isinstance(sock, ssl.SSLSocket) else None
                version = sock.version() if isinstance(sock, ssl.SSLSocket) else None
                bus.emit(
                    TLSHandshakeCompleted,
                    task.task_id,
                    loop.primitive_id(self),
                    self._server_hostname,
                    version,
                    cipher[0] if cipher else None,
                    cipher[2] if cipher else None,
                )

    def _register(self, loop: EventLoop, event: int) -> None:
        selector = loop.selector
        new_mask = self._mask | event
        try:
            selector.modify(self.socket, new_mask, self._dispatch)
        except KeyError:  # not registered (yet, or in a previous run's selector)
            selector.register(self.socket, new_mask, self._dispatch)
        self._mask = new_mask

    def _unregister(self, loop: EventLoop, event: int) -> None:
        new_mask = self._mask & ~event
        with contextlib.suppress(OSError, KeyError, ValueError):
            if new_mask:
                loop.selector.modify(self.socket, new_mask, self._dispatch)
            else:
                loop.selector.unregister(self.socket)
        self._mask = new_mask

    def _dispatch(self, mask: int) -> None:
        if mask & _READ and self._reader is not None:
            self._reader()
        if mask & _WRITE and self._writer is not None:
            self._writer()

    def __repr__(self) -> str:
        return f"<SocketHandle {self._target()}>"


def _fmt(address: Any) -> str:
    if isinstance(address, tuple) and len(address) >= 2:
        return f"{address[0]}:{address[1]}"
    return str(address)


class _SocketOp(Command):
    __slots__ = ("arg", "handle", "op")

    def __init__(self, handle: SocketHandle, op: SocketOperation, arg: Any) -> None:
        self.handle = handle
        self.op = op
        self.arg = arg


class _Want(Exception):
    """The operation would block until the socket is readable/writable (``event``)."""

    def __init__(self, event: int) -> None:
        super().__init__(event)
        self.event = event


def _attempt(handle: SocketHandle, op: SocketOperation, arg: Any, default: int) -> Any:
    """Try the operation once; ``_Want`` when it would block (and on what)."""
    sock = handle.socket
    try:
        if op == "recv":
            return sock.recv(arg)
        if op == "send":
            return sock.send(arg)
        if op == "accept":
            return sock.accept()
        if op == "handshake":
            assert isinstance(sock, ssl.SSLSocket)
            sock.do_handshake()
            return None
    except ssl.SSLWantReadError:
        raise _Want(_READ) from None
    except ssl.SSLWantWriteError:
        raise _Want(_WRITE) from None
    except (BlockingIOError, InterruptedError):
        raise _Want(default) from None
    # connect: finish or raise
    err = sock.getsockopt(_socket.SOL_SOCKET, _socket.SO_ERROR)
    if err:
        raise OSError(err, f"connect to {_fmt(arg)} failed: {os.strerror(err)}")
    return None


def _nbytes(op: str, result: Any) -> int | None:
    if op == "recv":
        return len(result)
    if op == "send":
        return int(result)
    return None


def _handle_socket_op(loop: EventLoop, task: Task, command: _SocketOp) -> None:
    handle, op, arg = command.handle, command.op, command.arg
    default = _WRITE if op in ("send", "connect") else _READ
    target = str(arg) if op == "connect" else handle._target()
    handle._op_began(loop, task, op, target)
    event = default
    if op == "connect":
        err = handle.socket.connect_ex(arg)
        if err == 0:
            handle._op_ended(loop, task, op, target, "ready", None, False, None)
            loop.make_ready(task)
            return
        if err not in (errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EAGAIN):
            exc = OSError(err, f"connect to {_fmt(arg)} failed: {os.strerror(err)}")
            handle._op_ended(loop, task, op, target, "error", None, False, exc)
            raise exc
    else:
        try:
            result = _attempt(handle, op, arg, default)
        except _Want as want:
            event = want.event
        except OSError as exc:
            handle._op_ended(loop, task, op, target, "error", None, False, exc, arg)
            raise
        else:
            handle._op_ended(loop, task, op, target, "ready", result, False, None, arg)
            loop.make_ready(task, result)
            return
    if handle._loop is not loop or handle._run != loop.run_serial:
        # First wait in this run: forget waits abandoned by an earlier run.
        handle._loop, handle._run = loop, loop.run_serial
        handle._mask, handle._reader, handle._writer = 0, None, None
    wait = _Wait(loop, task, handle, op, arg, target, default)
    try:
        wait.start(event)
    except RuntimeError as exc:  # another task already waits in that direction
        handle._op_ended(loop, task, op, target, "error", None, False, exc, arg)
        raise


class _Wait:
    """One parked socket operation: registered for ``event`` until the operation
    completes, fails, or is cancelled; a TLS operation may switch between waiting for
    readability and writability."""

    __slots__ = ("arg", "default", "event", "handle", "loop", "op", "target", "task")

    def __init__(
        self,
        loop: EventLoop,
        task: Task,
        handle: SocketHandle,
        op: SocketOperation,
        arg: Any,
        target: str,
        default: int,
    ) -> None:
        self.loop, self.task, self.handle = loop, task, handle
        self.op, self.arg, self.target, self.default = op, arg, target, default
        self.event = 0

    def start(self, event: int) -> None:
        handle, loop, task = self.handle, self.loop, self.task
        self._claim(event)
        handle._emit_began(loop, task, self.op, self.target)
        loop.add_io_waiter()
        loop.park(task, self.cleanup, f"socket {self.op} on {self.target}")

    def _claim(self, event: int) -> None:
        handle = self.handle
        busy = handle._reader if event == _READ else handle._writer
        if busy is not None:
            raise RuntimeError(
                f"task {self.task.name!r}: another task is already waiting to "
                f"{self.op} on {handle!r}; "
                "one reader and one writer per socket at a time"
            )
        if event == _READ:
            handle._reader = self.ready
        else:
            handle._writer = self.ready
        self.event = event
        handle._register(self.loop, event)

    def _release(self) -> None:
        handle = self.handle
        if self.event == _READ:
            handle._reader = None
        else:
            handle._writer = None
        handle._unregister(self.loop, self.event)

    def finish(self) -> None:
        self._release()
        self.loop.remove_io_waiter()

    def ready(self) -> None:
        handle, loop, task, op = self.handle, self.loop, self.task, self.op
        if handle.socket.fileno() < 0:  # closed while we waited
            self.finish()
            exc = OSError(f"socket closed while waiting to {op}")
            handle._emit_ended(loop, task, op, "error", None, self.target)
            handle._op_ended(loop, task, op, self.target, "error", None, True, exc, self.arg)
            loop.make_ready(task, None, exc)
            return
        try:
            result = _attempt(handle, op, self.arg, self.default)
        except _Want as want:
            if want.event != self.event:  # TLS wants the other direction now
                self._release()
                try:
                    self._claim(want.event)
                except RuntimeError as exc:
                    self.loop.remove_io_waiter()
                    loop.make_ready(task, None, exc)
            return  # keep waiting
        except OSError as exc:
            self.finish()
            handle._emit_ended(loop, task, op, "error", None, self.target)
            handle._op_ended(loop, task, op, self.target, "error", None, True, exc, self.arg)
            loop.make_ready(task, None, exc)
            return
        self.finish()
        handle._emit_ended(loop, task, op, "ready", _nbytes(op, result), self.target)
        handle._op_ended(loop, task, op, self.target, "ready", result, True, None, self.arg)
        loop.make_ready(task, result)

    def cleanup(self) -> None:
        self.finish()
        handle, loop = self.handle, self.loop
        handle._emit_ended(loop, self.task, self.op, "cancelled", None, self.target)
        handle._op_ended(
            loop, self.task, self.op, self.target, "cancelled", None, True, None, self.arg
        )


_SocketOp.handler = staticmethod(_handle_socket_op)

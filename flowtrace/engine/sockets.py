"""Non-blocking sockets driven by the loop's own selector.

``socket(...)`` returns a :class:`SocketHandle` over a non-blocking ``socket.socket``.
``bind``, ``listen``, ``close`` are plain calls; ``accept``, ``recv``, ``send``,
``sendAll`` and ``connect_async`` are awaitables: each tries the operation at once
and, when it would block, parks the task and registers the socket in
``loop.selector`` (one reader and one writer task per socket at a time) until it is
ready. ``connect`` is the blocking connect of Flowno (fine on loopback, where the
kernel completes the handshake at once); ``connect_async`` does not block the loop.

Events (only when listened to): ``IOWaitBegan`` / ``IOWaitEnded`` (operation
``accept``, ``connect``, ``recv``, ``send``) around every wait, with the socket's
addresses as ``target`` and the byte count when there is one. TLS is not supported.
"""

from __future__ import annotations

import contextlib
import errno
import selectors
import socket as _socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flowtrace.engine.commands import Command, yield_command
from flowtrace.engine.loop import EventLoop, current_event_loop
from flowtrace.events import IOWaitBegan, IOWaitEnded

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
    """A non-blocking socket for flowtrace tasks (arguments as ``socket.socket``)."""
    if use_tls or ssl_context is not None:
        raise NotImplementedError(
            "flowtrace sockets do not support TLS; run the loop inside asyncio "
            "(run_until_complete_async) and use an asyncio TLS client instead"
        )
    sock = _socket.socket(
        _socket.AF_INET if family == -1 else family,
        _socket.SOCK_STREAM if type == -1 else type,
        0 if proto == -1 else proto,
        fileno,
    )
    return SocketHandle(sock)


class SocketHandle:
    """A socket whose blocking operations are loop awaitables."""

    __slots__ = ("_loop", "_mask", "_reader", "_run", "_writer", "socket")

    def __init__(self, sock: _socket.socket) -> None:
        sock.setblocking(False)
        self.socket = sock
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
        """Connect, blocking the thread until done (Flowno's behaviour)."""
        self.socket.setblocking(True)
        try:
            loop = current_event_loop()
            task = loop.running_task if loop is not None else None
            if loop is not None and task is not None:
                self._emit_began(loop, task, "connect", str(address))
            try:
                self.socket.connect(address)
            except OSError:
                if loop is not None and task is not None:
                    self._emit_ended(loop, task, "connect", "error", None, str(address))
                raise
            if loop is not None and task is not None:
                self._emit_ended(loop, task, "connect", "ready", None, str(address))
        finally:
            self.socket.setblocking(False)

    def close(self) -> None:
        """Close the socket; a task still waiting on it gets ``OSError``."""
        loop = self._loop
        if loop is not None and self._run != loop.run_serial:
            loop = None  # waits of a finished run: nothing to wake
        waiters = (self._reader, self._writer)
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
        data: bytes = await yield_command(_SocketOp(self, "recv", bufsize))
        return data

    async def send(self, data: bytes) -> int:
        """Send once; returns the number of bytes sent."""
        sent: int = await yield_command(_SocketOp(self, "send", data))
        return sent

    async def sendAll(self, data: bytes) -> None:
        """Send every byte of ``data``."""
        view = memoryview(data)
        while view:
            sent = await self.send(bytes(view))
            view = view[sent:]

    async def connect_async(self, address: Any) -> None:
        """Connect without blocking the loop."""
        await yield_command(_SocketOp(self, "connect", address))

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

    def _emit_began(self, loop: EventLoop, task: Task, op: str, target: str | None = None) -> None:
        bus = loop.bus
        if bus.listening[IOWaitBegan.kind]:
            bus.emit(IOWaitBegan, task.task_id, op, target or self._target())

    def _emit_ended(
        self,
        loop: EventLoop,
        task: Task,
        op: str,
        outcome: str,
        nbytes: int | None,
        target: str | None = None,
    ) -> None:
        bus = loop.bus
        if bus.listening[IOWaitEnded.kind]:
            bus.emit(IOWaitEnded, task.task_id, op, target or self._target(), outcome, nbytes)

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

    def __init__(self, handle: SocketHandle, op: str, arg: Any) -> None:
        self.handle = handle
        self.op = op
        self.arg = arg


def _attempt(handle: SocketHandle, op: str, arg: Any) -> Any:
    """Try the operation once; ``BlockingIOError`` when it would block."""
    sock = handle.socket
    if op == "recv":
        return sock.recv(arg)
    if op == "send":
        return sock.send(arg)
    if op == "accept":
        return sock.accept()
    # connect: finish or raise
    err = sock.getsockopt(_socket.SOL_SOCKET, _socket.SO_ERROR)
    if err:
        raise OSError(err, f"connect to {arg!r} failed")
    return None


def _nbytes(op: str, result: Any) -> int | None:
    if op == "recv":
        return len(result)
    if op == "send":
        return int(result)
    return None


def _handle_socket_op(loop: EventLoop, task: Task, command: _SocketOp) -> None:
    handle, op, arg = command.handle, command.op, command.arg
    event = _WRITE if op in ("send", "connect") else _READ
    if op == "connect":
        err = handle.socket.connect_ex(arg)
        if err == 0:
            loop.make_ready(task)
            return
        if err not in (errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EAGAIN):
            raise OSError(err, f"connect to {arg!r} failed")
    else:
        try:
            result = _attempt(handle, op, arg)
        except (BlockingIOError, InterruptedError):
            pass
        else:
            loop.make_ready(task, result)
            return
    if handle._loop is not loop or handle._run != loop.run_serial:
        # First wait in this run: forget waits abandoned by an earlier run.
        handle._loop, handle._run = loop, loop.run_serial
        handle._mask, handle._reader, handle._writer = 0, None, None
    busy = handle._reader if event == _READ else handle._writer
    if busy is not None:
        raise RuntimeError(
            f"task {task.name!r}: another task is already waiting to {op} on {handle!r}; "
            "one reader and one writer per socket at a time"
        )
    target = str(arg) if op == "connect" else handle._target()
    handle._emit_began(loop, task, op, target)
    loop.add_io_waiter()

    def finish() -> None:
        if event == _READ:
            handle._reader = None
        else:
            handle._writer = None
        handle._unregister(loop, event)
        loop.remove_io_waiter()

    def ready() -> None:
        if handle.socket.fileno() < 0:  # closed while we waited
            finish()
            handle._emit_ended(loop, task, op, "error", None, target)
            loop.make_ready(task, None, OSError(f"socket closed while waiting to {op}"))
            return
        try:
            result = _attempt(handle, op, arg)
        except (BlockingIOError, InterruptedError):
            return  # spurious wake-up: keep waiting
        except OSError as exc:
            finish()
            handle._emit_ended(loop, task, op, "error", None, target)
            loop.make_ready(task, None, exc)
            return
        finish()
        handle._emit_ended(loop, task, op, "ready", _nbytes(op, result), target)
        loop.make_ready(task, result)

    def cleanup() -> None:
        finish()
        handle._emit_ended(loop, task, op, "cancelled", None, target)

    if event == _READ:
        handle._reader = ready
    else:
        handle._writer = ready
    handle._register(loop, event)
    loop.park(task, cleanup, f"socket {op} on {target}")


EventLoop.register_handler(_SocketOp, _handle_socket_op)

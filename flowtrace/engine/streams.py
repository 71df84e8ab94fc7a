"""Streams: how a ``stream_in`` port reads a producer's run-level-1 items.

A streaming producer (an async-generator node) emits items ``(k, 0), (k, 1), …`` of its
generation ``k`` and then the final result ``(k,)``. Each consumer port reading it at
run level 1 is a :class:`Connection` with its own read position, so every consumer
reads every item at its own pace (compatibility §5). The producer's :class:`ChunkLog`
keeps only the items some connection has not read yet: memory follows the slowest
reader's lag, not the stream's length, and a reader that has not started the current
generation still finds its first item (spec §7).

A :class:`Stream` is what the consumer's function receives for one run. It reads one
generation of the producer — the producer's current one when the run began — from the
connection's position; it never jumps ahead within a generation (Flowno's "jump to the
newest item" is fixed) and it reads the value of *its own* output port (Flowno always
read port 0). A mono producer wired to a stream port is read as a one-item stream of
its result (docs/DESIGN.md §12.2).

``await stream.cancel()`` asks the producer to stop the generation: ``StreamCancelled``
is thrown into it at its current ``yield``, which ends the generation for every reader;
when it escapes a pass-through node, that node's own input streams are cancelled in
turn (upstream propagation). The flow engine (``flow.py``) does the scheduling side:
stalls, wake-ups and the throw.
"""

from __future__ import annotations

import types
from collections import deque
from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from flowtrace.engine.commands import Command
from flowtrace.engine.node import FinalizedInputPortRef, FinalizedNode, FinalizedOutputPortRef

if TYPE_CHECKING:
    from flowtrace.engine.flow import Flow
    from flowtrace.engine.loop import EventLoop
    from flowtrace.engine.tasks import Task

__all__ = [
    "Stream",
    "StreamCancelled",
    "Connection",
    "ChunkLog",
    "StreamWaitCommand",
]

T = TypeVar("T")

_MISSING: Any = object()


class StreamCancelled(Exception):
    """Thrown into a streaming producer when a consumer cancels its stream."""

    def __init__(
        self, stream: Stream[Any] | None = None, message: str = "Stream was cancelled by consumer"
    ) -> None:
        super().__init__(message)
        self.stream = stream
        self.message = message


class Connection:
    """One run-level-1 edge ``producer.output(o) -> consumer.input(port)`` and the
    position of the next item it will read: ``(gen, idx)``."""

    __slots__ = ("consumer", "gen", "idx", "output", "port", "producer")

    def __init__(
        self, consumer: FinalizedNode, port: int, producer: FinalizedNode, output: int
    ) -> None:
        self.consumer = consumer
        self.port = port
        self.producer = producer
        self.output = output
        self.gen = 0
        self.idx = 0


class _GenChunks:
    """The retained items of one generation: ``items[0]`` is item number ``start``."""

    __slots__ = ("count", "items", "start")

    def __init__(self) -> None:
        self.start = 0
        self.count = 0
        self.items: deque[Any] = deque()


class ChunkLog:
    """A producer's items that some connection still has to read, by generation."""

    __slots__ = ("conns", "gens")

    def __init__(self, conns: list[Connection]) -> None:
        self.conns = conns
        self.gens: dict[int, _GenChunks] = {}

    def begin(self, gen: int) -> None:
        """A streaming run of generation ``gen`` started (it may emit zero items)."""
        if gen not in self.gens:
            self.gens[gen] = _GenChunks()

    def append(self, gen: tuple[int, ...], data: Any) -> None:
        chunks = self.gens.get(gen[0])
        if chunks is None:
            chunks = self.gens[gen[0]] = _GenChunks()
        chunks.items.append(data)
        chunks.count += 1

    def is_streaming(self, gen: int) -> bool:
        return gen in self.gens

    def get(self, gen: int, idx: int) -> Any:
        """Item ``idx`` of ``gen``, or ``_MISSING`` when it does not exist (yet)."""
        chunks = self.gens.get(gen)
        if chunks is None or idx >= chunks.count or idx < chunks.start:
            return _MISSING
        return chunks.items[idx - chunks.start]

    def count(self, gen: int) -> int:
        chunks = self.gens.get(gen)
        return 0 if chunks is None else chunks.count

    def release(self, current_gen: int) -> None:
        """Drop every item all connections have read (never the current generation's
        unread items)."""
        if not self.conns:
            return
        min_gen, min_idx = self.conns[0].gen, self.conns[0].idx
        for c in self.conns:
            if c.gen < min_gen or (c.gen == min_gen and c.idx < min_idx):
                min_gen, min_idx = c.gen, c.idx
        for gen in list(self.gens):
            if gen < min_gen and gen < current_gen:
                del self.gens[gen]
            elif gen == min_gen:
                chunks = self.gens[gen]
                while chunks.start < min_idx and chunks.items:
                    chunks.items.popleft()
                    chunks.start += 1

    def items(self) -> Iterator[tuple[tuple[int, int], Any]]:
        for gen, chunks in self.gens.items():
            for i, value in enumerate(chunks.items):
                yield (gen, chunks.start + i), value

    def retained(self) -> int:
        """How many items are held (for tests of bounded memory)."""
        return sum(len(c.items) for c in self.gens.values())


class StreamWaitCommand(Command):
    """Yielded by a consumer that found no item: stall until the producer moves.

    Its handler is the flow's stall (``Flow._stall``, in ``flow_streams.py``), reached
    through the stream's flow, so this module imports nothing of the flow."""

    __slots__ = ("stream",)

    def __init__(self, stream: Stream[Any]) -> None:
        self.stream = stream

    @staticmethod
    def handler(loop: EventLoop, task: Task, cmd: StreamWaitCommand) -> None:
        stream = cmd.stream
        stream._flow._stall(task, stream)


@types.coroutine
def _wait(stream: Stream[Any]) -> Generator[Any, Any, Any]:
    return (yield StreamWaitCommand(stream))


class Stream(Generic[T]):
    """The async iterator a ``stream_in`` parameter receives for one run."""

    __slots__ = (
        "_cancel_mark",
        "_cancelled",
        "_conn",
        "_done",
        "_flow",
        "_gen",
        "_idx",
        "_last",
        "_mono_value",
        "_started",
        "input",
        "output",
        "run_level",
    )

    def __init__(self, flow: Flow, conn: Connection, gen: int, mono_value: Any = _MISSING) -> None:
        self._flow = flow
        self._conn = conn
        self._gen = gen
        self._idx = conn.idx if conn.gen == gen else 0
        self._done = conn.gen > gen
        self._mono_value = mono_value
        self._cancelled = False
        self._cancel_mark = 0
        self._started = False
        self._last: Any = None
        self.input = FinalizedInputPortRef(conn.consumer, conn.port)
        self.output = FinalizedOutputPortRef(conn.producer, conn.output)
        self.run_level = 1

    @property
    def generation(self) -> int:
        """The producer generation this stream reads."""
        return self._gen

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def __aiter__(self) -> Stream[T]:
        return self

    async def __anext__(self) -> T:
        flow = self._flow
        while True:
            value = flow._stream_try_read(self)
            if value is not _MISSING:
                return value  # type: ignore[no-any-return]
            await _wait(self)
            flow._after_stall(self)

    async def cancel(self) -> None:
        """Tell the producer this consumer wants no more items of this generation.
        Must be awaited. Later reads end with ``StopAsyncIteration`` once the producer
        has reacted."""
        self._flow._stream_cancel(self, propagated=False)

    def __repr__(self) -> str:
        return f"Stream({self.output!r}->{self.input!r}, run_level={self.run_level})"

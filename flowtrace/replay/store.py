"""The events of one run, held compactly: a million events in a few tens of megabytes.

A decoded event is a small :class:`msgspec.Struct`, but with its ints and strings it
still takes some 350 bytes; a debugger holding a million of them would need 350 MB. So
:class:`EventStore` keeps, per event, only what the indexes need to answer without
decoding (its kind, one byte, and its ``t_ns``, eight), and the events themselves in
*blocks*: every :data:`BLOCK` events are encoded together with msgspec's MessagePack
encoder and compressed with zlib (consecutive events repeat field names, node ids
and run ids, so a block shrinks about eight-fold: ~15 bytes per event). An event is
decoded on demand; the last few decoded blocks are kept (an LRU), so stepping, a
keyframe's catch-up and a sequential scan decode each block once.

The block still being filled is held as decoded events. Appending is single-writer;
readers on other threads may read any position already appended (a block is swapped
in before the events it replaces are dropped).
"""

from __future__ import annotations

import threading
import zlib
from array import array
from collections import OrderedDict
from collections.abc import Iterator

import msgspec

from flowtrace.events import EVENT_TYPES, AnyEvent, Event

__all__ = ["EventStore", "BLOCK", "CACHED_BLOCKS"]

#: Events per compressed block: big enough to compress well, small enough to decode
#: in about a tenth of a millisecond.
BLOCK = 256
#: Decoded blocks kept (most recently used).
CACHED_BLOCKS = 32

_KNOWN = frozenset(EVENT_TYPES)
_MSGPACK = b"M"
_JSON = b"J"
_encode_msgpack = msgspec.msgpack.Encoder().encode
_encode_json = msgspec.json.Encoder().encode
_decode_msgpack = msgspec.msgpack.Decoder(list[AnyEvent]).decode
_decode_json = msgspec.json.Decoder(list[AnyEvent]).decode


def _pack(events: list[Event]) -> bytes | list[Event]:
    """One block as compressed bytes (MessagePack; JSON when a value does not fit
    MessagePack, e.g. an int beyond 64 bits), or the events themselves when neither
    would give them back equal (an event of a class the decoder does not know, an
    infinity next to a big int)."""
    if any(type(e) not in _KNOWN for e in events):
        return list(events)
    try:
        return _MSGPACK + zlib.compress(_encode_msgpack(events), 1)
    except (OverflowError, TypeError, ValueError, msgspec.EncodeError):
        pass
    try:
        data = _encode_json(events)
    except (OverflowError, TypeError, ValueError, msgspec.EncodeError):
        return list(events)
    if _decode_json(data) != events:  # JSON writes an infinity as null: keep them as is
        return list(events)
    return _JSON + zlib.compress(data, 1)


def _unpack(block: bytes | list[Event]) -> list[Event]:
    if isinstance(block, list):
        return block
    data = zlib.decompress(memoryview(block)[1:])
    if block[:1] == _MSGPACK:
        return _decode_msgpack(data)
    return _decode_json(data)


class EventStore:
    """Append-only, position-addressed storage of one run's events."""

    __slots__ = ("_block", "_blocks", "_cache", "_cached", "_lock", "_pending", "kinds", "t_ns")

    def __init__(self, block: int = BLOCK, cached_blocks: int = CACHED_BLOCKS) -> None:
        if block < 1:
            raise ValueError("block must be at least 1")
        self._block = block
        self._cached = max(1, cached_blocks)
        self._blocks: list[bytes | list[Event]] = []
        #: (position of its first event, the events) of the block being filled
        self._pending: tuple[int, list[Event]] = (0, [])
        self._cache: OrderedDict[int, list[Event]] = OrderedDict()
        self._lock = threading.Lock()
        #: per position: the event's ``kind`` (its index in ``EVENT_TYPES``)
        self.kinds = bytearray()
        #: per position: the event's ``t_ns``
        self.t_ns = array("q")

    def __len__(self) -> int:
        return len(self.kinds)

    def append(self, event: Event) -> None:
        pending = self._pending[1]
        pending.append(event)
        self.t_ns.append(event.t_ns)
        self.kinds.append(event.kind)
        if len(pending) >= self._block:
            self.seal()

    @property
    def block(self) -> int:
        """Events per block."""
        return self._block

    def open_block(self) -> list[Event]:
        """The events of the block being filled. A writer may append to it directly
        (then the columns, then :meth:`seal` once it holds :attr:`block` events)."""
        return self._pending[1]

    def seal(self) -> None:
        """Compress the block being filled and start the next one."""
        start, pending = self._pending
        self._blocks.append(_pack(pending))
        self._pending = (start + len(pending), [])

    def kind_at(self, pos: int) -> type[Event]:
        """The class of the event at ``pos``, without decoding it."""
        return EVENT_TYPES[self.kinds[pos]]

    def get(self, pos: int) -> Event:
        """The event at position ``pos`` (decoded on demand)."""
        if pos < 0:
            raise IndexError(pos)
        start, pending = self._pending
        if pos >= start:
            return pending[pos - start]
        index, offset = divmod(pos, self._block)
        return self._decoded(index)[offset]

    def _decoded(self, index: int) -> list[Event]:
        cache = self._cache
        with self._lock:
            events = cache.get(index)
            if events is not None:
                cache.move_to_end(index)
                return events
        events = _unpack(self._blocks[index])
        with self._lock:
            cache[index] = events
            while len(cache) > self._cached:
                cache.popitem(last=False)
        return events

    def iter(self, start: int, stop: int) -> Iterator[Event]:
        """The events at positions ``start`` … ``stop - 1``, decoding each block once
        (a sequential scan does not evict the blocks that stepping uses)."""
        pos = max(0, start)
        block = self._block
        while pos < stop:
            first, pending = self._pending
            if pos >= first:
                yield from pending[pos - first : stop - first]
                return
            index, offset = divmod(pos, block)
            with self._lock:
                events = self._cache.get(index)
            if events is None:
                events = _unpack(self._blocks[index])
            end = min(block, offset + stop - pos)
            yield from events[offset:end]
            pos += end - offset

    def nbytes(self) -> int:
        """Bytes held by the compressed blocks and the per-event columns (what grows
        with the run; the decoded blocks kept are a fixed amount on top)."""
        total = len(self.kinds) + self.t_ns.itemsize * len(self.t_ns)
        for b in self._blocks:
            total += len(b) if isinstance(b, bytes) else 0
        return total

"""Data lineage: where each value an event mentions came from, and who read it.

The indexes map ``(node, generation)`` to the seqs of the events that emitted, gathered
or read it. A dict of tuples would cost some 200 bytes per entry; here each node keeps
two arrays (a generation packed into one int, and the seq), searched by bisection: a
node's generations only grow, so the arrays are sorted as they are appended (an entry
out of order, or a generation that does not pack, is still found, more slowly).
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Callable, Sequence
from typing import Any

from flowtrace.codec import describe
from flowtrace.events import (
    DataEmitted,
    Event,
    Generation,
    InputRead,
    InputsGathered,
    NodeErrored,
    NodeFinished,
    NodeStarted,
    StreamItemConsumed,
)

from .views import InputSource, format_generation

__all__ = ["GenerationIndex", "ReaderIndex", "Lineage", "pack_generation"]

_LOW = 0xFFFF_FFFF  # the low half of a packed (k,): after every (k, j)


def pack_generation(g: Generation) -> int | None:
    """``(k,)`` and ``(k, j)`` as one int ordered as generations are (an item before
    the whole result it belongs to); ``None`` for what does not pack."""
    if g is None:
        return None
    if len(g) == 1:
        k = g[0]
        if 0 <= k < 1 << 31:
            return (k << 32) | _LOW
    elif len(g) == 2:
        k, j = g
        if 0 <= k < 1 << 31 and 0 <= j < _LOW:
            return (k << 32) | j
    return None


class _Seqs:
    """``generation → seqs`` of one node: packed generations and seqs, side by side."""

    __slots__ = ("keys", "other", "seqs", "sorted")

    def __init__(self) -> None:
        self.keys = array("q")
        self.seqs = array("q")
        self.sorted = True
        self.other: dict[Generation, list[int]] | None = None

    def add(self, g: Generation, seq: int) -> None:
        key = pack_generation(g)
        if key is None:
            if self.other is None:
                self.other = {}
            self.other.setdefault(g, []).append(seq)
            return
        keys = self.keys
        if keys and key < keys[-1]:
            self.sorted = False
        keys.append(key)
        self.seqs.append(seq)

    def find(self, g: Generation) -> list[int]:
        key = pack_generation(g)
        if key is None:
            return list(self.other.get(g, ())) if self.other is not None else []
        keys, seqs = self.keys, self.seqs
        if not self.sorted:
            return [seqs[i] for i, k in enumerate(keys) if k == key]
        i = bisect.bisect_left(keys, key)
        out: list[int] = []
        while i < len(keys) and keys[i] == key:
            out.append(seqs[i])
            i += 1
        return out


class GenerationIndex:
    """``(node, generation) → seq`` of the one event that emitted (or gathered) it."""

    __slots__ = ("_nodes",)

    def __init__(self) -> None:
        self._nodes: dict[str, _Seqs] = {}

    def add(self, node_id: str, g: Generation, seq: int) -> None:
        entry = self._nodes.get(node_id)
        if entry is None:
            entry = self._nodes[node_id] = _Seqs()
        entry.add(g, seq)

    def get(self, node_id: str, g: Generation) -> int | None:
        """The seq recorded last for ``(node_id, g)``, or ``None``."""
        entry = self._nodes.get(node_id)
        if entry is None:
            return None
        found = entry.find(g)
        return found[-1] if found else None


class ReaderIndex:
    """``(producer, generation) → seqs`` of the events that read it, kept per reader
    and per run level so that each part is read in order (two readers may read the
    same items at their own pace)."""

    __slots__ = ("_producers",)

    def __init__(self) -> None:
        self._producers: dict[str, dict[tuple[str, int], _Seqs]] = {}

    def add(self, producer: str, reader: str, g: Generation, seq: int) -> None:
        parts = self._producers.get(producer)
        if parts is None:
            parts = self._producers[producer] = {}
        key = (reader, len(g) if g is not None else 0)
        entry = parts.get(key)
        if entry is None:
            entry = parts[key] = _Seqs()
        entry.add(g, seq)

    def get(self, producer: str, g: Generation) -> list[int]:
        parts = self._producers.get(producer)
        if not parts:
            return []
        out: list[int] = []
        for entry in parts.values():
            out.extend(entry.find(g))
        out.sort()
        return out


class Lineage:
    """The lineage queries of :class:`~flowtrace.replay.Replay` (a mixin: the replay
    builds the indexes as it reads the events)."""

    _emitted: GenerationIndex
    _gathered: GenerationIndex
    _readers: ReaderIndex

    def event(self, seq: int) -> Event:  # pragma: no cover - Replay's
        raise NotImplementedError

    def events_of_node(self, node_id: str) -> Sequence[int]:  # pragma: no cover - Replay's
        raise NotImplementedError

    def _lineage_indexer(self, cls: type[Event]) -> Callable[[Any], None] | None:
        """The function indexing an event of class ``cls`` for lineage, if it emits,
        gathers or reads data."""
        if cls is DataEmitted:
            return self._index_emitted
        if cls is InputsGathered:
            return self._index_gathered
        if cls is StreamItemConsumed:
            return self._index_item
        return None

    def _index_emitted(self, e: DataEmitted) -> None:
        self._emitted.add(e.node_id, e.generation, e.seq)

    def _index_gathered(self, e: InputsGathered) -> None:
        seq = e.seq
        self._gathered.add(e.node_id, e.generation, seq)
        for r in e.inputs:
            if r.producer is not None and r.producer_generation is not None:
                self._readers.add(r.producer, e.node_id, r.producer_generation, seq)

    def _index_item(self, e: StreamItemConsumed) -> None:
        self._readers.add(e.producer, e.consumer, e.generation, e.seq)

    def emitted_seq(self, node_id: str, generation: Generation) -> int | None:
        """Seq of the ``DataEmitted`` that stored ``node_id``'s ``generation``."""
        return self._emitted.get(node_id, generation)

    def gathered_seq(self, node_id: str, generation: Generation) -> int | None:
        """Seq of the ``InputsGathered`` of ``node_id``'s evaluation ``generation``."""
        return self._gathered.get(node_id, generation)

    def readers_of(self, node_id: str, generation: Generation) -> Sequence[int]:
        """Seqs of the events that read ``node_id``'s output ``generation``."""
        return self._readers.get(node_id, generation)

    def lineage(self, read: InputRead) -> int | None:
        """Seq of the producer's ``DataEmitted`` that an input read came from, or
        ``None`` for a defaulted, unconnected or stream input."""
        if read.producer is None or read.producer_generation is None or read.defaulted:
            return None
        return self._emitted.get(read.producer, read.producer_generation)

    def lineage_of_evaluation(self, node_id: str, generation: Generation) -> dict[int, int | None]:
        """port → producer ``DataEmitted`` seq, for the evaluation ``(node_id, generation)``."""
        seq = self._gathered.get(node_id, generation)
        if seq is None:
            return {}
        e = self.event(seq)
        assert isinstance(e, InputsGathered)
        return {r.port: self.lineage(r) for r in e.inputs}

    def sources(self, seq: int) -> list[InputSource]:
        """Where the values an event mentions came from (for "jump to producer")."""
        e = self.event(seq)
        out: list[InputSource] = []
        if isinstance(e, InputsGathered):
            for r in e.inputs:
                if r.defaulted:
                    label = f"port {r.port}: defaulted"
                elif r.producer is None:
                    label = f"port {r.port}: unconnected"
                elif r.stream:
                    items = self._items_read(e.node_id, r.port, seq)
                    if items:  # the items it read, not the producer's final value
                        out.extend(items)
                        continue
                    out.append(
                        InputSource(
                            f"port {r.port}: stream from {r.producer} (no item read)",
                            r.producer,
                            None,
                            None,
                        )
                    )
                    continue
                else:
                    label = (
                        f"port {r.port} ← {r.producer} g{format_generation(r.producer_generation)}"
                    )
                out.append(InputSource(label, r.producer, r.producer_generation, self.lineage(r)))
        elif isinstance(e, StreamItemConsumed):
            out.append(
                InputSource(
                    f"port {e.port} ← {e.producer} item g{format_generation(e.generation)}",
                    e.producer,
                    e.generation,
                    self._emitted.get(e.producer, e.generation),
                )
            )
        elif isinstance(e, (NodeStarted, NodeFinished, DataEmitted, NodeErrored)):
            g = e.generation
            if isinstance(e, DataEmitted) and e.run_level == 1 and g is not None:
                g = g[:1]
            gathered = self._gathered.get(e.node_id, g)
            if gathered is None and g is not None:
                gathered = self._gathered.get(e.node_id, g[:1])
            if gathered is not None and gathered != seq:
                out.extend(self.sources(gathered))
        return out

    def _items_read(self, consumer: str, port: int, gathered: int) -> list[InputSource]:
        """The stream items ``consumer`` read on ``port`` in the evaluation whose inputs
        were gathered at ``gathered``: one source per item, at the producer's
        ``DataEmitted`` of that item. Linear in the evaluation's events."""
        seqs = self.events_of_node(consumer)
        out: list[InputSource] = []
        for s in seqs[bisect.bisect_right(seqs, gathered) :]:
            ev = self.event(s)
            if isinstance(ev, NodeFinished) and ev.node_id == consumer:
                break
            if isinstance(ev, StreamItemConsumed) and ev.consumer == consumer and ev.port == port:
                out.append(
                    InputSource(
                        f"port {port} ← {ev.producer} item g{format_generation(ev.generation)}"
                        f" = {describe(ev.value, 20)} (read at #{s})",
                        ev.producer,
                        ev.generation,
                        self._emitted.get(ev.producer, ev.generation),
                    )
                )
        return out

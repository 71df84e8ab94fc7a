"""A finalized node's outputs: :class:`DataStore` (the current generation, the newest
complete result, the newest stream item) and :class:`NodeData`, Flowno's
``node._data`` mapping as a live, writable view of it.

Older stream items that slower readers still need live in the node's
:class:`~flowtrace.engine.streams.ChunkLog`, not here.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from flowtrace.engine.generation import Generation, cmp_generation

if TYPE_CHECKING:
    from flowtrace.engine.node_finalized import FinalizedNode


class DataStore:
    """A node's outputs: the current generation (cached, never recomputed), the newest
    complete result and the newest stream item. Older stream items that slower readers
    still need live in the node's :class:`~flowtrace.engine.streams.ChunkLog`."""

    __slots__ = ("chunk_data", "gen", "last_data", "last_gen")

    def __init__(self) -> None:
        self.gen: Generation = None
        self.last_gen: Generation = None
        self.last_data: Any = None
        self.chunk_data: Any = None


class NodeData(Mapping[tuple[int, ...], Any]):
    """``node._data``: a finalized node's outputs by generation, as Flowno keeps them.

    Reading lists what the node retains: its newest complete result, the stream items
    its chunk log still holds for slower readers, and the current stream item. Writing
    ``view[gen] = data`` goes into the node's :class:`DataStore` — the newest complete
    result for a run-level-0 generation ``(k,)``, the current stream item for a
    run-level-1 generation ``(k, j)`` — and advances the node's cached generation when
    ``gen`` is newer, so ``generation``, ``get_data`` and the solver see the write.

    flowtrace keeps only the newest output per run level (Flowno keeps every one), so a
    write older than what the node holds is refused with a ``ValueError`` rather than
    silently dropped. Writes are for setting a node up before a run (tests, tools); they
    are not events and do not appear in a trace.
    """

    __slots__ = ("_node",)

    def __init__(self, node: FinalizedNode) -> None:
        self._node = node

    def _snapshot(self) -> dict[tuple[int, ...], Any]:
        out: dict[tuple[int, ...], Any] = {}
        node = self._node
        store = node._store
        if store.last_gen is not None:
            out[store.last_gen] = store.last_data
        log = node._chunk_log
        if log is not None:
            for gen, value in log.items():
                out[gen] = value
        if store.gen is not None and len(store.gen) == 2:
            out[store.gen] = store.chunk_data
        return out

    def __getitem__(self, gen: tuple[int, ...]) -> Any:
        return self._snapshot()[tuple(gen)]

    def __iter__(self) -> Iterator[tuple[int, ...]]:
        return iter(self._snapshot())

    def __len__(self) -> int:
        return len(self._snapshot())

    def __setitem__(self, gen: tuple[int, ...], data: Any) -> None:
        node = self._node
        key = tuple(gen) if isinstance(gen, tuple | list) else gen
        if (
            not isinstance(key, tuple)
            or len(key) not in (1, 2)
            or not all(isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in key)
        ):
            raise ValueError(
                f"{node.node_id}._data[{gen!r}]: a generation is (k,) for a complete "
                "result or (k, j) for a stream item, with non-negative ints"
            )
        store = node._store
        kept = store.last_gen if len(key) == 1 else store.gen
        if cmp_generation(key, kept) < 0:
            what = "complete result" if len(key) == 1 else "output"
            raise ValueError(
                f"{node.node_id}._data[{key}]: the node already holds {what} {kept}; "
                "flowtrace keeps only the newest output per run level, so write "
                "generations oldest first"
            )
        newest = cmp_generation(key, store.gen) >= 0
        if len(key) == 1:
            store.last_gen = key
            store.last_data = data
        if newest:
            store.gen = key
            store.chunk_data = data if len(key) == 2 else None

    def __repr__(self) -> str:
        return f"NodeData({self._snapshot()!r})"

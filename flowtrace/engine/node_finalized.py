"""Finalized nodes: the running twin of each draft, and its wired inputs.

When the outermost FlowHDL block ends, every draft gets a :class:`FinalizedNode` (made
by :func:`_new_twin`) that the flow runs: it owns the node's data store
(:mod:`flowtrace.engine.node_data`), its input ports (:class:`FinalizedInputPort`:
producer, needed run level, default), its consumers and the engine's per-run state
(``_rt``, a :class:`~flowtrace.engine.flow_state._Runtime`). Also :class:`SuperNode`,
the solver's view of a strongly connected component of finalized nodes.
"""

from __future__ import annotations

import types
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from flowtrace.engine.generation import Generation, inc_generation
from flowtrace.engine.node_data import DataStore, NodeData
from flowtrace.engine.node_ports import _NO_DEFAULT, FinalizedInputPortRef, FinalizedOutputPortRef

if TYPE_CHECKING:
    from flowtrace.engine.flow import Flow
    from flowtrace.engine.flow_state import _Runtime
    from flowtrace.engine.node_draft import AnyDraftNode
    from flowtrace.engine.streams import ChunkLog, Connection


class FinalizedInputPort:
    """One wired input: producer, needed run level, default, and the stitch offset."""

    __slots__ = (
        "connected_output",
        "default_value",
        "minimum_run_level",
        "name",
        "port_index",
        "stitch_level_0",
    )

    def __init__(
        self,
        port_index: int,
        connected_output: FinalizedOutputPortRef | None,
        minimum_run_level: int,
        default_value: Any,
        name: str,
    ) -> None:
        self.port_index = port_index
        self.connected_output = connected_output
        self.minimum_run_level = minimum_run_level
        self.default_value = default_value
        self.name = name
        self.stitch_level_0 = 0

    @property
    def has_default(self) -> bool:
        return self.default_value is not _NO_DEFAULT


class FinalizedNode:
    """The running twin of a draft node.

    Reads of unknown attributes and writes of public ones go to the draft (the user's
    state of a stateful node lives there). ``node_id`` is the node's stable id in its
    flow (``repr`` of the draft until a flow names it). Engine state is kept in private
    slots-like attributes set in ``__init__`` (or :func:`_new_twin`).
    """

    def __class_getitem__(cls, params: Any) -> types.GenericAlias:
        """``FinalizedNode[int, tuple[int]]`` (Flowno's two type parameters) in
        annotations; the engine's own code uses the plain class."""
        return types.GenericAlias(cls, params)

    _OWN = frozenset(
        {
            "node_id",
        }
    )

    def __init__(self, draft: AnyDraftNode) -> None:
        d = self.__dict__
        d["_draft_node"] = draft
        d["_input_ports"] = {}
        d["_connected_output_nodes"] = {}
        d["_store"] = DataStore()
        d["node_id"] = repr(draft)
        d["_flow"] = None
        d["_consumers"] = []
        d["_stream_conns"] = []
        d["_chunk_log"] = None
        d["_rt"] = None

    # -- Flowno-compatible surface ------------------------------------------------------

    _draft_node: AnyDraftNode
    _input_ports: dict[int, FinalizedInputPort]
    _connected_output_nodes: dict[int, list[FinalizedNode]]
    _store: DataStore
    node_id: str
    _flow: Flow | None
    _consumers: list[FinalizedNode]
    _stream_conns: list[Connection]
    _chunk_log: ChunkLog | None
    #: The engine's state of this node in the current run, set when a run begins (it is
    #: ``None`` before the node's first run: code that may run then checks for it).
    _rt: _Runtime

    @property
    def generation(self) -> Generation:
        return self._store.gen

    def get_data(self, run_level: int = 0) -> tuple[Any, ...] | None:
        """The data visible at ``run_level`` (compatibility §2)."""
        store = self._store
        gen = store.gen
        if gen is None:
            return None
        depth = len(gen) - 1
        if depth == run_level:
            return store.last_data if run_level == 0 else store.chunk_data  # type: ignore[no-any-return]
        if depth > run_level:
            if run_level == 0 and gen[0] > 0:
                return store.last_data  # type: ignore[no-any-return]
            return None
        return None

    def push_data(self, data: Any, run_level: int = 0) -> None:
        """Store ``data`` as the next output at ``run_level`` (0 or 1)."""
        if run_level not in (0, 1):
            raise ValueError(f"run level {run_level} is not supported (only 0 and 1)")
        store = self._store
        gen = inc_generation(store.gen, run_level)
        store.gen = gen
        if run_level == 0:
            store.last_gen = gen
            store.last_data = data
            store.chunk_data = None
        else:
            store.chunk_data = data
            log = self._chunk_log
            if log is not None:
                log.append(gen, data)

    @property
    def _data(self) -> NodeData:
        """Flowno's per-node storage, ``{generation: data}``: a live view of the node's
        :class:`DataStore` (and chunk log). Writing ``node._data[gen] = value`` stores
        ``value`` as that generation's output, as ``push_data`` would have, so
        ``generation`` and ``get_data`` agree with the write (see :class:`NodeData`)."""
        return NodeData(self)

    def get_inputs_with_le_generation_clipped_to_minimum_run_level(
        self,
    ) -> list[FinalizedInputPort]:
        """The connected inputs whose producer has nothing newer than this node, its
        generation clipped to the port's run level and shifted by the port's stitch
        (compatibility §3), in port order. This is the rule the solver follows
        (:func:`~flowtrace.engine.resolve.port_is_stale`, through ``all_stale_edges``),
        without the run-time exclusions a running flow adds (ports just defaulted, a
        stalled stream read)."""
        from flowtrace.engine.resolve import all_stale_edges  # resolve imports this module

        ports = self._input_ports
        return [ports[index] for index, _ in all_stale_edges(self)]

    def get_output_nodes(self) -> list[FinalizedNode]:
        """Every consumer, once, in connection order."""
        return list(self._consumers)

    def get_output_nodes_by_run_level(self, run_level: int) -> list[FinalizedNode]:
        out: list[FinalizedNode] = []
        for consumer in self._consumers:
            for port in consumer._input_ports.values():
                src = port.connected_output
                if (
                    src is not None
                    and src.node is self
                    and port.minimum_run_level == run_level
                    and not any(c is consumer for c in out)
                ):
                    out.append(consumer)
        return out

    def output(self, port_index: int) -> FinalizedOutputPortRef:
        return FinalizedOutputPortRef(self, port_index)

    def input(self, port_index: int) -> FinalizedInputPortRef:
        return FinalizedInputPortRef(self, port_index)

    @property
    def _minimum_run_level(self) -> list[int]:
        return [p.minimum_run_level for _, p in sorted(self._input_ports.items())]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        draft = self.__dict__["_draft_node"]
        if name == "node_id":  # a twin that its flow has not named yet (_new_twin)
            return repr(draft)
        return getattr(draft, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_") or name in FinalizedNode._OWN or name in type(self).__dict__:
            object.__setattr__(self, name, value)
        else:
            setattr(self._draft_node, name, value)

    def __repr__(self) -> str:
        return f"{self._draft_node!r}"

    def __iter__(self) -> Iterator[Any]:
        raise TypeError(f"{self!r} is a node, not a sequence; use .get_data()")


def _new_twin(draft: AnyDraftNode) -> FinalizedNode:
    """``FinalizedNode(draft)`` as FlowHDL finalization makes it, one per draft: the
    caller sets ``_connected_output_nodes`` and ``_consumers`` itself (it builds them
    anyway), and ``node_id`` is left to the flow that registers the twin — read before
    that, it is ``repr(draft)``, as ``__init__`` would have set it (``__getattr__``).
    Skipping the work that would be overwritten at once makes a twin ~40% cheaper."""
    fin: FinalizedNode = object.__new__(FinalizedNode)
    d = fin.__dict__
    d["_draft_node"] = draft
    d["_input_ports"] = {}
    d["_store"] = DataStore()
    d["_flow"] = None
    d["_stream_conns"] = []
    d["_chunk_log"] = None
    d["_rt"] = None
    return fin


class SuperNode:
    """A strongly connected component of the stale subgraph (compatibility §4).

    ``members`` maps each node to its *internal* stale input ports (whose producer is in
    the same component), in discovery order; ``head`` is the member reached first;
    ``dependencies`` are the components of the stale producers outside it.
    """

    __slots__ = ("dependencies", "head", "members")

    def __init__(self, head: FinalizedNode, members: dict[FinalizedNode, list[int]]) -> None:
        self.head = head
        self.members = members
        self.dependencies: list[SuperNode] = []

    def __repr__(self) -> str:
        return f"SuperNode(head={self.head!r}, members={list(self.members)!r})"

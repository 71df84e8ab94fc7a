"""``FlowHDL`` and ``FlowHDLView``: the attribute namespace that builds a graph.

Inside ``with FlowHDL() as f:`` assigning ``f.name = Node(...)`` names a draft node and
reading ``f.other`` before it is assigned gives a :class:`NodePlaceholder` (a forward
reference), which is what makes cycles expressible. Leaving the outermost block
*finalizes* the graph: placeholders are resolved, every draft gets its
:class:`FinalizedNode` twin registered with the :class:`~flowtrace.engine.flow.Flow`,
and ``f.name`` then returns the finalized node (compatibility §1).

Template groups open a nested view; its drafts and placeholders are handed to the
enclosing view when it exits, and its names stay private to it (Flowno leaks them into
the outer namespace; we do not — docs/DESIGN.md §12.2).
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from flowtrace.engine.loop import DEFAULT_DEADLOCK_TIMEOUT
from flowtrace.engine.node import (
    _NO_DEFAULT,
    DraftNode,
    DraftOutputPortRef,
    FinalizedInputPort,
    FinalizedNode,
    FinalizedOutputPortRef,
    NodePlaceholder,
    OutputPortRefPlaceholder,
    _new_twin,
    _port_spec,
)
from flowtrace.engine.node import _context_stack as _node_context_stack

if TYPE_CHECKING:
    from flowtrace.engine.flow import Flow

__all__ = ["FlowHDLView", "FlowHDL", "current_view"]

#: Views whose ``with`` block is open, innermost last (class-wide, like Flowno's).
_context_stack: list[FlowHDLView] = _node_context_stack


def current_view() -> FlowHDLView | None:
    """The innermost open view, or ``None``."""
    return _context_stack[-1] if _context_stack else None


_MISSING = object()


def _port_specs(cls: type[DraftNode[Any]]) -> list[tuple[int, Any, str]]:
    """:func:`_port_spec` of every declared input of ``cls``, by index. Built once per
    class per finalization (nothing can change a class meanwhile: no user code runs)."""
    n_ports = max(len(cls._minimum_run_level), len(cls._param_names))
    return [_port_spec(cls, index) for index in range(n_ports)]


class FlowHDLView:
    """The attribute namespace of a graph under construction.

    Names starting with ``_`` are ordinary attributes; any other attribute assignment
    stores the value in the node table; reading an unassigned name gives a placeholder
    before finalization and ``AttributeError`` after it.
    """

    KEYWORDS: tuple[str, ...] = ("register_child_result",)
    contextStack: list[FlowHDLView] = _context_stack
    #: Finalize an input that is neither connected nor defaulted (it then fails when
    #: its node runs, a node error naming the port) instead of refusing the graph.
    #: ``FlowHDL`` refuses, as Flowno's does; ``Flow.add_node`` of a draft allows, as
    #: Flowno's ``add_node`` accepts any node (docs/compatibility.md §3).
    _allow_unconnected: bool = False
    #: Twins already made for drafts in the same flow (``Flow.add_nodes``, keyed by
    #: ``id(draft)``): a producer found among them is wired to, not finalized again.
    _known_twins: dict[int, FinalizedNode] | None = None

    def __init__(
        self,
        on_register_finalized_node: Callable[[FinalizedNode], None] | None = None,
        *,
        parent: FlowHDLView | None = None,
    ) -> None:
        d = self.__dict__
        d["_nodes"] = {}
        d["_drafts"] = []
        d["_is_finalized"] = False
        d["_parent"] = parent
        d["_on_register"] = on_register_finalized_node

    _nodes: dict[str, Any]
    _drafts: list[DraftNode[Any]]
    _is_finalized: bool
    _parent: FlowHDLView | None
    _on_register: Callable[[FinalizedNode], None] | None

    # -- attribute protocol ---------------------------------------------------------

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        nodes = self.__dict__["_nodes"]
        if name in nodes:
            return nodes[name]
        if self.__dict__["_is_finalized"]:
            raise AttributeError(f'Attribute "{name}" not found')
        return NodePlaceholder(name, self)

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_"):
            object.__setattr__(self, name, value)
        else:
            self._nodes[name] = value

    def register_child_result(self, draft: DraftNode[Any]) -> None:
        """Flowno compatibility: a nested view hands its drafts to this one."""
        self._register_draft(draft)

    def _register_draft(self, draft: DraftNode[Any]) -> None:
        self._drafts.append(draft)

    # -- context ----------------------------------------------------------------------

    def __enter__(self) -> Self:
        _context_stack.append(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if _context_stack and _context_stack[-1] is self:
            _context_stack.pop()
        elif self in _context_stack:
            _context_stack.remove(self)
        if exc_type is not None:
            return  # the block's own error propagates; nothing is finalized
        enclosing = _context_stack[-1] if _context_stack else None
        if enclosing is not None:
            enclosing._drafts.extend(self._drafts)
            self._drafts = []
            return
        self._finalize()

    # -- finalization -------------------------------------------------------------------

    def _resolve(self, placeholder: NodePlaceholder) -> DraftNode[Any]:
        seen: list[str] = []
        current: Any = placeholder
        while isinstance(current, NodePlaceholder):
            view = current._view if current._view is not None else self
            if current.name in seen:
                raise AttributeError(
                    f"Node {current.name} refers to itself through placeholders only "
                    f"({' -> '.join([*seen, current.name])}); assign a node to it"
                )
            seen.append(current.name)
            value = view._nodes.get(current.name, _MISSING)
            if value is _MISSING:
                raise AttributeError(
                    f"Node {current.name} is referenced, but has not been defined. "
                    f"Assign a node to `{current.name}` in the FlowHDL block."
                )
            current = value
        if isinstance(current, FinalizedNode):
            current = current._draft_node
        if not isinstance(current, DraftNode):
            raise AttributeError(
                f"Node {seen[-1]} is referenced as a node input, but "
                f"`{seen[-1]}` holds {current!r}, which is not a node"
            )
        return current

    def _finalize(self) -> None:
        # Finalization allocates a handful of objects per node and runs no user code
        # (except registration hooks): the cyclic collector is paused meanwhile, so a
        # 100,000-node graph is not rescanned over and over while it is wired.
        paused = gc.isenabled()
        if paused:
            gc.disable()
        try:
            self._finalize_graph()
        finally:
            if paused:
                gc.enable()

    def _finalize_graph(self) -> None:
        # This is most of the per-node cost of building a graph: two passes over the
        # drafts, each touching a draft's ports or outputs once, class data read once
        # per class, objects made only where they are kept. Every draft gets its twin
        # up front (a draft found through a connection, when it is found) — a twin has
        # no effect outside this method until it is registered, so an error raised
        # here still leaves nothing finalized.
        drafts = self._drafts
        fins = list(map(_new_twin, drafts))  # twin of drafts[k], later ones included
        twins = dict(zip(map(id, drafts), fins, strict=True))
        if len(twins) != len(drafts):  # a draft registered twice: one twin, the last
            fins = [twins[id(draft)] for draft in drafts]
        # Pass 1, in draft order (drafts found through connections are appended, and
        # visited too): resolve forward references, check unconnected ports, wire inputs.
        specs: dict[type[DraftNode[Any]], list[tuple[int, Any, str]]] = {}
        reused: list[DraftNode[Any]] = []  # producers finalized before (_known_twins)
        for draft, fin in zip(drafts, fins, strict=True):
            ports = draft._input_ports
            if not ports:
                continue
            cls = type(draft)
            spec = specs.get(cls)
            if spec is None:
                spec = specs[cls] = _port_specs(cls)
            n_spec = len(spec)
            fin_ports = fin._input_ports
            for index in sorted(ports) if len(ports) > 1 else ports:
                port = ports[index]
                src = port._source
                if isinstance(src, DraftNode):  # fed by output 0 of a draft
                    producer_draft = src
                    out_index = 0
                elif isinstance(src, DraftOutputPortRef):
                    producer_draft = src.node
                    out_index = src.port_index
                elif isinstance(src, OutputPortRefPlaceholder):
                    producer_draft = self._resolve(src.node)
                    out_index = src.port_index
                    DraftOutputPortRef(producer_draft, out_index).connect(draft.input(index))
                else:
                    producer_draft = None
                if 0 <= index < n_spec:
                    level, default, name = spec[index]
                else:
                    level, default, name = _port_spec(cls, index)
                if producer_draft is None:
                    ref = None
                    if src is None and default is _NO_DEFAULT and not self._allow_unconnected:
                        raise AttributeError(
                            f"{draft!r}.input({index}) is not connected and has no "
                            f"default value (parameter `{name}`): "
                            "pass an argument for it or give it a default"
                        )
                else:
                    producer = twins.get(id(producer_draft))
                    if producer is None:  # a draft registered elsewhere, or nowhere
                        known = self._known_twins
                        producer = known.get(id(producer_draft)) if known else None
                        if producer is not None:  # already finalized into this flow
                            twins[id(producer_draft)] = producer
                            reused.append(producer_draft)
                        else:
                            twins[id(producer_draft)] = producer = _new_twin(producer_draft)
                            drafts.append(producer_draft)
                            fins.append(producer)
                    ref = FinalizedOutputPortRef(producer, out_index)
                fin_ports[index] = FinalizedInputPort(index, ref, level, default, name)
        # Pass 2: each twin's consumers, per output in index order, once each in
        # connection order (complete only now: resolving a placeholder adds a consumer).
        if self._known_twins is not None:
            # Flow.add_nodes: a consumer may not be added yet (it is wired when it is),
            # and producers finalized before get this call's consumers too.
            self._rewire_outputs([*drafts, *reused], twins)
        else:
            for draft, fin in zip(drafts, fins, strict=True):
                outputs = draft._connected_output_nodes
                d = fin.__dict__
                if not outputs:
                    d["_connected_output_nodes"] = {}
                    d["_consumers"] = []
                elif len(outputs) == 1:
                    ((out_index, row),) = outputs.items()
                    if len(row) == 1:
                        consumer = twins[id(row[0])]
                        d["_connected_output_nodes"] = {out_index: [consumer]}
                        d["_consumers"] = [consumer]
                    else:
                        fin_row = [twins[id(c)] for c in row]
                        d["_connected_output_nodes"] = {out_index: fin_row}
                        d["_consumers"] = list({id(c): c for c in fin_row}.values())
                else:
                    fin_outputs = {
                        out_index: [twins[id(c)] for c in outputs[out_index]]
                        for out_index in sorted(outputs)
                    }
                    d["_connected_output_nodes"] = fin_outputs
                    unique = {id(c): c for row in fin_outputs.values() for c in row}
                    d["_consumers"] = list(unique.values())
        # Names: the first attribute a draft was assigned to (this view's table).
        names: dict[int, str] = {}
        for name, value in self._nodes.items():
            if isinstance(value, DraftNode) and id(value) not in names:
                names[id(value)] = name
        self._register_finalized(fins, names)
        # Phase 4: the table now returns finalized nodes.
        for name, value in list(self._nodes.items()):
            if isinstance(value, DraftNode) and id(value) in twins:
                self._nodes[name] = twins[id(value)]
            elif isinstance(value, NodePlaceholder):
                with contextlib.suppress(AttributeError, KeyError):
                    self._nodes[name] = twins[id(self._resolve(value))]
        self._is_finalized = True

    def _rewire_outputs(
        self, reused: list[DraftNode[Any]], twins: dict[int, FinalizedNode]
    ) -> None:
        """Set the consumers of the twins of ``reused`` from their drafts' consumer
        lists, in the order Pass 2 gives, leaving out drafts with no twin yet (twins
        of this finalization in ``twins``, earlier ones in ``_known_twins``)."""
        known = self._known_twins or {}
        for draft in reused:
            fin = twins.get(id(draft)) or known[id(draft)]
            outputs: dict[int, list[FinalizedNode]] = {}
            for out_index in sorted(draft._connected_output_nodes):
                row = [
                    t
                    for c in draft._connected_output_nodes[out_index]
                    if (t := twins.get(id(c)) or known.get(id(c))) is not None
                ]
                if row:
                    outputs[out_index] = row
            d = fin.__dict__
            d["_connected_output_nodes"] = outputs
            d["_consumers"] = list({id(c): c for row in outputs.values() for c in row}.values())

    def _register_finalized(self, nodes: list[FinalizedNode], names: dict[int, str]) -> None:
        callback = self._on_register
        for fin in nodes:
            name = names.get(id(fin._draft_node))
            fin.node_id = name if name is not None else repr(fin._draft_node)
            if callback is not None:
                callback(fin)


class FlowHDL(FlowHDLView):
    """A :class:`FlowHDLView` that owns a :class:`~flowtrace.engine.flow.Flow`.

    ``virtual_time=True`` makes every run of this flow use the loop's virtual clock
    (sleeps complete at once in deadline order), unless a run says otherwise.
    ``name`` names the flow in traces (its ``flow_id``; span names, ``flowtrace show``);
    without it the flow is ``flow-N``.
    ``deadlock_timeout`` sets the loop's no-progress watchdog (seconds, ``None`` off;
    see :mod:`flowtrace.engine.loop`).
    """

    KEYWORDS: tuple[str, ...] = (
        "KEYWORDS",
        "run_until_complete",
        "run_until_complete_async",
        "create_task",
        "register_child_result",
    )

    def __init__(
        self,
        *,
        virtual_time: bool = False,
        name: str | None = None,
        deadlock_timeout: float | None = DEFAULT_DEADLOCK_TIMEOUT,
    ) -> None:
        from flowtrace.engine.flow import Flow

        super().__init__()
        self.__dict__["_flow"] = Flow(
            virtual_time=virtual_time, name=name, deadlock_timeout=deadlock_timeout
        )

    _flow: Flow

    def _register_finalized(self, nodes: list[FinalizedNode], names: dict[int, str]) -> None:
        flow = self._flow
        hooks = flow.registration_hooks()
        add_node = flow.add_node
        name_of = names.get
        for fin in nodes:
            add_node(fin, name_of(id(fin._draft_node)), hooks)

    def run_until_complete(
        self,
        stop_at_node_generation: Any = (),
        terminate_on_node_error: bool = True,
        _debug_max_wait_time: float | None = None,
        context_factory: Callable[[FinalizedNode], Any] | None = None,
        *,
        instruments: list[Any] | tuple[Any, ...] = (),
        virtual_time: bool | None = None,
        executors: Any = None,
    ) -> None:
        """Run the flow (see :meth:`Flow.run_until_complete`)."""
        self._flow.run_until_complete(
            stop_at_node_generation,
            terminate_on_node_error,
            _debug_max_wait_time,
            context_factory,
            instruments=instruments,
            virtual_time=virtual_time,
            executors=executors,
        )

    async def run_until_complete_async(
        self,
        stop_at_node_generation: Any = (),
        terminate_on_node_error: bool = True,
        context_factory: Callable[[FinalizedNode], Any] | None = None,
        *,
        instruments: list[Any] | tuple[Any, ...] = (),
        virtual_time: bool | None = None,
        executors: Any = None,
    ) -> None:
        """Run the flow inside a running asyncio loop (nodes may await asyncio)."""
        await self._flow.run_async(
            stop_at_node_generation,
            terminate_on_node_error,
            context_factory,
            instruments=instruments,
            virtual_time=virtual_time,
            executors=executors,
        )

    def create_task(self, coro: Coroutine[Any, Any, Any]) -> Any:
        """Add a task to the flow's event loop (safe from another thread)."""
        return self._flow.event_loop.create_task(coro)

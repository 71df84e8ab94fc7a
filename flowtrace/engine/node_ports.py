"""Port references: what ``a.output(i)`` and ``a.input(i)`` are, for draft nodes, for
forward references (``f.name`` read before it was assigned) and for finalized nodes;
the marker of a port without default, and the error of an input with no value.

Each kind of reference is its own class, as the engine tells them apart by type. The
ports themselves (what feeds an input) are :class:`~flowtrace.engine.node_draft.DraftInputPort`
and :class:`~flowtrace.engine.node_finalized.FinalizedInputPort`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Generic, TypeVar

if TYPE_CHECKING:
    # The last two are named in the string type arguments of the base classes below.
    from flowtrace.engine.hdl import FlowHDLView
    from flowtrace.engine.node_draft import AnyDraftNode  # noqa: F401
    from flowtrace.engine.node_finalized import FinalizedNode  # noqa: F401

N = TypeVar("N")

#: The default of a port that has none (``FinalizedInputPort.default_value``).
_NO_DEFAULT = object()


class MissingDefaultError(Exception):
    """An input has no value to use: a cycle without defaults, or a producer with no
    data at the run level the port needs and no default on the port."""

    # Public as ``flowtrace.engine.node.MissingDefaultError`` (and ``flowtrace.X``):
    # recorded errors name that type, and pickling finds it there.
    __module__ = "flowtrace.engine.node"


class NodePlaceholder:
    """``f.name`` read before it was assigned: a forward reference to output 0."""

    __slots__ = ("_view", "name")

    def __init__(self, name: str, view: FlowHDLView | None = None) -> None:
        self.name = name
        self._view = view

    def output(self, port_index: int) -> OutputPortRefPlaceholder:
        return OutputPortRefPlaceholder(self, port_index)

    def __repr__(self) -> str:
        return f"NodePlaceholder({self.name!r})"


class _PortRef(Generic[N]):
    """Port ``port_index`` of ``node``: the shape every port reference shares. Each kind
    of reference is its own class, as the engine tells them apart by type."""

    __slots__ = ("node", "port_index")

    #: ``output`` or ``input``: how the reference reads back (``a.output(0)``).
    _side: ClassVar[str] = "output"

    def __init__(self, node: N, port_index: int) -> None:
        self.node = node
        self.port_index = port_index

    def __repr__(self) -> str:
        return f"{self.node!r}.{self._side}({self.port_index})"


class OutputPortRefPlaceholder(_PortRef[NodePlaceholder]):
    """``f.name.output(i)`` before ``f.name`` was assigned."""

    __slots__ = ()


class DraftOutputPortRef(_PortRef["AnyDraftNode"]):
    """Output ``port_index`` of a draft node."""

    __slots__ = ()

    def connect(self, target: DraftInputPortRef) -> None:
        """Wire this output to ``target`` (recorded on both sides)."""
        target.node._connect_input(target.port_index, self)


class DraftInputPortRef(_PortRef["AnyDraftNode"]):
    """Input ``port_index`` of a draft node."""

    __slots__ = ()
    _side = "input"


class FinalizedOutputPortRef(_PortRef["FinalizedNode"]):
    """Output ``port_index`` of a finalized node."""

    __slots__ = ()


class FinalizedInputPortRef(_PortRef["FinalizedNode"]):
    """Input ``port_index`` of a finalized node (what a ``Stream`` calls its input)."""

    __slots__ = ()
    _side = "input"

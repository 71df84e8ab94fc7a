"""Draft nodes: the graph as ``with FlowHDL() as f:`` builds it.

Calling a node class inside the block makes a :class:`DraftNode` that records its
arguments (other drafts, output refs, forward-reference placeholders, or plain values
that become hidden :class:`Constant` nodes) in its input ports
(:class:`DraftInputPort`), and registers with the innermost open block
(``_context_stack``). ``@node.template`` groups (:class:`DraftGroupNode`) build their
sub-graph at once. When the outermost block ends, :mod:`flowtrace.engine.hdl` gives
every draft its running twin (:mod:`flowtrace.engine.node_finalized`).
"""

from __future__ import annotations

import copy
import inspect
import itertools
import logging
from collections.abc import Callable, Iterator
from typing import Any, ClassVar, Generic, TypeAlias, TypeVar, TypeVarTuple

from flowtrace.engine.node_finalized import FinalizedInputPort, FinalizedNode
from flowtrace.engine.node_ports import (
    _NO_DEFAULT,
    DraftInputPortRef,
    DraftOutputPortRef,
    NodePlaceholder,
    OutputPortRefPlaceholder,
)

logger = logging.getLogger("flowtrace.node")

T = TypeVar("T")
#: A node type's input types (Flowno's first type parameter: ``DraftNode[int, str,
#: tuple[int]]``); ``DraftNode[R]`` alone names only the output tuple type.
_Ts = TypeVarTuple("_Ts")
#: Any node type, whatever its type parameters.
AnyDraftNode: TypeAlias = "DraftNode[*tuple[Any, ...], Any]"

#: Open FlowHDL views, innermost last (shared with ``hdl.py``; class-wide, like Flowno's).
_context_stack: list[Any] = []


class DraftInputPort:
    """One input of a draft: what feeds it (or nothing yet).

    An input fed by a whole draft (``Inc(prev)``, the common case) keeps that draft in
    ``_source`` and makes its ``DraftOutputPortRef(prev, 0)`` the first time
    ``connected_output`` is read, then keeps that: finalization reads ``_source`` and
    never needs the reference, so building a graph makes one object less per edge.
    """

    __slots__ = ("_source", "port_index")

    def __init__(
        self,
        port_index: int,
        connected_output: DraftOutputPortRef
        | OutputPortRefPlaceholder
        | AnyDraftNode
        | None = None,
    ) -> None:
        self.port_index = port_index
        #: What ``connected_output`` stands for; a draft means its output 0.
        self._source = connected_output

    @property
    def connected_output(self) -> DraftOutputPortRef | OutputPortRefPlaceholder | None:
        src = self._source
        if isinstance(src, DraftNode):
            src = self._source = DraftOutputPortRef(src, 0)
        return src

    @connected_output.setter
    def connected_output(self, value: DraftOutputPortRef | OutputPortRefPlaceholder | None) -> None:
        self._source = value


class OriginalCall:
    """What ``@node`` decorated: the user's function (or ``call`` method), its name and
    signature (Flowno exposes this as ``node._original_call``)."""

    __slots__ = ("func", "func_name", "signature")

    def __init__(self, func: Callable[..., Any]) -> None:
        self.func = func
        self.func_name: str = getattr(func, "__name__", type(func).__name__)
        self.signature = inspect.signature(func)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.func(*args, **kwargs)

    def __repr__(self) -> str:
        return f"OriginalCall({self.func_name}{self.signature})"


def _port_spec(cls: type[AnyDraftNode], index: int) -> tuple[int, Any, str]:
    """Input ``index`` of a node class: (minimum run level, default or ``_NO_DEFAULT``,
    parameter name; ``argN`` past the declared parameters, as varargs give)."""
    levels = cls._minimum_run_level
    names = cls._param_names
    return (
        levels[index] if index < len(levels) else 0,
        cls._default_values.get(index, _NO_DEFAULT),
        names[index] if index < len(names) else f"arg{index}",
    )


class DraftNode(Generic[*_Ts, T]):
    """Base of every node type. Subclasses provide ``async def call(self, *inputs)``.

    Class attributes set by ``@node`` (or by a direct subclass): ``_minimum_run_level``
    (1 for a ``stream_in`` port, else 0), ``_default_values`` (port → default),
    ``_multiple_outputs``, ``_wrap_single`` (wrap results in a 1-tuple), ``_label``.
    """

    _minimum_run_level: ClassVar[list[int]] = []
    _default_values: ClassVar[dict[int, Any]] = {}
    _multiple_outputs: ClassVar[bool] = True
    _wrap_single: ClassVar[bool] = False
    _label: ClassVar[str] = ""
    _param_names: ClassVar[list[str]] = []
    _n_params: ClassVar[int] = -1
    _is_stream_func: ClassVar[bool | None] = None
    _stateful: ClassVar[bool] = False
    _initial_state: ClassVar[dict[str, Any]] = {}
    #: Numbers the instances of each class (``Label#k``); every subclass gets its own.
    #: A counter object rather than an int, so creating a node never writes the class.
    _ids: ClassVar[Iterator[int]] = itertools.count()
    _n_outputs_hint: ClassVar[int] = 1
    _original_call: ClassVar[Any] = None
    #: The decorated function of a function node (called directly by the engine).
    _func: ClassVar[Callable[..., Any] | None] = None

    _input_ports: dict[int, DraftInputPort]
    _connected_output_nodes: dict[int, list[AnyDraftNode]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._ids = itertools.count()
        if "_label" not in cls.__dict__:
            cls._label = cls.__name__
        if "call" in cls.__dict__ and "_default_values" not in cls.__dict__:
            # A direct subclass: ports and defaults come from call's signature.
            params = _call_params(cls.__dict__["call"], skip_self=True, skip_varargs=True)
            cls._param_names = [p.name for p in params]
            cls._n_params = len(params)
            cls._default_values = {
                i: p.default for i, p in enumerate(params) if p.default is not p.empty
            }
            if "_minimum_run_level" not in cls.__dict__:
                cls._minimum_run_level = [0] * len(params)
            cls._is_stream_func = inspect.isasyncgenfunction(cls.__dict__["call"])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # The hot path of graph building (one call per node): class data is read once,
        # inputs fed by another draft are wired inline, and the class is never written
        # to — a class attribute write (the old per-class ``int`` counter) invalidates
        # the interpreter's attribute caches for the class, ~0.4 µs per node measured.
        if kwargs:
            raise TypeError(
                f"{type(self)._label}() takes positional arguments only (got keyword "
                f"arguments {sorted(kwargs)}); pass inputs in parameter order"
            )
        cls = type(self)
        n_params = cls._n_params
        if n_params < 0:
            n_params = len(cls._minimum_run_level)
        n_args = len(args)
        if n_args > n_params and not cls._accepts_varargs():
            raise TypeError(
                f"{cls._label}() takes {n_params} positional argument(s) but {n_args} were given"
            )
        self._id = next(cls._ids)
        ports: dict[int, DraftInputPort] = {}
        self._input_ports = ports
        self._connected_output_nodes = {}
        if cls._initial_state:
            for name, value in cls._initial_state.items():
                setattr(self, name, copy.deepcopy(value))
        # Ports are created in index order; an input fed by a draft is wired as its port
        # is made (its consumer list is the producer's, nothing else sees the order).
        plain: list[int] | None = None
        for i, arg in enumerate(args):
            if isinstance(arg, DraftNode):
                ports[i] = DraftInputPort(i, arg)
                consumers = arg._connected_output_nodes.get(0)
                if consumers is None:
                    arg._connected_output_nodes[0] = [self]
                else:
                    consumers.append(self)
            else:
                ports[i] = DraftInputPort(i)
                if plain is None:
                    plain = [i]
                else:
                    plain.append(i)
        if n_args < n_params:
            for i in range(n_args, n_params):
                ports[i] = DraftInputPort(i)
        if _context_stack:
            _context_stack[-1]._drafts.append(self)
        else:
            logger.debug("%r registered outside of FlowHDL context", self)
        if plain is not None:
            # Constants made for plain arguments register after their consumer (Flowno
            # order), so every other kind of argument is wired only now.
            for i in plain:
                self._wire_argument(i, args[i])

    @classmethod
    def _accepts_varargs(cls) -> bool:
        return False

    # -- wiring ---------------------------------------------------------------------

    def _wire_argument(self, index: int, arg: Any) -> None:
        """Wire an argument that is not a draft (``__init__`` wires drafts itself)."""
        if isinstance(arg, DraftOutputPortRef):
            arg.connect(self.input(index))
        elif isinstance(arg, NodePlaceholder):
            self._input_ports[index].connected_output = arg.output(0)
        elif isinstance(arg, OutputPortRefPlaceholder):
            self._input_ports[index].connected_output = arg
        else:
            const = Constant(arg)
            const.output(0).connect(self.input(index))

    def _connect_input(self, index: int, source: DraftOutputPortRef) -> None:
        port = self._input_ports.get(index)
        if port is None:
            port = self._input_ports[index] = DraftInputPort(index)
        port.connected_output = source
        source.node._connected_output_nodes.setdefault(source.port_index, []).append(self)

    def output(self, port_index: int) -> DraftOutputPortRef:
        return DraftOutputPortRef(self, port_index)

    def input(self, port_index: int) -> DraftInputPortRef:
        return DraftInputPortRef(self, port_index)

    def get_output_nodes(self) -> list[AnyDraftNode]:
        out: list[AnyDraftNode] = []
        seen: dict[int, bool] = {}
        for consumers in self._connected_output_nodes.values():
            for c in consumers:
                if id(c) not in seen:
                    seen[id(c)] = True
                    out.append(c)
        return out

    def get_data(self, run_level: int = 0) -> Any:
        raise NotImplementedError(
            "a draft node has no data: read it from the finalized node (f.name after the "
            "`with FlowHDL()` block)"
        )

    def _blank_finalized(self) -> FinalizedNode:
        """A finalized twin with no connections (for tests and single-node flows)."""
        fin = FinalizedNode(self)
        cls = type(self)
        for i in self._input_ports:
            fin._input_ports[i] = FinalizedInputPort(i, None, *_port_spec(cls, i))
        return fin

    def call(self, *args: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define `async def call(...)`")

    def __repr__(self) -> str:
        return f"{type(self)._label}#{self._id}"


def _call_params(
    func: Callable[..., Any], *, skip_self: bool, skip_varargs: bool
) -> list[inspect.Parameter]:
    params = list(inspect.signature(func).parameters.values())
    if skip_self and params:
        params = params[1:]
    if skip_varargs:
        params = [p for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    return params


class Constant(DraftNode[*tuple[Any, ...], Any]):
    """A hidden node holding a plain argument value (``Constant#k``)."""

    _minimum_run_level: ClassVar[list[int]] = []
    _default_values: ClassVar[dict[int, Any]] = {}
    _n_params: ClassVar[int] = 0
    _is_stream_func: ClassVar[bool | None] = False
    _value: Any

    def __init__(self, *args: Any) -> None:
        if args:
            self._value = args[0]
        super().__init__()

    async def call(self) -> tuple[Any]:
        return (self._value,)

    def __repr__(self) -> str:
        return f"Constant#{self._id}"


class DraftGroupNode(DraftNode[*tuple[Any, ...], Any]):
    """Base of ``@node.template`` groups. Calling a group class runs the template at
    once with a nested :class:`~flowtrace.engine.hdl.FlowHDLView` and returns the node
    the template returned, so no group node ever reaches the flow."""

    _template: ClassVar[Callable[..., Any]]

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        from flowtrace.engine.hdl import FlowHDLView, current_view

        if kwargs:
            raise TypeError(f"{cls.__name__}() takes positional arguments only")
        outer = current_view()
        if outer is None:
            raise RuntimeError(
                f"template {cls.__name__}() must be called inside a `with FlowHDL()` block"
            )
        sub = FlowHDLView(parent=outer)
        with sub:
            result = cls._template(sub, *args)
        if isinstance(
            result, DraftNode | DraftOutputPortRef | NodePlaceholder | OutputPortRefPlaceholder
        ):
            return result
        return Constant(result)

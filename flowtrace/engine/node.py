"""Nodes: the ``@node`` decorator, draft nodes (graph building) and finalized nodes (running).

A *draft* node is what calling a node class inside ``with FlowHDL() as f:`` builds: it
records its arguments (other drafts, output refs, forward-reference placeholders, or
plain values that become hidden :class:`Constant` nodes). When the outermost FlowHDL
block ends every draft gets a :class:`FinalizedNode` twin that the flow runs; the twin
owns the node's data store (:class:`DataStore`) and its wiring to other finalized nodes.

The model follows Flowno (compatibility §1, §2); the deliberate differences are
listed in docs/DESIGN.md §12.2: stateful class attributes are copied per instance, a
template group passes its raw arguments (no orphan ``Constant`` nodes), and template
internals do not leak into the outer namespace.
"""

from __future__ import annotations

import copy
import inspect
import itertools
import logging
import types
from collections.abc import Callable, Iterator, Mapping
from typing import (
    TYPE_CHECKING,
    Any,
    ClassVar,
    Generic,
    TypeAlias,
    TypeVar,
    TypeVarTuple,
    overload,
)

from flowtrace.engine.generation import Generation, cmp_generation, inc_generation

if TYPE_CHECKING:
    from flowtrace.engine.flow import Flow
    from flowtrace.engine.hdl import FlowHDLView
    from flowtrace.engine.streams import ChunkLog, Connection

__all__ = [
    "MissingDefaultError",
    "NodePlaceholder",
    "OutputPortRefPlaceholder",
    "DraftOutputPortRef",
    "DraftInputPortRef",
    "DraftInputPort",
    "DraftNode",
    "DraftGroupNode",
    "Constant",
    "FinalizedNode",
    "FinalizedInputPort",
    "FinalizedOutputPortRef",
    "FinalizedInputPortRef",
    "DataStore",
    "NodeData",
    "OriginalCall",
    "SuperNode",
    "Some",
    "Nothing",
    "node",
]

logger = logging.getLogger("flowtrace.node")

T = TypeVar("T")
#: A node type's input types (Flowno's first type parameter: ``DraftNode[int, str,
#: tuple[int]]``); ``DraftNode[R]`` alone names only the output tuple type.
_Ts = TypeVarTuple("_Ts")
#: Any node type, whatever its type parameters.
AnyDraftNode: TypeAlias = "DraftNode[*tuple[Any, ...], Any]"


class MissingDefaultError(Exception):
    """An input has no value to use: a cycle without defaults, or a producer with no
    data at the run level the port needs and no default on the port."""


# --------------------------------------------------------------------------- port refs


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


N = TypeVar("N")


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


_NO_DEFAULT = object()


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


# --------------------------------------------------------------------------- draft nodes


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


# --------------------------------------------------------------------------- @node


def _make_function_node(
    func: Callable[..., Any],
    multiple_outputs: bool,
    stream_in: list[str],
    executor: str | None = None,
) -> type[AnyDraftNode]:
    sig = inspect.signature(func)
    all_params = list(sig.parameters.values())
    # ``*args`` takes any number of extra inputs (each a port); ``**kwargs`` none.
    varargs = any(p.kind is p.VAR_POSITIONAL for p in all_params)
    params = [p for p in all_params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    names = [p.name for p in params]
    min_levels = [1 if n in stream_in else 0 for n in names]
    defaults = {i: p.default for i, p in enumerate(params) if p.default is not p.empty}

    def call(self: AnyDraftNode, *args: Any) -> Any:
        return func(*args)

    namespace: dict[str, Any] = {
        "_minimum_run_level": min_levels,
        "_default_values": defaults,
        "_multiple_outputs": multiple_outputs,
        "_wrap_single": not multiple_outputs,
        "_label": func.__name__,
        "_param_names": names,
        "_n_params": len(params),
        "_is_stream_func": inspect.isasyncgenfunction(func),
        "_original_call": OriginalCall(func),
        "_func": func if executor is None else _offloaded_body(func, executor),
        "_n_outputs_hint": _outputs_hint(func) if multiple_outputs else 1,
        "__doc__": func.__doc__,
        "__module__": func.__module__,
        "__qualname__": getattr(func, "__qualname__", func.__name__),
        "call": call,
    }
    if varargs:
        namespace["_accepts_varargs"] = classmethod(lambda cls: True)
    return type(func.__name__, (DraftNode,), namespace)


def _offloaded_body(func: Callable[..., Any], executor: str) -> Callable[..., Any]:
    """``@node(offload=True)`` / ``@node(executor=...)``: the body runs on an executor
    (see :mod:`flowtrace.engine.offload`); a streaming body cannot (it yields to the
    flow item by item), so it offloads its calls one by one instead."""
    if inspect.isasyncgenfunction(func) or inspect.isgeneratorfunction(func):
        raise TypeError(
            f"@node(offload=...) cannot offload the streaming node {func.__name__}: an "
            "async generator yields to the flow item by item; inside it, offload each "
            "computation with `await offload(fn, ...)`"
        )
    from flowtrace.engine.offload import offload_body

    return offload_body(executor, func)


def _offload_executor(offload: bool | None, executor: str | None) -> str | None:
    """The executor a node body runs on (``None``: in the loop)."""
    if executor is not None:
        if offload is False:
            raise ValueError("@node(offload=False, executor=...) contradicts itself")
        if not isinstance(executor, str) or not executor:
            raise TypeError(
                f"@node(executor=...) takes the name of an executor of the run, not "
                f"{executor!r} (pass the executor itself to run_until_complete(executors="
                "{name: executor}))"
            )
        return executor
    if offload:
        from flowtrace.engine.offload import DEFAULT_EXECUTOR

        return DEFAULT_EXECUTOR
    return None


def _outputs_hint(func: Callable[..., Any]) -> int:
    ann = getattr(func, "__annotations__", {}).get("return")
    args = getattr(ann, "__args__", None)
    if args and Ellipsis not in args:
        return len(args)
    return 1


def _make_stateful_node(cls: type, stream_in: list[str]) -> type[AnyDraftNode]:
    call = cls.__dict__.get("call") or getattr(cls, "call", None)
    if call is None:
        raise TypeError(f"stateful node class {cls.__name__} needs an `async def call(self, ...)`")
    all_params = list(inspect.signature(call).parameters.values())
    if not all_params or all_params[0].name != "self":
        raise ValueError("First parameter must be 'self'")
    params = _call_params(call, skip_self=True, skip_varargs=True)
    names = [p.name for p in params]
    state = {
        name: getattr(cls, name)
        for name in dir(cls)
        if not (name.startswith("__") and name.endswith("__"))
        and not callable(getattr(cls, name))
        and not isinstance(inspect.getattr_static(cls, name), property)
    }
    namespace: dict[str, Any] = {
        "_minimum_run_level": [1 if n in stream_in else 0 for n in names],
        "_default_values": {i: p.default for i, p in enumerate(params) if p.default is not p.empty},
        "_multiple_outputs": False,
        "_wrap_single": True,
        "_label": cls.__name__,
        "_param_names": names,
        "_n_params": len(params),
        "_is_stream_func": inspect.isasyncgenfunction(call),
        "_stateful": True,
        "_initial_state": state,
        "_original_call": OriginalCall(call),
        "__module__": cls.__module__,
        "__doc__": cls.__doc__,
        "call": call,
    }
    return type(f"{cls.__name__}__Stateful_Node", (DraftNode, cls), namespace)


class _NodeDecorator:
    """``node`` itself: ``@node``, ``@node(...)``, ``node.template``."""

    @overload
    def __call__(self, func_or_cls: Callable[..., Any], /) -> type[AnyDraftNode]: ...

    @overload
    def __call__(
        self,
        func_or_cls: None = None,
        /,
        *,
        multiple_outputs: bool | None = None,
        stream_in: list[str] | tuple[str, ...] = (),
        offload: bool | None = None,
        executor: str | None = None,
    ) -> Callable[[Callable[..., Any]], type[AnyDraftNode]]: ...

    def __call__(
        self,
        func_or_cls: Callable[..., Any] | None = None,
        /,
        *,
        multiple_outputs: bool | None = None,
        stream_in: list[str] | tuple[str, ...] = (),
        offload: bool | None = None,
        executor: str | None = None,
    ) -> Any:
        if func_or_cls is not None:
            # Flowno: a positional target wins; `multiple_outputs` is ignored then.
            return _decorate(func_or_cls, False, list(stream_in))
        multi = bool(multiple_outputs)
        names = list(stream_in)
        where = _offload_executor(offload, executor)

        def decorator(target: Callable[..., Any]) -> type[AnyDraftNode]:
            if multi and isinstance(target, type):
                raise AttributeError(
                    "node(multiple_outputs=True) applies to functions only, not to classes"
                )
            if where is not None and isinstance(target, type):
                raise TypeError(
                    f"@node(offload=...) applies to function nodes, not to the stateful "
                    f"node class {target.__name__} (its state lives in the flow's process); "
                    "inside its call, use `await offload(fn, ...)`"
                )
            if where is not None:
                return _make_function_node(target, multi, names, where)
            return _decorate(target, multi, names)

        return decorator

    @staticmethod
    def template(func: Callable[..., Any]) -> type[DraftGroupNode]:
        """``@node.template``: a plain function ``(view, *inputs)`` building a sub-graph
        and returning one of its nodes."""
        return type(
            func.__name__,
            (DraftGroupNode,),
            {
                "_template": staticmethod(func),
                "_label": func.__name__,
                "__module__": func.__module__,
                "__doc__": func.__doc__,
            },
        )


def _decorate(target: Any, multiple_outputs: bool, stream_in: list[str]) -> type[AnyDraftNode]:
    if isinstance(target, type):
        return _make_stateful_node(target, stream_in)
    return _make_function_node(target, multiple_outputs, stream_in)


node = _NodeDecorator()


# --------------------------------------------------------------------------- registration

#: Open FlowHDL views, innermost last (shared with ``hdl.py``; class-wide, like Flowno's).
_context_stack: list[Any] = []


# --------------------------------------------------------------------------- finalized


class FinalizedOutputPortRef(_PortRef["FinalizedNode"]):
    """Output ``port_index`` of a finalized node."""

    __slots__ = ()


class FinalizedInputPortRef(_PortRef["FinalizedNode"]):
    """Input ``port_index`` of a finalized node (what a ``Stream`` calls its input)."""

    __slots__ = ()
    _side = "input"


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
    _rt: Any

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


# --------------------------------------------------------------------------- solver views


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


class Some(Generic[T]):
    """An option value that is present (kept for Flowno import compatibility)."""

    __slots__ = ("value",)

    def __init__(self, value: T) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"Some({self.value!r})"


class Nothing:
    """An option value that is absent (kept for Flowno import compatibility)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "Nothing()"

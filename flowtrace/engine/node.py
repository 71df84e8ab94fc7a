"""The ``@node`` decorator: a function or a class becomes a node class.

``@node`` (and ``@node(multiple_outputs=, stream_in=, offload=, executor=)``) makes a
subclass of :class:`~flowtrace.engine.node_draft.DraftNode` from an async function, an
async generator (a streaming node) or a stateful class with ``async def call``;
``@node.template`` makes a group (:class:`~flowtrace.engine.node_draft.DraftGroupNode`).

This module is also the import path of every node name (Flowno's ``node_base`` and
flowtrace's own code import them from here; it keeps Flowno's option types ``Some``
and ``Nothing`` for that path); each lives with its job:

* :mod:`~flowtrace.engine.node_ports` — port references, placeholders, the missing
  default;
* :mod:`~flowtrace.engine.node_draft` — draft nodes and their inputs (graph building);
* :mod:`~flowtrace.engine.node_finalized` — finalized nodes, their wired inputs, the
  solver's ``SuperNode``;
* :mod:`~flowtrace.engine.node_data` — a finalized node's outputs (``DataStore``,
  ``NodeData``).

The model follows Flowno (compatibility §1, §2); the deliberate differences are
listed in docs/DESIGN.md §12.2: stateful class attributes are copied per instance, a
template group passes its raw arguments (no orphan ``Constant`` nodes), and template
internals do not leak into the outer namespace.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, Generic, TypeVar, overload

from flowtrace.engine.node_data import DataStore, NodeData
from flowtrace.engine.node_draft import (
    AnyDraftNode,
    Constant,
    DraftGroupNode,
    DraftInputPort,
    DraftNode,
    OriginalCall,
    _call_params,
)

# Engine-internal names hdl.py and flow.py import from here (explicit re-exports).
from flowtrace.engine.node_draft import _context_stack as _context_stack
from flowtrace.engine.node_draft import _port_spec as _port_spec
from flowtrace.engine.node_finalized import FinalizedInputPort, FinalizedNode, SuperNode
from flowtrace.engine.node_finalized import _new_twin as _new_twin
from flowtrace.engine.node_ports import _NO_DEFAULT as _NO_DEFAULT
from flowtrace.engine.node_ports import (
    DraftInputPortRef,
    DraftOutputPortRef,
    FinalizedInputPortRef,
    FinalizedOutputPortRef,
    MissingDefaultError,
    NodePlaceholder,
    OutputPortRefPlaceholder,
)

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

T = TypeVar("T")


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


# --------------------------------------------------------------------------- Flowno's options
# (kept for Flowno's import path; the engine does not use them)


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

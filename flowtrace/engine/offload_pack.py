"""Packing an offloaded call for its worker: the function and the ``(args, kwargs)``
pair as pickled bytes (a node body by reference to its module, by value with
cloudpickle where plain pickle cannot or a remote interpreter has no ``__main__``),
and, when a value cannot be pickled, an error naming it as the user wrote it.

The functions here are methods of :class:`~flowtrace.engine.offload_session.OffloadSession`
(``self`` is the session, which keeps the function blobs of the run):
``offload_session.py`` binds them in the class body.
"""

from __future__ import annotations

import contextlib
import inspect
import pickle
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flowtrace.engine.offload_errors import UnpicklableValueError
from flowtrace.engine.remote import PROTOCOL, BodyRef, dumps_by_value

if TYPE_CHECKING:
    from flowtrace.engine.node import FinalizedNode
    from flowtrace.engine.offload_executors import _Backend
    from flowtrace.engine.offload_session import OffloadSession


def _function_blob(
    self: OffloadSession,
    fn: Callable[..., Any],
    body: bool,
    backend: _Backend,
    where: str,
    function: str,
) -> bytes:
    key = (id(fn), backend.by_value)
    cached = self._fn_blobs.get(key)
    if cached is not None and cached[0] is fn:
        return cached[1]
    module = getattr(fn, "__module__", None) or ""
    target: Any = fn
    if body and "<locals>" not in function and module:
        ref = BodyRef(module, function)
        with contextlib.suppress(Exception):
            if ref.resolve() is fn:
                target = ref
    blob: bytes | None = None
    why: BaseException | None = None
    if not (backend.by_value and module == "__main__"):
        try:
            blob = pickle.dumps(target, protocol=PROTOCOL)
        except Exception as exc:
            why = exc
    if blob is None:
        try:
            blob = dumps_by_value(fn)
        except ImportError:
            pass
        except Exception as exc:
            why = exc
    if blob is None:
        raise UnpicklableValueError(
            f"{where}: cannot offload {function}() to {backend.describe()}: the "
            f"function cannot be pickled ({type(why).__name__ if why else 'error'}: "
            f"{why}). Define it at module level (or install cloudpickle, which "
            "pickles lambdas and nested functions by value)."
        )
    self._fn_blobs[key] = (fn, blob)
    return blob


def _args_blob(
    self: OffloadSession,
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    body: bool,
    backend: _Backend,
    where: str,
    function: str,
    node: FinalizedNode | None,
) -> bytes:
    try:
        blob = pickle.dumps((args, kwargs), protocol=PROTOCOL)
    except Exception as exc:
        what, value, why = _culprit(fn, args, kwargs, body, node, exc)
        raise UnpicklableValueError(
            f"{where}: cannot offload {function}() to {backend.describe()}: {what} "
            f"({type(value).__name__}) cannot be pickled ({type(why).__name__}: "
            f"{why}). Values sent to an executor travel by pickle: pass plain data, "
            "or keep this part in the node."
        ) from None
    if backend.by_value and b"__main__" in blob:
        with contextlib.suppress(Exception):
            blob = dumps_by_value((args, kwargs))
    return blob


def _culprit(
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    body: bool,
    node: FinalizedNode | None,
    fallback: BaseException,
) -> tuple[str, Any, BaseException]:
    """Which argument failed to pickle, named as the user wrote it."""
    names: list[str] = []
    if body and node is not None:
        names = list(type(node._draft_node)._param_names)
    else:
        with contextlib.suppress(TypeError, ValueError):
            names = [
                p.name
                for p in inspect.signature(fn).parameters.values()
                if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
            ]
    noun = "input" if body else "argument"
    for i, value in enumerate(args):
        try:
            pickle.dumps(value, protocol=PROTOCOL)
        except Exception as exc:
            name = f" `{names[i]}`" if i < len(names) else ""
            return f"{noun} {i}{name}", value, exc
    for name, value in kwargs.items():
        try:
            pickle.dumps(value, protocol=PROTOCOL)
        except Exception as exc:
            return f"keyword argument `{name}`", value, exc
    return "the arguments", args, fallback

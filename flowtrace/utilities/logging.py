"""``log_async``: a decorator that logs how an async function or generator runs.

Decorate an ``async def`` (or an async generator function) and every call logs, at
debug level (logger ``flowtrace.utilities.logging`` for the call, the wrappers' own
loggers for each step), the call with its arguments, each resumption and what the
coroutine yielded to the loop, and its result or exception — in the same wording as
Flowno's ``flowno.utilities.logging.log_async``. Works on flowtrace tasks, on awaited
coroutines and under ``@node`` (put ``@node`` outside ``@log_async``).
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from flowtrace.utilities.asyncgen_wrapper import AsyncGeneratorWrapper
from flowtrace.utilities.coroutine_wrapper import CoroutineWrapper

__all__ = ["log_async"]

logger = logging.getLogger(__name__)

_P = ParamSpec("_P")
_R = TypeVar("_R")


def log_async(func: Callable[_P, _R]) -> Callable[_P, _R]:
    """Wrap ``func`` so each call's coroutine or async generator logs its execution."""

    @functools.wraps(func)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        shown = args[1:] if args and getattr(func, "__self__", None) is not None else args
        arg_str = ", ".join([*(repr(a) for a in shown), *(f"{k}={v!r}" for k, v in kwargs.items())])
        name = func.__name__
        logger.debug("Calling function: %s(%s)", name, arg_str)
        result: Any = func(*args, **kwargs)
        if inspect.iscoroutine(result):
            logger.debug("%s(%s) is a coroutine", name, arg_str)
            wrapped: Any = CoroutineWrapper(result, name, arg_str)
            return wrapped  # type: ignore[no-any-return]
        if inspect.isasyncgen(result):
            logger.debug("%s(%s) is an async generator", name, arg_str)
            wrapped = AsyncGeneratorWrapper(result, name, arg_str)
            return wrapped  # type: ignore[no-any-return]
        logger.warning("Function %s(%s) is not a coroutine or async generator", name, arg_str)
        return result  # type: ignore[no-any-return]

    return wrapper

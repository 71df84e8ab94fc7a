"""A coroutine that logs every step it takes (Flowno's ``CoroutineWrapper``).

:func:`flowtrace.utilities.logging.log_async` wraps the coroutines of a decorated
``async def`` in one. The wrapper is itself a coroutine object: the loop drives it with
``send``/``throw`` when it is a task, and ``await`` drives it through ``__await__`` when
another coroutine awaits it; each path logs (at debug level, logger
``flowtrace.utilities.coroutine_wrapper``) what goes in and what comes out, in the
wording Flowno uses, so logs read the same after the import change.
"""

from __future__ import annotations

import logging
from collections.abc import Coroutine, Generator
from types import TracebackType
from typing import TypeVar

__all__ = ["CoroutineWrapper"]

Yield = TypeVar("Yield")
T = TypeVar("T")

logger = logging.getLogger(__name__)


class CoroutineWrapper(Coroutine[Yield, object, T]):
    """Forwards to ``coro`` and logs each resumption, yield, result and exception."""

    def __init__(self, coro: Coroutine[Yield, object, T], func_name: str, arg_str: str) -> None:
        self._coro = coro
        self._func_name = func_name
        self._arg_str = arg_str

    @property
    def _call(self) -> str:
        return f"{self._func_name}({self._arg_str})"

    def __repr__(self) -> str:
        return f"CoroutineWrapper({self._call})"

    def send(self, value: object) -> Yield:
        logger.debug("Resuming coroutine: %s with send(%r)", self._call, value)
        try:
            command = self._coro.send(value)
        except StopIteration as stop:
            logger.debug("Finished coroutine: %s with result %r", self._call, stop.value)
            raise
        except BaseException as exc:
            logger.debug("Coroutine %s raised exception %r", self._call, exc)
            raise
        logger.debug("Coroutine %s yielded %r", self._call, command)
        return command

    def throw(
        self,
        typ: type[BaseException] | BaseException,
        val: object = None,
        tb: TracebackType | None = None,
        /,
    ) -> Yield:
        name = getattr(typ, "__name__", repr(typ))
        logger.debug("Throwing into coroutine: %s exception %s(%s)", self._call, name, val)
        try:
            if isinstance(typ, BaseException):
                command = self._coro.throw(typ)
            else:
                exc = val if isinstance(val, BaseException) else typ() if val is None else typ(val)
                command = self._coro.throw(exc.with_traceback(tb) if tb is not None else exc)
        except StopIteration as stop:
            logger.debug(
                "Finished coroutine after throw: %s with result %r", self._call, stop.value
            )
            raise
        except BaseException as exc:
            logger.debug("Coroutine %s raised exception after throw: %r", self._call, exc)
            raise
        logger.debug("Coroutine %s yielded %r after throw", self._call, command)
        return command

    def close(self) -> None:
        self._coro.close()
        logger.debug("Coroutine %s closed", self._call)

    def __await__(self) -> Generator[Yield, object, T]:
        return self._drive()

    def _drive(self) -> Generator[Yield, object, T]:
        logger.debug("Starting coroutine: %s via __await__", self._call)
        try:
            result: T = yield from self._coro.__await__()
        except BaseException as exc:
            logger.debug("Coroutine %s raised exception via __await__: %r", self._call, exc)
            raise
        logger.debug("Coroutine %s completed via __await__ with result %r", self._call, result)
        return result

"""An async generator that logs every item and resumption (Flowno's
``AsyncGeneratorWrapper``), used by :func:`flowtrace.utilities.logging.log_async` for
decorated async generator functions. Logs go to ``flowtrace.utilities.asyncgen_wrapper``
at debug level.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator
from types import TracebackType
from typing import TypeVar

__all__ = ["AsyncGeneratorWrapper"]

Yield = TypeVar("Yield")
Send = TypeVar("Send")

logger = logging.getLogger(__name__)


class AsyncGeneratorWrapper(AsyncGenerator[Yield, Send]):
    """Forwards to ``agen``; logs each item, the end, and exceptions."""

    def __init__(self, agen: AsyncGenerator[Yield, Send], func_name: str, arg_str: str) -> None:
        self._agen = agen
        self._func_name = func_name
        self._arg_str = arg_str

    @property
    def _call(self) -> str:
        return f"{self._func_name}({self._arg_str})"

    def __repr__(self) -> str:
        return f"AsyncGeneratorWrapper({self._call})"

    def __aiter__(self) -> AsyncGeneratorWrapper[Yield, Send]:
        return self

    async def __anext__(self) -> Yield:
        try:
            item = await self._agen.__anext__()
        except StopAsyncIteration:
            logger.debug("Async generator %s finished", self._call)
            raise
        except BaseException as exc:
            logger.debug("Exception in async generator: %s: %r", self._call, exc)
            raise
        logger.debug("Async generator %s yielded %r", self._call, item)
        return item

    async def asend(self, value: Send) -> Yield:
        logger.debug("Resuming async generator %s with asend(%r)", self._call, value)
        try:
            item = await self._agen.asend(value)
        except StopAsyncIteration:
            logger.debug("Async generator %s finished", self._call)
            raise
        except BaseException as exc:
            logger.debug("Exception in async generator %s during asend: %r", self._call, exc)
            raise
        logger.debug("Async generator %s yielded %r after asend", self._call, item)
        return item

    async def athrow(
        self,
        typ: type[BaseException] | BaseException,
        val: object = None,
        tb: TracebackType | None = None,
        /,
    ) -> Yield:
        name = getattr(typ, "__name__", repr(typ))
        logger.debug(
            "Resuming async generator: %s with athrow(%s, %s, %s)", self._call, name, val, tb
        )
        if isinstance(typ, BaseException):
            exc = typ
        else:
            exc = val if isinstance(val, BaseException) else typ() if val is None else typ(val)
        try:
            item = await self._agen.athrow(exc)
        except StopAsyncIteration:
            logger.debug("Async generator %s finished", self._call)
            raise
        except BaseException as error:
            logger.debug("Exception in async generator: %s: %r", self._call, error)
            raise
        logger.debug("Async generator %s yielded %r", self._call, item)
        return item

    async def aclose(self) -> None:
        logger.debug("Closing async generator %s", self._call)
        try:
            await self._agen.aclose()
        except BaseException as exc:
            logger.debug("Exception in async generator %s during aclose: %r", self._call, exc)
            raise
        logger.debug("Async generator %s closed", self._call)

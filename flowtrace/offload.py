"""Offloading node bodies and single calls to a process pool or a Dask cluster.

The public names of :mod:`flowtrace.engine.offload` (the guide is docs/offload.md)::

    from flowtrace import node
    from flowtrace.offload import offload

    @node(offload=True)              # the whole body runs on the run's default executor
    def Score(batch: list[float]) -> float: ...

    @node
    async def Embed(text: str) -> list[float]:
        return await offload(embed, text)   # one call; the node's task waits, the loop does not

    f.run_until_complete(executors={"default": ProcessPoolExecutor(2)})
"""

from __future__ import annotations

from flowtrace.engine.offload import (
    DEFAULT_EXECUTOR,
    OffloadError,
    OffloadLostError,
    RemoteError,
    RemoteTraceback,
    UnpicklableValueError,
    normalize_executors,
    offload,
    offload_to,
)
from flowtrace.engine.remote import WorkerContext

__all__ = [
    "DEFAULT_EXECUTOR",
    "OffloadError",
    "OffloadLostError",
    "RemoteError",
    "RemoteTraceback",
    "UnpicklableValueError",
    "WorkerContext",
    "normalize_executors",
    "offload",
    "offload_to",
]

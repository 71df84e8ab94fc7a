"""Benchmark workloads, written once against the Flowno API.

flowtrace is Flowno-compatible, so the same builder runs on both engines: each
function takes the engine's top-level module (``flowtrace`` or ``flowno``) and returns
a zero-argument callable that runs the workload once on a freshly built graph and
checks its result. The asyncio floors do the same work with plain asyncio Tasks and
Queues (a task per node awaiting its inputs; two tasks ping-ponging through
``asyncio.Queue(1)`` per cycle generation; tasks handing items through
``asyncio.Queue(1)`` per stream item), as Flowno's measured baseline did, so the
figures compare.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from types import ModuleType
from typing import Any, Protocol, overload

__all__ = [
    "WORKLOADS",
    "Workload",
    "chain",
    "tree",
    "cycle",
    "stream",
    "asyncio_chain",
    "asyncio_tree",
    "asyncio_cycle",
    "asyncio_stream",
]


class NodeDecorator(Protocol):
    """The engine's ``node`` decorator as these workloads use it (flowtrace's and Flowno's
    have the same API). The engine module is chosen at run time, so a node class is
    ``Any`` here."""

    @overload
    def __call__(self, func: Callable[..., Any], /) -> Any: ...

    @overload
    def __call__(self, *, stream_in: list[str]) -> Callable[[Callable[..., Any]], Any]: ...


Runner = Callable[[], Any]


class _Timed:
    """Times the run phase (``run_until_complete``) apart from building the graph.

    A runner's ``last_run_s`` holds the run phase of its latest call, so reports can
    separate the engine's scheduling cost from the cost of the user's graph building.
    """

    def __init__(self) -> None:
        self.last_run_s = 0.0
        #: The same phase in this process's CPU time (``time.process_time``).
        self.last_run_cpu_s = 0.0

    def __enter__(self) -> _Timed:
        self._start_cpu = time.process_time()
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.last_run_s = time.perf_counter() - self._start
        self.last_run_cpu_s = time.process_time() - self._start_cpu


def chain(m: ModuleType, n: int, run_kwargs: dict[str, Any] | None = None) -> Runner:
    """A source and ``n`` increments in a line: ``n + 1`` node evaluations."""
    node: NodeDecorator = m.node

    @node
    async def Zero() -> int:
        return 0

    @node
    async def Inc(x: int) -> int:
        return x + 1

    timer = _Timed()

    def run() -> int:
        with m.FlowHDL() as f:
            prev = Zero()
            for _ in range(n):
                prev = Inc(prev)
            f.out = prev
        with timer:
            f.run_until_complete(**(run_kwargs or {}))
        result: int = f.out.get_data()[0]
        assert result == n, result
        return n + 1

    run.timer = timer  # type: ignore[attr-defined]
    return run


def tree(m: ModuleType, n: int, run_kwargs: dict[str, Any] | None = None) -> Runner:
    """Fan-out / fan-in: one source, ``n`` increments of it, a binary tree of adds."""
    node: NodeDecorator = m.node

    @node
    async def One() -> int:
        return 1

    @node
    async def Inc(x: int) -> int:
        return x + 1

    @node
    async def Add2(a: int, b: int) -> int:
        return a + b

    timer = _Timed()

    def run() -> int:
        with m.FlowHDL() as f:
            src = One()
            level = [Inc(src) for _ in range(n)]
            nodes = 1 + n
            while len(level) > 1:
                nxt = [Add2(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
                if len(level) % 2:
                    nxt.append(level[-1])
                nodes += len(level) // 2
                level = nxt
            f.out = level[0]
        with timer:
            f.run_until_complete(**(run_kwargs or {}))
        result: int = f.out.get_data()[0]
        assert result == 2 * n, result
        return nodes

    run.timer = timer  # type: ignore[attr-defined]
    return run


def cycle(m: ModuleType, g: int, run_kwargs: dict[str, Any] | None = None) -> Runner:
    """Two nodes in a cycle (a default breaks it), run for ``g`` generations."""
    node: NodeDecorator = m.node

    @node
    async def Counter(x: int = 0) -> int:
        return x + 1

    @node
    async def Pass(x: int) -> int:
        return x

    timer = _Timed()

    def run() -> int:
        with m.FlowHDL() as f:
            f.counter = Counter(f.passed)
            f.passed = Pass(f.counter)
        try:
            with timer:
                f.run_until_complete(
                    stop_at_node_generation={f.counter: (g - 1,)}, **(run_kwargs or {})
                )
        except m.TerminateLimitReached:
            pass
        else:
            raise AssertionError("the cycle should end at its generation limit")
        result: int = f.counter.get_data()[0]
        assert result == g, result
        return g

    run.timer = timer  # type: ignore[attr-defined]
    return run


def stream(m: ModuleType, k: int, run_kwargs: dict[str, Any] | None = None) -> Runner:
    """``k`` items through producer → pass-through → summing consumer."""
    node: NodeDecorator = m.node

    @node
    async def Source(count: int) -> AsyncIterator[int]:
        for i in range(count):
            yield i

    @node(stream_in=["items"])
    async def Through(items: Any) -> AsyncIterator[Any]:
        async for item in items:
            yield item

    @node(stream_in=["items"])
    async def Sum(items: Any) -> int:
        total = 0
        async for item in items:
            total += item
        return total

    timer = _Timed()

    def run() -> int:
        with m.FlowHDL() as f:
            f.src = Source(k)
            f.through = Through(f.src)
            f.total = Sum(f.through)
        with timer:
            f.run_until_complete(**(run_kwargs or {}))
        result: int = f.total.get_data()[0]
        assert result == k * (k - 1) // 2, result
        return k

    run.timer = timer  # type: ignore[attr-defined]
    return run


# --------------------------------------------------------------------------- floors


def asyncio_chain(n: int) -> Runner:
    async def zero() -> int:
        return 0

    async def inc(prev: asyncio.Task[int]) -> int:
        return (await prev) + 1

    async def main() -> int:
        task: asyncio.Task[int] = asyncio.ensure_future(zero())
        for _ in range(n):
            task = asyncio.ensure_future(inc(task))
        return await task

    def run() -> int:
        assert asyncio.run(main()) == n
        return n + 1

    return run


def asyncio_tree(n: int) -> Runner:
    async def one() -> int:
        return 1

    async def inc(x: int) -> int:
        return x + 1

    async def add2(a: int, b: int) -> int:
        return a + b

    async def main() -> tuple[int, int]:
        src = await one()
        level = list(await asyncio.gather(*(inc(src) for _ in range(n))))
        nodes = 1 + n
        while len(level) > 1:
            pairs = [add2(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
            tail = [level[-1]] if len(level) % 2 else []
            nodes += len(pairs)
            level = list(await asyncio.gather(*pairs)) + tail
        return level[0], nodes

    def run() -> int:
        total, nodes = asyncio.run(main())
        assert total == 2 * n
        return nodes

    return run


def asyncio_cycle(g: int) -> Runner:
    async def main() -> int:
        to_pass: asyncio.Queue[int] = asyncio.Queue(1)
        to_counter: asyncio.Queue[int] = asyncio.Queue(1)

        async def counter() -> int:
            x = 0
            for i in range(g):
                x = x + 1
                if i == g - 1:
                    return x
                await to_pass.put(x)
                x = await to_counter.get()
            return x

        async def passer() -> None:
            for _ in range(g - 1):
                await to_counter.put(await to_pass.get())

        result, _ = await asyncio.gather(counter(), passer())
        return result

    def run() -> int:
        assert asyncio.run(main()) == g
        return g

    return run


def asyncio_stream(k: int) -> Runner:
    async def main() -> int:
        first: asyncio.Queue[int | None] = asyncio.Queue(1)
        second: asyncio.Queue[int | None] = asyncio.Queue(1)

        async def source() -> None:
            for i in range(k):
                await first.put(i)
            await first.put(None)

        async def through() -> None:
            while (item := await first.get()) is not None:
                await second.put(item)
            await second.put(None)

        async def total() -> int:
            acc = 0
            while (item := await second.get()) is not None:
                acc += item
            return acc

        _, _, result = await asyncio.gather(source(), through(), total())
        return result

    def run() -> int:
        assert asyncio.run(main()) == k * (k - 1) // 2
        return k

    return run


class Workload:
    """A named workload: its engine builder, its asyncio floor and its unit name."""

    def __init__(
        self,
        name: str,
        unit: str,
        build: Callable[..., Runner],
        floor: Callable[[int], Runner],
    ) -> None:
        self.name = name
        self.unit = unit
        self.build = build
        self.floor = floor


WORKLOADS: dict[str, Workload] = {
    "chain": Workload("chain", "node", chain, asyncio_chain),
    "tree": Workload("tree", "node", tree, asyncio_tree),
    "cycle": Workload("cycle", "generation", cycle, asyncio_cycle),
    "stream": Workload("stream", "item", stream, asyncio_stream),
}

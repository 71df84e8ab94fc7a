"""A nontrivial flow whose event order must not depend on PYTHONHASHSEED (run by
test_flow_determinism.py in subprocesses; prints one line per event)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from flowtrace import FlowHDL, Stream, TerminateLimitReached, node, sleep
from flowtrace.events import Event
from flowtrace.instrument import InstrumentBase


class Lines(InstrumentBase):
    def __init__(self) -> None:
        self.lines: list[str] = []

    def on_event(self, event: Event) -> None:
        fields = {
            name: getattr(event, name)
            for name in event.__struct_fields__
            if name not in ("t_ns", "run_id", "wall_time_ns", "error")
        }
        self.lines.append(f"{type(event).__name__} {fields}")


@node
async def Seed(x: int = 1) -> int:
    return x + 1


@node
async def Both(a: int = 0, b: int = 0) -> int:
    await sleep(0.01)
    return a + b


@node
async def Count(n: int) -> AsyncIterator[int]:
    for i in range(n % 5 + 2):
        await sleep(0.001 * (i % 3))
        yield i


@node(stream_in=["xs"])
async def Take(xs: Stream[int], limit: int = 2) -> list[int]:
    got = []
    async for x in xs:
        got.append(x)
        if len(got) == limit:
            await xs.cancel()
    return got


@node(stream_in=["xs"])
async def All(xs: Stream[int]) -> list[int]:
    return [x async for x in xs]


@node
async def Sum(*xs: Any) -> int:
    return sum(len(x) if isinstance(x, list) else x for x in xs)


def main() -> None:
    rec = Lines()
    with FlowHDL(virtual_time=True) as f:
        f.a = Both(f.b, f.seed)
        f.b = Both(f.a, 3)
        f.seed = Seed(f.a)
        f.count = Count(f.a)
        f.take = Take(f.count)
        f.all = All(f.count)
        f.total = Sum(f.take, f.all, *[Seed(f.seed) for _ in range(5)])
    with contextlib.suppress(TerminateLimitReached):
        f.run_until_complete({f.a: (6,)}, instruments=[rec])
    print("\n".join(rec.lines))


if __name__ == "__main__":
    main()

"""Small flows recorded to trace files for the diff tests: each takes the knob that
makes two runs of it differ (a constant, a generation limit, a failure, a delay)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

from flowtrace import FlowHDL, TerminateLimitReached, node, sleep
from flowtrace.events import Event
from flowtrace.record import Recorder


def record(path: Path, *runs: dict[str, object]) -> Path:
    """Record one run of :func:`run_cycle` (or of the flow named by ``flow``) per
    keyword set into ``path``."""
    recorder = Recorder(str(path))
    try:
        for kwargs in runs:
            kwargs = dict(kwargs)
            flow = kwargs.pop("flow", "cycle")
            FLOWS[str(flow)](recorder, **kwargs)
    finally:
        recorder.close()
    return path


def run_cycle(
    instrument: object,
    *,
    step: int = 1,
    limit: int = 3,
    fail_at: int | None = None,
    glitch_at: int | None = None,
) -> None:
    """increment ⇄ double, stopped at generation ``limit``; ``step`` is what increment
    adds; ``fail_at``: increment raises at that value; ``glitch_at``: the sink ``out``
    reports a wrong value at that generation (a difference that goes nowhere)."""

    @node
    async def Increment(value: int = 0) -> int:
        if fail_at is not None and value >= fail_at:
            raise ValueError(f"too big: {value}")
        return value + step

    @node
    async def Double(value: int) -> int:
        return value * 2

    count = {"n": 0}

    @node
    async def Out(value: int) -> int:
        count["n"] += 1
        return -1 if glitch_at is not None and count["n"] - 1 == glitch_at else value

    with FlowHDL() as f:
        f.increment = Increment(f.double)
        f.double = Double(f.increment)
        f.out = Out(f.double)
    with contextlib.suppress(TerminateLimitReached, Exception):
        f.run_until_complete(
            stop_at_node_generation={f.increment: (limit,)}, instruments=[instrument]
        )


def run_race(instrument: object, *, x_delay: float = 1.0, y_delay: float = 2.0) -> None:
    """Two independent components, ``x`` and ``y``, that sleep (virtual time) and run
    concurrently: which one finishes first depends only on the delays."""

    @node
    async def X() -> int:
        await sleep(x_delay)
        return 1

    @node
    async def Y() -> int:
        await sleep(y_delay)
        return 2

    with FlowHDL(virtual_time=True) as f:
        f.x = X()
        f.y = Y()
    f.run_until_complete(instruments=[instrument])


FLOWS: dict[str, Callable[..., None]] = {"cycle": run_cycle, "race": run_race}


class Keep:
    """An instrument keeping every event (for comparisons in memory)."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def on_event(self, event: Event) -> None:
        self.events.append(event)

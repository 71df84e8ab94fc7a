"""Functions and nodes the offload tests send to workers.

They live in a module of their own (not in a test file) so that a worker process —
forked, spawned, or a Dask worker — imports them by name, as a user's module would be.
Every workload is tiny: the tests check behaviour, never speed.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import Any

from flowtrace import node


def pid() -> int:
    """The process id of whoever runs this."""
    return os.getpid()


def add(a: int, b: int, *, scale: int = 1) -> int:
    return (a + b) * scale


def nap(seconds: float, value: Any = None) -> Any:
    """Sleep (a stand-in for work), then return ``value``."""
    time.sleep(seconds)
    return value


def spin(n: int) -> int:
    """CPU work: a sum over ``range(n)``."""
    total = 0
    for i in range(n):
        total += i % 7
    return total


def fail(message: str) -> None:
    raise ValueError(message)


class PickyError(Exception):
    """An exception that cannot travel by pickle: it holds a lock."""

    def __init__(self, a: str, b: str) -> None:
        super().__init__(f"{a}/{b}")
        self.lock = threading.Lock()


def fail_picky() -> None:
    raise PickyError("left", "right")


class TwoArgsError(Exception):
    """Pickles, but plain pickle cannot rebuild it (two required arguments; some
    libraries — tblib, which Dask loads — install reducers that can)."""

    def __init__(self, a: str, b: str) -> None:
        super().__init__(f"{a}/{b}")


def fail_two_args() -> None:
    raise TwoArgsError("left", "right")


def unpicklable_result() -> Any:
    return threading.Lock()


def die() -> None:
    """Kill the worker process running this, mid-task."""
    os.kill(os.getpid(), signal.SIGKILL)


def current_traceparent() -> str | None:
    """The W3C trace context active on the worker (``None`` when none is)."""
    from opentelemetry import trace

    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return None
    return f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-01"


# ----------------------------------------------------------------------------- nodes


@node(offload=True)
def WorkerPid(x: int) -> tuple[int, int]:
    """The whole body runs on the run's default executor."""
    return x, os.getpid()


@node(executor="cpu")
def Square(x: int) -> int:
    return x * x


@node(offload=True)
async def AsyncSquare(x: int) -> int:
    """An ``async def`` body that awaits nothing runs on the worker too."""
    return x * x


@node(offload=True)
async def AwaitsOnWorker(x: int) -> int:
    import asyncio

    await asyncio.sleep(0)
    return x


@node(offload=True)
def Spin(n: int) -> int:
    return spin(n)


@node(offload=True)
def Nap(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


@node(offload=True)
def Fails(message: str) -> None:
    raise ValueError(message)


@node(offload=True)
def Dies(x: int) -> None:
    die()


@node(offload=True, multiple_outputs=True)
def DivMod(a: int, b: int) -> tuple[int, int]:
    return divmod(a, b)


#: What `record` ran, in this process (a thread pool's calls append here).
RAN: list[Any] = []


def record(name: Any, seconds: float) -> Any:
    """Note ``name`` in :data:`RAN`, sleep, return ``name``."""
    RAN.append(name)
    time.sleep(seconds)
    return name


# ----------------------------------------------------------------------------- tracing on workers


def setup_worker_tracing(path: str) -> None:
    """A worker initializer: the process's global tracer provider writes each finished
    span as a JSON line ``{name, trace_id, span_id, parent_id}`` to ``path``."""
    import json

    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import (
        SimpleSpanProcessor,
        SpanExporter,
        SpanExportResult,
    )

    class ToFile(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            with open(path, "a") as out:
                for span in spans:
                    parent = span.parent.span_id if span.parent is not None else None
                    out.write(
                        json.dumps(
                            {
                                "name": span.name,
                                "trace_id": span.context.trace_id,
                                "span_id": span.context.span_id,
                                "parent_id": parent,
                            }
                        )
                        + "\n"
                    )
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(ToFile()))
    trace.set_tracer_provider(provider)


def traced_work(name: str) -> str:
    """User code on a worker that makes its own span."""
    from opentelemetry import trace

    with trace.get_tracer("user-code").start_as_current_span(name):
        return name


#: Opened by a test's node, awaited by :func:`wait_for_gate` on a thread-pool worker.
GATE = threading.Event()


def wait_for_gate(timeout: float) -> bool:
    return GATE.wait(timeout)

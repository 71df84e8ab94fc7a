"""Shared helpers for the Flowno conformance suite (tests/conformance).

The suite runs Flowno-style programs against flowtrace with only the import changed.
Two things need help beyond the public API:

* **time** — timing envelopes are measured on the event loop's own clock
  (``current_event_loop().time()``), so the same test works with real time and with the
  loop's virtual time.  When the engine offers virtual time for flows, the helpers turn it
  on and one time *unit* is one (virtual) second; otherwise (or with the environment
  variable ``FLOWTRACE_CONFORMANCE_REAL_TIME=1``) a unit is 20 ms of real time.
* **data stores** — tests that pin staleness and ``get_data`` visibility put a node at a
  given generation through ``push_data`` only (never by writing private dicts).
"""

from __future__ import annotations

import inspect
import os
import time
from collections.abc import Callable
from typing import Any

import pytest

#: Length of one time unit in real seconds when the engine has no virtual time for flows.
REAL_UNIT = 0.02


def _accepts(func: Callable[..., Any], name: str) -> bool:
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return False
    return name in params


def virtual_time_mode() -> str | None:
    """How the engine lets a flow run on virtual time: ``"run"`` (a ``virtual_time``
    argument of ``run_until_complete``), ``"hdl"`` (of ``FlowHDL()``), or ``None``."""
    from flowtrace import FlowHDL

    if os.environ.get("FLOWTRACE_CONFORMANCE_REAL_TIME"):
        return None
    if _accepts(FlowHDL.run_until_complete, "virtual_time"):
        return "run"
    if _accepts(FlowHDL.__init__, "virtual_time"):
        return "hdl"
    return None


def unit() -> float:
    """Seconds per time unit: 1.0 on virtual time, :data:`REAL_UNIT` on real time."""
    return 1.0 if virtual_time_mode() is not None else REAL_UNIT


def new_hdl() -> Any:
    """A ``FlowHDL`` that runs on virtual time when the engine supports it."""
    from flowtrace import FlowHDL

    if virtual_time_mode() == "hdl":
        return FlowHDL(virtual_time=True)
    return FlowHDL()


def run_timed(f: Any, *args: Any, **kwargs: Any) -> Any:
    """``f.run_until_complete`` on virtual time when the engine supports it."""
    if virtual_time_mode() == "run":
        kwargs["virtual_time"] = True
    return f.run_until_complete(*args, **kwargs)


def clock() -> float:
    """The running loop's clock (virtual or real seconds); wall clock outside a loop."""
    from flowtrace import current_event_loop

    loop = current_event_loop()
    if loop is None:
        return time.perf_counter()
    now: float = loop.time()
    return now


def push_to_generation(finalized: Any, generation: tuple[int, ...]) -> None:
    """Drive a blank finalized node to ``generation`` with ``push_data`` alone.

    ``(k,)`` is k+1 complete results; ``(k, j)`` is k complete results followed by j+1
    streamed chunks of the next run.
    """
    if len(generation) == 1:
        for i in range(generation[0] + 1):
            finalized.push_data((f"r{i}",), 0)
    else:
        main, sub = generation
        for i in range(main):
            finalized.push_data((f"r{i}",), 0)
        for j in range(sub + 1):
            finalized.push_data((f"c{j}",), 1)
    assert finalized.generation == generation


class Timing:
    """The time helpers above, handed to tests as the ``timing`` fixture."""

    unit = staticmethod(unit)
    new_hdl = staticmethod(new_hdl)
    run = staticmethod(run_timed)
    clock = staticmethod(clock)
    mode = staticmethod(virtual_time_mode)


@pytest.fixture
def timing() -> Timing:
    """Time helpers: ``timing.unit()``, ``timing.new_hdl()``, ``timing.run(f, ...)``,
    ``timing.clock()``."""
    return Timing()


@pytest.fixture
def push_to() -> Callable[[Any, tuple[int, ...]], None]:
    """:func:`push_to_generation` as a fixture."""
    return push_to_generation

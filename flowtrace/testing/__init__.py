"""Execution-order snapshot testing for flowtrace flows (see docs/testing.md).

* :class:`Capture` — an instrument that records the events of the runs it watches;
* :func:`render_order` / :meth:`Capture.order` — the canonical text of a run, one event
  per line, at a detail level (``evaluations``, ``scheduling``, ``full``);
* :func:`assert_order` / :func:`match_order` — partial orders (a set = any order);
* :class:`TraceSnapshotExtension` — syrupy extension for ``.trace.txt`` snapshots;
* :func:`run_script` — run a script with every flow captured;
* the pytest plugin :mod:`flowtrace.testing.plugin` (fixtures ``flowtrace_capture``
  and ``flowtrace_snapshot``), loaded by pytest through the package's entry point.

Names are imported on first use, so loading the plugin costs nothing beyond
``import flowtrace``, and syrupy is needed only by the extension.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flowtrace.testing.capture import Capture
    from flowtrace.testing.partial import Expected, OrderMismatch, assert_order, match_order
    from flowtrace.testing.render import (
        LEVEL_NAMES,
        LEVELS,
        Level,
        render_event,
        render_lines,
        render_order,
    )
    from flowtrace.testing.scripts import ScriptRun, run_script
    from flowtrace.testing.syrupy_ext import TraceSnapshotExtension

__all__ = [
    "Capture",
    "Expected",
    "LEVELS",
    "LEVEL_NAMES",
    "Level",
    "OrderMismatch",
    "ScriptRun",
    "TraceSnapshotExtension",
    "assert_order",
    "match_order",
    "render_event",
    "render_lines",
    "render_order",
    "run_script",
]

#: Public name -> submodule. Resolved on first use: pytest imports this package for
#: the plugin in every run, and the syrupy extension needs syrupy (a test extra).
_LAZY: dict[str, str] = {
    "Capture": "capture",
    "Expected": "partial",
    "OrderMismatch": "partial",
    "assert_order": "partial",
    "match_order": "partial",
    "LEVELS": "render",
    "LEVEL_NAMES": "render",
    "Level": "render",
    "render_event": "render",
    "render_lines": "render",
    "render_order": "render",
    "ScriptRun": "scripts",
    "run_script": "scripts",
    "TraceSnapshotExtension": "syrupy_ext",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'flowtrace.testing' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"flowtrace.testing.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

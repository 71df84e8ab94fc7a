"""Marks, breakpoints and filters kept per trace between sessions.

A small JSON file beside the trace (``TRACE.tui.json``) holds, per run, the mark,
the breakpoints, the filter and the search. It is written when the debugger closes,
only if there is something to keep (and removed when there no longer is), and read
when the trace is opened again. A sidecar that cannot be read or written is ignored:
losing a bookmark must never stop a debugging session.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass, field
from typing import Any

__all__ = ["RunMarks", "sidecar_path", "load_sidecar", "save_sidecar"]

_VERSION = 1


@dataclass
class RunMarks:
    """What one run keeps between sessions."""

    mark: int | None = None
    breakpoint_kinds: list[str] = field(default_factory=list)
    breakpoint_nodes: list[str] = field(default_factory=list)
    filter: str | None = None
    search: str | None = None

    def empty(self) -> bool:
        return (
            self.mark is None
            and not self.breakpoint_kinds
            and not self.breakpoint_nodes
            and not self.filter
            and not self.search
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "mark": self.mark,
            "breakpoint_kinds": sorted(self.breakpoint_kinds),
            "breakpoint_nodes": sorted(self.breakpoint_nodes),
            "filter": self.filter,
            "search": self.search,
        }

    @classmethod
    def from_json(cls, obj: Any) -> RunMarks:
        if not isinstance(obj, dict):
            return cls()
        mark = obj.get("mark")

        def strings(key: str) -> list[str]:
            value = obj.get(key)
            return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []

        def text(key: str) -> str | None:
            value = obj.get(key)
            return value if isinstance(value, str) and value.strip() else None

        return cls(
            mark if isinstance(mark, int) and not isinstance(mark, bool) else None,
            strings("breakpoint_kinds"),
            strings("breakpoint_nodes"),
            text("filter"),
            text("search"),
        )


def sidecar_path(trace: str) -> str:
    return trace + ".tui.json"


def load_sidecar(trace: str) -> dict[str, RunMarks]:
    """run id → what it kept (empty when there is no readable sidecar)."""
    try:
        with open(sidecar_path(trace), encoding="utf-8") as f:
            obj = json.load(f)
    except (OSError, ValueError):
        return {}
    if not isinstance(obj, dict) or obj.get("version") != _VERSION:
        return {}
    runs = obj.get("runs")
    if not isinstance(runs, dict):
        return {}
    return {str(k): RunMarks.from_json(v) for k, v in runs.items()}


def save_sidecar(trace: str, runs: dict[str, RunMarks]) -> None:
    """Write what the runs keep (remove the sidecar when nothing is kept)."""
    kept = {k: v.to_json() for k, v in sorted(runs.items()) if not v.empty()}
    path = sidecar_path(trace)
    with contextlib.suppress(OSError):
        if not kept:
            if os.path.exists(path):
                os.unlink(path)
            return
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump({"version": _VERSION, "runs": kept}, f, indent=1)
        os.replace(tmp, path)

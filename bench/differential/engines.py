"""Run one generated program under one engine, in a fresh subprocess with a timeout.

Flowno swallows SIGTERM during a run, so a program past its timeout is killed
(SIGKILL, what ``subprocess.run`` does on timeout). The result is the program's
``@@OUTCOME`` JSON, or a marker outcome: ``hang`` (timed out) or ``crash`` (no
outcome line: the interpreter died, or the engine raised out of the program).
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Outcome", "run_program"]

MARK = "@@OUTCOME "


@dataclass(frozen=True)
class Outcome:
    """How a run ended (``completed``, ``limit``, ``error Type: message``, ``hang``,
    ``crash``) and per node ``(data repr, generation, runs)``."""

    ended: str
    nodes: tuple[tuple[str, str, tuple[int, ...] | None, int], ...] = ()
    inner: tuple[tuple[str, int], ...] = ()
    detail: str = ""

    def key(self) -> tuple[Any, ...]:
        return (self.ended, self.nodes, self.inner)

    @property
    def hung(self) -> bool:
        return self.ended in ("hang", "crash")

    def table(self) -> dict[str, Any]:
        return {
            "ended": self.ended,
            "nodes": {n: [d, list(g) if g is not None else None, r] for n, d, g, r in self.nodes},
            "inner": dict(self.inner),
            "detail": self.detail,
        }


def _parse(stdout: str) -> Outcome | None:
    for line in stdout.splitlines():
        if line.startswith(MARK):
            data = json.loads(line[len(MARK) :])
            nodes = tuple(
                (name, d, tuple(g) if g is not None else None, int(r))
                for name, (d, g, r) in data["nodes"].items()
            )
            inner = tuple(sorted((k, int(v)) for k, v in data.get("inner", {}).items()))
            return Outcome(data["outcome"], nodes, inner)
    return None


def run_program(python: str, path: Path, engine: str, timeout: float) -> Outcome:
    """Run ``path`` under ``engine`` (``flowno`` / ``flowtrace``) with ``python``."""
    try:
        done = subprocess.run(
            [python, str(path), engine],
            capture_output=True,
            text=True,
            timeout=timeout,
            env={"PYTHONHASHSEED": "random", "PATH": "/usr/bin:/bin"},
        )
    except subprocess.TimeoutExpired:
        return Outcome("hang", detail=f"no outcome within {timeout:g} s")
    parsed = _parse(done.stdout)
    if parsed is None:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["(no output)"]
        return Outcome("crash", detail=tail[0][:200])
    return parsed

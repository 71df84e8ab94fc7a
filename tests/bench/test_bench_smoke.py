"""Every benchmark script keeps working: a seconds-long ``--quick`` run of each.

These are not timed tests (speed is measured by ``make bench``); they only fail when a
script breaks — a renamed API, a workload whose result check no longer holds. The
compiled-out engine of ``bench_compiled_out.py`` is checked for what its transform
removes and keeps, since a transform that removed too much would flatter the guards.
"""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
SCRIPTS = sorted(p for p in BENCH.glob("*.py") if p.name not in {"workloads.py", "measure.py"})


@pytest.mark.timeout(180)
@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_bench_script_quick_run_succeeds(script: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(script), "--quick"],
        capture_output=True,
        text=True,
        timeout=170,
        cwd=BENCH.parent,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    assert done.stdout.strip(), "a benchmark must print its figures"


def _compiled_out() -> Any:
    spec = importlib.util.spec_from_file_location(
        "bench_compiled_out", BENCH / "bench_compiled_out.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GUARDED = """
from flowtrace.engine.loop import EventLoop

def visit(self, node):
    bus = self._bus
    want = bus.listening[K_READS]
    reads = []
    if want:
        reads.append(node)
    keep(reads if want else None)
    if bus.listening[K_A]:
        bus.emit(A, node)
    elif node.ready:
        run(node)
    else:
        wait(node)
    if node is not None and bus.listening[K_B]:
        bus.emit(B, node)
    listening = loop.bus.listening
    if listening[K_S] or listening[K_E]:
        slow(node)
    else:
        fast(node)
    return done(node)

def start(self):
    bus = self._bus
    if not bus.listening[K_START]:
        return
    bus.emit(Started, build())
"""


def test_compiled_out_transform_removes_emission_and_keeps_the_rest() -> None:
    source, guards, _ = _compiled_out().strip_source(GUARDED, "guarded.py")
    assert guards == 6
    assert ".emit(" not in source and "listening" not in source and "want" not in source
    tree = ast.parse(source)
    visit, start = (n for n in tree.body if isinstance(n, ast.FunctionDef))
    # what the engine does besides emitting stays, in order
    calls = [
        n.func.id
        for n in sorted(ast.walk(visit), key=lambda n: getattr(n, "lineno", 0))
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
    ]
    assert calls == ["keep", "run", "wait", "fast", "done"]
    assert "keep(None)" in source and "slow" not in source
    assert "reads" not in source and "bus" not in source  # dead stores dropped
    assert [type(s) for s in start.body] == [ast.Return]
    assert "from ftnoemit.engine.loop import EventLoop" in source


def test_compiled_out_transform_refuses_to_leave_an_unguarded_emit() -> None:
    with pytest.raises(RuntimeError, match="emission left"):
        _compiled_out().strip_source("def f(bus):\n    bus.emit(A)\n", "bare.py")

"""Every benchmark script keeps working: a seconds-long ``--quick`` run of each.

These are not timed tests (speed is measured by ``make bench``); they only fail when a
script breaks — a renamed API, a workload whose result check no longer holds.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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

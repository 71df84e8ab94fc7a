"""``flowtrace diff`` on big traces: two runs that differ in one place, and two that agree.

Three traces of about N events each (1,000,000; ``--quick``: 30,000) are recorded from
a real flow (a cycle of two ``Inc`` nodes feeding a sink, run to a generation limit):
A, A' (the same program again: the same canonical lines, other times) and B (the sink
reports one wrong value halfway through: one divergence). Then ``flowtrace diff A B``
and ``flowtrace diff A A'`` run as subprocesses (the command a user types, JSON
output), each timed for wall time, CPU time and peak memory (max RSS of the child).

Targets (issue 16): one difference ≤ 10 s and ≤ 1 GB; identical ≤ 5 s. The machine
is shared: wall time depends on what else runs, so CPU time (user + system of the
diff process) is printed beside it. One run each, not medians.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

#: Events per generation of the flow below (measured on schema 2.0; 1.x: 42).
PER_GENERATION = 24


def record(path: str, events: int, glitch_at: int | None) -> int:
    """Record the flow until the trace holds about ``events`` events; with
    ``glitch_at``, the sink ``d`` reports -1 at that generation instead of its input."""
    from flowtrace import FlowHDL, node
    from flowtrace.record import Recorder

    @node
    async def Inc(x: int = 0) -> int:
        return x + 1

    seen = {"n": 0}

    @node
    async def Sink(x: int) -> int:
        seen["n"] += 1
        return -1 if seen["n"] - 1 == glitch_at else x

    with FlowHDL() as f:
        f.b = Inc(f.c)
        f.c = Inc(f.b)
        f.d = Sink(f.c)
    rec = Recorder(path)
    with contextlib.suppress(Exception):  # the generation limit ends the run
        f.run_until_complete(
            stop_at_node_generation={f.b: (events // PER_GENERATION,)}, instruments=[rec]
        )
    rec.close()
    return rec.events_written


def measured_diff(a: str, b: str) -> dict[str, Any]:
    """``flowtrace diff A B --json`` in a child process: its report, wall time, and its
    own CPU time and peak memory (``wait4`` reports that child's rusage alone)."""
    cmd = [sys.executable, "-m", "flowtrace.cli", "diff", a, b, "--json"]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        child = subprocess.Popen(cmd, stdout=out, stderr=err)
        _pid, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if child.returncode not in (0, 1):
            raise SystemExit(
                f"flowtrace diff failed ({child.returncode}): {err.read().decode()[-2000:]}"
            )
        report = json.loads(out.read())
    return {
        "report": report,
        "wall_s": wall,
        "exit": child.returncode,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "max_rss_mb": usage.ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="30,000 events (smoke run)")
    parser.add_argument("--events", type=int, default=None)
    args = parser.parse_args()
    events = args.events or (30_000 if args.quick else 1_000_000)
    with tempfile.TemporaryDirectory() as tmp:
        paths = {name: str(Path(tmp) / f"{name}.ftrace.jsonl") for name in ("a", "a2", "b")}
        t0 = time.perf_counter()
        sizes = {
            "a": record(paths["a"], events, None),
            "a2": record(paths["a2"], events, None),
            "b": record(paths["b"], events, events // PER_GENERATION // 2),
        }
        recorded = time.perf_counter() - t0
        mb = os.path.getsize(paths["a"]) / 1e6
        print(
            f"recorded 3 traces of {sizes['a']:,} events ({mb:.0f} MB each) "
            f"in {recorded:.1f} s; load average {os.getloadavg()[0]:.1f} "
            f"on {os.cpu_count()} CPUs"
        )
        same = measured_diff(paths["a"], paths["a2"])
        one = measured_diff(paths["a"], paths["b"])
    rows = [
        ("identical (A vs A')", same, 5.0, None, 0),
        ("one difference (A vs B)", one, 10.0, 1024.0, 1),
    ]
    print(f"{'case':<26} {'wall':>8} {'cpu':>8} {'max RSS':>10} {'target':>18}  result")
    failed = False
    for name, r, wall_target, mem_target, expected_exit in rows:
        target = f"≤ {wall_target:g} s" + (f", ≤ {mem_target:g} MB" if mem_target else "")
        report = r["report"]
        verdict = f"exit {r['exit']}, {report['divergence_count']} divergence(s)"
        ok = r["exit"] == expected_exit and report["divergence_count"] == expected_exit
        if not ok:
            failed = True
            verdict += " (UNEXPECTED)"
        print(
            f"{name:<26} {r['wall_s']:>7.2f}s {r['cpu_s']:>7.2f}s "
            f"{r['max_rss_mb']:>8.0f}MB {target:>18}  {verdict}"
        )
    first = one["report"]["first_divergence"]
    if first is not None:
        print(
            f"first divergence of A vs B: line {first['a']['start']}: "
            f"{first['a']['lines']} -> {first['b']['lines']}"
        )
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()

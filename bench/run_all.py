"""Side-by-side benchmark: flowtrace vs Flowno 0.1.19 vs plain asyncio, one report.

Every workload of ``workloads.py`` runs on each configuration, *alternately* within one
process (run 1 of every configuration, then run 2 of every configuration, …), so that a
noisy machine slows all of them alike and the ratios hold. Reported per case: the
median cost per unit (node, generation or item), ratios flowtrace/Flowno and
flowtrace/asyncio, the growth exponent of each workload with size, and the peak memory
of one traced run (tracemalloc).

Configurations:

* ``flowtrace`` — no instrument;
* ``ft+record`` — the trace recorder writing a file (``flowtrace.record``);
* ``ft+otel`` — the OpenTelemetry instrument with an in-memory exporter;
* ``flowno`` — Flowno 0.1.19, no instrument; ``flowno+instr`` — with a do-nothing
  ``FlowInstrument`` (Flowno always dispatches hooks, so this is its traced cost);
* ``asyncio`` — the floor: the same work with asyncio Tasks and ``Queue(1)``.

``make bench`` builds ``.venv-bench`` (flowtrace + ``flowno==0.1.19``) and runs this.
``--quick`` is the seconds-long smoke run that ``make test`` keeps working.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import workloads

Runner = Callable[[], Any]

#: Sizes per workload, and the largest size at which Flowno is run (it is quadratic;
#: larger sizes take minutes to hours: its baseline measured 445 s for 10,000 cycle
#: generations and 203 s for 10,000 streamed items).
FULL_PLAN: dict[str, tuple[list[int], int]] = {
    "chain": ([100, 1_000, 10_000], 1_000),
    "tree": ([100, 1_000], 100),
    "cycle": ([1_000, 10_000, 100_000], 1_000),
    "stream": ([1_000, 10_000, 100_000, 1_000_000], 1_000),
}
QUICK_PLAN: dict[str, tuple[list[int], int]] = {
    "chain": ([20, 60], 20),
    "tree": ([16], 16),
    "cycle": ([20, 60], 20),
    "stream": ([20, 60], 20),
}
CONFIGS = ["flowtrace", "ft+record", "ft+otel", "flowno", "flowno+instr", "asyncio"]


@dataclass
class Case:
    workload: str
    size: int
    #: run phase only (``run_until_complete``), as Flowno's baseline measures it
    times: dict[str, list[float]] = field(default_factory=dict)
    #: building the graph and running it
    totals: dict[str, list[float]] = field(default_factory=dict)
    units: int = 0
    skipped: dict[str, str] = field(default_factory=dict)
    peak_kib: dict[str, float] = field(default_factory=dict)

    def per_unit_us(self, config: str, *, total: bool = False) -> float | None:
        runs = (self.totals if total else self.times).get(config)
        if not runs or not self.units:
            return None
        return statistics.median(runs) / self.units * 1e6


def _repeats(size: int, quick: bool) -> int:
    if quick:
        return 1
    if size >= 1_000_000:
        return 1
    if size >= 100_000:
        return 3
    return 5


def _flowno() -> ModuleType | None:
    try:
        return importlib.import_module("flowno")
    except ImportError:
        return None


class _Configs:
    """Builds one runner per configuration for a workload and size."""

    def __init__(self, tmp: Path, quick: bool) -> None:
        import flowtrace

        self.flowtrace = flowtrace
        self.flowno = _flowno()
        self.tmp = tmp
        self.quick = quick

    def runners(
        self, workload: workloads.Workload, size: int, flowno_max: int
    ) -> tuple[dict[str, Runner], dict[str, str]]:
        out: dict[str, Runner] = {}
        skipped: dict[str, str] = {}
        ft = self.flowtrace
        out["flowtrace"] = workload.build(ft, size)
        recorder = self._recorder_instruments(workload.name, size)
        if isinstance(recorder, str):
            skipped["ft+record"] = recorder
        else:
            out["ft+record"] = workload.build(ft, size, {"instruments": recorder})
        otel = self._otel_instruments()
        if isinstance(otel, str):
            skipped["ft+otel"] = otel
        else:
            out["ft+otel"] = workload.build(ft, size, {"instruments": otel})
        if self.flowno is None:
            skipped["flowno"] = skipped["flowno+instr"] = "flowno not installed"
        elif size > flowno_max:
            skipped["flowno"] = skipped["flowno+instr"] = "too slow (quadratic)"
        else:
            out["flowno"] = workload.build(self.flowno, size)
            out["flowno+instr"] = _with_flowno_instrument(
                self.flowno, workload.build(self.flowno, size)
            )
        out["asyncio"] = workload.floor(size)
        return out, skipped

    def _recorder_instruments(self, name: str, size: int) -> list[Any] | str:
        try:
            record = importlib.import_module("flowtrace.record")
        except ImportError:
            return "flowtrace.record not available"
        path = self.tmp / f"{name}-{size}.ftrace.jsonl"
        factory = getattr(record, "Recorder", None)
        if factory is None:
            return "no Recorder"
        return [factory(path)]

    def _otel_instruments(self) -> list[Any] | str:
        try:
            otel = importlib.import_module("flowtrace.otel")
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import SimpleSpanProcessor
            from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
                InMemorySpanExporter,
            )
        except ImportError as exc:
            return f"otel not available ({exc.name})"
        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        factory = getattr(otel, "OTelInstrument", None)
        if factory is None:
            return "no OTelInstrument"
        try:
            instrument = factory(tracer_provider=provider)
        except TypeError:
            return "OTelInstrument(tracer_provider=...) not supported"
        return [_Clearing(instrument, exporter)]


class _Clearing:
    """Wraps the OTel instrument and empties the in-memory exporter between runs."""

    def __init__(self, instrument: Any, exporter: Any) -> None:
        self._instrument = instrument
        self._exporter = exporter

    def __getattr__(self, name: str) -> Any:
        return getattr(self._instrument, name)

    def on_event(self, event: Any) -> None:
        self._instrument.on_event(event)
        if type(event).__name__ == "FlowFinished":
            self._exporter.clear()


def _with_flowno_instrument(flowno: ModuleType, run: Runner) -> Runner:
    instrumentation = importlib.import_module("flowno.core.flow.instrumentation")

    class DoNothing(instrumentation.FlowInstrument):  # type: ignore[misc, name-defined]
        pass

    def wrapped() -> Any:
        with DoNothing():
            return run()

    wrapped.timer = run.timer  # type: ignore[attr-defined]
    return wrapped


#: A run longer than this is taken for a hang (Flowno livelocks on some shapes).
WATCHDOG_S = 600.0


@contextlib.contextmanager
def _watchdog(case: str) -> Iterator[None]:
    """Hard-exit with a message if one run hangs: a hung engine cannot be interrupted."""
    import threading

    def fire() -> None:
        print(f"bench: {case} did not finish in {WATCHDOG_S:.0f} s; giving up", file=sys.stderr)
        os._exit(3)

    timer = threading.Timer(WATCHDOG_S, fire)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Flowno logs latch warnings on stderr; keep the report readable."""
    import logging

    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)


def measure(plan: dict[str, tuple[list[int], int]], quick: bool, only: set[str]) -> list[Case]:
    cases: list[Case] = []
    with tempfile.TemporaryDirectory() as tmpdir, _quiet():
        configs = _Configs(Path(tmpdir), quick)
        for name, (sizes, flowno_max) in plan.items():
            if only and name not in only:
                continue
            workload = workloads.WORKLOADS[name]
            for size in sizes:
                case = Case(name, size)
                warm_up, _ = configs.runners(workload, sizes[0], flowno_max)
                for runner in warm_up.values():  # untimed, at the smallest size
                    runner()
                runners, case.skipped = configs.runners(workload, size, flowno_max)
                for _ in range(_repeats(size, quick)):
                    for config, runner in runners.items():
                        gc.collect()
                        start = time.perf_counter()
                        with _watchdog(f"{config} {name} {size}"):
                            units = runner()
                        total = time.perf_counter() - start
                        timer = getattr(runner, "timer", None)
                        run_s = timer.last_run_s if timer is not None else total
                        case.times.setdefault(config, []).append(run_s)
                        case.totals.setdefault(config, []).append(total)
                        if config == "flowtrace":
                            case.units = units
                if not quick:
                    for config in ("flowtrace", "flowno"):
                        if config in runners:
                            case.peak_kib[config] = _peak_kib(runners[config])
                cases.append(case)
                _progress(case)
    return cases


def _peak_kib(run: Runner) -> float:
    gc.collect()
    tracemalloc.start()
    try:
        run()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 1024


def _progress(case: Case) -> None:
    ft = case.per_unit_us("flowtrace")
    print(f"  {case.workload} {case.size}: flowtrace {ft:.2f} µs/unit", file=sys.stderr)


def growth_exponent(points: list[tuple[int, float]]) -> float | None:
    """Least-squares slope of log(total time) against log(units)."""
    if len(points) < 2:
        return None
    xs = [math.log(u) for u, _ in points]
    ys = [math.log(u * per) for u, per in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den


def _fmt(value: float | None, suffix: str = "") -> str:
    if value is None:
        return "–"
    if value >= 100:
        return f"{value:,.0f}{suffix}"
    if value >= 10:
        return f"{value:.1f}{suffix}"
    return f"{value:.2f}{suffix}"


def report(cases: list[Case]) -> str:
    lines = [
        "| workload | size | flowtrace µs/unit | ft build+run | ft+record | ft+otel "
        "| Flowno µs/unit "
        "| Flowno+instr | asyncio µs/unit | Flowno/ft | ft/asyncio | record/ft | otel/ft "
        "| peak KiB ft / Flowno |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in cases:
        ft = c.per_unit_us("flowtrace")
        ft_total = c.per_unit_us("flowtrace", total=True)
        rec = c.per_unit_us("ft+record")
        otel = c.per_unit_us("ft+otel")
        fl = c.per_unit_us("flowno")
        fli = c.per_unit_us("flowno+instr")
        aio = c.per_unit_us("asyncio")

        def ratio(a: float | None, b: float | None) -> float | None:
            return (a / b) if (a is not None and b) else None

        fl_text = _fmt(fl) if fl is not None else f"({c.skipped.get('flowno', '–')})"
        peak = " / ".join(_fmt(c.peak_kib.get(k)) for k in ("flowtrace", "flowno"))
        lines.append(
            f"| {c.workload} | {c.size:,} | {_fmt(ft)} | {_fmt(ft_total)} | {_fmt(rec)} "
            f"| {_fmt(otel)} "
            f"| {fl_text} | {_fmt(fli)} | {_fmt(aio)} | {_fmt(ratio(fl, ft), '×')} "
            f"| {_fmt(ratio(ft, aio), '×')} | {_fmt(ratio(rec, ft), '×')} "
            f"| {_fmt(ratio(otel, ft), '×')} | {peak} |"
        )
    lines.append("")
    lines.append("| workload | growth exponent flowtrace (1.0 = linear) | Flowno |")
    lines.append("|---|---:|---:|")
    for name in dict.fromkeys(c.workload for c in cases):
        mine = [c for c in cases if c.workload == name]
        exp_ft = growth_exponent(
            [(c.units, v) for c in mine if (v := c.per_unit_us("flowtrace")) is not None]
        )
        exp_fl = growth_exponent(
            [(c.units, v) for c in mine if (v := c.per_unit_us("flowno")) is not None]
        )
        lines.append(f"| {name} | {_fmt(exp_ft)} | {_fmt(exp_fl)} |")
    return "\n".join(lines)


def machine() -> str:
    return (
        f"{platform.system()} {platform.release()}, {os.cpu_count()} CPU, "
        f"Python {platform.python_version()}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="seconds-long smoke run")
    parser.add_argument("--only", action="append", default=[], help="workload name(s)")
    parser.add_argument("--json", type=Path, help="also write raw results as JSON")
    parser.add_argument("--readme", type=Path, help="replace the results block of this README")
    parser.add_argument("--from-json", type=Path, help="render the report of an earlier --json run")
    args = parser.parse_args(argv)
    plan = QUICK_PLAN if args.quick else FULL_PLAN
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    if args.from_json:
        saved = json.loads(args.from_json.read_text())
        started = saved["measured"]
        cases = [Case(**raw) for raw in saved["cases"]]
    else:
        cases = measure(plan, args.quick, set(args.only))
    table = report(cases)
    header = f"Measured {started} on {machine()}."
    print(header)
    print(table)
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "measured": started,
                    "machine": machine(),
                    "cases": [
                        {
                            "workload": c.workload,
                            "size": c.size,
                            "units": c.units,
                            "times": c.times,
                            "totals": c.totals,
                            "skipped": c.skipped,
                            "peak_kib": c.peak_kib,
                        }
                        for c in cases
                    ],
                },
                indent=1,
            )
        )
    if args.readme:
        _replace_block(args.readme, f"{header}\n\n{table}\n")
    return 0


BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"


def _replace_block(path: Path, block: str) -> None:
    text = path.read_text() if path.exists() else f"{BEGIN}\n{END}\n"
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    path.write_text(f"{head}{BEGIN}\n{block}{END}{tail}")


if __name__ == "__main__":
    raise SystemExit(main())

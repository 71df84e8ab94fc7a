"""``flowtrace show TRACE``: a summary of a recorded trace, as tables.

The data comes from :mod:`flowtrace.summary` (one streaming pass over the file); this
module only lays it out with rich. :func:`render_summary` is reusable wherever a rich
console is at hand (``make demo`` prints the same tables).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import click
from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from flowtrace.codec import JsonValue
from flowtrace.summary import (
    RunSummary,
    TraceSummary,
    duration_text,
    generation_text,
    summarize_file,
)

__all__ = ["show", "render_summary"]

_OUTCOME_STYLE = {
    "completed": "green",
    "exit": "green",
    "error": "bold red",
    "deadlock": "bold red",
    "limit": "yellow",
    "interrupted": "yellow",
    "incomplete": "magenta",
}

#: Files larger than this get a progress bar (when stderr is a terminal).
_PROGRESS_BYTES = 4 * 1024 * 1024


def render_summary(
    summary: TraceSummary, *, tracebacks: bool = True, run_id: str | None = None
) -> Iterator[RenderableType]:
    """The tables of ``flowtrace show``, in display order."""
    runs = [r for r in summary.runs if run_id is None or r.run_id == run_id]
    yield _header(summary)
    if summary.damage is not None:
        yield Text(
            f"damaged trace, read up to the last good event: {summary.damage.describe()}",
            style="bold yellow",
        )
    for name, count in sorted(summary.skipped_kinds.items()):
        yield Text(f"skipped {count} event(s) of kind {name} (unknown to this flowtrace)",
                   style="yellow")
    yield _runs_table(runs)
    for run in runs:
        if run.nodes:
            yield _nodes_table(run)
        if run.offloads:
            yield _offload_table(run)
    errors = [e for e in summary.errors if run_id is None or e.run_id == run_id]
    for err in errors:
        where = f"run {err.run_id}"
        if err.node_id is not None:
            where += f", node {err.node_id} generation {generation_text(err.generation)}"
        if err.phase:
            where += f" ({err.phase})"
        body: list[RenderableType] = [Text(f"{err.error.type}: {err.error.message}",
                                           style="bold red")]
        if tracebacks and err.error.traceback:
            body.append(Text(err.error.traceback.rstrip(), style="dim"))
        yield Panel(Group(*body), title=f"error in {where}", title_align="left",
                    border_style="red")
    deadlocks = [d for d in summary.deadlocks if run_id is None or d.run_id == run_id]
    if deadlocks:
        table = Table(title="Deadlocks", title_justify="left")
        for col in ("run", "node", "status", "waits for", "detail"):
            table.add_column(col)
        for d in deadlocks:
            for w in d.waiting:
                table.add_row(d.run_id, w.node_id, w.status, ", ".join(w.waits_for) or "-",
                              w.detail)
        yield table
    cycles = [c for c in summary.cycle_breaks if run_id is None or c.run_id == run_id]
    if cycles:
        table = Table(title="Cycles broken", title_justify="left")
        for col in ("run", "started at", "cycle", "defaulted ports", "times"):
            table.add_column(col, justify="right" if col == "times" else "left")
        for c in cycles:
            table.add_row(c.run_id, c.node_id, " → ".join(c.members),
                          ", ".join(str(p) for p in c.defaulted_ports) or "-", str(c.count))
        yield table
    cancels = [c for c in summary.stream_cancels if run_id is None or c.run_id == run_id]
    if cancels:
        table = Table(title="Streams cancelled", title_justify="left")
        for col in ("run", "producer", "generation", "requested by", "handled"):
            table.add_column(col)
        for cancel in cancels:
            table.add_row(cancel.run_id, cancel.producer, generation_text(cancel.generation),
                          ", ".join(cancel.requested_by) or "-",
                          "yes" if cancel.handled else "no")
        yield table


def _header(summary: TraceSummary) -> RenderableType:
    header = summary.header
    lines = Text()
    lines.append(f"{summary.path or 'trace'}\n", style="bold")
    lines.append(f"{summary.events} events, {len(summary.runs)} run(s)\n")
    if header is not None:
        started = header.to_json().get("started_at", "")
        lines.append(
            f"recorded {started} by flowtrace {header.flowtrace_version} "
            f"(schema {header.schema[0]}.{header.schema[1]}, "
            f"Python {header.python_version})"
        )
        if header.argv:
            lines.append("\ncommand: " + " ".join(header.argv))
        notes = _option_notes(header.options)
        if notes:
            lines.append("\n" + notes, style="yellow")
    return lines


def _option_notes(options: dict[str, JsonValue]) -> str:
    notes = []
    if options.get("values") is False:
        notes.append("values were not recorded (--no-values)")
    if options.get("redacted"):
        notes.append("values were redacted")
    return "; ".join(notes)


def _runs_table(runs: list[RunSummary]) -> Table:
    table = Table(title="Runs", title_justify="left")
    table.add_column("run")
    table.add_column("flow")
    table.add_column("outcome")
    table.add_column("duration", justify="right")
    table.add_column("events", justify="right")
    table.add_column("nodes", justify="right")
    table.add_column("evaluations", justify="right")
    for run in runs:
        outcome = Text(run.outcome, style=_OUTCOME_STYLE.get(run.outcome, ""))
        if run.error is not None and run.outcome in ("error", "deadlock", "interrupted"):
            outcome.append(f" ({run.error.type})", style="red")
        table.add_row(run.run_id, run.flow_id or "-", outcome, duration_text(run.duration_ns),
                      str(run.events), str(len(run.nodes)) if run.nodes else "-",
                      str(run.evaluations) if run.nodes else "-")
    return table


def _nodes_table(run: RunSummary) -> Table:
    table = Table(
        title=f"Nodes of {run.run_id} (evals: evaluations; gen: last generation "
        "produced; total/mean: time from start to finish of an evaluation)",
        title_justify="left",
    )
    table.add_column("node")
    table.add_column("kind")
    table.add_column("evals", justify="right")
    table.add_column("gen", justify="right")
    table.add_column("items", justify="right")
    table.add_column("errors", justify="right")
    table.add_column("total", justify="right")
    table.add_column("mean", justify="right")
    for n in run.nodes.values():
        name = n.node_id if not n.label or n.label == n.node_id else f"{n.node_id} ({n.label})"
        table.add_row(
            name,
            n.kind or "-",
            str(n.evaluations),
            generation_text(n.generation),
            str(n.items) if n.items else "-",
            Text(str(n.errors), style="red") if n.errors else Text("0"),
            duration_text(n.total_ns) if n.timed else "-",
            duration_text(n.mean_ns) if n.timed else "-",
        )
    return table


def _offload_table(run: RunSummary) -> RenderableType:
    """A line per node with offloaded calls; then each call that did not return."""
    table = Table(
        title=f"Offloaded calls of {run.run_id} (queued: submit to start on the worker; "
        "ran: time on the worker)",
        title_justify="left",
    )
    for col in ("node", "executor", "calls", "outcomes", "workers", "queued", "ran"):
        table.add_column(col, justify="right" if col in ("calls", "queued", "ran") else "left")
    for o in run.offloads.values():
        outcomes = ", ".join(f"{count} {name}" for name, count in o.outcomes.items())
        pending = o.calls - sum(o.outcomes.values())
        if pending > 0:
            outcomes += (", " if outcomes else "") + f"{pending} unfinished"
        table.add_row(
            o.node_id or "(tasks)", ", ".join(o.executors), str(o.calls),
            Text(outcomes, style="" if set(o.outcomes) <= {"returned"} else "yellow"),
            ", ".join(o.workers) or "-", duration_text(o.queue_ns), duration_text(o.run_ns),
        )
    if not run.offload_problems:
        return table
    lines = Text()
    for p in run.offload_problems[:20]:
        where = f" of node {p.node_id}" if p.node_id else ""
        lines.append(f"\ncall #{p.call_id} {p.function}(){where} on {p.executor}: {p.outcome}",
                     style="red" if p.outcome in ("raised", "lost", "refused") else "yellow")
        if p.error is not None:
            lines.append(f" — {p.error.type}: {p.error.message}")
    if len(run.offload_problems) > 20:
        lines.append(f"\n… and {len(run.offload_problems) - 20} more")
    return Group(table, lines)


@click.command(name="show")
@click.argument("trace", type=click.Path(exists=True, dir_okay=False))
@click.option("--lenient", is_flag=True,
              help="Read a damaged or truncated file up to its last good event.")
@click.option("--run", "run_id", metavar="RUN_ID", help="Show only this run.")
@click.option("--no-tracebacks", is_flag=True, help="Show errors without their tracebacks.")
def show(trace: str, lenient: bool, run_id: str | None, no_tracebacks: bool) -> None:
    """Print a summary of the trace file TRACE: its runs, nodes (evaluations,
    generations, time), errors with tracebacks, deadlocks, cycles broken and streams
    cancelled."""
    from flowtrace.tracefile import TraceFormatError, TraceVersionError

    console = Console()
    try:
        summary = _summarize(trace, lenient)
    except TraceFormatError as exc:
        damaged = not lenient and not isinstance(exc, TraceVersionError) and exc.line != 1
        hint = " (use --lenient to read it up to its last good event)" if damaged else ""
        raise click.ClickException(f"{exc}{hint}") from None
    except OSError as exc:
        raise click.ClickException(f"cannot read {trace}: {exc.strerror or exc}") from None
    if run_id is not None and all(r.run_id != run_id for r in summary.runs):
        known = ", ".join(r.run_id for r in summary.runs) or "none"
        raise click.ClickException(f"no run {run_id!r} in {trace} (runs: {known})")
    for part in render_summary(summary, tracebacks=not no_tracebacks, run_id=run_id):
        console.print(part)


def _summarize(path: str, lenient: bool) -> TraceSummary:
    size = os.path.getsize(path)
    if size < _PROGRESS_BYTES or not sys.stderr.isatty():
        return summarize_file(path, lenient=lenient)
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as progress:
        task = progress.add_task(f"reading {os.path.basename(path)}", total=size)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        return summarize_file(path, lenient=lenient, progress=advance)

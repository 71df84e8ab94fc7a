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
from flowtrace.safetext import printable, safe_text
from flowtrace.summary import (
    RunSummary,
    TraceSummary,
    duration_text,
    generation_text,
    summarize_file,
)

__all__ = ["show", "render_summary", "load_summary", "console"]

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
#: Skipped lines listed one by one under a damaged trace's summary.
_LISTED = 20


def console(*, stderr: bool = False) -> Console:
    """A console for trace text: strings are never read as markup or emoji codes (what
    a trace says is shown as it is, see :mod:`flowtrace.safetext`)."""
    return Console(stderr=stderr, markup=False, emoji=False)


def render_summary(
    summary: TraceSummary, *, tracebacks: bool = True, run_id: str | None = None
) -> Iterator[RenderableType]:
    """The tables of ``flowtrace show``, in display order. Every string that comes
    from the trace is shown through :func:`~flowtrace.safetext.printable`, as ``Text``."""
    runs = [r for r in summary.runs if run_id is None or r.run_id == run_id]
    yield _header(summary)
    damage = summary.damage
    if damage is not None:
        yield safe_text(
            f"damaged trace, read leniently: {damage.describe()}", "bold yellow", multiline=False
        )
        listing = damage.listing(summary.path or "")
        if damage.skipped_lines > 1 or damage.stopped is not None:
            shown = listing[:_LISTED]
            more = damage.skipped_lines - min(_LISTED, len(damage.skipped))
            if len(listing) > _LISTED and more > 0:
                shown.append(f"… and {more} more skipped line(s)")
            yield safe_text(
                "\n".join("  " + printable(line, multiline=False) for line in shown), "yellow"
            )
    for name, count in sorted(summary.skipped_kinds.items()):
        yield safe_text(
            f"skipped {count} event(s) of kind {name} (unknown to this flowtrace)",
            "yellow",
            multiline=False,
        )
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
        body: list[RenderableType] = [
            safe_text(f"{err.error.type}: {err.error.message}", "bold red")
        ]
        if tracebacks and err.error.traceback:
            body.append(safe_text(err.error.traceback.rstrip(), "dim"))
        yield Panel(
            Group(*body),
            title=safe_text(f"error in {where}", multiline=False),
            title_align="left",
            border_style="red",
        )
    deadlocks = [d for d in summary.deadlocks if run_id is None or d.run_id == run_id]
    if deadlocks:
        table = Table(title="Deadlocks", title_justify="left")
        for col in ("run", "node", "status", "waits for", "detail"):
            table.add_column(col)
        for d in deadlocks:
            for w in d.waiting:
                _row(table, d.run_id, w.node_id, w.status, ", ".join(w.waits_for) or "-", w.detail)
        yield table
    cycles = [c for c in summary.cycle_breaks if run_id is None or c.run_id == run_id]
    if cycles:
        table = Table(title="Cycles broken", title_justify="left")
        for col in ("run", "started at", "cycle", "defaulted ports", "times"):
            table.add_column(col, justify="right" if col == "times" else "left")
        for c in cycles:
            _row(
                table,
                c.run_id,
                c.node_id,
                " → ".join(c.members),
                ", ".join(str(p) for p in c.defaulted_ports) or "-",
                str(c.count),
            )
        yield table
    cancels = [c for c in summary.stream_cancels if run_id is None or c.run_id == run_id]
    if cancels:
        table = Table(title="Streams cancelled", title_justify="left")
        for col in ("run", "producer", "generation", "requested by", "handled"):
            table.add_column(col)
        for cancel in cancels:
            _row(
                table,
                cancel.run_id,
                cancel.producer,
                generation_text(cancel.generation),
                ", ".join(cancel.requested_by) or "-",
                "yes" if cancel.handled else "no",
            )
        yield table


def _row(table: Table, *cells: str | Text) -> None:
    """A table row whose text cells come from the trace: safe, never markup."""
    table.add_row(*(safe_text(c, multiline=False) if isinstance(c, str) else c for c in cells))


def _header(summary: TraceSummary) -> RenderableType:
    header = summary.header
    lines = Text()
    lines.append(printable(f"{summary.path or 'trace'}", multiline=False) + "\n", style="bold")
    lines.append(f"{summary.events} events, {len(summary.runs)} run(s)\n")
    if header is not None:
        started = header.to_json().get("started_at", "")
        lines.append(
            printable(
                f"recorded {started} by flowtrace {header.flowtrace_version} "
                f"(schema {header.schema[0]}.{header.schema[1]}, "
                f"Python {header.python_version})",
                multiline=False,
            )
        )
        if header.argv:
            lines.append("\ncommand: " + printable(" ".join(header.argv), multiline=False))
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
        outcome = safe_text(run.outcome, _OUTCOME_STYLE.get(run.outcome, ""), multiline=False)
        if run.error is not None and run.outcome in ("error", "deadlock", "interrupted"):
            outcome.append(printable(f" ({run.error.type})", multiline=False), style="red")
        _row(
            table,
            run.run_id,
            run.flow_id or "-",
            outcome,
            duration_text(run.duration_ns),
            str(run.events),
            str(len(run.nodes)) if run.nodes else "-",
            str(run.evaluations) if run.nodes else "-",
        )
    return table


def _nodes_table(run: RunSummary) -> Table:
    table = Table(
        title=safe_text(
            f"Nodes of {run.run_id} (evals: evaluations; gen: last generation "
            "produced; total/mean: time from start to finish of an evaluation)",
            multiline=False,
        ),
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
        _row(
            table,
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
            o.node_id or "(tasks)",
            ", ".join(o.executors),
            str(o.calls),
            Text(outcomes, style="" if set(o.outcomes) <= {"returned"} else "yellow"),
            ", ".join(o.workers) or "-",
            duration_text(o.queue_ns),
            duration_text(o.run_ns),
        )
    if not run.offload_problems:
        return table
    lines = Text()
    for p in run.offload_problems[:20]:
        where = f" of node {p.node_id}" if p.node_id else ""
        lines.append(
            f"\ncall #{p.call_id} {p.function}(){where} on {p.executor}: {p.outcome}",
            style="red" if p.outcome in ("raised", "lost", "refused") else "yellow",
        )
        if p.error is not None:
            lines.append(f" — {p.error.type}: {p.error.message}")
    if len(run.offload_problems) > 20:
        lines.append(f"\n… and {len(run.offload_problems) - 20} more")
    return Group(table, lines)


@click.command(name="show")
@click.argument("trace", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--lenient",
    is_flag=True,
    help="Read a damaged file: skip each bad line (they are counted and listed) and read the rest.",
)
@click.option("--run", "run_id", metavar="RUN_ID", help="Show only this run.")
@click.option("--no-tracebacks", is_flag=True, help="Show errors without their tracebacks.")
def show(trace: str, lenient: bool, run_id: str | None, no_tracebacks: bool) -> None:
    """Print a summary of the trace file TRACE: its runs, nodes (evaluations,
    generations, time), errors with tracebacks, deadlocks, cycles broken and streams
    cancelled."""
    out = console()
    summary = load_summary(trace, lenient)
    if run_id is not None and all(r.run_id != run_id for r in summary.runs):
        known = ", ".join(r.run_id for r in summary.runs) or "none"
        raise click.ClickException(
            printable(f"no run {run_id!r} in {trace} (runs: {known})", multiline=False)
        )
    for part in render_summary(summary, tracebacks=not no_tracebacks, run_id=run_id):
        out.print(part)


def load_summary(path: str, lenient: bool) -> TraceSummary:
    """The summary of the trace at ``path``; a file that cannot be read is a one-line
    :class:`click.ClickException`, and what a newer schema changed is one warning line
    each on stderr."""
    from flowtrace.tracefile import TraceFormatError, TraceVersionError

    try:
        summary = _summarize(path, lenient)
    except TraceFormatError as exc:
        damaged = not lenient and not isinstance(exc, TraceVersionError) and exc.line != 1
        hint = " (use --lenient to skip the bad lines and read the rest)" if damaged else ""
        raise click.ClickException(printable(f"{exc}{hint}", multiline=False)) from None
    except OSError as exc:
        raise click.ClickException(
            printable(f"cannot read {path}: {exc.strerror or exc}", multiline=False)
        ) from None
    for note in summary.notes:
        click.echo(f"flowtrace: warning: {printable(note, multiline=False)}", err=True)
    return summary


def _summarize(path: str, lenient: bool) -> TraceSummary:
    size = os.path.getsize(path)
    if size < _PROGRESS_BYTES or not sys.stderr.isatty():
        return summarize_file(path, lenient=lenient, warn=False)
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=console(stderr=True),
        transient=True,
    ) as progress:
        name = printable(os.path.basename(path), multiline=False)
        task = progress.add_task(f"reading {name}", total=size)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        return summarize_file(path, lenient=lenient, progress=advance, warn=False)

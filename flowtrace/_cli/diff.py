"""``flowtrace diff A [B]``: where two runs part ways, and what differs between them.

The comparison is :mod:`flowtrace.diff`'s; this module reads the options, prints the
report with rich (or as JSON) and sets the exit status: 0 when the runs agree at the
chosen level, 1 when they differ, 2 for bad input (click's usage errors, a missing or
damaged file, a run that is not there).

Everything shown comes from a trace — node ids, values, error messages are the user's
program's text — so it is printed as plain text: rich markup in it is not interpreted
and control characters are shown escaped (``\\x1b``), never sent to the terminal.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Collection, Iterable, Iterator, Sequence

import click
from rich.console import Console, Group, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from flowtrace.diff.model import DiffReport, Divergence, NodeTiming, generation_text
from flowtrace.diff.text import printable
from flowtrace.summary import duration_text

__all__ = ["diff", "render_report", "safe"]

safe = printable


def _t(text: str, style: str = "") -> Text:
    return Text(safe(text), style=style)


class _BadInput(click.ClickException):
    """Exit status 2 (bad input), with the message on stderr."""

    exit_code = 2


# ----------------------------------------------------------------------------- rendering


def render_report(
    report: DiffReport, *, a_name: str = "A", b_name: str = "B"
) -> Iterator[RenderableType]:
    """The terminal report, in display order."""
    yield _heading(report)
    first = report.first
    if first is None:
        yield Text(
            f"The runs agree at the {report.level} level ({report.a.lines:,} lines each).",
            style="bold green",
        )
    else:
        yield _first(report, first)
        yield _divergence_table(report)
    yield from _facts(report)
    yield _verdict(report)


def _heading(report: DiffReport) -> Text:
    text = Text()
    for label, ref in (("A", report.a), ("B", report.b)):
        text.append(f"{label}: ", style="bold")
        text.append_text(_t(ref.path))
        text.append(
            f"  run {ref.run_number} ({safe(ref.run_id)}), {ref.lines:,} lines at "
            f"{report.level} level, {ref.events:,} events, {safe(ref.outcome)}, "
            f"{duration_text(ref.duration_ns)}\n"
        )
    text.rstrip()
    return text


def _line(prefix: str, number: int | None, line: str, style: str) -> Text:
    pos = f"{number:>6}" if number is not None else "      "
    out = Text(f"{prefix} {pos}  ", style=style + " dim" if style else "dim")
    out.append_text(_t(line, style))
    return out


def _first(report: DiffReport, d: Divergence) -> RenderableType:
    where = d.where()
    head = Text("First divergence", style="bold yellow")
    head.append(f" ({d.kind})", style="yellow")
    head.append(f": line {d.a_start} of A, line {d.b_start} of B")
    seqs = []
    if d.a_seq is not None:
        seqs.append(f"A seq {d.a_seq}")
    if d.b_seq is not None:
        seqs.append(f"B seq {d.b_seq}")
    if seqs:
        head.append(f" ({', '.join(seqs)})")
    head.append("\ninvolves: ")
    head.append_text(_t(where, "bold"))
    rows: list[RenderableType] = [head]
    for k, line in enumerate(d.context):
        rows.append(_line(" ", d.a_start - len(d.context) + k, line, ""))
    rows.extend(_side_lines("A", d.a_start, d.a_lines, d.a_count, d.a_after, "red"))
    rows.extend(_side_lines("B", d.b_start, d.b_lines, d.b_count, d.b_after, "green"))
    if d.moved_to is not None:
        other = next((x for x in report.divergences if x.index == d.moved_to), None)
        if other is not None:
            rows.append(
                Text(
                    f"  the same lines are at line {other.b_start} of B "
                    f"(divergence {other.index + 1}): moved",
                    style="yellow",
                )
            )
    return Group(*rows)


def _side_lines(
    label: str, start: int, lines: tuple[str, ...], count: int, after: str | None, style: str
) -> Iterator[Text]:
    if not count:
        text = Text(f"{label}         (nothing here in {label}; it goes on with: ", style=style)
        text.append_text(_t(after if after is not None else "the end of the run", style))
        text.append(")", style=style)
        yield text
        return
    for k, line in enumerate(lines):
        yield _line(label, start + k, line, style)
    if count > len(lines):
        yield Text(f"{label}         … {count - len(lines)} more line(s)", style=style)


def _divergence_table(report: DiffReport) -> RenderableType:
    shown = len(report.divergences)
    title = (
        f"{report.divergence_count} place(s) differ: "
        f"{report.lines_differing[0]:,} line(s) of A, {report.lines_differing[1]:,} of B"
    )
    if shown < report.divergence_count:
        title += f" (first {shown} listed)"
    return _table(
        title,
        ("#", "A lines", "B lines", "what", "involves", "A did", "B did"),
        (
            (
                str(d.index + 1),
                _span(d.a_start, d.a_end),
                _span(d.b_start, d.b_end),
                d.kind,
                _t(d.where()),
                _t(d.a_lines[0] if d.a_lines else "(nothing)", "red"),
                _t(d.b_lines[0] if d.b_lines else "(nothing)", "green"),
            )
            for d in report.divergences
        ),
    )


def _span(start: int, end: int) -> str:
    if end == start:
        return f"at {start}"
    return str(start) if end == start + 1 else f"{start}–{end - 1}"


def _table(
    title: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[str | Text]],
    *,
    right: Collection[str] = (),
) -> Table:
    """One table of the report: ``title`` (plain text, escaped), ``columns`` (those in
    ``right`` right-aligned, every one folding long cells), then ``rows``."""
    table = Table(title=escape(title), title_justify="left")
    for col in columns:
        table.add_column(col, justify="right" if col in right else "left", overflow="fold")
    for row in rows:
        table.add_row(*row)
    return table


def _listed(title: str, shown: int, count: int) -> str:
    """``title (count)``, or ``title (count, first shown listed)`` when cut."""
    return f"{title} ({count}, first {shown} listed)" if shown < count else f"{title} ({count})"


def _facts(report: DiffReport) -> Iterator[RenderableType]:
    if report.evaluations:
        yield _table(
            "Evaluations per node that differ",
            ("node", "A", "B"),
            ((_t(c.node), str(c.a), str(c.b)) for c in report.evaluations),
            right=("A", "B"),
        )
    if report.values:
        yield _table(
            _listed("Values that differ", len(report.values), report.value_count),
            ("node", "generation", "A", "B"),
            (
                (
                    _t(v.node),
                    generation_text(v.generation),
                    _t(v.a if v.a is not None else "(none)", "red"),
                    _t(v.b if v.b is not None else "(none)", "green"),
                )
                for v in report.values
            ),
        )
    if report.errors:
        yield _table(
            "Errors that differ",
            ("node", "generation", "phase", "error", "A", "B"),
            (
                (
                    _t(e.node),
                    generation_text(e.generation),
                    _t(e.phase),
                    _t(e.error, "red"),
                    str(e.a),
                    str(e.b),
                )
                for e in report.errors
            ),
        )
    if report.cycle_breaks:
        yield _table(
            "Cycle breaks that differ",
            ("started at", "cycle", "defaulted ports", "A", "B"),
            (
                (
                    _t(brk.node),
                    _t(" → ".join(brk.members)),
                    ", ".join(map(str, brk.defaulted_ports)) or "-",
                    str(brk.a),
                    str(brk.b),
                )
                for brk in report.cycle_breaks
            ),
        )
    if report.cancellations:
        yield _table(
            "Stream cancellations that differ",
            ("producer", "generation", "what", "A", "B"),
            (
                (
                    _t(c.producer),
                    generation_text(c.generation),
                    _t(c.what),
                    str(c.a),
                    str(c.b),
                )
                for c in report.cancellations
            ),
        )
    if report.timing:
        yield _timing_table(report)


def _timing_table(report: DiffReport) -> Table:
    flagged_first = sorted(report.timing, key=lambda t: (t.flag is None,))
    return _table(
        f"Time per node (evaluation start to finish; flagged: mean changed by "
        f"{report.slower:g}x or more)",
        ("node", "A total", "A mean", "B total", "B mean", "B/A", ""),
        (
            (
                _t(t.node),
                duration_text(t.a_ns),
                _mean(t, "a"),
                duration_text(t.b_ns),
                _mean(t, "b"),
                f"{t.ratio:.2f}x" if t.ratio is not None else "-",
                Text(t.flag or "", style="bold red" if t.flag == "slower" else "cyan"),
            )
            for t in flagged_first
        ),
        right=("A total", "A mean", "B total", "B mean", "B/A"),
    )


def _mean(t: NodeTiming, side: str) -> str:
    count = t.a_count if side == "a" else t.b_count
    if not count:
        return "-"
    return duration_text(t.a_mean_ns if side == "a" else t.b_mean_ns)


def _verdict(report: DiffReport) -> Text:
    flagged = report.flagged
    if report.agree:
        text = Text("agree", style="bold green")
        if flagged:
            text.append(
                f" (timing: {len(flagged)} node(s) flagged; pass --slower to count "
                "timing in the verdict)",
                style="yellow",
            )
        return text
    parts = []
    if not report.lines_agree:
        parts.append(f"{report.divergence_count} place(s) differ at the {report.level} level")
    if report.timing_checked and flagged:
        parts.append(f"{len(flagged)} node(s) changed speed by {report.slower:g}x or more")
    return Text("differ: " + "; ".join(parts), style="bold red")


# ----------------------------------------------------------------------------- command


@click.command(name="diff")
@click.argument("a", type=click.Path(exists=True, dir_okay=False))
@click.argument("b", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--run",
    "runs",
    multiple=True,
    metavar="RUN",
    help="Which run to compare: its number in the file (from 1) or its id. Once: "
    "for both files; twice: for A, then for B (or two runs of one file).",
)
@click.option(
    "--level",
    type=click.Choice(["evaluations", "scheduling", "full"]),
    default="scheduling",
    show_default=True,
    help="Detail level of the canonical lines compared (as in snapshot tests).",
)
@click.option(
    "--slower",
    type=float,
    default=None,
    metavar="RATIO",
    help="Flag nodes whose mean evaluation time changed by this factor or more "
    "(default 1.5, shown but not counted); given explicitly, a flagged node "
    "makes the runs differ (exit 1).",
)
@click.option(
    "--min-delta",
    "min_delta_us",
    type=float,
    default=100.0,
    show_default=True,
    metavar="MICROSECONDS",
    help="Ignore timing changes smaller than this (per evaluation, mean).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="Divergences and values listed (the counts are always complete).",
)
@click.option(
    "--context",
    type=click.IntRange(min=0),
    default=3,
    show_default=True,
    help="Common lines shown before the first divergence.",
)
@click.option(
    "--lenient", is_flag=True, help="Read damaged or truncated files up to their last good event."
)
def diff(
    a: str,
    b: str | None,
    runs: tuple[str, ...],
    level: str,
    slower: float | None,
    min_delta_us: float,
    as_json: bool,
    limit: int,
    context: int,
    lenient: bool,
) -> None:
    """Compare two runs: where they part ways first, then everything that differs.

    A and B are trace files (B omitted: two runs of A, chosen with --run twice).
    Exit status: 0 when the runs agree at the chosen level, 1 when they differ, 2 for
    bad input (a missing or damaged file, a run that is not there).
    """
    from flowtrace.diff import RunChoiceError, diff_files
    from flowtrace.diff.report import DEFAULT_SLOWER
    from flowtrace.tracefile import TraceFormatError, TraceVersionError

    if len(runs) > 2:
        raise _BadInput("--run is given once (for both sides) or twice (A, then B)")
    if b is None:
        if len(runs) != 2:
            raise _BadInput("with one trace file, choose two of its runs: --run N --run M")
        b = a
    a_run = runs[0] if runs else None
    b_run = runs[-1] if runs else None
    if slower is not None and slower <= 1.0:
        raise _BadInput("--slower must be greater than 1 (e.g. 1.5: 50% slower)")
    try:
        report = diff_files(
            a,
            b,
            a_run=a_run,
            b_run=b_run,
            level=level,
            slower=slower if slower is not None else DEFAULT_SLOWER,
            timing_checked=slower is not None,
            min_delta_ns=int(min_delta_us * 1000),
            lenient=lenient,
            limit=limit,
            context=context,
        )
    except TraceFormatError as exc:
        damaged = not lenient and not isinstance(exc, TraceVersionError) and exc.line != 1
        hint = " (use --lenient to read it up to its last good event)" if damaged else ""
        raise _BadInput(f"{exc}{hint}") from None
    except RunChoiceError as exc:
        raise _BadInput(str(exc)) from None
    except OSError as exc:
        name = exc.filename or a
        raise _BadInput(f"cannot read {name}: {exc.strerror or exc}") from None
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2, ensure_ascii=True))
    else:
        console = Console(highlight=False)
        for part in render_report(report):
            console.print(part)
    sys.exit(report.exit_status)

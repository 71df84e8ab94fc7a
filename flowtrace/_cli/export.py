"""``flowtrace export TRACE``: a recorded trace to OTLP, Jaeger JSON, Chrome/Perfetto, graphs.

``--otlp [ENDPOINT]`` sends every run of the trace as one OpenTelemetry trace, spans
carrying their original timestamps (protocol from ``--otlp-protocol``, the ``OTEL_*``
variables, or the port: 4317 is gRPC); ``--to FORMAT FILE`` (repeatable) writes a file:
``jaeger-json`` (Jaeger UI → Search → Upload), ``chrome`` (ui.perfetto.dev or
chrome://tracing), ``mermaid`` or ``dot`` (the graph of the first run). Progress bars
appear on stderr for large traces when it is a terminal. OpenTelemetry is imported only
for ``--otlp``.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterable, Iterator
from typing import Any

import click

from flowtrace._cli.otel_options import OptionalEndpoint
from flowtrace.safetext import printable

__all__ = ["export"]

_FORMATS = ("jaeger-json", "chrome", "mermaid", "dot")


class _Reading:
    """One lenient pass over the trace: the events of the selected runs, lazily, with a
    byte progress bar; it remembers which runs it saw and what the reader skipped."""

    def __init__(
        self, path: str, run_ids: tuple[str, ...], show_progress: bool, label: str = "reading"
    ) -> None:
        self.path = path
        self.wanted = set(run_ids)
        self.show_progress = show_progress
        self.label = label
        self.seen: set[str] = set()
        self.events = 0
        self.damage: Any = None
        self.notes: list[str] = []

    def __iter__(self) -> Iterator[Any]:
        from flowtrace.tracefile import TraceFormatError, TraceReader

        try:
            reader = TraceReader(self.path, lenient=True, warn=False)
        except TraceFormatError as exc:
            raise click.ClickException(printable(str(exc), multiline=False)) from None
        except OSError as exc:
            raise click.ClickException(
                printable(f"cannot read {self.path}: {exc.strerror or exc}", multiline=False)
            ) from None
        wanted, seen = self.wanted, self.seen
        with (
            reader,
            _progress(
                self.show_progress and reader.size >= _LARGE_FILE, self.label, reader.size
            ) as advance,
        ):
            for block, _numbers in reader.blocks():
                for event in block:
                    run_id = event.run_id
                    if wanted and run_id not in wanted:
                        continue
                    if run_id not in seen:
                        seen.add(run_id)
                    self.events += 1
                    yield event
                advance(reader.position())
            advance(reader.size)
        self.damage = reader.damage
        self.notes = list(reader.notes)

    def report(self) -> None:
        """What the reader skipped or noted, one warning line each, on stderr."""
        for note in self.notes:
            click.echo(f"flowtrace: warning: {printable(note, multiline=False)}", err=True)
        if self.damage is not None:
            click.echo(
                "flowtrace: warning: " + printable(self.damage.describe(), multiline=False),
                err=True,
            )

    def check_runs(self) -> None:
        missing = self.wanted - self.seen
        if missing:
            raise click.ClickException(
                printable(f"no run {', '.join(sorted(missing))} in {self.path}", multiline=False)
            )


def _header(path: str) -> Any:
    """The trace's header (for the flow name and the seeded ids' salt); a file that is
    no trace is a one-line error."""
    from flowtrace.tracefile import TraceFormatError, TraceReader

    try:
        with TraceReader(path, lenient=True, warn=False) as reader:
            return reader.header
    except TraceFormatError as exc:
        raise click.ClickException(printable(str(exc), multiline=False)) from None
    except OSError as exc:
        raise click.ClickException(
            printable(f"cannot read {path}: {exc.strerror or exc}", multiline=False)
        ) from None


class _WriteFailed(Exception):
    def __init__(self, path: str, error: OSError) -> None:
        super().__init__(path)
        self.path = path
        self.error = error

    def message(self) -> str:
        reason = self.error.strerror or str(self.error)
        return printable(f"cannot write {self.path}: {reason}", multiline=False)


class _Output:
    """An output file whose every failure (read-only place, full disk) is a
    :class:`_WriteFailed` naming it; on failure it is removed (a regular file only)."""

    def __init__(self, path: str) -> None:
        self.path = path
        try:
            self._file = open(path, "w", encoding="utf-8")  # noqa: SIM115 - closed by close()
        except OSError as exc:
            raise _WriteFailed(path, exc) from None

    def write(self, text: str) -> int:
        try:
            return self._file.write(text)
        except OSError as exc:
            raise _WriteFailed(self.path, exc) from None

    def close(self) -> None:
        try:
            self._file.close()
        except OSError as exc:
            raise _WriteFailed(self.path, exc) from None

    def discard(self) -> None:
        """Close quietly and remove what was written (never a device or a directory)."""
        with contextlib.suppress(OSError):
            self._file.close()
        with contextlib.suppress(OSError):
            if os.path.isfile(self.path):
                os.unlink(self.path)


def _check_targets(trace: str, targets: tuple[tuple[str, str], ...]) -> None:
    """Refuse to overwrite the trace being read (or to write one file twice)."""
    seen: set[str] = set()
    for _fmt, path in targets:
        real = os.path.realpath(path)
        if real in seen:
            raise click.ClickException(f"{path} is given twice with --to")
        seen.add(real)
        try:
            same = os.path.samefile(path, trace)
        except OSError:
            same = False
        if same:
            raise click.ClickException(f"{path} is the trace being exported: choose another file")


#: Below this size a bar would only flicker.
_LARGE_FILE = 1 << 20


class _NoBar:
    def __call__(self, completed: int) -> None:
        pass


class _progress:
    """``with _progress(on, label, total) as advance: advance(done)`` — rich, or nothing."""

    def __init__(self, enabled: bool, label: str, total: int) -> None:
        self.enabled = enabled and total > 0
        self.label = label
        self.total = total
        self._progress: Any = None

    def __enter__(self) -> Any:
        if not self.enabled:
            return _NoBar()
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self._progress.start()
        task = self._progress.add_task(self.label, total=self.total)

        def advance(completed: int) -> None:
            self._progress.update(task, completed=completed)

        return advance

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()


def _run_sink(seed: int | None, salt: str, on_start: Any, on_run: Any) -> Any:
    """The mapping's sink for files: ids drawn as :class:`~flowtrace.otel.model.
    RecordingSink` draws them (so ``--seed`` gives the same ids), spans kept per run
    and handed to ``on_run`` when the run's root span ends, then forgotten: memory
    holds the open runs only."""
    from flowtrace.otel.model import RecordingSink

    class RunSink(RecordingSink):
        def __init__(self) -> None:
            super().__init__(seed, salt=salt)
            self.open: dict[int, list[Any]] = {}
            self.count = 0

        def start(self, span: Any) -> None:
            super().start(span)
            if span.parent is None:
                self.open[span.trace_id] = []
                on_start(span)

        def end(self, span: Any) -> None:
            super().end(span)  # its per-run bookkeeping
            self.spans.clear()  # kept per run here instead
            group = self.open.get(span.trace_id)
            if group is None:
                group = self.open[span.trace_id] = []
            group.append(span)
            self.count += 1
            if span.parent is None:
                del self.open[span.trace_id]
                on_run(group)

    return RunSink()


def _write_span_files(
    events: Iterable[Any],
    targets: list[tuple[str, _Output]],
    options: Any,
    seed: int | None,
    salt: str,
    service_name: str,
    on_graph: Any,
) -> list[str]:
    """Map ``events`` to spans once and write every span-based file run by run;
    returns one message per file written."""
    from flowtrace.events import FlowStarted
    from flowtrace.export.chrome import ChromeWriter
    from flowtrace.export.jaeger_json import JaegerWriter
    from flowtrace.otel.mapping import SpanMapper

    writers: list[tuple[str, Any]] = []
    for fmt, out in targets:
        if fmt == "jaeger-json":
            writers.append((fmt, JaegerWriter(out, service_name=service_name)))
        else:
            writers.append((fmt, ChromeWriter(out)))

    def on_start(root: Any) -> None:
        for _fmt, writer in writers:
            if isinstance(writer, ChromeWriter):
                writer.start_run(root)

    def on_run(spans: list[Any]) -> None:
        for _fmt, writer in writers:
            writer.write_run(spans)

    sink = _run_sink(seed, salt, on_start, on_run)
    mapper = SpanMapper(sink, options) if writers else None
    for event in events:
        if mapper is not None:
            mapper.on_event(event)
        if type(event) is FlowStarted:
            on_graph(event)
    if mapper is not None:
        mapper.close()
    messages = []
    for (fmt, writer), (_fmt, out) in zip(writers, targets, strict=True):
        count = writer.close()
        if fmt == "jaeger-json":
            messages.append(
                f"{writer.spans} spans in {count} trace{'' if count == 1 else 's'} "
                f"written to {out.path} (Jaeger JSON)"
            )
        else:
            messages.append(f"{count} trace events written to {out.path} (Chrome/Perfetto)")
    return messages


@click.command(name="export")
@click.argument("trace", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--otlp",
    "otlp",
    cls=OptionalEndpoint,
    is_flag=False,
    flag_value="",
    default=None,
    metavar="[ENDPOINT]",
    help="Send the trace over OTLP to ENDPOINT (default: OTEL_EXPORTER_OTLP_ENDPOINT, "
    "else localhost:4318 for http, localhost:4317 for grpc).",
)
@click.option(
    "--otlp-protocol",
    type=click.Choice(["grpc", "http"]),
    default=None,
    help="OTLP protocol (default: OTEL_EXPORTER_OTLP_PROTOCOL; else grpc for port 4317, "
    "http/protobuf otherwise).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.01),
    default=None,
    metavar="S",
    help="OTLP export timeout in seconds (default: OTEL_EXPORTER_OTLP_TIMEOUT, else 10). "
    "An unreachable collector costs at most about this long.",
)
@click.option(
    "--to",
    "targets",
    type=(click.Choice(_FORMATS), click.Path(dir_okay=False, writable=True)),
    multiple=True,
    metavar="FORMAT FILE",
    help="Write FILE in FORMAT: jaeger-json, chrome (Perfetto), mermaid or dot. Repeatable.",
)
@click.option(
    "--run",
    "run_ids",
    multiple=True,
    metavar="RUN_ID",
    help="Export only this run (repeatable; default: every run).",
)
@click.option(
    "--stream-items",
    type=click.Choice(["events", "spans"]),
    default="events",
    show_default=True,
    help="Stream items as span events, or as child spans.",
)
@click.option("--no-values", is_flag=True, help="Leave values out of span attributes.")
@click.option(
    "--service-name",
    default="flowtrace",
    show_default=True,
    help="service.name when OTEL_SERVICE_NAME does not set one.",
)
@click.option(
    "--seed",
    type=int,
    default=None,
    help="Seed for span/trace ids in files: the same trace and seed give the "
    "same ids; different recordings and runs still get different ones.",
)
def export(
    trace: str,
    otlp: str | None,
    otlp_protocol: str | None,
    timeout: float | None,
    targets: tuple[tuple[str, str], ...],
    run_ids: tuple[str, ...],
    stream_items: str,
    no_values: bool,
    service_name: str,
    seed: int | None,
) -> None:
    """Export TRACE over OTLP (--otlp) or to files (--to FORMAT FILE).

    The trace is read once for the files, run by run: memory holds the runs still
    open, not the trace. A damaged trace is read leniently (bad lines skipped, said
    once on stderr). A file that cannot be written is a one-line error; what was
    written of it is removed."""
    from flowtrace.otel.mapping import MappingOptions

    if otlp is None and not targets:
        raise click.UsageError("nothing to do: give --otlp [ENDPOINT] and/or --to FORMAT FILE")
    _check_targets(trace, targets)
    show = sys.stderr.isatty()
    header = _header(trace)
    from flowtrace._cli.otel_options import script_name

    base = MappingOptions(
        stream_items="spans" if stream_items == "spans" else "events",
        record_values=not no_values,
        max_events_per_span=1024,
        flow_name=script_name(header.argv[0] if header.argv else None),
    )
    # The recording's identity, mixed into seeded ids with each run's own.
    salt = f"{header.wall_time_ns}:{header.pid}"
    failed = False
    if targets:
        _export_files(trace, targets, run_ids, base, seed, salt, service_name, show)
    elif run_ids:  # nothing written yet: make sure the runs exist before sending
        reading = _Reading(trace, run_ids, show, "checking runs")
        for _event in reading:
            pass
        reading.check_runs()
    if otlp is not None:
        reading = _Reading(trace, run_ids, show, f"OTLP {otlp or 'endpoint'}")
        failed = not _send_otlp(reading, otlp, otlp_protocol, timeout, base, service_name, show)
        if not targets:
            reading.report()
    if failed:
        sys.exit(1)


def _export_files(
    trace: str,
    targets: tuple[tuple[str, str], ...],
    run_ids: tuple[str, ...],
    options: Any,
    seed: int | None,
    salt: str,
    service_name: str,
    show: bool,
) -> None:
    """Every ``--to`` file from one streaming pass over the trace."""
    outputs: list[tuple[str, _Output]] = []
    graphs: list[Any] = []

    def on_graph(started: Any) -> None:
        if not graphs:
            graphs.append(started)

    reading = _Reading(trace, run_ids, show)
    try:
        for fmt, path in targets:
            outputs.append((fmt, _Output(path)))
        span_targets = [(f, o) for f, o in outputs if f in ("jaeger-json", "chrome")]
        messages = _write_span_files(
            reading, span_targets, options, seed, salt, service_name, on_graph
        )
        reading.report()
        reading.check_runs()
        for fmt, out in outputs:
            if fmt in ("mermaid", "dot"):
                if not graphs:
                    raise click.ClickException(
                        printable(f"{trace} holds no flow run: no graph to draw", multiline=False)
                    )
                from flowtrace.export.graph import to_dot, to_mermaid

                started = graphs[0]
                graph = started.graph
                out.write(to_mermaid(graph) if fmt == "mermaid" else to_dot(graph, started.flow_id))
                messages.append(f"graph of run {started.run_id} written to {out.path}")
        for _fmt, out in outputs:
            out.close()
    except _WriteFailed as exc:
        for _fmt, out in outputs:
            out.discard()
        raise click.ClickException(exc.message()) from None
    except BaseException:
        for _fmt, out in outputs:
            out.discard()
        raise
    for message in messages:
        click.echo(f"flowtrace: {printable(message, multiline=False)}", err=True)


def _send_otlp(
    events: Iterable[Any],
    endpoint: str,
    protocol: str | None,
    timeout: float | None,
    options: Any,
    service_name: str,
    show: bool,
) -> bool:
    from flowtrace._extras import MissingExtraError, require_extra

    try:
        require_extra("otel", "export --otlp")
    except MissingExtraError as exc:
        raise click.UsageError(str(exc)) from None
    from flowtrace.otel.exporting import resolve_otlp
    from flowtrace.otel.offline import export_events

    try:
        target = resolve_otlp(endpoint or None, protocol, timeout)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    report = export_events(events, target=target, options=options, service_name=service_name)
    if report.lost or not report.finished:
        return False  # the exporter has already said so, once
    click.echo(
        f"flowtrace: {report.exported} spans of {report.runs} run"
        f"{'' if report.runs == 1 else 's'} sent to {target.endpoint} "
        f"({target.protocol}) in {report.seconds:.2f} s",
        err=True,
    )
    return True

"""``flowtrace export TRACE``: a recorded trace to OTLP, Jaeger JSON, Chrome/Perfetto, graphs.

``--otlp [ENDPOINT]`` sends every run of the trace as one OpenTelemetry trace, spans
carrying their original timestamps (protocol from ``--otlp-protocol``, the ``OTEL_*``
variables, or the port: 4317 is gRPC); ``--to FORMAT FILE`` (repeatable) writes a file:
``jaeger-json`` (Jaeger UI → Search → JSON File), ``chrome`` (ui.perfetto.dev or
chrome://tracing), ``mermaid`` or ``dot`` (the graph of the first run). Progress bars
appear on stderr for large traces when it is a terminal. OpenTelemetry is imported only
for ``--otlp``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import click

from flowtrace._cli.otel_options import OptionalEndpoint

__all__ = ["export"]

_FORMATS = ("jaeger-json", "chrome", "mermaid", "dot")


def _read_events(
    path: str, run_ids: tuple[str, ...], show_progress: bool
) -> tuple[list[Any], Any]:
    """All events of the trace (of the selected runs), with a byte progress bar."""
    from flowtrace.tracefile import TraceFormatError, TraceReader

    try:
        reader = TraceReader(path, lenient=True)
    except TraceFormatError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"cannot read {path}: {exc}") from None
    events: list[Any] = []
    wanted = set(run_ids)
    with _progress(show_progress and reader.size >= _LARGE_FILE, "reading", reader.size) as advance:
        for n, event in enumerate(reader, 1):
            if not wanted or event.run_id in wanted:
                events.append(event)
            if not n & 4095:
                advance(reader.position())
        advance(reader.size)
    if reader.damage is not None:
        click.echo(f"flowtrace: warning: {reader.damage.describe()}", err=True)
    if wanted:
        missing = wanted - {e.run_id for e in events}
        if missing:
            raise click.ClickException(f"no run {', '.join(sorted(missing))} in {path}")
    return events, reader.header


#: Below these sizes a bar would only flicker.
_LARGE_FILE = 1 << 20
_LARGE_EVENTS = 50_000


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


def _spans(events: list[Any], options: Any, seed: int | None, show: bool) -> list[Any]:
    from flowtrace.otel.mapping import SpanMapper
    from flowtrace.otel.model import RecordingSink

    sink = RecordingSink(seed)
    mapper = SpanMapper(sink, options)
    with _progress(show and len(events) >= _LARGE_EVENTS, "mapping", len(events)) as advance:
        for n, event in enumerate(events, 1):
            mapper.on_event(event)
            if not n & 4095:
                advance(n)
        mapper.close()
        advance(len(events))
    return sink.spans


def _graphs(events: list[Any]) -> Iterator[Any]:
    from flowtrace.events import FlowStarted

    for event in events:
        if type(event) is FlowStarted:
            yield event


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
@click.option("--run", "run_ids", multiple=True, metavar="RUN_ID",
              help="Export only this run (repeatable; default: every run).")
@click.option(
    "--stream-items",
    type=click.Choice(["events", "spans"]),
    default="events",
    show_default=True,
    help="Stream items as span events, or as child spans.",
)
@click.option("--no-values", is_flag=True, help="Leave values out of span attributes.")
@click.option("--service-name", default="flowtrace", show_default=True,
              help="service.name when OTEL_SERVICE_NAME does not set one.")
@click.option("--seed", type=int, default=None,
              help="Seed for span/trace ids in files (reproducible output).")
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
    """Export TRACE over OTLP (--otlp) or to files (--to FORMAT FILE)."""
    from flowtrace.otel.mapping import MappingOptions

    if otlp is None and not targets:
        raise click.UsageError("nothing to do: give --otlp [ENDPOINT] and/or --to FORMAT FILE")
    show = sys.stderr.isatty()
    events, _header = _read_events(trace, run_ids, show)
    base = MappingOptions(
        stream_items="spans" if stream_items == "spans" else "events",
        record_values=not no_values,
        max_events_per_span=1024,
    )
    failed = False
    span_formats = [(f, p) for f, p in targets if f in ("jaeger-json", "chrome")]
    if span_formats:
        spans = _spans(events, base, seed, show)
        for fmt, path in span_formats:
            if fmt == "jaeger-json":
                from flowtrace.export.jaeger_json import write_jaeger_json

                traces = write_jaeger_json(spans, path, service_name=service_name)
                click.echo(f"flowtrace: {len(spans)} spans in {traces} trace"
                           f"{'' if traces == 1 else 's'} written to {path} (Jaeger JSON)",
                           err=True)
            else:
                from flowtrace.export.chrome import write_chrome

                n = write_chrome(spans, path)
                click.echo(f"flowtrace: {n} trace events written to {path} (Chrome/Perfetto)",
                           err=True)
    for fmt, path in targets:
        if fmt in ("mermaid", "dot"):
            starts = list(_graphs(events))
            if not starts:
                raise click.ClickException(f"{trace} holds no flow run: no graph to draw")
            from flowtrace.export.graph import to_dot, to_mermaid

            graph = starts[0].graph
            text = to_mermaid(graph) if fmt == "mermaid" else to_dot(graph, starts[0].flow_id)
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            click.echo(f"flowtrace: graph of run {starts[0].run_id} written to {path}",
                       err=True)
    if otlp is not None:
        failed = not _send_otlp(events, otlp, otlp_protocol, timeout, base, service_name, show)
    if failed:
        sys.exit(1)


def _send_otlp(
    events: list[Any],
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
    large = show and len(events) >= _LARGE_EVENTS
    with _progress(large, f"OTLP → {target.endpoint}", len(events)) as advance:
        report = export_events(
            events, target=target, options=options, service_name=service_name,
            on_event=advance,
        )
    if report.lost or not report.finished:
        return False  # the exporter has already said so, once
    click.echo(
        f"flowtrace: {report.exported} spans of {report.runs} run"
        f"{'' if report.runs == 1 else 's'} sent to {target.endpoint} "
        f"({target.protocol}) in {report.seconds:.2f} s",
        err=True,
    )
    return True

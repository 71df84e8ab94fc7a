"""What the OpenTelemetry instrument costs a flow, and how fast a recorded trace exports.

1. Live cost: the chain, cycle and stream workloads of ``workloads.py`` run bare, with a
   do-nothing instrument subscribed to the events the mapping reads (``events``: what
   the engine spends building them), with the mapping alone (``mapping``: span records,
   no SDK), and with ``OTelInstrument`` on an SDK provider whose exporter is in memory — with the
   synchronous ``SimpleSpanProcessor`` (every span exported on the flow's thread: the
   whole cost shows), with the ``BatchSpanProcessor`` flowtrace uses by default, and with
   stream items as child spans. Configurations alternate within this process (run 1 of
   each, then run 2 of each, …) and the median per-unit CPU times of this process
   (``time.process_time``: the SDK's export thread included, other processes on a busy
   machine excluded) are reported with their ratio to the bare run.
2. Offline export rate, in spans per second, for the events of a recorded run: the
   mapping alone (plain span records), spans through the SDK to an in-memory exporter,
   a Jaeger-JSON file, and OTLP/gRPC to a receiver on loopback (127.0.0.1).

``--quick`` runs everything small, in seconds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent import futures
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from workloads import WORKLOADS

import flowtrace
from flowtrace.events import Event
from flowtrace.export.jaeger_json import write_jaeger_json
from flowtrace.otel import OTelInstrument, send_events, spans_from_events
from flowtrace.otel.exporting import resolve_otlp
from flowtrace.otel.mapping import MAPPED_EVENT_TYPES, SpanMapper
from flowtrace.otel.model import RecordingSink, SpanRecord
from flowtrace.otel.offline import export_events


def _provider(exporter: SpanExporter, batch: bool) -> TracerProvider:
    provider = TracerProvider(shutdown_on_exit=False)
    processor = (
        BatchSpanProcessor(exporter, max_queue_size=1 << 20)
        if batch
        else SimpleSpanProcessor(exporter)
    )
    provider.add_span_processor(processor)
    return provider


class _Config:
    """One way to run a workload: the run_until_complete keyword arguments it adds."""

    def __init__(
        self,
        name: str,
        make: Callable[[], dict[str, Any]],
        after: Callable[[], None] = lambda: None,
    ) -> None:
        self.name = name
        self.make = make
        self.after = after


class _Null:
    """Subscribes to what the OTel instrument reads and does nothing: the engine's cost
    of building those events."""

    kinds = MAPPED_EVENT_TYPES

    def on_event(self, event: Event) -> None:
        pass


class _MappingOnly:
    """The mapping into plain span records, without the SDK."""

    kinds = MAPPED_EVENT_TYPES

    def __init__(self) -> None:
        self.mapper = SpanMapper(_Discard())

    def on_event(self, event: Event) -> None:
        self.mapper.on_event(event)


class _Discard(RecordingSink):
    def end(self, span: SpanRecord) -> None:
        pass


def _configs() -> list[_Config]:
    simple_exporter = InMemorySpanExporter()
    simple = _provider(simple_exporter, batch=False)
    batch_exporter = InMemorySpanExporter()
    batch = _provider(batch_exporter, batch=True)
    items_exporter = InMemorySpanExporter()
    items = _provider(items_exporter, batch=False)

    def clear() -> None:
        batch.force_flush()
        for exporter in (simple_exporter, batch_exporter, items_exporter):
            exporter.clear()

    return [
        _Config("bare", dict),
        _Config("events", lambda: {"instruments": [_Null()]}),
        _Config("mapping", lambda: {"instruments": [_MappingOnly()]}),
        _Config("otel", lambda: {"instruments": [OTelInstrument(simple)]}, clear),
        _Config("otel+batch", lambda: {"instruments": [OTelInstrument(batch)]}, clear),
        _Config(
            "otel items=spans",
            lambda: {"instruments": [OTelInstrument(items, stream_items="spans")]},
            clear,
        ),
    ]


def live_cost(sizes: dict[str, int], repeats: int) -> None:
    configs = _configs()
    print("## Live instrument cost (median CPU µs per unit; ratio to bare)\n")
    print("| workload | size | " + " | ".join(c.name for c in configs) + " |")
    print("|---|---|" + "---|" * len(configs))
    for name, size in sizes.items():
        workload = WORKLOADS[name]
        times: dict[str, list[float]] = {c.name: [] for c in configs}
        for _ in range(repeats):
            for config in configs:
                run = workload.build(flowtrace, size, config.make())
                started = time.process_time()
                units = run()
                elapsed = time.process_time() - started
                config.after()
                times[config.name].append(elapsed / units * 1e6)
        bare = statistics.median(times["bare"])
        cells = []
        for config in configs:
            median = statistics.median(times[config.name])
            cells.append(
                f"{median:.1f}" + ("" if config.name == "bare" else f" ({median / bare:.2f}x)")
            )
        print(f"| {name} ({workload.unit}) | {size:,} | " + " | ".join(cells) + " |")
    print()


class _Collect:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def on_event(self, event: Event) -> None:
        self.events.append(event)


def _recorded_events(nodes: int, items: int) -> list[Event]:
    """A chain run and a stream run, as a recorder would have them."""
    collect = _Collect()
    WORKLOADS["chain"].build(flowtrace, nodes, {"instruments": [collect]})()
    WORKLOADS["stream"].build(flowtrace, items, {"instruments": [collect]})()
    return collect.events


def _rate(label: str, spans: int, seconds: float, events: int) -> None:
    print(
        f"| {label} | {spans:,} | {seconds * 1e3:.1f} | {spans / seconds:,.0f} "
        f"| {events / seconds:,.0f} |"
    )


def offline_rate(nodes: int, items: int, repeats: int) -> None:
    events = _recorded_events(nodes, items)
    print(
        f"## Offline export rate ({len(events):,} events: a {nodes:,}-node chain run and "
        f"a {items:,}-item stream run)\n"
    )
    print("| path | spans | ms | spans/s | events/s |")
    print("|---|---|---|---|---|")

    def best(fn: Callable[[], int]) -> tuple[int, float]:
        results = []
        for _ in range(repeats):
            started = time.perf_counter()
            n = fn()
            results.append((time.perf_counter() - started, n))
        seconds, n = min(results)
        return n, seconds

    n, s = best(lambda: len(spans_from_events(events)))
    _rate("mapping only (span records)", n, s, len(events))

    def sdk() -> int:
        exporter = InMemorySpanExporter()
        provider = _provider(exporter, batch=False)
        _runs, count = send_events(events, provider)
        provider.shutdown()
        return count

    n, s = best(sdk)
    _rate("SDK spans → in-memory exporter", n, s, len(events))

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "out.json")

        def jaeger() -> int:
            spans = spans_from_events(events)
            write_jaeger_json(spans, path)
            return len(spans)

        n, s = best(jaeger)
        _rate("Jaeger JSON file (map + write)", n, s, len(events))

    try:
        endpoint, stop = _grpc_receiver()
    except Exception as exc:  # grpcio missing: report and go on
        print(f"| OTLP/gRPC loopback | skipped: {exc} | | | |")
    else:
        try:

            def otlp() -> int:
                report = export_events(events, target=resolve_otlp(endpoint, "grpc", 10))
                assert report.lost == 0, report
                return report.exported

            n, s = best(otlp)
            _rate("OTLP/gRPC to 127.0.0.1 (map + SDK + send)", n, s, len(events))
        finally:
            stop()
    print()


def _grpc_receiver() -> tuple[str, Callable[[], None]]:
    import grpc
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

    class Service(trace_service_pb2_grpc.TraceServiceServicer):
        def Export(self, request: Any, context: Any) -> Any:
            return trace_service_pb2.ExportTraceServiceResponse()

    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=2),
        options=[("grpc.max_receive_message_length", 64 << 20)],
    )
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Service(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return f"127.0.0.1:{port}", lambda: server.stop(None).wait(5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, seconds")
    args = parser.parse_args()
    for name in list(os.environ):
        if name.startswith("OTEL_"):
            del os.environ[name]
    if args.quick:
        live_cost({"chain": 200, "cycle": 200, "stream": 500}, repeats=2)
        offline_rate(nodes=300, items=300, repeats=1)
    else:
        live_cost({"chain": 2_000, "cycle": 2_000, "stream": 5_000}, repeats=5)
        offline_rate(nodes=5_000, items=5_000, repeats=3)


if __name__ == "__main__":
    main()

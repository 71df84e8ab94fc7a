"""Every bundled example maps to well-formed traces, live and offline alike."""

from __future__ import annotations

from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from flowtrace.instrument import add_default_instrument, remove_default_instrument
from flowtrace.otel import OTelInstrument, send_events
from flowtrace.testing import run_script

from .test_instrument import shape

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.py"))


@pytest.mark.timeout(30)
@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.stem)
def test_example_spans_are_well_formed_and_the_same_offline(script: Path) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    otel = OTelInstrument(provider)
    add_default_instrument(otel)
    try:
        ran = run_script(script)
    finally:
        remove_default_instrument(otel)
    live = exporter.get_finished_spans()
    runs = ran.capture.runs
    flow_runs = [run for run in runs if type(run[0]).__name__ == "FlowStarted"]
    roots = [s for s in live if s.parent is None]
    assert len(roots) == len(flow_runs) >= 1
    assert all(s.name == "flow.run" for s in roots)
    by_id = {s.context.span_id: s for s in live}
    for span in live:
        assert span.end_time is not None and span.start_time is not None
        assert span.start_time <= span.end_time
        if span.parent is not None:
            parent = by_id[span.parent.span_id]
            assert parent.context.trace_id == span.context.trace_id
        for link in span.links:
            assert link.context.span_id in by_id
    exporter.clear()
    send_events(ran.capture.events, provider)
    assert shape(live) == shape(exporter.get_finished_spans())
    provider.shutdown()

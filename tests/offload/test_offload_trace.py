"""One trace: offloaded calls in the recorded file, in `flowtrace show`, and in the
OpenTelemetry mapping (a child span per call; the W3C context reaches the worker)."""

from __future__ import annotations

import io
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from _events import Collector
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from otel import scenarios as S
from rich.console import Console

from flowtrace import FlowHDL, node
from flowtrace._cli.show import render_summary
from flowtrace.offload import OffloadLostError, offload
from flowtrace.otel import OTelInstrument
from flowtrace.otel import attributes as A
from flowtrace.otel.mapping import spans_from_events
from flowtrace.record import Recorder
from flowtrace.summary import summarize_events, summarize_file
from flowtrace.tracefile import iter_events

from .offload_workloads import Dies, Spin, current_traceparent


def shown(summary: Any) -> str:
    out = io.StringIO()
    console = Console(file=out, width=200, color_system=None)
    for part in render_summary(summary, tracebacks=False):
        console.print(part)
    return out.getvalue()


def test_offloaded_calls_are_child_spans_of_the_evaluation_with_the_worker_identity() -> None:
    run = S.offloaded()
    spans = spans_from_events(run.events, seed=1)
    (node_span,) = [s for s in spans if s.name == "w"]
    first, second = [s for s in spans if s.name == "offload score"]
    assert first.parent is node_span and second.parent is node_span
    assert first.kind == "offload"
    attrs = first.attributes
    assert (attrs[A.WORKER_ADDRESS], attrs[A.WORKER_HOST], attrs[A.WORKER_PID]) == (
        "pid 77",
        "host-a",
        77,
    )
    assert (attrs[A.OFFLOAD_QUEUE_NS], attrs[A.OFFLOAD_RUN_NS]) == (2_000, 1_500)
    assert (attrs[A.OFFLOAD_EXECUTOR], attrs[A.OFFLOAD_OUTCOME]) == ("default", "returned")
    (started,) = first.events
    submit = next(e for e in run.events if type(e).__name__ == "OffloadSubmitted")
    assert started.name == "offload.started"
    assert started.time_ns == run.epoch(submit.seq) + 2_000
    assert first.status == "unset"
    assert second.status == "error" and second.attributes[A.OFFLOAD_OUTCOME] == "raised"
    assert [e.name for e in second.events] == ["offload.started", "exception"]


def test_the_live_instrument_passes_the_call_s_trace_context_to_the_worker(
    pool: ProcessPoolExecutor,
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))

    @node
    async def Traced(x: int) -> str | None:
        traceparent: str | None = await offload(current_traceparent)
        return traceparent

    with FlowHDL() as f:
        f.t = Traced(0)
    instrument = OTelInstrument(provider)
    f.run_until_complete(executors=pool, instruments=[instrument])
    instrument.shutdown()
    spans = exporter.get_finished_spans()
    (call_span,) = [s for s in spans if s.name == "offload current_traceparent"]
    (root,) = [s for s in spans if s.parent is None]  # flow.run [<name>]
    (node_span,) = [s for s in spans if s.name == "t"]
    seen = f.t.get_data()[0]
    assert seen == f"00-{root.context.trace_id:032x}-{call_span.context.span_id:016x}-01"
    assert call_span.parent is not None and call_span.parent.span_id == node_span.context.span_id
    assert call_span.attributes is not None
    address = call_span.attributes[A.WORKER_ADDRESS]
    assert isinstance(address, str) and address.startswith("pid ")


def test_without_an_otel_instrument_the_worker_gets_no_trace_context(
    pool: ProcessPoolExecutor,
) -> None:
    @node
    async def Traced(x: int) -> str | None:
        traceparent: str | None = await offload(current_traceparent)
        return traceparent

    with FlowHDL() as f:
        f.t = Traced(0)
    f.run_until_complete(executors=pool)
    assert f.t.get_data() == (None,)


def test_the_recorded_trace_has_every_call_and_show_lists_them_per_node(
    pool: ProcessPoolExecutor,
    tmp_path: Path,
) -> None:
    path = tmp_path / "run.ftrace.jsonl"
    with FlowHDL() as f:
        f.x = Spin(100)
        f.y = Spin(200)
    recorder = Recorder(str(path))
    f.run_until_complete(executors=pool, instruments=[recorder])
    recorder.close()
    kinds = [type(e).__name__ for e in iter_events(str(path))]
    assert kinds.count("OffloadSubmitted") == kinds.count("OffloadFinished") == 2
    summary = summarize_file(str(path))
    offloads = summary.runs[0].offloads
    assert list(offloads) == ["x", "y"]
    assert offloads["x"].calls == 1 and offloads["x"].outcomes == {"returned": 1}
    assert offloads["x"].workers[0].startswith("pid ")
    text = shown(summary)
    assert "Offloaded calls of" in text
    assert "1 returned" in text


def test_show_says_which_call_was_lost() -> None:
    with ProcessPoolExecutor(1) as doomed:
        with FlowHDL() as f:
            f.dies = Dies(0)
        events = Collector()
        with pytest.raises(OffloadLostError):
            f.run_until_complete(executors={"default": doomed}, instruments=[events])
    summary = summarize_events(events.events)
    (problem,) = summary.runs[0].offload_problems
    assert (problem.call_id, problem.node_id, problem.function, problem.outcome) == (
        0,
        "dies",
        "Dies",
        "lost",
    )
    assert "call #0 Dies() of node dies on default: lost" in shown(summary)


def test_the_tui_log_shows_executor_worker_and_outcome_of_each_call(
    pool: ProcessPoolExecutor,
) -> None:
    from flowtrace.replay import Replay
    from flowtrace.tui.render import event_details, event_row

    with FlowHDL() as f:
        f.x = Spin(10)
    events = Collector()
    f.run_until_complete(executors={"cpu": pool, "default": pool}, instruments=[events])
    rows = [event_row(e) for e in events.events if type(e).__name__.startswith("Offload")]
    assert "call 0 body → default (ProcessPoolExecutor, 2 workers)" in rows[0]
    assert rows[0].split()[2] == "x"  # the node column
    assert "call 0 on pid " in rows[1] and "queued" in rows[1]
    assert "call 0 returned after" in rows[2]
    replay = Replay(events.events)
    details = event_details(
        replay, next(e for e in events.events if type(e).__name__ == "OffloadStarted")
    ).plain
    assert "worker: pid " in details and "queue_ns:" in details


def test_a_span_the_user_s_code_starts_on_a_worker_joins_the_run_s_trace(
    tmp_path: Path,
) -> None:
    import json
    import multiprocessing

    from .offload_workloads import setup_worker_tracing, traced_work

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    worker_spans = tmp_path / "worker-spans.jsonl"

    @node
    async def Work(x: int) -> str:
        return str(await offload(traced_work, "inside the worker"))

    with FlowHDL() as f:
        f.w = Work(0)
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(
        1, mp_context=context, initializer=setup_worker_tracing, initargs=(str(worker_spans),)
    ) as traced_pool:
        instrument = OTelInstrument(provider)
        f.run_until_complete(executors=traced_pool, instruments=[instrument])
        instrument.shutdown()
    (call_span,) = [s for s in exporter.get_finished_spans() if s.name == "offload traced_work"]
    (user_span,) = [json.loads(line) for line in worker_spans.read_text().splitlines()]
    assert user_span["name"] == "inside the worker"
    assert user_span["trace_id"] == call_span.context.trace_id
    assert user_span["parent_id"] == call_span.context.span_id

"""Spans of the live and the offline path arrive at real OTLP receivers on loopback
(gRPC and HTTP/protobuf) and decode to the documented structure."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

import msgspec
import pytest

from flowtrace.events import Event
from flowtrace.otel import OTelInstrument
from flowtrace.otel import attributes as A
from flowtrace.otel.exporting import resolve_otlp
from flowtrace.otel.offline import export_events
from flowtrace.record import Recorder
from flowtrace.tracefile import iter_events

from . import scenarios as S
from .receivers import grpc_receiver, http_receiver

RECEIVERS = {"grpc": grpc_receiver, "http": http_receiver}


pytestmark = pytest.mark.usefixtures("no_otel_env")


def check_error_run(spans: list[dict[str, Any]]) -> None:
    names = sorted(s["name"] for s in spans)
    assert names == ["boom", "flow.run", "ok"]
    by_name = {s["name"]: s for s in spans}
    root, boom, ok = by_name["flow.run"], by_name["boom"], by_name["ok"]
    assert root["parent"] == ""
    assert boom["parent"] == ok["parent"] == root["span_id"]
    assert len({s["trace_id"] for s in spans}) == 1
    assert boom["links"][0][1] == ok["span_id"]
    assert boom["attributes"][A.NODE_ID] == "boom"
    assert boom["attributes"]["flowtrace.input.0.producer"] == "ok"
    assert boom["status"] == 2  # STATUS_CODE_ERROR
    assert "exception" in [e[0] for e in boom["events"]]
    assert root["start"] == S.WALL0
    assert boom["scope"] == "flowtrace"
    assert root["resource"]["service.name"] == "flowtrace"


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_live_instrument_delivers_the_run(protocol: Literal["grpc", "http"]) -> None:
    with RECEIVERS[protocol]() as (endpoint, received):
        instrument = OTelInstrument(endpoint=endpoint, protocol=protocol, timeout=5)
        for event in S.error().events:
            instrument.on_event(event)
        instrument.shutdown(timeout=10)
        assert instrument.finished
        assert (instrument.spans_exported, instrument.spans_lost) == (3, 0)
        check_error_run(received.spans())


def write_trace(path: str, events: list[Event]) -> None:
    recorder = Recorder(path, flush_interval=0)
    for event in events:
        recorder.on_event(event)
    recorder.close()


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_a_recorded_trace_is_delivered_with_its_original_times(
    protocol: str, tmp_path: Any
) -> None:
    path = str(tmp_path / "run.ftrace.jsonl")
    dag = [msgspec.structs.replace(e, run_id="run-2") for e in S.dag().events]  # one id a run
    write_trace(path, S.error().events + dag)
    with RECEIVERS[protocol]() as (endpoint, received):
        report = export_events(iter_events(path), target=resolve_otlp(endpoint, protocol, 5))
        assert (report.runs, report.spans, report.exported, report.lost) == (2, 7, 7, 0)
        spans = received.spans()
    assert len({s["trace_id"] for s in spans}) == 2
    [boom] = [s for s in spans if s["name"] == "boom"]
    error_trace = [s for s in spans if s["trace_id"] == boom["trace_id"]]
    check_error_run(error_trace)


@pytest.fixture
def grpc_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with grpc_receiver() as (endpoint, received):
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://{endpoint}")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
        monkeypatch.setenv("OTEL_SERVICE_NAME", "pipeline-under-test")
        yield received


def test_the_standard_environment_variables_configure_the_export(grpc_env: Any) -> None:
    instrument = OTelInstrument()
    for event in S.dag().events:
        instrument.on_event(event)
    instrument.shutdown(timeout=10)
    assert instrument.finished
    spans = grpc_env.spans()
    assert len(spans) == 4
    assert {s["resource"]["service.name"] for s in spans} == {"pipeline-under-test"}

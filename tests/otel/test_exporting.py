"""Endpoint/protocol resolution from arguments and OTEL_* variables, and the guard that
counts, short-circuits and reports export failures."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from flowtrace.otel.exporting import GuardedExporter, _concise, resolve_otlp

pytestmark = pytest.mark.usefixtures("no_otel_env")


@pytest.mark.parametrize(
    ("endpoint", "protocol", "expected"),
    [
        (None, None, ("http://localhost:4318/v1/traces", "http/protobuf")),
        (None, "grpc", ("http://localhost:4317", "grpc")),
        ("localhost:4317", None, ("http://localhost:4317", "grpc")),
        ("collector:4318", None, ("http://collector:4318/v1/traces", "http/protobuf")),
        (
            "https://collector:4318/custom",
            "http",
            ("https://collector:4318/custom", "http/protobuf"),
        ),
        ("collector:9999", "grpc", ("http://collector:9999", "grpc")),
    ],
)
def test_endpoint_and_protocol_from_arguments(
    endpoint: str | None, protocol: str | None, expected: tuple[str, str]
) -> None:
    target = resolve_otlp(endpoint, protocol)
    assert (target.endpoint, target.protocol) == expected
    assert target.timeout == 10.0


def test_the_environment_fills_what_arguments_leave_out(monkeypatch: Any) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://env:4318")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "2500")  # milliseconds, per the spec
    target = resolve_otlp()
    assert (target.endpoint, target.protocol, target.timeout) == (
        "http://env:4318/v1/traces",
        "http/protobuf",
        2.5,
    )
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://traces:1234/exact")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    assert resolve_otlp().endpoint == "http://traces:1234/exact"  # signal-specific: as is
    assert resolve_otlp("arg:4317", None, 1).endpoint == "http://arg:4317/v1/traces"


def test_an_unknown_protocol_is_refused() -> None:
    with pytest.raises(ValueError, match="use 'grpc' or 'http'"):
        resolve_otlp("x:1", "carrier-pigeon")


class Flaky(SpanExporter):
    def __init__(self, results: list[Any]) -> None:
        self.results = results
        self.calls = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.calls += 1
        result = self.results.pop(0)
        if isinstance(result, Exception):
            raise result
        logging.getLogger("opentelemetry.exporter.otlp.proto.grpc.exporter").error(
            "Transient error StatusCode.UNAVAILABLE encountered while exporting traces to "
            "x:1, retrying in 1.00s. Error details: no route"
        )
        outcome: SpanExportResult = result
        return outcome

    def shutdown(self) -> None:
        pass


def spans(n: int) -> list[ReadableSpan]:
    return [ReadableSpan(name=f"s{i}") for i in range(n)]


def test_the_guard_counts_skips_after_a_failure_and_reports_once(caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    inner = Flaky([SpanExportResult.FAILURE, SpanExportResult.SUCCESS])
    guard = GuardedExporter(inner, "x:1", retry_after=3600)
    assert guard.export(spans(3)) is SpanExportResult.FAILURE
    assert guard.export(spans(4)) is SpanExportResult.FAILURE  # not even tried
    assert inner.calls == 1
    assert (guard.exported, guard.lost) == (0, 7)
    guard.shutdown()
    guard.shutdown()
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.name for r in warnings] == ["flowtrace.otel"]  # the SDK's own line is silenced
    assert warnings[0].getMessage() == (
        "flowtrace: could not export spans to x:1 (StatusCode.UNAVAILABLE: no route); 7 spans lost"
    )


def test_the_guard_retries_after_its_pause_and_survives_exporter_exceptions() -> None:
    inner = Flaky([RuntimeError("broken pipe"), SpanExportResult.SUCCESS])
    guard = GuardedExporter(inner, "x:1", retry_after=0)
    assert guard.export(spans(2)) is SpanExportResult.FAILURE
    assert guard.export(spans(5)) is SpanExportResult.SUCCESS
    assert (guard.exported, guard.lost, guard.reason) == (5, 2, "RuntimeError: broken pipe")


def test_reasons_are_short() -> None:
    assert _concise("x" * 500).endswith("…") and len(_concise("x" * 500)) == 240

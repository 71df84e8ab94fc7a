"""``flowtrace export TRACE``: files, OTLP to loopback receivers, a dead collector."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from otel import scenarios as S
from otel.receivers import closed_port, grpc_receiver, http_receiver

from flowtrace.cli import cli
from flowtrace.events import Event
from flowtrace.record import Recorder

pytestmark = pytest.mark.usefixtures("no_otel_env")


@pytest.fixture
def trace(tmp_path: Path) -> str:
    path = str(tmp_path / "two.ftrace.jsonl")
    two = S.Run(S.info("solo"), run_id="run-2")
    two.schedule("solo")
    two.evaluate("solo", 0, output=7)
    two.finish()
    events: list[Event] = [*S.error().events, *two.events]
    recorder = Recorder(path, flush_interval=0)
    for event in events:
        recorder.on_event(event)
    recorder.close()
    return path


def invoke(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_writes_jaeger_chrome_and_graph_files(trace: str, tmp_path: Path) -> None:
    jaeger, chrome, mermaid, dot = (
        str(tmp_path / n) for n in ("j.json", "c.json", "g.mmd", "g.dot")
    )
    result = invoke(
        "export",
        trace,
        "--to",
        "jaeger-json",
        jaeger,
        "--to",
        "chrome",
        chrome,
        "--to",
        "mermaid",
        mermaid,
        "--to",
        "dot",
        dot,
        "--seed",
        "3",
    )
    assert result.exit_code == 0, result.output
    document = json.loads(Path(jaeger).read_text())
    assert len(document["data"]) == 2
    assert sorted(len(t["spans"]) for t in document["data"]) == [2, 3]
    events = json.loads(Path(chrome).read_text())["traceEvents"]
    assert sum(e["ph"] == "X" for e in events) == 5
    assert Path(mermaid).read_text().startswith("flowchart LR")
    assert Path(dot).read_text().startswith("digraph")


def test_run_selects_one_run(trace: str, tmp_path: Path) -> None:
    out = str(tmp_path / "j.json")
    assert invoke("export", trace, "--run", "run-2", "--to", "jaeger-json", out).exit_code == 0
    [only] = json.loads(Path(out).read_text())["data"]
    assert sorted(s["operationName"] for s in only["spans"]) == ["flow.run", "solo"]
    result = CliRunner().invoke(cli, ["export", trace, "--run", "nope", "--to", "chrome", out])
    assert result.exit_code == 1 and "no run nope" in result.output


def test_needs_something_to_do(trace: str) -> None:
    result = CliRunner().invoke(cli, ["export", trace])
    assert result.exit_code == 2
    assert "--otlp" in result.output


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_sends_the_trace_over_otlp(trace: str, protocol: str) -> None:
    receiver = grpc_receiver if protocol == "grpc" else http_receiver
    with receiver() as (endpoint, received):
        result = invoke(
            "export", trace, "--otlp", endpoint, "--otlp-protocol", protocol, "--timeout", "5"
        )
        assert result.exit_code == 0, result.output
        spans = received.spans()
    assert sorted(s["name"] for s in spans) == ["boom", "flow.run", "flow.run", "ok", "solo"]
    assert "5 spans of 2 runs sent" in result.output


def test_otlp_without_endpoint_uses_the_environment(
    trace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with grpc_receiver() as (endpoint, received):
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://{endpoint}")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
        result = invoke("export", trace, "--otlp")
        assert result.exit_code == 0, result.output
        assert len(received.spans()) == 5
        result = invoke("export", "--otlp", trace)  # a bare --otlp leaves TRACE alone
        assert result.exit_code == 0, result.output
        assert len(received.spans()) == 10


def test_a_dead_collector_fails_fast_and_says_so_once(trace: str, caplog: Any) -> None:
    caplog.set_level(logging.INFO)
    endpoint = f"127.0.0.1:{closed_port()}"
    started = time.monotonic()
    result = invoke(
        "export", trace, "--otlp", endpoint, "--otlp-protocol", "http", "--timeout", "1"
    )
    assert time.monotonic() - started < 4
    assert result.exit_code == 1
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and endpoint in warnings[0] and "5 spans lost" in warnings[0]

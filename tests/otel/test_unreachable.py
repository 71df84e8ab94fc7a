"""A collector that is down or stuck costs a bounded time, is reported once with the
endpoint and the number of spans lost, and breaks nothing."""

from __future__ import annotations

import logging
import os
import time
from typing import Any

import pytest

from flowtrace.otel import OTelInstrument
from flowtrace.otel.exporting import resolve_otlp
from flowtrace.otel.offline import export_events

from . import scenarios as S
from .receivers import closed_port, hanging_http_receiver

BOUND = 4.0  # seconds; the export timeout is 1 s


pytestmark = pytest.mark.usefixtures("no_otel_env")


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.WARNING]


def assert_reported_once(caplog: pytest.LogCaptureFixture, endpoint: str, lost: int) -> None:
    records = warnings_of(caplog)
    assert len(records) == 1, [r.getMessage() for r in records]
    [record] = records
    assert record.name == "flowtrace.otel"
    message = record.getMessage()
    assert endpoint in message
    assert f"{lost} spans lost" in message


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_live_instrument_with_no_collector(protocol: str, caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    endpoint = f"127.0.0.1:{closed_port()}"
    started = time.monotonic()
    instrument = OTelInstrument(endpoint=endpoint, protocol=protocol, timeout=1)  # type: ignore[arg-type]
    for event in S.error().events:
        instrument.on_event(event)
    fed = time.monotonic()
    finished = instrument.shutdown()
    elapsed = time.monotonic() - started
    assert fed - started < 1.0  # feeding the run never waits for the network
    assert elapsed < BOUND
    assert finished
    assert (instrument.spans_exported, instrument.spans_lost) == (0, 3)
    assert_reported_once(caplog, endpoint, 3)
    instrument.shutdown()  # a second shutdown says nothing more
    assert len(warnings_of(caplog)) == 1


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_offline_export_with_no_collector(protocol: str, caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    endpoint = f"127.0.0.1:{closed_port()}"
    events = S.error().events + _renamed(S.dag().events, "run-2")
    started = time.monotonic()
    report = export_events(events, target=resolve_otlp(endpoint, protocol, 1))
    assert time.monotonic() - started < BOUND
    assert (report.spans, report.exported, report.lost) == (7, 0, 7)
    assert_reported_once(caplog, endpoint, 7)


def test_many_batches_to_a_dead_collector_cost_one_timeout(caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    endpoint = f"127.0.0.1:{closed_port()}"
    events: list[Any] = []
    for i in range(600):  # 600 runs x 4 spans = 2400 spans: 5 batches of 512
        events += _renamed(S.dag().events, f"run-{i}")
    started = time.monotonic()
    report = export_events(events, target=resolve_otlp(endpoint, "http", 1))
    assert time.monotonic() - started < BOUND
    assert report.spans == report.lost == 2400
    assert_reported_once(caplog, endpoint, 2400)


def _renamed(events: list[Any], run_id: str) -> list[Any]:
    import dataclasses

    return [dataclasses.replace(e, run_id=run_id) for e in events]


def test_a_collector_that_never_answers_costs_a_bounded_time(caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    with hanging_http_receiver() as (endpoint, _received):
        started = time.monotonic()
        instrument = OTelInstrument(endpoint=endpoint, protocol="http", timeout=1)
        for event in S.dag().events:
            instrument.on_event(event)
        instrument.shutdown()
        assert time.monotonic() - started < BOUND
    assert instrument.spans_lost == 4
    assert_reported_once(caplog, endpoint, 4)


EXIT_SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
from otel import scenarios as S
from flowtrace.otel import OTelInstrument
otel = OTelInstrument(endpoint={endpoint!r}, protocol="http", timeout=1)
for event in S.dag().events:
    otel.on_event(event)
print("done")
"""


def test_a_process_that_never_shuts_down_still_exits_promptly_and_says_so_once() -> None:
    import subprocess
    import sys
    from pathlib import Path

    tests = str(Path(__file__).resolve().parents[1])
    endpoint = f"127.0.0.1:{closed_port()}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", EXIT_SCRIPT.format(tests=tests, endpoint=endpoint)],
        capture_output=True, text=True, timeout=30, env=env,
    )
    assert time.monotonic() - started < BOUND + 3  # interpreter start-up included
    assert done.returncode == 0 and done.stdout.strip() == "done"
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert endpoint in lines[0] and "4 spans lost" in lines[0]

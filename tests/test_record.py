"""The recorder writes exactly what the bus emitted, flushes when it must, and leaves a
readable file behind whatever happens to the process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from _events import Collector

from flowtrace import EventLoop, sleep, spawn
from flowtrace.codec import REDACTED
from flowtrace.events import (
    LoopExited,
    NodeStarted,
    SleepBegan,
    TaskFinished,
    TaskSpawned,
)
from flowtrace.instrument import Bus, add_default_instrument, remove_default_instrument
from flowtrace.record import REDACTED_TEXT, PatternRedactor, Recorder
from flowtrace.record.recorder import _flush_periodically
from flowtrace.tracefile import TraceFormatError, read_trace

REPO = Path(__file__).resolve().parents[1]


async def worker(value: Any) -> Any:
    await sleep(0)
    return value


async def fan_out(*values: Any) -> list[Any]:
    handles = [await spawn(worker(v)) for v in values]
    return [await h.join() for h in handles]


async def failing(message: str) -> None:
    await sleep(0)
    raise ValueError(message)


def run(coro: Any, *instruments: Any) -> Any:
    return EventLoop().run_until_complete(coro, join=True, instruments=list(instruments))


def results(path: Path) -> list[Any]:
    return [e.result for e in read_trace(path).events if isinstance(e, TaskFinished)]


# ----------------------------------------------------------------------------- content


def test_the_file_holds_exactly_the_events_the_bus_emitted(tmp_path: Path) -> None:
    path = tmp_path / "t.ftrace.jsonl"
    recorder, capture = Recorder(path), Collector()
    assert run(fan_out(1, "two", [3]), recorder, capture) == [1, "two", [3]]
    recorder.close()
    trace = read_trace(path)
    assert trace.events == capture.events
    assert recorder.events_written == len(capture.events)
    assert list(recorder.run_ids) == list(trace.runs)


def test_every_run_of_a_process_goes_to_one_file(tmp_path: Path) -> None:
    path = tmp_path / "t.ftrace.jsonl"
    recorder = Recorder(path)
    add_default_instrument(recorder)
    try:
        run(fan_out(1))
        run(fan_out(2))
    finally:
        remove_default_instrument(recorder)
        recorder.close()
    trace = read_trace(path)
    assert len(trace.runs) == 2
    assert [r.outcome for r in trace.runs.values()] == ["completed", "completed"]


def test_the_run_adopts_the_recorders_value_codec(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "t.ftrace.jsonl", max_repr=10, include_values=False)
    assert Bus("r", [recorder]).codec is recorder.value_codec
    recorder.close()


def test_no_values_mode_keeps_the_shape_but_no_data(tmp_path: Path) -> None:
    path = tmp_path / "t.ftrace.jsonl"
    recorder = Recorder(path, include_values=False)
    run(fan_out("secret", 42), recorder)
    recorder.close()
    assert results(path) == [{"$omitted": True}] * 3
    assert read_trace(path).header.options["values"] is False
    assert b"secret" not in path.read_bytes()


def test_no_values_mode_keeps_no_error_text(tmp_path: Path) -> None:
    path = tmp_path / "t.ftrace.jsonl"
    recorder = Recorder(path, include_values=False)
    with pytest.raises(ValueError, match="s3cr\u00e9t"):
        run(failing("the s3cr\u00e9t is out"), recorder)
    recorder.close()
    data = path.read_bytes()
    assert "s3cr\u00e9t".encode() not in data and b"s3cr" not in data
    exited = [e for e in read_trace(path).events if isinstance(e, LoopExited)]
    assert exited[0].error is not None and exited[0].error.type == "ValueError"


def test_long_values_are_cut_to_max_repr_and_marked(tmp_path: Path) -> None:
    path = tmp_path / "t.ftrace.jsonl"
    recorder = Recorder(path, max_repr=12)
    run(fan_out("x" * 100, (1, 2)), recorder)
    recorder.close()
    long, small = results(path)[:2]
    assert long == {"$repr": "'" + "x" * 11, "$type": "str", "$truncated": True}
    assert small == {"$repr": "(1, 2)", "$type": "tuple", "$truncated": False}


# ----------------------------------------------------------------------------- redaction


def test_redaction_patterns_remove_matches_from_values(tmp_path: Path) -> None:
    path = tmp_path / "t.ftrace.jsonl"
    recorder = Recorder(path, redact_patterns=[r"tok-\d+"])
    run(fan_out("auth tok-1234 ok", {"password": 1, "tok-9": "x", "ok": ["tok-5"]}), recorder)
    recorder.close()
    text_value, dict_value = results(path)[:2]
    assert text_value == f"auth {REDACTED_TEXT} ok"
    assert dict_value == {"password": 1, REDACTED_TEXT: REDACTED_TEXT, "ok": [REDACTED_TEXT]}
    assert read_trace(path).header.options["redacted"] is True
    data = path.read_bytes()
    assert b"tok-1234" not in data and b"tok-5" not in data and b"tok-9" not in data


def test_a_non_ascii_secret_is_redacted_from_the_utf8_text(tmp_path: Path) -> None:
    """Text is written as UTF-8 now: a secret with non-ASCII letters would appear in
    the file as is (it did not as ``\\uXXXX`` escapes), so it is checked both ways."""
    path = tmp_path / "t.ftrace.jsonl"
    secret = "p\u00e4ssw\u00f6rd-\u2603"
    recorder = Recorder(path, redact_patterns=[secret])
    with pytest.raises(ValueError):
        run(failing(f"it is {secret}"), recorder)
    run(fan_out(f"value {secret}", {secret: 1}), recorder)
    recorder.close()
    data = path.read_bytes()
    assert secret.encode() not in data
    assert json.dumps(secret)[1:-1].encode() not in data
    assert "\u00e4".encode() not in data  # nothing else in this run has an ä
    assert f"value {REDACTED_TEXT}" in results(path)


def test_redaction_reaches_error_messages_and_tracebacks(tmp_path: Path) -> None:
    path = tmp_path / "t.ftrace.jsonl"
    recorder = Recorder(path, redact_patterns=["hunter2"])
    with pytest.raises(ValueError, match="hunter2"):
        run(failing("password is hunter2"), recorder)
    recorder.close()
    assert b"hunter2" not in path.read_bytes()
    exited = [e for e in read_trace(path).events if isinstance(e, LoopExited)]
    assert exited[0].error is not None
    assert exited[0].error.message == f"password is {REDACTED_TEXT}"


def test_the_headers_command_line_is_redacted_like_values(tmp_path: Path) -> None:
    path = tmp_path / "t.ftrace.jsonl"

    def hook(value: Any) -> Any:
        return REDACTED if value == "--password=pw" else value

    Recorder(
        path,
        argv=["job.py", "--token", "tok-77", "--password=pw", "--x=tok-8"],
        redact=hook,
        redact_patterns=[r"tok-\d+"],
    ).close()
    assert read_trace(path).header.argv == (
        "job.py",
        "--token",
        REDACTED_TEXT,
        REDACTED_TEXT,
        f"--x={REDACTED_TEXT}",
    )
    assert b"tok-" not in path.read_bytes()


def test_pattern_redactor_redacts_objects_whose_repr_matches() -> None:
    class Secret:
        def __repr__(self) -> str:
            return "Secret(key=abc)"

    redactor = PatternRedactor(["key=abc"])
    assert redactor(Secret()) is REDACTED
    assert redactor(("key=abc", 1)) == (REDACTED_TEXT, 1)
    assert redactor([Secret()]) == [REDACTED_TEXT]
    unrelated = object()
    assert redactor(unrelated) is unrelated


def test_a_redaction_hook_and_patterns_combine(tmp_path: Path) -> None:
    path = tmp_path / "t.ftrace.jsonl"

    def hook(value: Any) -> Any:
        return REDACTED if value == 13 else value

    recorder = Recorder(path, redact=hook, redact_patterns=["bad"])
    run(fan_out(13, "bad luck", 7), recorder)
    recorder.close()
    assert results(path)[:3] == [{"$redacted": True}, f"{REDACTED_TEXT} luck", 7]


# ----------------------------------------------------------------------------- flushing


def test_a_finished_run_is_on_disk_before_the_recorder_is_closed(tmp_path: Path) -> None:
    path = tmp_path / "t.ftrace.jsonl"
    recorder = Recorder(path, flush_interval=0)
    capture = Collector()
    run(fan_out(1), recorder, capture)
    assert read_trace(path).events == capture.events  # strict read of the open file
    recorder.close()


def test_flushes_every_n_events_during_a_run(tmp_path: Path) -> None:
    path = tmp_path / "t.ftrace.jsonl"
    recorder = Recorder(path, flush_events=4, flush_interval=0)
    seen_mid_run: list[int] = []

    async def main() -> None:
        for _ in range(6):
            await sleep(0)
        seen_mid_run.append(len(read_trace(path).events))

    run(main(), recorder)
    recorder.close()
    total = len(read_trace(path).events)
    assert 4 <= seen_mid_run[0] < total
    assert seen_mid_run[0] % 4 == 0


def test_the_flush_thread_writes_buffered_events_while_the_engine_is_idle(
    tmp_path: Path,
) -> None:
    path = tmp_path / "t.ftrace.jsonl"
    recorder = Recorder(path, flush_interval=0)  # no thread of its own in this test
    recorder.on_event(NodeStarted(0, 1, "r", "a", (0,), 0))
    assert read_trace(path).events == []

    class OneTick:
        def __init__(self) -> None:
            self.calls = 0

        def wait(self, timeout: float) -> bool:
            self.calls += 1
            return self.calls > 1  # one interval passes, then stop

    _flush_periodically(__import__("weakref").ref(recorder), OneTick(), 0.1)  # type: ignore[arg-type]
    assert read_trace(path).events == [NodeStarted(0, 1, "r", "a", (0,), 0)]
    recorder.close()


def test_the_recorder_takes_events_one_way_only() -> None:
    assert not hasattr(Recorder, "on_event_fields")


def test_force_flush_writes_what_is_buffered_and_shutdown_closes(tmp_path: Path) -> None:
    path = tmp_path / "t.ftrace.jsonl"
    recorder = Recorder(path, flush_interval=0, flush_events=10**9)
    events = [NodeStarted(i, i, "r", "n", (i,), 0) for i in range(5)]
    for event in events:
        recorder.on_event(event)
    assert read_trace(path).events == []
    assert recorder.force_flush() is True
    assert read_trace(path).events == events
    recorder.on_event(NodeStarted(5, 5, "r", "n", (5,), 0))
    recorder.shutdown()
    assert recorder.closed and read_trace(path).events[-1].seq == 5
    recorder.shutdown()  # idempotent
    recorder.on_event(NodeStarted(6, 6, "r", "n", (6,), 0))
    assert recorder.force_flush(timeout_millis=10) is True
    assert recorder.dropped == 1


def test_force_flush_gives_up_when_another_flush_holds_on(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "t.ftrace.jsonl", flush_interval=0)
    recorder.on_event(NodeStarted(0, 0, "r", "n", (0,), 0))
    with recorder._flush_lock:
        assert recorder.force_flush(timeout_millis=20) is False
    assert recorder.force_flush(timeout_millis=1000) is True
    recorder.close()


def test_events_after_close_are_counted_as_dropped(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "t.ftrace.jsonl")
    recorder.close()
    recorder.close()  # idempotent
    recorder.on_event(LoopExited(0, 1, "r", "completed", None, 0))
    assert recorder.dropped == 1


def test_with_recorder_attaches_it_and_flushes_at_the_end(tmp_path: Path) -> None:
    path = tmp_path / "t.ftrace.jsonl"
    recorder = Recorder(path, flush_interval=0)
    with recorder:
        run(fan_out(1))
    run(fan_out(2))  # outside the block: not recorded
    assert len(read_trace(path).runs) == 1
    recorder.close()


def test_gzip_recording_is_complete_after_close(tmp_path: Path) -> None:
    path = tmp_path / "t.ftrace.jsonl.gz"
    recorder, capture = Recorder(path), Collector()
    run(fan_out(1, 2), recorder, capture)
    recorder.close()
    assert path.read_bytes()[:2] == b"\x1f\x8b"
    assert read_trace(path).events == capture.events


# ----------------------------------------------------------------------------- processes

SCRIPT = """
import sys
from flowtrace import EventLoop, sleep, spawn
from flowtrace.record import Recorder

recorder = Recorder(sys.argv[1], flush_interval={interval})

async def child(i):
    await sleep(0)
    return i

async def first():
    return [await (await spawn(child(i))).join() for i in range(3)]

async def second():
    await sleep(0)
    print("ready", flush=True)
    await sleep({second_sleep})

EventLoop().run_until_complete(first(), instruments=[recorder])
EventLoop().run_until_complete(second(), instruments=[recorder])
"""


def start(
    tmp_path: Path, name: str, interval: float, second_sleep: float
) -> tuple[subprocess.Popen[str], Path]:
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(SCRIPT.format(interval=interval, second_sleep=second_sleep)))
    path = tmp_path / name
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen(
        [sys.executable, str(script), str(path)], stdout=subprocess.PIPE, text=True, env=env
    )
    return proc, path


def wait_for(predicate: Any, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.01)


@pytest.mark.parametrize("name", ["t.ftrace.jsonl", "t.ftrace.jsonl.gz"])
def test_a_process_killed_mid_run_leaves_a_trace_readable_to_its_last_flush(
    tmp_path: Path, name: str
) -> None:
    proc, path = start(tmp_path, name, interval=0.01, second_sleep=600)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"

        def second_run_flushed() -> bool:
            trace = read_trace(path, lenient=True)
            return any(isinstance(e, SleepBegan) and e.duration == 600 for e in trace.events)

        wait_for(second_run_flushed)  # by the flush thread: the run is idle, not ending
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    trace = read_trace(path, lenient=True)
    first, second = trace.runs.values()
    assert first.outcome == "completed"
    assert second.outcome == "incomplete"
    assert any(isinstance(e, TaskSpawned) for e in second.events)
    if name.endswith(".gz"):
        assert trace.damage is not None and "ends early" in trace.damage.reason
        with pytest.raises(TraceFormatError, match="compressed stream ends early"):
            read_trace(path)
    else:
        assert trace.damage is None
        assert read_trace(path).events == trace.events  # lines are whole: strict works too
        # a kill in the middle of a write leaves a cut line, which is named:
        data = path.read_bytes()
        path.write_bytes(data[:-7])
        with pytest.raises(TraceFormatError, match="truncated line") as info:
            read_trace(path)
        assert info.value.line == len(trace.events) + 1
        assert read_trace(path, lenient=True).events == trace.events[:-1]


def test_at_exit_the_file_is_closed_properly(tmp_path: Path) -> None:
    proc, path = start(tmp_path, "t.ftrace.jsonl.gz", interval=0.25, second_sleep=0)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0 and out.strip() == "ready"
    trace = read_trace(path)  # strict: the gzip trailer was written at exit
    assert [r.outcome for r in trace.runs.values()] == ["completed", "completed"]


def test_kinds_restricts_what_is_recorded(tmp_path: Path) -> None:
    path = tmp_path / "t.ftrace.jsonl"
    recorder = Recorder(path, kinds=[TaskSpawned, LoopExited])
    run(fan_out(1, 2), recorder)
    recorder.close()
    trace = read_trace(path)
    assert {type(e) for e in trace.events} == {TaskSpawned, LoopExited}
    assert trace.header.options["kinds"] == ["LoopExited", "TaskSpawned"]


def test_runs_in_several_threads_share_one_recorder(tmp_path: Path) -> None:
    import threading

    path = tmp_path / "t.ftrace.jsonl"
    recorder = Recorder(path, flush_events=7)  # many small flushes from both threads
    threads = [threading.Thread(target=run, args=(fan_out(*range(20)), recorder)) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    recorder.close()
    trace = read_trace(path)
    assert len(trace.runs) == 3
    for run_trace in trace.runs.values():
        assert [e.seq for e in run_trace.events] == list(range(len(run_trace.events)))
        assert run_trace.outcome == "completed"

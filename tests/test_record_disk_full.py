"""A full disk: the trace stops cleanly, the program goes on, and ``flowtrace run`` says so.

The writer cuts the file back to its last whole batch (a gzip file gets its trailer),
counts what it could not write, and never raises again, not even when it is closed.
``flowtrace run`` keeps the script's exit status and says, in one line on stderr,
``trace INCOMPLETE (disk full): N events written``. Tested with an injected
``OSError(ENOSPC)`` and, when this process may mount one, a real tiny tmpfs.
"""

from __future__ import annotations

import errno
import io
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from flowtrace.cli import cli
from flowtrace.events import FlowFinished, NodeStarted
from flowtrace.record import Recorder, TraceWriter
from flowtrace.record import writer as record_writer
from flowtrace.tracefile import iter_events, make_header, read_trace

REPO = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent(
    """
    import sys
    from flowtrace import FlowHDL, Stream, node

    @node
    async def Items(n: int):
        for i in range(n):
            yield i

    @node(stream_in=["items"])
    async def Sum(items: Stream[int]) -> int:
        total = 0
        async for i in items:
            total += i
        return total

    with FlowHDL() as f:
        f.items = Items(3000)
        f.sum = Sum(f.items)
    f.run_until_complete()
    print("sum", f.sum.get_data()[0])
    sys.exit(int(sys.argv[1]))
    """
)


class _FullDisk(io.FileIO):
    """A file on a disk with ``room`` bytes left: writes beyond it fail with ENOSPC
    (after writing what fits, as a real short write would)."""

    room = 0

    def write(self, data: Any) -> int:
        free = type(self).room - self.tell()
        if free <= 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        return super().write(bytes(data)[:free])


@pytest.fixture
def disk_with_room(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """``disk_with_room(n)``: trace files opened from now on have ``n`` bytes of room."""

    def fake_open(path: str, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        assert mode == "wb"
        return io.BufferedWriter(_FullDisk(path, "w"))

    def set_room(n: int) -> None:
        _FullDisk.room = n
        monkeypatch.setattr(record_writer, "open", fake_open, raising=False)

    yield set_room


def _events(n: int) -> list[NodeStarted]:
    return [NodeStarted(i, i, "run-1", f"node{i % 5}", (i,), 0) for i in range(n)]


@pytest.mark.parametrize("gzip", [False, True], ids=["plain", "gzip"])
def test_a_failed_write_leaves_the_file_ending_on_its_last_whole_batch(
    tmp_path: Path, disk_with_room: Any, gzip: bool
) -> None:
    path = tmp_path / ("t.ftrace.jsonl.gz" if gzip else "t.ftrace.jsonl")
    disk_with_room(6_000 if gzip else 20_000)
    writer = TraceWriter(path, make_header(["test"]))
    events = _events(4000)
    written = 0
    for start in range(0, len(events), 100):
        try:
            writer.write(events[start : start + 100])
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
        if writer.failed is None:
            written = start + 100
    writer.close()  # no exception: the failure is kept, not raised again
    assert writer.failed is not None and writer.failed.errno == errno.ENOSPC
    assert 0 < writer.events_written == written < len(events)
    assert writer.lost == len(events) - written
    assert list(iter_events(path)) == events[:written]  # strict reading: a whole file


@pytest.mark.parametrize("gzip", [False, True], ids=["plain", "gzip"])
def test_a_recorder_on_a_full_disk_stops_recording_and_the_run_goes_on(
    tmp_path: Path, disk_with_room: Any, gzip: bool, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / ("t.ftrace.jsonl.gz" if gzip else "t.ftrace.jsonl")
    disk_with_room(8_000 if gzip else 60_000)
    recorder = Recorder(path, flush_interval=0)
    for event in _events(5000):
        recorder.on_event(event)
    recorder.on_event(FlowFinished(5000, 5000, "run-1", "flow", "completed", None, None, None))
    assert recorder.force_flush() is False  # the file could not take them all
    recorder.shutdown()
    assert recorder.write_error is not None and recorder.write_error.errno == errno.ENOSPC
    assert recorder.events_written + recorder.lost == 5001
    assert len(list(iter_events(path))) == recorder.events_written > 0
    warnings = [r for r in caplog.records if r.name == "flowtrace.record"]
    assert len(warnings) == 1 and "No space left on device" in warnings[0].getMessage()


def _run(*args: str) -> Any:
    return CliRunner().invoke(cli, ["run", *args], catch_exceptions=False)


@pytest.mark.parametrize("gzip", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("status", [0, 3])
def test_flowtrace_run_on_a_full_disk_says_incomplete_and_keeps_the_scripts_status(
    tmp_path: Path,
    disk_with_room: Any,
    monkeypatch: pytest.MonkeyPatch,
    gzip: bool,
    status: int,
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("job.py").write_text(SCRIPT)
    disk_with_room(20_000 if gzip else 150_000)
    target = "t.ftrace.jsonl.gz" if gzip else "t.ftrace.jsonl"
    result = _run("--record", target, "job.py", str(status))
    assert result.exit_code == status
    assert "sum 4498500" in result.stdout
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("flowtrace: trace INCOMPLETE (disk full): "), (
        result.stderr
    )
    written = int(lines[0].split(": ")[2].split()[0])
    assert 0 < written == len(read_trace(target).events)


# ----------------------------------------------------------------------------- tmpfs


@pytest.fixture
def tiny_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A real 64 KiB tmpfs (needs root and a kernel that lets this process mount)."""
    mount = tmp_path / "full"
    mount.mkdir()
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root and mount(8)")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], capture_output=True)


@pytest.mark.parametrize("gzip", [False, True], ids=["plain", "gzip"])
def test_flowtrace_run_on_a_real_full_tmpfs(tiny_tmpfs: Path, tmp_path: Path, gzip: bool) -> None:
    (tmp_path / "job.py").write_text(SCRIPT)
    target = tiny_tmpfs / ("t.ftrace.jsonl.gz" if gzip else "t.ftrace.jsonl")
    done = subprocess.run(
        [sys.executable, "-m", "flowtrace.cli", "run", "--record", str(target), "job.py", "5"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert done.returncode == 5, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("flowtrace: trace INCOMPLETE (disk full): "), done.stderr
    written = int(done.stderr.split(": ")[2].split()[0])
    assert len(read_trace(target).events) == written

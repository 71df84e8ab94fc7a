"""Getting a trace into replays: read a file chunk by chunk, or record a script first.

Reading is meant to run off the UI thread: :func:`load_into` feeds each chunk to the
per-run :class:`~flowtrace.replay.Replay` objects as it is read and reports progress,
so the debugger shows the start of a big trace while the rest still loads. A
:class:`Runs` made with ``feed_timelines=True`` also brings each run's
:class:`~flowtrace.tui.lanes.Timeline` up to date in the same pass, on the same
thread, so that the UI thread never has to build the lanes of a big trace.
"""

from __future__ import annotations

import operator
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flowtrace.events import Event
from flowtrace.replay import Replay, split_runs

from .lanes import Timeline

if TYPE_CHECKING:
    from flowtrace.tracefile import TraceReader

__all__ = ["Runs", "load_into", "record_script", "CHUNK", "FIRST_CHUNK"]

_RUN_ID = operator.attrgetter("run_id")

#: Events read before the replays are extended (and the UI told).
CHUNK = 20_000
#: The first chunk: enough to fill a screen.
FIRST_CHUNK = 2_000


@dataclass
class Runs:
    """The runs of one trace, in order of first appearance, each with its replay."""

    ids: list[str] = field(default_factory=list)
    replays: dict[str, Replay] = field(default_factory=dict)
    #: One line on what a lenient read skipped (``None``: the file was sound), and
    #: one ``FILE:LINE: reason`` line per skipped line listed.
    damage: str | None = None
    skipped: list[str] = field(default_factory=list)
    #: What a newer minor schema changed (its additions are ignored).
    notes: list[str] = field(default_factory=list)
    #: Per run: its timeline (made on first use, or by :meth:`add` when fed).
    timelines: dict[str, Timeline] = field(default_factory=dict)
    #: Whether :meth:`add` also updates each run's timeline (the thread adding the
    #: events builds the lanes; readers then never do).
    feed_timelines: bool = False

    def add(self, events: Sequence[Event], *, ordered: bool = False) -> None:
        """Append events of any runs (grouped by run, order kept within each run).
        ``ordered``: each run's events are known to come in seq order (the trace
        reader checks it), so a chunk of a single run needs no grouping."""
        groups: Sequence[tuple[str, Sequence[Event]]]
        if ordered and events and len(set(map(_RUN_ID, events))) == 1:
            groups = [(events[0].run_id, events)]
        else:
            groups = split_runs(events)
        for run_id, evs in groups:
            replay = self.replays.get(run_id)
            timeline = self.timelines.get(run_id)
            if replay is None:
                replay = Replay()
                if self.feed_timelines:
                    timeline = self.timelines[run_id] = Timeline()
                    timeline.fed = True
                self.replays[run_id] = replay
                self.ids.append(run_id)  # last: a reader on another thread sees it whole
            replay.extend(evs)
            if timeline is not None and timeline.fed:
                timeline.feed(replay, evs)

    def timeline(self, run_id: str) -> Timeline:
        """The timeline of run ``run_id`` (built once per run: switching back to a run
        costs nothing)."""
        timeline = self.timelines.get(run_id)
        if timeline is None:
            timeline = self.timelines[run_id] = Timeline()
        return timeline

    @classmethod
    def from_events(cls, events: Sequence[Event]) -> Runs:
        runs = cls()
        runs.add(events)
        return runs


def load_into(
    runs: Runs,
    path: str | os.PathLike[str],
    *,
    on_chunk: Callable[[float], None] | None = None,
    chunk: int = CHUNK,
    first_chunk: int = FIRST_CHUNK,
    helper: bool | None = None,
) -> None:
    """Read the trace at ``path`` into ``runs``, calling ``on_chunk(fraction_read)``
    after each chunk (the first one small, so that a viewer shows something at once).
    A damaged file is read leniently: each bad line is skipped (the reader checks
    seq order too, so every replay gets its events in order), and what was skipped is
    said in ``runs.damage`` and listed in ``runs.skipped``. Nothing is printed: the
    screen belongs to the viewer.

    ``helper``: read the file in a second process (:mod:`flowtrace.tui.readproc`)
    while this thread indexes, so that a big trace loads on two cores; by default for
    files of :data:`HELPER_BYTES` or more. The first chunk is read here all the same
    (a process takes a moment to start); a helper that cannot start, or dies, leaves
    the rest to this thread."""
    from flowtrace.tracefile import TraceReader

    if helper is None:
        try:
            helper = os.path.getsize(path) >= HELPER_BYTES
        except OSError:
            helper = False
    first = min(first_chunk, chunk)
    proc = _start_helper(path, first) if helper else None
    try:
        reader = TraceReader(path, lenient=True, warn=False)
        try:
            taken = _read_here(runs, reader, on_chunk, chunk, first, 0, proc is not None)
            if taken >= 0:  # all read here already (a small file)
                _stop(proc)
                proc = None
            if proc is None:
                _finish(runs, reader)
        finally:
            reader.close()
        if proc is not None:
            size = max(1, reader.size)
            if not _read_helper(proc, runs, on_chunk, chunk, size):
                # the helper died: read the rest here
                rest = TraceReader(path, lenient=True, warn=False)
                try:
                    _read_here(runs, rest, on_chunk, chunk, chunk, first, False)
                    _finish(runs, rest)
                finally:
                    rest.close()
    finally:
        _stop(proc)
    if on_chunk is not None:
        on_chunk(1.0)


#: A trace file this big is read by a helper process by default (a smaller one loads
#: in a second or two in one thread; a process takes ~0.1 s to start).
HELPER_BYTES = 16 << 20


def _read_here(
    runs: Runs,
    reader: TraceReader,
    on_chunk: Callable[[float], None] | None,
    chunk: int,
    limit: int,
    skip: int,
    first_only: bool,
) -> int:
    """Add the reader's events (after the first ``skip``) in chunks; with
    ``first_only``, stop after the first chunk of ``limit``. The events added, or -1
    when it stopped before the end."""
    buf: list[Event] = []
    added = 0
    for block, _numbers in reader.blocks():
        if skip:
            if len(block) <= skip:
                skip -= len(block)
                continue
            block, skip = block[skip:], 0
        if not buf and len(block) <= limit:
            buf = block
        else:
            buf.extend(block)
        while len(buf) >= limit:
            runs.add(buf[:limit] if len(buf) > limit else buf, ordered=True)
            added += limit
            buf = buf[limit:] if len(buf) > limit else []
            if on_chunk is not None:
                on_chunk(min(1.0, reader.position() / max(1, reader.size)))
            if first_only:
                return -1  # the rest is the helper's (it skips what was added here)
            limit = chunk
    if buf:
        runs.add(buf, ordered=True)
        added += len(buf)
    return added


def _finish(runs: Runs, reader: TraceReader) -> None:
    damage = reader.damage
    if damage is not None:
        runs.damage = damage.describe()
        runs.skipped = damage.listing(reader.path)
    runs.notes = list(reader.notes)


def _start_helper(path: str | os.PathLike[str], skip: int) -> subprocess.Popen[bytes] | None:
    import flowtrace

    root = os.path.dirname(os.path.dirname(os.path.abspath(flowtrace.__file__)))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    try:
        return subprocess.Popen(
            [*HELPER_COMMAND, os.fspath(path), str(skip)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
    except OSError:
        return None


#: How the helper is started (a test may put a failing command here).
HELPER_COMMAND: list[str] = [sys.executable, "-m", "flowtrace.tui.readproc"]


def _stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is not None:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def _read_helper(
    proc: subprocess.Popen[bytes],
    runs: Runs,
    on_chunk: Callable[[float], None] | None,
    chunk: int,
    size: int,
) -> bool:
    """Add the events the helper sends, in chunks; whether it got to the end (a
    reader's error it reports is raised here)."""
    import msgspec

    from flowtrace.events import AnyEvent

    from .readproc import HEAD

    decode = msgspec.msgpack.Decoder(list[AnyEvent]).decode
    stdout = proc.stdout
    assert stdout is not None
    # a thread drains the pipe as fast as the helper writes (a pipe holds 64 KB: read
    # only between two chunks, it would keep the helper waiting on this thread)
    frames: queue.SimpleQueue[tuple[bytes, int, bytes] | None] = queue.SimpleQueue()

    def drain() -> None:
        try:
            while True:
                head = stdout.read(HEAD.size)
                if len(head) < HEAD.size:
                    break
                tag, position, length = HEAD.unpack(head)
                payload = stdout.read(length)
                if len(payload) < length:
                    break
                frames.put((tag, position, payload))
                if tag != b"E":
                    break
        except (OSError, ValueError):  # closed under it: the load is over
            pass
        frames.put(None)

    threading.Thread(target=drain, name="flowtrace-tui-read", daemon=True).start()
    buf: list[Event] = []
    while True:
        frame = frames.get()
        if frame is None:
            return False
        tag, position, payload = frame
        if tag == b"E":
            buf.extend(decode(payload))
            if len(buf) >= chunk:
                runs.add(buf, ordered=True)
                buf = []
                if on_chunk is not None:
                    on_chunk(min(1.0, position / size))
        elif tag == b"D":
            if buf:
                runs.add(buf, ordered=True)
            end = msgspec.msgpack.decode(payload)
            runs.damage = end["damage"]
            runs.skipped = list(end["skipped"])
            runs.notes = list(end["notes"])
            return True
        else:
            name, message = msgspec.msgpack.decode(payload)
            raise RuntimeError(f"{name}: {message}")


def record_script(script: str, args: Sequence[str], output: str | None = None) -> str:
    """Run ``flowtrace run --record OUTPUT SCRIPT ARGS`` in a subprocess; return OUTPUT
    (by default ``SCRIPT-NAME.ftrace.jsonl`` in the current directory, as ``flowtrace
    run`` names it).

    A subprocess keeps the user's program (its threads, its exit, its output) out of
    the debugger's process. The script failing is not our failure: a run that raised
    still leaves a trace worth opening, so only a missing trace is an error.
    """
    from flowtrace.tracefile import default_trace_path

    path = output or default_trace_path(script)
    cmd = [sys.executable, "-m", "flowtrace.cli", "run", "--record", path, script, *args]
    subprocess.run(cmd, check=False)
    if not os.path.exists(path) or os.path.getsize(path) == 0:
        raise RuntimeError(f"recording {script} produced no trace at {path}")
    return path

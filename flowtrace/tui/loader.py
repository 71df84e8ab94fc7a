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
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from flowtrace.events import Event
from flowtrace.replay import Replay, split_runs

from .lanes import Timeline

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
) -> None:
    """Read the trace at ``path`` into ``runs``, calling ``on_chunk(fraction_read)``
    after each chunk (the first one small, so that a viewer shows something at once).
    A damaged file is read leniently: each bad line is skipped (the reader checks
    seq order too, so every replay gets its events in order), and what was skipped is
    said in ``runs.damage`` and listed in ``runs.skipped``. Nothing is printed: the
    screen belongs to the viewer."""
    from flowtrace.tracefile import TraceReader

    reader = TraceReader(path, lenient=True, warn=False)
    try:
        buf: list[Event] = []
        limit = min(first_chunk, chunk)
        for block, _numbers in reader.blocks():
            if not buf and len(block) <= limit:
                buf = block
            else:
                buf.extend(block)
            while len(buf) >= limit:
                runs.add(buf[:limit] if len(buf) > limit else buf, ordered=True)
                buf = buf[limit:] if len(buf) > limit else []
                limit = chunk
                if on_chunk is not None:
                    on_chunk(min(1.0, reader.position() / max(1, reader.size)))
        if buf:
            runs.add(buf, ordered=True)
        damage = reader.damage
        if damage is not None:
            runs.damage = damage.describe()
            runs.skipped = damage.listing(reader.path)
        runs.notes = list(reader.notes)
    finally:
        reader.close()
    if on_chunk is not None:
        on_chunk(1.0)


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

"""Following a trace that is still being written (``flowtrace tui --follow``, and
``flowtrace tui script.py``, which records and shows the run at once).

:class:`Tail` reads only complete lines: the writer appends one event per line, so a
line without its newline is an event still being written and is read on the next
poll. A line that does not decode is skipped and counted (a live view must not stop
at one bad line). Compressed traces cannot be followed (gzip has no complete-line
boundary a reader can trust mid-write); the CLI says so before the screen opens.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from flowtrace.eventjson import decode_line
from flowtrace.events import Event

__all__ = ["Tail", "LiveRecording", "start_recording", "POLL"]

#: Seconds between two looks at a followed file (new events show within a second).
POLL = 0.25


class Tail:
    """The events appended to a trace file since the last :meth:`poll`."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.offset = 0
        self.skipped = 0
        self._header_read = False

    def poll(self, limit: int = 20_000) -> list[Event]:
        """Decode the complete lines written since the last call (at most about
        ``limit`` events per call, so a big backlog arrives in chunks)."""
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read(max(1, limit) * 400)
        except OSError:
            return []
        cut = data.rfind(b"\n")
        if cut < 0:
            return []
        self.offset += cut + 1
        lines = data[:cut].split(b"\n")
        if not self._header_read:
            self._header_read = True
            lines = lines[1:]
        out: list[Event] = []
        for line in lines:
            if not line.strip():
                continue
            try:
                out.append(decode_line(line))
            except ValueError:  # EventDecodeError: a damaged line, counted; the view goes on
                self.skipped += 1
        return out

    def at_end(self) -> bool:
        """Whether everything written so far has been read."""
        try:
            return os.path.getsize(self.path) <= self.offset
        except OSError:
            return True


@dataclass
class LiveRecording:
    """A ``flowtrace run --record`` subprocess whose trace the debugger follows."""

    process: subprocess.Popen[bytes]
    path: str
    output: str  # the script's stdout and stderr, shown after the debugger closes
    created: bool  # the trace file did not exist before (removed if nothing ran)
    errors: list[str] = field(default_factory=list)

    def finished(self) -> bool:
        return self.process.poll() is not None

    def script_output(self) -> str:
        try:
            with open(self.output, encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def cleanup(self) -> None:
        with contextlib.suppress(OSError):
            os.unlink(self.output)


def _identity(path: str) -> tuple[int, int, int] | None:
    """(inode, modification time, size) of ``path``, ``None`` when it does not exist."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


def _has_event(path: str) -> bool:
    """Whether the trace at ``path`` holds a header and at least one event line."""
    try:
        with open(path, "rb") as f:
            data = f.read(1 << 16)
    except OSError:
        return False
    return data.count(b"\n") >= 2


_WHERE = re.compile(r'File "([^"]+)", line (\d+)')


def _last_error_line(text: str) -> str:
    """The script's last line of output (its exception, normally), with the place in
    the user's code the traceback names last (flowtrace's own frames left out)."""
    lines = [
        ln.strip()
        for ln in text.splitlines()
        if ln.strip() and not ln.startswith("flowtrace: trace written")
    ]
    if not lines:
        return "it printed nothing"
    where = ""
    for m in _WHERE.finditer(text):
        path = m.group(1)
        if not path.startswith("<") and os.sep + "flowtrace" + os.sep not in path:
            where = f" at {os.path.relpath(path)}, line {m.group(2)}"
    return lines[-1] + where


def start_recording(
    script: str, args: Sequence[str], path: str, timeout: float = 60.0
) -> LiveRecording:
    """Start recording ``script`` into ``path`` and wait until the run has written its
    first event — or until the script ended without one, which raises
    ``RuntimeError`` with a one-line reason (and removes a trace file this call
    created), so that the debugger never opens on a run that cannot be shown."""
    created = not os.path.exists(path)
    stale = _identity(path)  # a trace left by an earlier run must not be taken for this one
    fd, output = tempfile.mkstemp(prefix="flowtrace-tui-", suffix=".log")
    cmd = [sys.executable, "-m", "flowtrace.cli", "run", "--record", path, script, *args]
    with os.fdopen(fd, "wb") as out:
        process = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    live = LiveRecording(process, path, output, created)
    deadline = time.monotonic() + timeout
    while not (_identity(path) != stale and _has_event(path)):
        if live.finished() or time.monotonic() > deadline:
            if not live.finished():
                process.kill()
                process.wait()
                why = f"it wrote no event within {timeout:g}s"
            elif process.returncode == 0:
                why = "it ended (exit status 0) without running a flow"
            else:
                why = f"{_last_error_line(live.script_output())} (exit status {process.returncode})"
            if created:
                with contextlib.suppress(OSError):
                    os.unlink(path)
            live.cleanup()
            raise RuntimeError(f"{script} did not run a flow: {why}")
        time.sleep(0.05)
    return live

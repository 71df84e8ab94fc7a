"""Runs every reader of flowtrace over corpus files and judges how each one ended.

Run as a script, in a subprocess with a memory limit (the test sets ``RLIMIT_AS``)::

    python driver.py MANIFEST.json READER [READER...]

MANIFEST lists the cases (``name``, ``path``, ``sound``). Each (case, reader) pair runs
in this process under a time limit (``SIGALRM``) and prints one JSON line: the reader,
the case, ``ok`` and, when not ok, ``why``. A pair is ok when it ends in a clear
one-line error or a result, never an exception (a traceback), never with a control
character from the trace on the terminal, and within the time limit.

Readers: the commands ``show``, ``show --lenient``, ``export --to chrome``, ``export
--to jaeger-json``, ``tui --summary``, and ``api``: the Python reader (strict and
lenient), the summary, and the debugger's loader, replays and text views.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import resource
import signal
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

#: Seconds one reader may spend on one file.
TIME_LIMIT = 20
#: Characters that must never reach a terminal: C0 controls but newline and tab, DEL,
#: C1 controls, lone surrogates, and bidirectional/zero-width format characters.
UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\u200b-\u200f\u202a-\u202e\u2066-\u2069]"
)


class Timeout(Exception):
    pass


def _alarm(_signum: int, _frame: Any) -> None:
    raise Timeout


def run_cli(args: list[str]) -> tuple[int, str, str]:
    """``flowtrace ARGS`` in this process: exit status, stdout, stderr. An exception
    escaping the command propagates (it would be a traceback)."""
    from flowtrace.cli import cli

    out, err = io.StringIO(), io.StringIO()
    code: Any = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            cli.main(args, prog_name="flowtrace", standalone_mode=True)
        except SystemExit as exc:
            code = exc.code
    return (code if isinstance(code, int) else 1), out.getvalue(), err.getvalue()


def judge_cli(code: int, out: str, err: str, *, must_succeed: bool, lenient: bool) -> str | None:
    """Why a command's ending is wrong, or ``None``. A lenient reader may refuse only
    a file whose header (line 1) it cannot read."""
    bad = UNSAFE.search(out + err)
    if bad:
        return f"unsafe character {bad.group()!r} in the output"
    lines = err.splitlines()
    if "Traceback" in err or any("Warning:" in line for line in lines):
        return f"raw traceback or warning on stderr: {err[:300]!r}"
    others = [line for line in lines if not line.startswith("flowtrace: ")]
    if code == 0:
        return f"stderr says more than flowtrace lines: {others[:3]!r}" if others else None
    if must_succeed:
        return f"exit {code} on a sound file: {err[:300]!r}"
    if code != 1:
        return f"exit status {code}: {err[:300]!r}"
    if len(others) != 1 or not others[0].startswith("Error: "):
        return f"not a one-line error: {err[:300]!r}"
    if lenient and ":1: " not in others[0]:
        return f"a lenient reader refused the file past its header: {others[0][:300]!r}"
    return None


def _check_text(text: Any, where: str) -> None:
    plain = text.plain if hasattr(text, "plain") else str(text)
    bad = UNSAFE.search(plain)
    if bad:
        raise AssertionError(f"{where} shows {bad.group()!r}")


def run_api(path: str, sound: bool) -> str | None:
    """The Python reader, strict and lenient, the summary, and the TUI's loader,
    replays and text views over every event."""
    from flowtrace.summary import summarize_file
    from flowtrace.tracefile import TraceFormatError, read_trace
    from flowtrace.tui.loader import Runs, load_into
    from flowtrace.tui.render import (
        event_details,
        event_row_text,
        graph_lines,
        node_details,
        node_table,
    )

    try:
        read_trace(path, warn=False)
    except TraceFormatError as exc:
        if sound:
            return f"strict read refused a sound file: {exc}"
        if "\n" in str(exc):
            return f"error of more than one line: {exc!r}"
    try:
        trace = read_trace(path, lenient=True, warn=False)
    except TraceFormatError as exc:
        if exc.line != 1:
            return f"lenient read raised for line {exc.line}: {exc}"
        return None  # not a trace at all: nothing more to read
    for run in trace.runs.values():
        seqs = [e.seq for e in run.events]
        if seqs != sorted(set(seqs)):
            return f"run {run.run_id!r}: seqs out of order after a lenient read"
    summarize_file(path, lenient=True, warn=False)
    runs = Runs()
    load_into(runs, path)
    for run_id in runs.ids:
        replay = runs.replays[run_id]
        if not len(replay):
            continue
        for pos in range(len(replay)):
            event = replay.event_at(pos)
            _check_text(event_row_text(event, 120, node=replay.node_of(event)), "a log row")
        step = max(1, len(replay) // 40)
        for pos in [*range(0, len(replay), step), len(replay) - 1]:
            seq = replay.seq_at(pos)
            state = replay.state_at(seq)
            _check_text(event_details(replay, replay.event(seq)), "the inspector")
            table = node_table(state, None)
            for column in table.columns:
                for cell in column.cells:
                    _check_text(cell, "the node table")
            for line in graph_lines(state, None):
                _check_text(line, "the graph")
            for node_id in state.order:
                _check_text(node_details(replay, state, node_id), "the node inspector")
    return None


READERS: dict[str, Callable[[str, str, bool], str | None]] = {}


def _cli_reader(name: str, make: Callable[[str, str], list[str]], lenient: bool) -> None:
    def reader(path: str, out: str, sound: bool) -> str | None:
        code, stdout, stderr = run_cli(make(path, out))
        return judge_cli(code, stdout, stderr, must_succeed=sound, lenient=lenient)

    READERS[name] = reader


_cli_reader("show", lambda p, o: ["show", p], False)
_cli_reader("show-lenient", lambda p, o: ["show", "--lenient", p], True)
_cli_reader("export-chrome", lambda p, o: ["export", p, "--to", "chrome", o], True)
_cli_reader("export-jaeger", lambda p, o: ["export", p, "--to", "jaeger-json", o], True)
_cli_reader("tui-summary", lambda p, o: ["tui", "--summary", p], True)
READERS["api"] = lambda path, out, sound: run_api(path, sound)


def main(argv: list[str]) -> int:
    manifest, *names = argv
    with open(manifest, encoding="utf-8") as f:
        cases = json.load(f)
    signal.signal(signal.SIGALRM, _alarm)
    for case in cases:
        for name in names:
            out = os.path.join(os.path.dirname(manifest), f"out-{case['name']}-{name}.json")
            started = time.perf_counter()
            signal.alarm(TIME_LIMIT)
            try:
                why = READERS[name](case["path"], out, case["sound"])
            except Timeout:
                why = f"took more than {TIME_LIMIT} s"
            except BaseException as exc:  # every escape is a finding
                tb = traceback.format_exception(exc)
                why = f"raised {type(exc).__name__}: {str(exc)[:200]} | {''.join(tb[-3:])[-600:]}"
            finally:
                signal.alarm(0)
            with contextlib.suppress(OSError):
                os.unlink(out)
            print(
                json.dumps(
                    {
                        "reader": name,
                        "case": case["name"],
                        "ok": why is None,
                        "why": why,
                        "s": round(time.perf_counter() - started, 3),
                    }
                ),
                flush=True,
            )
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"peak_rss_kb": usage.ru_maxrss, "cpu_s": usage.ru_utime + usage.ru_stime}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""``flowtrace run SCRIPT [ARGS...]``: run a script unchanged, with every flow traced.

The script runs in this process exactly as ``python SCRIPT ARGS...`` would run it
(``runpy``, ``__name__ == "__main__"``, ``sys.argv`` = the script and its arguments,
its directory first on ``sys.path``), with the recorder installed as the process
default instrument, so every flow and event loop it starts is recorded without editing
it. The exit status is the script's.

Other instruments (live OpenTelemetry export, …) plug in through
:func:`build_instruments`: their command-line options decorate :func:`run` (values land
in :attr:`RunOptions.extra` by parameter name), and an entry in
:data:`INSTRUMENT_FACTORIES` turns the options into instruments (``[]`` when its options
are absent). See docs/DESIGN.md §12.
"""

from __future__ import annotations

import errno
import os
import runpy
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import click

from flowtrace._cli.otel_options import otel_instruments, otlp_run_options
from flowtrace.codec import exception_traceback

if TYPE_CHECKING:
    from flowtrace.record import Recorder

__all__ = [
    "run",
    "RunOptions",
    "build_instruments",
    "INSTRUMENT_FACTORIES",
    "run_script",
]


@dataclass
class RunOptions:
    """Everything ``flowtrace run`` was asked for. ``extra`` holds the parameters of
    options added by other tools (by click parameter name)."""

    script: str
    args: tuple[str, ...] = ()
    record: str | None = None
    gzip: bool = False
    no_values: bool = False
    redact: tuple[str, ...] = ()
    max_repr: int = 200
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def trace_path(self) -> str:
        from flowtrace.tracefile import default_trace_path

        if self.record is not None:
            return self.record
        return default_trace_path(self.script, compress=self.gzip)


InstrumentFactory = Callable[[RunOptions], Sequence[Any]]

#: Called in order by :func:`build_instruments`; each returns zero or more instruments
#: for the given options (an OTLP exporter when ``--otlp`` was given, …).
INSTRUMENT_FACTORIES: list[InstrumentFactory] = [otel_instruments]


def _recorder(options: RunOptions) -> list[Any]:
    from flowtrace.record import Recorder

    recorder = Recorder(
        options.trace_path,
        gzip=options.gzip or options.trace_path.endswith(".gz"),
        max_repr=options.max_repr,
        include_values=not options.no_values,
        redact_patterns=options.redact,
        argv=[options.script, *options.args],
    )
    recorder.log_write_errors = False  # said once, at the end (see _report)
    return [recorder]


def build_instruments(options: RunOptions) -> list[Any]:
    """The instruments for a ``flowtrace run``: the recorder first (its value codec is
    the one the runs adopt), then whatever :data:`INSTRUMENT_FACTORIES` add."""
    instruments = _recorder(options)
    for factory in INSTRUMENT_FACTORIES:
        instruments.extend(factory(options))
    return instruments


def run_script(script: str, args: Sequence[str]) -> int:
    """Run ``script`` as ``__main__`` with ``args``; return its exit status.

    An exception escaping the script is printed (without this runner's own frames) and
    gives status 1; ``KeyboardInterrupt`` gives 130; ``SystemExit`` gives its code.
    """
    path = os.path.abspath(script)
    saved_argv, saved_path = sys.argv[:], sys.path[:]
    sys.argv = [script, *args]
    sys.path.insert(0, os.path.dirname(path))
    try:
        runpy.run_path(path, run_name="__main__")
        return 0
    except SystemExit as exc:
        return _exit_status(exc.code)
    except KeyboardInterrupt:
        click.echo("flowtrace: interrupted", err=True)
        return 130
    except BaseException as exc:
        _print_user_traceback(exc, path)
        return 1
    finally:
        sys.argv, sys.path[:] = saved_argv, saved_path
        sys.stdout.flush()


def _exit_status(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    click.echo(str(code), err=True)
    return 1


def _print_user_traceback(exc: BaseException, script_path: str) -> None:
    """Print the traceback from the first frame of the user's code (as python would)."""
    tb = exc.__traceback__
    while tb is not None and os.path.abspath(tb.tb_frame.f_code.co_filename) != script_path:
        tb = tb.tb_next
    sys.stderr.write(exception_traceback(exc, tb if tb is not None else exc.__traceback__))
    sys.stderr.flush()


def _report(recorder: Recorder) -> str:
    """The closing line about the trace file: where it is and what it holds, or that
    it is incomplete and why (a full disk is said in those words)."""
    written = recorder.events_written
    error = recorder.write_error
    if error is not None:
        why = (
            "disk full"
            if error.errno in (errno.ENOSPC, errno.EDQUOT)
            else error.strerror or type(error).__name__
        )
        lost = recorder.lost
        return (
            f"flowtrace: trace INCOMPLETE ({why}): {written} events written to "
            f"{recorder.path}{f', {lost} not written' if lost else ''}"
        )
    runs = len(recorder.run_ids)
    return (
        f"flowtrace: trace written to {recorder.path} ({runs} run"
        f"{'' if runs == 1 else 's'}, {written} events)"
    )


def _warn_misplaced_options(ctx: click.Context, args: Sequence[str]) -> None:
    """Everything after SCRIPT is the script's; say so when that looks like a slip (a
    flowtrace option written after the script is silently the script's argument)."""
    ours = {name for param in ctx.command.params for name in param.opts if name.startswith("--")}
    for arg in args:
        if arg == "--":
            return
        name = arg.split("=", 1)[0]
        if name in ours:
            click.echo(
                f"flowtrace: note: {name} comes after the script, so it is passed to the "
                f"script; flowtrace's own options go before SCRIPT "
                f"(flowtrace run {name} ... SCRIPT)",
                err=True,
            )


@click.command(
    name="run",
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
)
@click.option(
    "--record",
    "record",
    metavar="FILE",
    type=click.Path(dir_okay=False, writable=True),
    help="Where to write the trace (default: SCRIPT-NAME.ftrace.jsonl in the current "
    "directory). A .gz suffix compresses it.",
)
@click.option("--gzip", "gzip_", is_flag=True, help="Compress the default trace file.")
@click.option(
    "--no-values",
    is_flag=True,
    help="Record no values and no error text: inputs, outputs, stream items, defaults "
    'and results become {"$omitted": true}; an exception keeps only its type (no '
    "message, no traceback). Kept: the graph (node ids, labels, ports), statuses, "
    "timing, task and thread names, wait descriptions and the command line. Applies to "
    "--otlp too.",
)
@click.option(
    "--redact",
    metavar="PATTERN",
    multiple=True,
    help="Regular expression whose matches are removed before any instrument sees an "
    "event (the trace file and --otlp alike): from values and dict keys (a dict entry "
    "whose key matches loses its whole value), exception messages and tracebacks, "
    "wait descriptions, task names and the recorded command line. Node ids and labels "
    "are kept. Repeatable.",
)
@click.option(
    "--max-repr",
    type=click.IntRange(min=8),
    default=200,
    show_default=True,
    metavar="N",
    help="Cap on the recorded text of any one value (longer ones are marked truncated).",
)
@otlp_run_options
@click.argument("script", type=click.Path(exists=True, dir_okay=True))
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def run(
    ctx: click.Context,
    /,
    record: str | None,
    gzip_: bool,
    no_values: bool,
    redact: tuple[str, ...],
    max_repr: int,
    script: str,
    args: tuple[str, ...],
    **extra: Any,
) -> None:
    """Run SCRIPT (with its ARGS) with every flow in it traced to a file.

    The script runs unchanged, as `python SCRIPT ARGS...` would run it; flowtrace's
    options go before SCRIPT, everything after it is the script's. When it ends, the
    trace file's name is printed (on stderr) and the script's exit status is returned.
    Read the trace with `flowtrace show FILE` or `flowtrace tui FILE`.
    """
    import re

    from flowtrace.instrument import (
        add_default_instrument,
        remove_default_instrument,
        shutdown_instrument,
    )
    from flowtrace.record import Recorder

    _warn_misplaced_options(ctx, args)

    for pattern in redact:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise click.BadParameter(
                f"{pattern!r} is not a valid regular expression: {exc}", param_hint="--redact"
            ) from None
    options = RunOptions(
        script=script,
        args=args,
        record=record,
        gzip=gzip_,
        no_values=no_values,
        redact=redact,
        max_repr=max_repr,
        extra=extra,
    )
    try:
        instruments = build_instruments(options)
    except OSError as exc:
        raise click.ClickException(f"cannot write the trace: {exc}") from None
    for instrument in instruments:
        add_default_instrument(instrument)
    try:
        status = run_script(script, args)
    finally:
        for instrument in reversed(instruments):
            remove_default_instrument(instrument)
            shutdown_instrument(instrument)
    for instrument in instruments:
        if isinstance(instrument, Recorder):
            click.echo(_report(instrument), err=True)
    ctx.exit(status)

"""``flowtrace tui TARGET [ARGS]...``: open the time-travel debugger.

TARGET is a trace file, or a Python script (or package directory) that is recorded
first with ``flowtrace run`` and then opened. Textual is imported only when the app
starts; without a terminal (output piped, CI) the command prints the trace's summary
instead of starting a full-screen app.
"""

from __future__ import annotations

import os
import sys

import click

__all__ = ["tui", "is_script"]


def _is_gzip(path: str) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == b"\x1f\x8b"


def is_script(target: str) -> bool:
    """A ``.py`` file (or a package directory with a ``__main__.py``) is run and
    recorded; anything else is a trace."""
    if os.path.isdir(target):
        return os.path.isfile(os.path.join(target, "__main__.py"))
    return target.endswith((".py", ".pyw"))


def _print_summary(path: str) -> None:
    from flowtrace._cli.show import console, load_summary, render_summary

    out = console()
    for part in render_summary(load_summary(path, lenient=True)):
        out.print(part)


def _against_after_target(
    against: str | None, args: tuple[str, ...]
) -> tuple[str | None, tuple[str, ...]]:
    """``flowtrace tui A --against B``: after a trace file (not a script, whose own
    arguments follow it), ``--against`` may come after TARGET."""
    if len(args) == 2 and args[0] == "--against" and against is None:
        against, args = args[1], ()
    elif len(args) == 1 and args[0].startswith("--against=") and against is None:
        against, args = args[0].split("=", 1)[1], ()
    if against is not None and not os.path.isfile(against):
        raise click.BadParameter(f"{against!r} is not a file", param_hint="'--against'")
    return against, args


def _print_comparison(a: str, b: str) -> None:
    from rich.console import Console

    from flowtrace._cli.diff import render_report
    from flowtrace.tui.against import compare_files

    console = Console(highlight=False)
    for part in render_report(compare_files(a, b)):
        console.print(part)


@click.command(
    name="tui",
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
)
@click.option(
    "--record",
    "record",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="When TARGET is a script: where to write its trace (default: "
    "SCRIPT-NAME.ftrace.jsonl in the current directory).",
)
@click.option(
    "--summary", is_flag=True, help="Print the trace's summary instead of opening the debugger."
)
@click.option(
    "--follow",
    is_flag=True,
    help="Follow a trace that is still being written: new events appear as "
    "they are written (the cursor follows them when it is at the end).",
)
@click.option(
    "--after",
    is_flag=True,
    help="When TARGET is a script: record the whole run first, then open it "
    "(default: show the run while it runs).",
)
@click.option(
    "--against",
    metavar="TRACE",
    type=click.Path(exists=True, dir_okay=False),
    help="A second trace: open at the first place where the two runs differ "
    "(v / V: next / previous divergence, a: show the other run).",
)
@click.argument("target", type=click.Path(exists=True))
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def tui(
    record: str | None,
    summary: bool,
    follow: bool,
    after: bool,
    against: str | None,
    target: str,
    args: tuple[str, ...],
) -> None:
    """Open the time-travel debugger on TARGET: a trace file, or a script (with its
    ARGS) that is recorded first.

    Press ? in the debugger for every key. Without a terminal, prints the summary
    that `flowtrace show` prints.
    """
    from flowtrace.safetext import printable
    from flowtrace.tracefile import TraceFormatError, TraceReader

    if os.path.isdir(target) and not is_script(target):
        raise click.ClickException(
            f"{target} is a directory: give a trace file, a .py script, or a package "
            "directory with a __main__.py"
        )
    live = None
    interactive = sys.stdout.isatty() and sys.stdin.isatty()
    if is_script(target):
        from flowtrace.tracefile import default_trace_path
        from flowtrace.tui.follow import start_recording

        if follow:
            raise click.UsageError(
                "--follow reads a trace file; a script is shown while it runs anyway"
            )
        path = record or default_trace_path(target)
        try:
            live = start_recording(target, args, path)
        except RuntimeError as exc:
            raise click.ClickException(str(exc)) from None
        if after or summary or not interactive or path.endswith(".gz"):
            # a compressed trace cannot be followed: the whole run first, then the screen
            live.process.wait()
            output = live.script_output()
            live.cleanup()
            live = None
            click.echo(output, err=True, nl=False)
        click.echo(f"flowtrace: opening {path}", err=True)
    else:
        against, args = _against_after_target(against, args)
        if args:
            raise click.UsageError("extra arguments are only allowed after a script")
        path = target
    notes: list[str] = []
    compressed = False
    for checked in (path, against):
        if checked is None:
            continue
        try:
            reader = TraceReader(checked, lenient=True, warn=False)  # a non-trace: one line
            reader.close()
        except TraceFormatError as exc:
            raise click.ClickException(printable(str(exc), multiline=False)) from None
        except OSError as exc:
            raise click.ClickException(f"cannot read {checked}: {exc.strerror or exc}") from None
        notes.extend(reader.notes)
        compressed = compressed or (checked == path and _is_gzip(path))
    if follow and compressed:
        raise click.ClickException(
            f"{path} is compressed: --follow reads an uncompressed trace (.ftrace.jsonl)"
        )
    if summary or not interactive:
        if not summary:
            what = "comparison" if against is not None else "summary"
            click.echo(
                f"flowtrace tui: not a terminal, printing the {what} instead "
                f"(run `flowtrace tui {path}` in a terminal to debug)",
                err=True,
            )
        if against is not None:
            _print_comparison(path, against)
        else:
            _print_summary(path)
        return
    from flowtrace._extras import MissingExtraError, require_extra

    try:
        require_extra("tui", "the debugger (flowtrace tui)")
    except MissingExtraError as exc:
        raise click.ClickException(str(exc)) from None
    for note in notes:
        click.echo(f"flowtrace: warning: {printable(note, multiline=False)}", err=True)
    from flowtrace.tui.app import ReplayApp

    try:
        ReplayApp(
            path=path, name=os.path.basename(path), against=against, follow=follow, live=live
        ).run()
    finally:
        if live is not None:
            if not live.finished():
                live.process.terminate()
                live.process.wait()
            output = live.script_output()
            live.cleanup()
            if output:
                click.echo(f"flowtrace: the output of {target}:", err=True)
                click.echo(output, err=True, nl=False)

"""The ``flowtrace`` command line: ``run``, ``show``, ``tui``, ``export``, ``diff``,
``demo``.

Each subcommand lives in its own module under :mod:`flowtrace._cli` and is imported
only when used, so ``flowtrace --help`` stays fast and ``flowtrace show`` never loads
Textual or OpenTelemetry.
"""

from __future__ import annotations

import importlib

import click

__all__ = ["main"]

#: subcommand name -> (module, attribute) of its click command.
_COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("flowtrace._cli.run", "run"),
    "show": ("flowtrace._cli.show", "show"),
    "tui": ("flowtrace._cli.tui", "tui"),
    "export": ("flowtrace._cli.export", "export"),
    "diff": ("flowtrace._cli.diff", "diff"),
    "demo": ("flowtrace._cli.demo", "demo"),
}

_HELP = {
    "run": "Run a Python script with every flow in it traced to a file.",
    "show": "Print a summary of a recorded trace.",
    "tui": "Open the time-travel debugger on a trace (or record a script first).",
    "export": "Export a trace to OTLP, Jaeger JSON or Chrome/Perfetto format.",
    "diff": "Compare two runs: where they part ways, and what differs.",
    "demo": "Record the bundled demo flow and open it in the debugger.",
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = _COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise

            @click.command(name=cmd_name, help=_HELP[cmd_name])
            def missing() -> None:
                raise click.ClickException(f"'flowtrace {cmd_name}' is not available yet")

            return missing
        command: click.Command = getattr(module, attr)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, _HELP[name]) for name in _COMMANDS]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="flowtrace")
def cli() -> None:
    """flowtrace: a tracing-first dataflow engine and its debugging toolkit."""


def main() -> None:
    """Entry point of the ``flowtrace`` console script."""
    cli()


if __name__ == "__main__":
    main()

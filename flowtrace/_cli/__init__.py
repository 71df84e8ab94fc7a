"""The ``flowtrace`` subcommands, one module each, imported lazily by
:mod:`flowtrace.cli` so that running one never pays for the others' dependencies."""

__all__: list[str] = []

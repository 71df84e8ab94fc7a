"""Flowno-compatible import paths (``flowno.core…`` → ``flowtrace.core…``).

These modules only re-export names from flowtrace's own layout (``flowtrace.engine``),
so a Flowno program keeps working after replacing ``flowno`` by ``flowtrace`` in its
imports.
"""

__all__: list[str] = []

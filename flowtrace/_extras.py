"""Optional dependencies: which extra brings what, and one clear error when it is missing.

``pip install flowtrace`` gives the engine, the recorder, the reader, ``show`` and the file
exports. The debugger needs Textual (``flowtrace[tui]``) and OTLP needs the OpenTelemetry
SDK and exporters (``flowtrace[otel]``); a command that needs a missing extra says exactly
what to install instead of failing with an ``ImportError`` deep in a library.
"""

from __future__ import annotations

import importlib.util

__all__ = ["EXTRAS", "MissingExtraError", "missing_modules", "require_extra"]

#: extra name -> the top-level modules it must make importable.
EXTRAS: dict[str, tuple[str, ...]] = {
    "tui": ("textual",),
    "otel": ("opentelemetry.sdk", "opentelemetry.exporter.otlp"),
}


class MissingExtraError(ImportError):
    """A feature was used whose optional dependencies are not installed."""


def missing_modules(extra: str) -> list[str]:
    """The modules of ``extra`` that cannot be imported here (empty when all are present)."""
    missing: list[str] = []
    for module in EXTRAS[extra]:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(module)
    return missing


def require_extra(extra: str, feature: str) -> None:
    """Raise :class:`MissingExtraError` naming the pip command when ``extra`` is missing."""
    missing = missing_modules(extra)
    if missing:
        raise MissingExtraError(
            f"{feature} needs the optional '{extra}' dependencies "
            f"({', '.join(missing)} not installed): pip install 'flowtrace[{extra}]'"
        )

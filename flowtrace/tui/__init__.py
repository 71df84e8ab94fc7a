"""The ``flowtrace tui`` time-travel debugger (Textual).

Lazy (PEP 562): :mod:`flowtrace.tui.loader` and :mod:`flowtrace.tui.navigator` work
without Textual, so recording a script for the debugger or printing its summary does not
need the ``tui`` extra; :class:`ReplayApp` loads Textual on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import ReplayApp
    from .loader import Runs, load_into, record_script
    from .navigator import Navigator, Query, parse_query

_HOMES = {
    "ReplayApp": ".app",
    "Runs": ".loader",
    "load_into": ".loader",
    "record_script": ".loader",
    "Navigator": ".navigator",
    "Query": ".navigator",
    "parse_query": ".navigator",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'flowtrace.tui' has no attribute {name!r}")
    value = getattr(importlib.import_module(home, __name__), name)
    globals()[name] = value
    return value


__all__ = ["ReplayApp", "Runs", "load_into", "record_script", "Navigator", "Query", "parse_query"]

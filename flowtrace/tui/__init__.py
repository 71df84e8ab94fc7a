"""The ``flowtrace tui`` time-travel debugger (Textual). Importing this package loads
Textual; ``import flowtrace`` never does."""

from __future__ import annotations

from .app import ReplayApp
from .loader import Runs, load_into, record_script
from .navigator import Navigator, Query, parse_query

__all__ = ["ReplayApp", "Runs", "load_into", "record_script", "Navigator", "Query",
           "parse_query"]

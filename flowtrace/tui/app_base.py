"""What the debugger app's parts share: its settings and, for the type checker, the
attributes and hooks each part uses of the others.

:class:`~flowtrace.tui.app.ReplayApp` is put together from parts by job — the
screen, its panes and their painting (:mod:`flowtrace.tui.app`), loading and
following a trace (:mod:`flowtrace.tui.app_loading`), the actions keys run
(:mod:`flowtrace.tui.app_actions`) — each a class over :class:`AppBase`, which only
declares what they share.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import App
from textual.timer import Timer

from .against import Comparison
from .follow import LiveRecording
from .loader import Runs
from .navigator import Navigator, Query
from .sidecar import RunMarks

__all__ = ["AppBase", "SPEEDS", "COMPACT_WIDTH", "COMPACT_HEIGHT", "SIDE_PANES"]

#: Below this many columns or rows the screen shows the log and one other pane.
COMPACT_WIDTH = 120
COMPACT_HEIGHT = 30
#: The panes ``v`` cycles through (in the compact layout: the one shown under the log).
SIDE_PANES = ("inspector", "nodes", "graph-box", "timeline")

#: Play speeds, events per second.
SPEEDS = (1, 2, 5, 10, 20, 50, 100, 200, 500)


class AppBase(App[None]):
    """The debugger's state (set in ``ReplayApp.__init__``) and the hooks its parts
    call across modules."""

    keep_marks: bool
    kept: dict[str, RunMarks]
    _restored: set[str]
    against: str | None
    comparison: Comparison | None
    follow: bool
    live: LiveRecording | None
    _stop_follow: threading.Event
    _seen_last: int | None
    runs: Runs
    _first_shown: threading.Event
    first_shown_at: float | None
    path: str | None
    trace_name: str
    debounce: float
    run_index: int
    nav: Navigator | None
    loading: float | None
    load_error: str | None
    following: bool
    stale: str | None
    copied: str | None
    paints: int
    playing: bool
    speed: int
    last_diff: Text | None
    scanning: bool
    side: str
    stop_at_errors: bool
    _errors_cache: tuple[int, frozenset[int]]
    compact: bool
    show_timeline: bool
    _painted_cursor: int | None
    _last_paint: float
    _paint_timer: Timer | None
    _play_timer: Timer | None

    if TYPE_CHECKING:  # defined by the parts

        def request_paint(self) -> None: ...
        def paint_now(self) -> None: ...
        def _paint_progress(self) -> None: ...
        def open_run(self, index: int) -> None: ...
        def _with_nav(self, fn: Callable[[Navigator], object]) -> None: ...
        def _scan(self, query: Query, done: Callable[[list[int]], None]) -> None: ...

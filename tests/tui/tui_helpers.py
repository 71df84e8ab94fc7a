"""Helpers shared by the debugger's tests (a module of its own: ``conftest`` is a name
several test folders use)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from flowtrace.tui import ReplayApp
from flowtrace.tui.navigator import Navigator

#: Every app test runs at this terminal size, so screens (and snapshots) are stable.
SIZE = (120, 40)


def run_async(fn: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run an async test body (no pytest-asyncio needed)."""
    asyncio.run(fn())


def nav(app: ReplayApp) -> Navigator:
    """The app's navigator, which exists once the app is mounted (``app.nav`` is
    ``None`` before that: a test reading it earlier fails here, by name)."""
    assert app.nav is not None, "the app has no navigator yet (not mounted?)"
    return app.nav

"""Helpers shared by the debugger's tests (a module of its own: ``conftest`` is a name
several test folders use)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

#: Every app test runs at this terminal size, so screens (and snapshots) are stable.
SIZE = (120, 40)


def run_async(fn: Callable[[], Awaitable[None]]) -> None:
    """Run an async test body (no pytest-asyncio needed)."""
    asyncio.run(fn())  # type: ignore[arg-type]

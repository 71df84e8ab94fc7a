"""What the event-loop tests share: a runner on a virtual clock (sleeps take no time),
and the event :class:`Collector` of ``tests/_events.py``.

``tests/`` is put on ``sys.path`` here too, for ``test_loop_events.py`` run as a script.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.append(str(Path(__file__).resolve().parent.parent))

from _events import Collector

from flowtrace import EventLoop

__all__ = ["Collector", "outcome_in_daemon_thread", "run"]


def run(root: Any, **kwargs: Any) -> Any:
    """Run ``root`` to completion on a fresh virtual-time loop; its result, or raise
    its exception."""
    return EventLoop(virtual_time=True).run_until_complete(root, join=True, **kwargs)


def outcome_in_daemon_thread(work: Callable[[], Any], bound: float = 10.0) -> Any:
    """Run ``work`` in a daemon thread; what it returned or raised. Fails (instead of
    hanging the suite) when it does not end within ``bound`` seconds: for tests of
    runs that used to hang."""
    box: list[Any] = []

    def target() -> None:
        try:
            box.append(work())
        except BaseException as exc:  # the outcome under test
            box.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(bound)
    assert not thread.is_alive(), f"still running after {bound} s: a silent hang"
    return box[0]

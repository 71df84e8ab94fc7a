"""What the event-loop tests share: a runner on a virtual clock (sleeps take no time),
and the event :class:`Collector` of ``tests/_events.py``.

``tests/`` is put on ``sys.path`` here too, for ``test_loop_events.py`` run as a script.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.append(str(Path(__file__).resolve().parent.parent))

from _events import Collector

from flowtrace import EventLoop

__all__ = ["Collector", "run"]


def run(root: Any, **kwargs: Any) -> Any:
    """Run ``root`` to completion on a fresh virtual-time loop; its result, or raise
    its exception."""
    return EventLoop(virtual_time=True).run_until_complete(root, join=True, **kwargs)

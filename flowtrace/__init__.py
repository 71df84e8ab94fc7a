"""flowtrace: a tracing-first, Flowno-compatible dataflow engine.

``import flowtrace`` loads neither Textual nor OpenTelemetry; the tools that need them
import them when used.
"""

from __future__ import annotations

from flowtrace.codec import ValueCodec
from flowtrace.engine.commands import exit, sleep, spawn
from flowtrace.engine.loop import DeadlockError, EventLoop, current_event_loop, current_task
from flowtrace.engine.tasks import TaskCancelled, TaskHandle
from flowtrace.instrument import (
    Bus,
    Instrument,
    InstrumentBase,
    add_default_instrument,
    attached,
    remove_default_instrument,
)

__version__ = "0.1.0"

__all__ = [
    "Bus",
    "DeadlockError",
    "EventLoop",
    "Instrument",
    "InstrumentBase",
    "TaskCancelled",
    "TaskHandle",
    "ValueCodec",
    "__version__",
    "add_default_instrument",
    "attached",
    "current_event_loop",
    "current_task",
    "exit",
    "remove_default_instrument",
    "sleep",
    "spawn",
]

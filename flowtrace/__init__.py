"""flowtrace: a tracing-first, Flowno-compatible dataflow engine.

``import flowtrace`` loads neither Textual nor OpenTelemetry; the tools that need them
import them when used.
"""

from __future__ import annotations

from flowtrace.codec import ValueCodec
from flowtrace.engine.commands import azip, exit, sleep, spawn
from flowtrace.engine.flow import (
    Flow,
    NodeExecutionError,
    TerminateLimitReached,
    current_context,
    current_flow,
    current_node,
)
from flowtrace.engine.hdl import FlowHDL, FlowHDLView
from flowtrace.engine.loop import DeadlockError, EventLoop, current_event_loop, current_task
from flowtrace.engine.node import DraftGroupNode, DraftNode, MissingDefaultError, node
from flowtrace.engine.queues import AsyncQueue
from flowtrace.engine.sockets import SocketHandle, socket
from flowtrace.engine.streams import Stream, StreamCancelled
from flowtrace.engine.sync import Condition, Event, Lock
from flowtrace.engine.tasks import TaskCancelled, TaskHandle
from flowtrace.instrument import (
    Bus,
    FieldsInstrument,
    Instrument,
    InstrumentBase,
    add_default_instrument,
    attached,
    remove_default_instrument,
)

__version__ = "0.1.0"

__all__ = [
    # Flowno's public names
    "node",
    "Flow",
    "azip",
    "exit",
    "spawn",
    "sleep",
    "socket",
    "DraftNode",
    "DraftGroupNode",
    "Stream",
    "StreamCancelled",
    "SocketHandle",
    "FlowHDL",
    "FlowHDLView",
    "EventLoop",
    "AsyncQueue",
    "Condition",
    "Event",
    "Lock",
    "TerminateLimitReached",
    "current_event_loop",
    "current_flow",
    "current_node",
    "current_context",
    # flowtrace additions
    "Bus",
    "DeadlockError",
    "MissingDefaultError",
    "NodeExecutionError",
    "FieldsInstrument",
    "Instrument",
    "InstrumentBase",
    "TaskCancelled",
    "TaskHandle",
    "ValueCodec",
    "__version__",
    "add_default_instrument",
    "attached",
    "current_task",
    "remove_default_instrument",
]

"""flowtrace: a tracing-first, Flowno-compatible dataflow engine.

The root package is lazy (PEP 562): ``import flowtrace`` loads only this module and
:mod:`flowtrace._version`; each public name imports its home module on first use. That
keeps every tool (``flowtrace show``, the reader, replay) from paying for the engine, and
``import flowtrace`` never loads Textual or OpenTelemetry.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from flowtrace._version import __version__

if TYPE_CHECKING:
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
        Instrument,
        InstrumentBase,
        add_default_instrument,
        attached,
        remove_default_instrument,
    )

#: public name -> the module that defines it.
_HOMES: dict[str, str] = {
    "ValueCodec": "flowtrace.codec",
    "azip": "flowtrace.engine.commands",
    "exit": "flowtrace.engine.commands",
    "sleep": "flowtrace.engine.commands",
    "spawn": "flowtrace.engine.commands",
    "Flow": "flowtrace.engine.flow",
    "NodeExecutionError": "flowtrace.engine.flow",
    "TerminateLimitReached": "flowtrace.engine.flow",
    "current_context": "flowtrace.engine.flow",
    "current_flow": "flowtrace.engine.flow",
    "current_node": "flowtrace.engine.flow",
    "FlowHDL": "flowtrace.engine.hdl",
    "FlowHDLView": "flowtrace.engine.hdl",
    "DeadlockError": "flowtrace.engine.loop",
    "EventLoop": "flowtrace.engine.loop",
    "current_event_loop": "flowtrace.engine.loop",
    "current_task": "flowtrace.engine.loop",
    "DraftGroupNode": "flowtrace.engine.node",
    "DraftNode": "flowtrace.engine.node",
    "MissingDefaultError": "flowtrace.engine.node",
    "node": "flowtrace.engine.node",
    "AsyncQueue": "flowtrace.engine.queues",
    "SocketHandle": "flowtrace.engine.sockets",
    "socket": "flowtrace.engine.sockets",
    "Stream": "flowtrace.engine.streams",
    "StreamCancelled": "flowtrace.engine.streams",
    "Condition": "flowtrace.engine.sync",
    "Event": "flowtrace.engine.sync",
    "Lock": "flowtrace.engine.sync",
    "TaskCancelled": "flowtrace.engine.tasks",
    "TaskHandle": "flowtrace.engine.tasks",
    "Bus": "flowtrace.instrument",
    "Instrument": "flowtrace.instrument",
    "InstrumentBase": "flowtrace.instrument",
    "add_default_instrument": "flowtrace.instrument",
    "attached": "flowtrace.instrument",
    "remove_default_instrument": "flowtrace.instrument",
}


def __getattr__(name: str) -> Any:
    """Import a public name's home module on first use, then cache the name here."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'flowtrace' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOMES})


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

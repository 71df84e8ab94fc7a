"""Replacing ``flowno`` by ``flowtrace`` in imports works (compatibility §1)."""

from __future__ import annotations

import importlib

import pytest

import flowtrace

FLOWNO_ALL = [
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
]

SUBMODULE_NAMES = {
    "flowtrace.core.node_base": [
        "MissingDefaultError",
        "NodePlaceholder",
        "OutputPortRefPlaceholder",
        "DraftOutputPortRef",
        "DraftInputPortRef",
        "FinalizedNode",
        "Constant",
        "SuperNode",
        "Some",
        "Nothing",
        "DraftNode",
        "Stream",
        "StreamCancelled",
    ],
    "flowtrace.core.flow.flow": [
        "TerminateLimitReached",
        "NodeExecutionError",
        "NodeTaskStatus",
        "FlowEventLoop",
        "Flow",
    ],
    "flowtrace.core.flow.instrumentation": [
        "FlowInstrument",
        "PrintInstrument",
        "LogInstrument",
        "MinimalInstrument",
        "get_current_flow_instrument",
        "NO_OP_INSTRUMENT",
    ],
    "flowtrace.core.event_loop": [
        "EventLoop",
        "current_event_loop",
        "current_task",
        "exit",
        "sleep",
        "socket",
        "spawn",
    ],
    "flowtrace.core.event_loop.queues": [
        "AsyncQueue",
        "AsyncSetQueue",
        "AsyncMapQueue",
        "QueueClosedError",
    ],
    "flowtrace.core.event_loop.synchronization": ["Event", "Lock", "Condition", "CountdownLatch"],
    "flowtrace.core.event_loop.tasks": ["TaskHandle", "TaskCancelled"],
    "flowtrace.core.event_loop.primitives": ["azip", "exit", "sleep", "socket", "spawn"],
    "flowtrace.core.event_loop.selectors": ["SocketHandle"],
    "flowtrace.core.types": [
        "Generation",
        "DataGeneration",
        "RunLevel",
        "InputPortIndex",
        "OutputPortIndex",
    ],
    "flowtrace.core.group_node": ["DraftGroupNode"],
    "flowtrace.core.flow_hdl": ["FlowHDL"],
    "flowtrace.core.flow_hdl_view": ["FlowHDLView"],
    "flowtrace.utilities.helpers": [
        "cmp_generation",
        "inc_generation",
        "clip_generation",
        "parent_generation",
        "main_generation",
        "stitched_generation",
    ],
}


def test_flownos_top_level_names_are_exported() -> None:
    for name in FLOWNO_ALL:
        assert name in flowtrace.__all__, name
        assert getattr(flowtrace, name) is not None


@pytest.mark.parametrize("module", sorted(SUBMODULE_NAMES))
def test_submodule_names_are_importable(module: str) -> None:
    mod = importlib.import_module(module)
    for name in SUBMODULE_NAMES[module]:
        assert hasattr(mod, name), f"{module}.{name}"


def test_import_does_not_load_textual_or_opentelemetry() -> None:
    import subprocess
    import sys

    code = (
        "import sys, flowtrace, flowtrace.core.flow.instrumentation; "
        "print(any(m.startswith(('textual', 'opentelemetry')) for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"

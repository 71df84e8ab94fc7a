"""Flowno's ``flowno.core.flow.flow`` names."""

from flowtrace.engine.flow import (
    Flow,
    FlowEventLoop,
    NodeExecutionError,
    NodeTaskStatus,
    TerminateLimitReached,
    current_context,
    current_flow,
    current_node,
)

__all__ = [
    "Flow",
    "FlowEventLoop",
    "NodeExecutionError",
    "NodeTaskStatus",
    "TerminateLimitReached",
    "current_context",
    "current_flow",
    "current_node",
]

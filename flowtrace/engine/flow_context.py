"""Which flow and node are running here: :func:`current_flow`, :func:`current_node`,
:func:`current_context` (what node code calls), and :func:`flow_for_run` (adapters find a
live flow by its run id).
"""

from __future__ import annotations

import contextvars
import weakref
from typing import TYPE_CHECKING, Any

from flowtrace.engine.loop import current_event_loop
from flowtrace.engine.node import FinalizedNode

if TYPE_CHECKING:
    from flowtrace.engine.flow import Flow


_current_flow: contextvars.ContextVar[Flow | None] = contextvars.ContextVar(
    "flowtrace_flow", default=None
)


_flows_by_run: weakref.WeakValueDictionary[str, Flow] = weakref.WeakValueDictionary()


def current_flow() -> Flow | None:
    """The flow running in this context (``None`` outside a run; reset on every end)."""
    return _current_flow.get()


def current_node() -> FinalizedNode | None:
    """The node whose task is executing right now (``None`` outside nodes and inside
    tasks a node spawned). O(1): the running task carries its node."""
    if _current_flow.get() is None:
        return None
    loop = current_event_loop()
    if loop is None or loop.running_task is None:
        return None
    found: FinalizedNode | None = loop.running_task.node
    return found


def current_context() -> Any:
    """``context_factory(current_node())`` of the running flow (called each time)."""
    flow = _current_flow.get()
    if flow is None:
        raise RuntimeError("current_context() called outside of a flow")
    here = current_node()
    if here is None:
        raise RuntimeError("current_context() called outside of a node")
    factory = flow._context_factory
    if factory is None:
        raise RuntimeError("No context factory provided to run_until_complete()")
    return factory(here)


def flow_for_run(run_id: str) -> Flow | None:
    """The flow that ran (or runs) ``run_id`` while it is alive (for adapters)."""
    return _flows_by_run.get(run_id)

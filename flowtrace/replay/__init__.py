"""Replay: the state of a flow run at any event, rebuilt from its events alone.

A recorded run is a list of events; everything a debugger shows — which node was
executing, which generation each node had reached, what a node last read and from
whom, who was blocking whom — is a *pure function* of a prefix of that list. This
package is that function and what makes it usable on a million events:

* :mod:`~flowtrace.replay.state`: the reducer (:meth:`State.apply`); statuses and the
  resolution queue are derived through :mod:`flowtrace.implied`, so schema 2.0's
  folded facts (a ``NodeStarted`` *is* the change to ``executing``…) count the same as
  explicit ones;
* :mod:`~flowtrace.replay.index`: :class:`Replay`, keyframes every ``K`` events (any
  position in bounded time) and the indexes built in the same single pass;
* :mod:`~flowtrace.replay.store`: the events held compactly (compressed blocks,
  decoded on demand: ~15 bytes per event instead of ~350);
* :mod:`~flowtrace.replay.lineage`: where each value came from, and who read it;
* :mod:`~flowtrace.replay.views`: the immutable views handed out.

It imports only :mod:`flowtrace.events`, :mod:`flowtrace.implied` and
:mod:`flowtrace.codec` — never the engine — so a trace can be replayed without the
program that produced it. :class:`Replay` grows with :meth:`Replay.extend`, so a
viewer can show the beginning of a large trace while the rest is still loading;
readers only ever see the prefix published so far.
"""

from __future__ import annotations

from flowtrace.generation import cmp_generation

from .compare import diff_states
from .index import DEFAULT_KEYFRAME_INTERVAL, Replay
from .state import State
from .views import (
    NORMAL_OUTCOMES,
    BarrierView,
    Change,
    ErrorView,
    InputSource,
    NodeView,
    StateDiff,
    StreamView,
    WaitEdge,
    event_nodes,
    format_generation,
    format_values,
    split_runs,
)

__all__ = [
    "DEFAULT_KEYFRAME_INTERVAL",
    "NORMAL_OUTCOMES",
    "NodeView",
    "BarrierView",
    "StreamView",
    "ErrorView",
    "WaitEdge",
    "Change",
    "StateDiff",
    "InputSource",
    "State",
    "Replay",
    "diff_states",
    "split_runs",
    "event_nodes",
    "cmp_generation",
    "format_generation",
    "format_values",
]

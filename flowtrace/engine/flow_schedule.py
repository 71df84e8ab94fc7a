"""The resolution queue and the scheduler (compatibility §4).

Putting a node on the queue demands it (:meth:`Flow._put`); draining the queue
solves each head (``resolve.solve``, or the one-step shortcut when every stale producer
is ready) and visits the leaves of the solution: a waiting or stalled leaf is resumed,
its task spawned on first use. The drain is not a task: it runs synchronously where the
queue can change (a node parks, stalls or ends, a run starts), or in the root task when
other tasks are ready first. When nothing is queued or running and every node was
visited, the run is over (or the stalled consumers are a deadlock).

The functions here are methods of :class:`~flowtrace.engine.flow.Flow` (``self`` is the
flow): ``flow.py`` binds each in the class body.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from flowtrace.engine.flow_state import _K_PUT, _K_SOLUTION, _K_VISITED
from flowtrace.engine.generation import Generation
from flowtrace.engine.node import FinalizedNode, SuperNode
from flowtrace.engine.resolve import Solution, condensed_tree, port_is_stale, solve
from flowtrace.events import (
    CycleBreak,
    NodeVisited,
    QueueReason,
    ResolutionQueuePut,
    SolutionFound,
    VisitAction,
)

if TYPE_CHECKING:
    from flowtrace.engine.flow import Flow


def _stale_edges(self: Flow, node: FinalizedNode) -> list[tuple[int, FinalizedNode]]:
    gen = node._store.gen
    rt = node._rt
    ports = node._input_ports
    if rt is not None:
        if rt.status == "stalled":
            port = ports[rt.stalled_port]
            src = port.connected_output
            if src is not None and port_is_stale(port, gen):
                return [(rt.stalled_port, src.node)]
            return []
        excluded = rt.defaulted
    else:
        excluded = []
    out: list[tuple[int, FinalizedNode]] = []
    for index, port in ports.items():
        src = port.connected_output
        if src is None:
            continue
        pgen = src.node._store.gen
        if (
            port.minimum_run_level == 0
            and pgen is not None
            and len(pgen) == 1
            and (gen is None or len(gen) == 1)
        ):
            # The common case, inlined: complete results compared by their index.
            stale = gen is not None and pgen[0] + port.stitch_level_0 <= gen[0]
        else:
            stale = port_is_stale(port, gen)
        if stale and index not in excluded:
            out.append((index, src.node))
    return out


def _find_node_solution(self: Flow, node: FinalizedNode) -> list[FinalizedNode]:
    """The nodes that must run so ``node`` can progress (compatibility §4)."""
    if not self._stale_edges(node):
        return [node]
    return solve(node, self._stale_edges).leaves


def _condensed_tree(self: Flow, node: FinalizedNode) -> SuperNode:
    return condensed_tree(node, self._stale_edges)


def _put(self: Flow, node: FinalizedNode, by: FinalizedNode | None, reason: QueueReason) -> None:
    added = self._enqueue(node, by, reason)
    bus = self._bus
    if bus.listening[_K_PUT]:
        bus.emit(
            ResolutionQueuePut,
            node.node_id,
            by.node_id if by is not None else None,
            reason,
            added,
        )


def _enqueue(
    self: Flow, node: FinalizedNode, by: FinalizedNode | None, reason: QueueReason
) -> bool:
    """Demand ``node`` (unreported: :meth:`_put` reports it, a stall reports it as
    part of its StreamStalled); false when it was already queued."""
    rt = node._rt
    if reason == "consumer":
        notifiers = rt.q_notifiers
        if not notifiers:
            rt.q_notifiers = [by] if by is not None else ()
        elif by is not None and notifiers[-1] is not by:
            notifiers.append(by)  # repeats are harmless
    else:
        rt.q_demand = True
    added = not rt.queued
    if added:
        rt.queued = True
        self._queue.append(node)
    return added


def _request_drain(self: Flow) -> None:
    """The queue may have work (or the run may be over): drain it now when no
    other task is ready — nothing would run before the scheduler anyway — else
    let the root task drain it after the tasks already ready (Flowno's order,
    and many puts to one node then cost one solve)."""
    if self._aborted is not None:
        return
    if self._root_parked and not self.event_loop.has_ready():
        try:
            self._drain()
        except BaseException as exc:
            self._abort(exc, None, None)
    else:
        self._wake_root("drain")


def _wake_root(self: Flow, reason: str) -> None:
    root = self._root_task
    if self._root_parked and root is not None:
        self._root_parked = False
        self.event_loop.make_ready(root, reason)


def _drain(self: Flow) -> None:
    if self._draining:
        return
    if self._aborted is not None:
        return
    self._draining = True
    try:
        queue = self._queue
        while True:
            while queue:
                self._process(queue.popleft())
            if self._active or self._done or self._awaiting_tasks:
                return
            nxt = self._next_unvisited()
            if nxt is not None:
                nxt._rt.visited = True  # popped from "unvisited", as Flowno does
                self._put(nxt, None, "start")
                continue
            self._quiescent()
            return
    finally:
        self._draining = False


def _next_unvisited(self: Flow) -> FinalizedNode | None:
    nodes = self._nodes
    i = self._unvisited_cursor
    while i < len(nodes) and nodes[i]._rt.visited:
        i += 1
    self._unvisited_cursor = i
    return nodes[i] if i < len(nodes) else None


def _process(self: Flow, head: FinalizedNode) -> None:
    rt = head._rt
    rt.queued = False
    demand = rt.q_demand
    notifiers = rt.q_notifiers
    rt.q_demand = False
    if notifiers:
        rt.q_notifiers = ()
    bus = self._bus  # the get is reported as the SolutionFound below
    edges = self._stale_edges(head)
    if not edges:
        if bus.listening[_K_SOLUTION]:
            bus.emit(SolutionFound, head.node_id, (head.node_id,), (), ())
        if notifiers and (rt.status == "queued" or rt.status == "executing"):
            pending = rt.renotify
            if not pending:
                rt.renotify = list(notifiers)
            else:
                for n in notifiers:
                    if pending[-1] is not n:  # repeats of one producer collapse
                        pending.append(n)
        self._visit(head)
        return
    if not demand and self._outdated(head, edges, notifiers):
        # A consumer told of data it has already used: nothing is demanded. (Flowno
        # re-runs the producer here, the runaway of compatibility §9.)
        if bus.listening[_K_SOLUTION]:
            bus.emit(SolutionFound, head.node_id, (), (), ())
        return
    solution = self._shallow_solution(head, edges) or solve(head, self._stale_edges)
    if bus.listening[_K_SOLUTION]:
        bus.emit(
            SolutionFound,
            head.node_id,
            tuple([n.node_id for n in solution.leaves]),
            tuple([tuple([m.node_id for m in scc]) for scc in solution.sccs])
            if solution.sccs
            else (),
            tuple(
                [
                    CycleBreak(
                        b.node.node_id,
                        tuple([m.node_id for m in b.members]),
                        tuple(b.defaulted_ports),
                    )
                    for b in solution.breaks
                ]
            )
            if solution.breaks
            else (),
        )
    for leaf in solution.leaves:
        self._visit(leaf)


def _shallow_solution(
    self: Flow, head: FinalizedNode, edges: list[tuple[int, FinalizedNode]]
) -> Solution | None:
    """The solution when every stale producer of ``head`` is itself ready (the
    common case: one step upstream, no cycle) — what the full search would return,
    without building the condensation. ``None`` when the full search is needed."""
    leaves: list[FinalizedNode] = []
    seen: dict[int, bool] = {}
    for _port, producer in edges:
        if id(producer) in seen:
            continue
        if producer is head or self._stale_edges(producer):
            return None
        seen[id(producer)] = True
        leaves.append(producer)
    return Solution(leaves)


def _outdated(
    head: FinalizedNode, edges: list[tuple[int, FinalizedNode]], notifiers: Sequence[FinalizedNode]
) -> bool:
    """True when every notifier finished its generation and every port it feeds
    into ``head`` is stale: ``head`` has already consumed what it was told of."""
    if not notifiers:
        return False
    stale_ports = [p for p, _ in edges]
    for n in notifiers:
        gen = n._store.gen
        if gen is None or len(gen) != 1:
            return False
        for index, port in head._input_ports.items():
            src = port.connected_output
            if src is not None and src.node is n and index not in stale_ports:
                return False
    return True


def _visit(self: Flow, leaf: FinalizedNode) -> None:
    rt = leaf._rt
    rt.visited = True
    status = rt.status
    action: VisitAction
    if rt.queued:
        action = "already_queued"
    elif status == "waiting" or status == "stalled":
        self._resume(leaf)  # reported as the node's status change to queued
        return
    elif status == "error":
        action = "error"
    else:
        action = "running"
    bus = self._bus
    if bus.listening[_K_VISITED]:
        bus.emit(NodeVisited, leaf.node_id, action)


def _resume(self: Flow, node: FinalizedNode) -> None:
    rt = node._rt
    if rt.status == "stalled":
        self._stalled -= 1
    self._set_status(node, "queued")
    self._active += 1
    task = rt.task
    loop = self.event_loop
    if task is None:
        rt.task = loop.spawn_task(
            self._node_main(node), node.node_id, node=node, node_id=node.node_id
        )
        self._node_tasks_alive += 1
    else:
        loop.make_ready(task)


def _quiescent(self: Flow) -> None:
    """Nothing queued or running and every node visited: finish, or report the
    stream consumers that nothing can wake."""
    if self._stalled:
        raise self._deadlock_error([], idle=False)
    if self._other_tasks_alive():
        self._awaiting_tasks = True
        return
    self._done = True
    self._wake_root("done")


def _other_tasks_alive(self: Flow) -> int:
    return self.event_loop.living_task_count() - self._node_tasks_alive - 1


def _abort(self: Flow, exc: BaseException, node: FinalizedNode | None, gen: Generation) -> None:
    """End the run with ``exc`` (thrown into the root task, ahead of anything else)."""
    if self._aborted is not None:
        return
    self._aborted = exc
    if node is not None:
        self._abort_node = node.node_id
        self._abort_gen = gen
    root = self._root_task
    if root is None or root is self.event_loop.running_task:
        raise exc
    self._root_parked = False
    self.event_loop.make_ready(root, None, exc, front=True)

"""The solver: which nodes must run so that a demanded node can make progress.

``solve(head)`` follows *stale* input edges upstream from ``head`` (an input is stale
when the producer's data, clipped to the port's run level and shifted by the port's
stitch, is not newer than the consumer — compatibility §3), condenses the strongly
connected components of that subgraph with an *iterative* Tarjan (so a 100,000-node
stale chain cannot overflow the stack), and returns the nodes of the leaf components
in depth-first order. A leaf component that is a cycle is broken by the first member
whose in-cycle inputs all have defaults, preferring the component's root (the member
reached first from ``head``) and then discovery order — deterministic, unlike Flowno's
identity-hashed choice. No member qualifying raises :class:`MissingDefaultError`.

Everything is keyed by ``id(node)`` in insertion-ordered dicts; nothing iterates a set,
so the result never depends on hashing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from flowtrace.engine.generation import (
    Generation,
    clip_generation,
    cmp_generation,
    stitched_generation,
)
from flowtrace.engine.node import FinalizedInputPort, FinalizedNode, MissingDefaultError, SuperNode

__all__ = [
    "StaleEdges",
    "Solution",
    "CycleChoice",
    "port_is_stale",
    "all_stale_edges",
    "solve",
    "condensed_tree",
    "missing_default_message",
    "source_starts",
    "component_firsts",
]

#: ``stale_edges(node)`` → ``[(port_index, producer), ...]`` in port order.
StaleEdges = Callable[[FinalizedNode], list[tuple[int, FinalizedNode]]]


def port_is_stale(port: FinalizedInputPort, consumer_gen: Generation) -> bool:
    """True when ``port``'s producer has nothing newer than the consumer (§2.5)."""
    src = port.connected_output
    if src is None:
        return False
    seen = stitched_generation(
        clip_generation(src.node._store.gen, port.minimum_run_level), port.stitch_level_0
    )
    return cmp_generation(seen, consumer_gen) <= 0


def all_stale_edges(node: FinalizedNode) -> list[tuple[int, FinalizedNode]]:
    """Every stale connected input of ``node`` (no run-time exclusions)."""
    gen = node._store.gen
    out: list[tuple[int, FinalizedNode]] = []
    for index, port in node._input_ports.items():
        src = port.connected_output
        if src is not None and port_is_stale(port, gen):
            out.append((index, src.node))
    return out


@dataclass(slots=True)
class CycleChoice:
    """A cyclic leaf component and the member chosen to break it."""

    node: FinalizedNode
    members: list[FinalizedNode]
    defaulted_ports: list[int]


@dataclass(slots=True)
class Solution:
    """What :func:`solve` found: ``leaves`` to run (in order), the cyclic components met
    (members in discovery order) and the cycle breaks chosen."""

    leaves: list[FinalizedNode]
    sccs: list[list[FinalizedNode]] = field(default_factory=list)
    breaks: list[CycleChoice] = field(default_factory=list)


class _Condensation:
    """Tarjan's SCCs of the stale subgraph reachable from ``head`` (iterative)."""

    __slots__ = ("comp_of", "components", "edges", "internal")

    def __init__(self, head: FinalizedNode, stale_edges: StaleEdges) -> None:
        index: dict[int, int] = {}
        low: dict[int, int] = {}
        on_stack: dict[int, bool] = {}
        stack: list[FinalizedNode] = []
        self.edges: dict[int, list[tuple[int, FinalizedNode]]] = {}
        self.components: list[list[FinalizedNode]] = []
        self.comp_of: dict[int, int] = {}
        counter = 0

        def enter(v: FinalizedNode) -> None:
            nonlocal counter
            key = id(v)
            index[key] = low[key] = counter
            counter += 1
            stack.append(v)
            on_stack[key] = True
            self.edges[key] = stale_edges(v)

        enter(head)
        work: list[list[object]] = [[head, 0]]
        while work:
            frame = work[-1]
            v: FinalizedNode = frame[0]  # type: ignore[assignment]
            i: int = frame[1]  # type: ignore[assignment]
            vk = id(v)
            edges = self.edges[vk]
            if i < len(edges):
                frame[1] = i + 1
                w = edges[i][1]
                wk = id(w)
                if wk not in index:
                    enter(w)
                    work.append([w, 0])
                elif on_stack.get(wk) and index[wk] < low[vk]:
                    low[vk] = index[wk]
                continue
            work.pop()
            if work:
                uk = id(work[-1][0])
                if low[vk] < low[uk]:
                    low[uk] = low[vk]
            if low[vk] == index[vk]:
                members: list[FinalizedNode] = []
                while True:
                    w = stack.pop()
                    on_stack[id(w)] = False
                    members.append(w)
                    if w is v:
                        break
                members.sort(key=lambda n: index[id(n)])
                number = len(self.components)
                for m in members:
                    self.comp_of[id(m)] = number
                self.components.append(members)
        comp_of = self.comp_of
        self.internal: dict[int, list[int]] = {}
        for members in self.components:
            for m in members:
                mine = comp_of[id(m)]
                self.internal[id(m)] = [
                    p for p, prod in self.edges[id(m)] if comp_of[id(prod)] == mine
                ]

    def dependencies(self, number: int) -> list[int]:
        """Components of the stale producers outside component ``number``, in order."""
        out: list[int] = []
        seen: dict[int, bool] = {}
        for m in self.components[number]:
            for _p, prod in self.edges[id(m)]:
                c = self.comp_of[id(prod)]
                if c != number and c not in seen:
                    seen[c] = True
                    out.append(c)
        return out

    def is_cyclic(self, number: int) -> bool:
        members = self.components[number]
        return len(members) > 1 or bool(self.internal[id(members[0])])


def solve(head: FinalizedNode, stale_edges: StaleEdges) -> Solution:
    """The nodes that must run so that ``head`` can make progress (see module doc)."""
    cond = _Condensation(head, stale_edges)
    head_comp = cond.comp_of[id(head)]
    # Leaf components by depth-first search over the condensation, first-seen order.
    leaves: list[int] = []
    visited: dict[int, bool] = {head_comp: True}
    work: list[list[int]] = [[head_comp, 0]]
    deps_cache: dict[int, list[int]] = {head_comp: cond.dependencies(head_comp)}
    if not deps_cache[head_comp]:
        leaves.append(head_comp)
    while work:
        frame = work[-1]
        comp, i = frame
        deps = deps_cache[comp]
        if i < len(deps):
            frame[1] = i + 1
            d = deps[i]
            if d not in visited:
                visited[d] = True
                deps_cache[d] = cond.dependencies(d)
                if not deps_cache[d]:
                    leaves.append(d)
                work.append([d, 0])
            continue
        work.pop()
    solution = Solution([])
    for number in range(len(cond.components)):
        if number in visited and cond.is_cyclic(number):
            solution.sccs.append(cond.components[number])
    for number in leaves:
        members = cond.components[number]
        if not cond.is_cyclic(number):
            solution.leaves.append(members[0])
            continue
        chosen: FinalizedNode | None = None
        for m in members:
            ports = cond.internal[id(m)]
            if all(m._input_ports[p].has_default for p in ports):
                chosen = m
                break
        if chosen is None:
            raise MissingDefaultError(missing_default_message(members, cond.internal))
        solution.leaves.append(chosen)
        solution.breaks.append(CycleChoice(chosen, members, list(cond.internal[id(chosen)])))
    return solution


def _components(nodes: list[FinalizedNode]) -> list[int]:
    """For each node (by position), the position of the first node of its weakly
    connected component (union-find, the smaller index as root, path halving)."""
    index = {id(n): i for i, n in enumerate(nodes)}
    parent = list(range(len(nodes)))

    def root(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for i, n in enumerate(nodes):
        for port in n._input_ports.values():
            src = port.connected_output
            if src is None:
                continue
            j = index.get(id(src.node))
            if j is None:
                continue
            a, b = root(i), root(j)
            if a < b:
                parent[b] = a
            elif b < a:
                parent[a] = b
    return [root(i) for i in range(len(nodes))]


def source_starts(nodes: list[FinalizedNode]) -> list[FinalizedNode]:
    """Where a run starts: every source (a node with no connected input), and the
    first node of each component that has none (a cycle fed by nothing), in
    registration order.

    Independent sources feeding one sink then start together whatever order they were
    defined in (Flowno starts at the first node and discovers the other sources only
    when the first has finished), and so do disconnected components. O(nodes +
    edges), and no solve deeper than one step: a source is ready at once.
    """
    roots = _components(nodes)
    has_source: dict[int, bool] = {}
    sources: list[bool] = []
    for i, n in enumerate(nodes):
        source = all(port.connected_output is None for port in n._input_ports.values())
        sources.append(source)
        if source:
            has_source[roots[i]] = True
    return [
        n
        for i, n in enumerate(nodes)
        if sources[i] or (roots[i] == i and roots[i] not in has_source)
    ]


def component_firsts(nodes: list[FinalizedNode]) -> list[FinalizedNode]:
    """The first node (registration order) of each weakly connected component —
    Flowno's start rule, kept for comparison (the differential tester runs flowtrace
    with it to tell a difference this decision makes from any other)."""
    roots = _components(nodes)
    return [n for i, n in enumerate(nodes) if roots[i] == i]


def condensed_tree(head: FinalizedNode, stale_edges: StaleEdges) -> SuperNode:
    """The condensation reachable from ``head`` as linked :class:`SuperNode` objects."""
    cond = _Condensation(head, stale_edges)
    supers: dict[int, SuperNode] = {}
    for number, members in enumerate(cond.components):
        supers[number] = SuperNode(members[0], {m: list(cond.internal[id(m)]) for m in members})
    for number, sup in supers.items():
        sup.dependencies = [supers[d] for d in cond.dependencies(number)]
    return supers[cond.comp_of[id(head)]]


def missing_default_message(members: list[FinalizedNode], internal: dict[int, list[int]]) -> str:
    """Flowno's message head, then for each member its signature with the in-cycle
    inputs that lack a default underlined."""
    lines = [
        "Detected a cycle without default values. You must add defaults to the indicated "
        "arguments for at least ONE of the following nodes:"
    ]
    for m in members:
        ports = [p for p in internal[id(m)] if not m._input_ports[p].has_default]
        label = type(m._draft_node)._label or type(m._draft_node).__name__
        params = [m._input_ports[i].name for i in sorted(m._input_ports)]
        head = f"  {m.node_id}: {label}("
        text = head
        marks = " " * len(head)
        for k, name in enumerate(params):
            if k:
                text += ", "
                marks += "  "
            text += name
            marks += ("^" if k in ports else " ") * len(name)
        text += ")"
        feeders = ", ".join(
            f"input {p} `{m._input_ports[p].name}` <- {_producer_id(m._input_ports[p])}"
            for p in ports
        )
        lines.append(text)
        lines.append(marks.rstrip())
        lines.append(f"    needs a default for {feeders}")
    return "\n".join(lines)


def _producer_id(port: FinalizedInputPort) -> str:
    src = port.connected_output
    return src.node.node_id if src is not None else "?"

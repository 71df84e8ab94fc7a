"""Which documented deliberate difference (docs/DESIGN.md §12) explains a result.

``classify(program, ours, theirs)`` is called only when flowtrace's outcome is none of
Flowno's (and Flowno finished). Each rule names the §12 decision it stands for and
tests for the program shape that decision changes; ``None`` means unexplained.
"""

from __future__ import annotations

from collections.abc import Callable

from engines import Outcome
from generator import STREAM_OUT, Program

__all__ = ["classify", "RULES"]

Rule = Callable[[Program, Outcome, list[Outcome]], bool]


def _stream_reads_port_one(program: Program, ours: Outcome, theirs: list[Outcome]) -> bool:
    """§12.2 Streams: a Stream reads its own output port (Flowno always read port 0)."""
    specs = program.by_name()
    for spec in program.nodes:
        for port in spec.inputs:
            if port.stream and port.src and port.output > 0 and specs[port.src].kind in STREAM_OUT:
                return True
    return False


def _mono_to_stream(program: Program, ours: Outcome, theirs: list[Outcome]) -> bool:
    """§12.2 Mono → stream edges are defined (a one-item stream of the result)."""
    return "mono_to_stream" in program.features


def components(program: Program) -> list[list[str]]:
    """The weakly connected components of the program's graph (constants aside)."""
    parent = {n.name: n.name for n in program.nodes}

    def root(a: str) -> str:
        while parent[a] != a:
            a = parent[a]
        return a

    for spec in program.nodes:
        for port in spec.inputs:
            if port.src is not None:
                a, b = root(spec.name), root(port.src)
                if a != b:
                    parent[max(a, b)] = min(a, b)
    groups: dict[str, list[str]] = {}
    for spec in program.nodes:
        groups.setdefault(root(spec.name), []).append(spec.name)
    return list(groups.values())


def _cutting_node(program: Program, ours: Outcome) -> str | None:
    """The node whose limit or error ended the run, when the program says which."""
    if ours.ended.startswith("error ValueError: boom "):
        return str(ours.ended.rsplit(" ", 1)[1])
    if ours.ended == "limit" and program.limit is not None and program.limit[0] == "dict":
        return str(program.limit[1])
    return None


def _concurrent_components(program: Program, ours: Outcome, theirs: list[Outcome]) -> bool:
    """§12.2 Disconnected components run concurrently (Flowno: one after another).
    When a limit or an error cuts the run in one component, the others stand wherever
    concurrency had brought them; the component that was cut must agree (with a global
    limit, which component cut is unknown: one that ran must agree)."""
    comps = components(program)
    if len(comps) < 2 or ours.ended == "completed":
        return False
    mine = {n: (d, g, r) for n, d, g, r in ours.nodes}
    cut = _cutting_node(program, ours)
    for other in theirs:
        if other.ended != ours.ended:
            continue
        if cut is None:
            return True  # a global limit: the first component to reach it ends the run
        theirs_nodes = {n: (d, g, r) for n, d, g, r in other.nodes}
        for comp in comps:
            if cut is not None and cut not in comp:
                continue
            if all(mine[n] == theirs_nodes[n] for n in comp) and any(mine[n][2] for n in comp):
                return True
    return False


def _unstarted_components(program: Program, other: Outcome) -> set[str]:
    """Nodes of components Flowno never started because a limit or an error ended its
    run in an earlier one (it runs components one after another)."""
    if other.ended == "completed":
        return set()
    runs = {n: r for n, _d, _g, r in other.nodes}
    out: set[str] = set()
    for comp in components(program):
        if all(runs[n] == 0 for n in comp):
            out.update(comp)
    return out


def _no_rerun_of_consumed_data(program: Program, ours: Outcome, theirs: list[Outcome]) -> bool:
    """§12.2 Notifications are not demands when already consumed: Flowno re-runs a
    producer when a consumer that has read its data is told of it again (compatibility §9
    item 3). Same data everywhere; Flowno ran some nodes more often — and may have run
    into a generation limit doing so where flowtrace completed."""
    mine = {n: (d, r) for n, d, _g, r in ours.nodes}
    producers = _graph(program)
    acyclic = all(n not in _closure(p, producers) for n, ps in producers.items() for p in ps)
    once = ours.ended == "completed" and all(r <= 1 for _d, r in mine.values())
    if acyclic and once and any(any(r > 1 for _n, _d, _g, r in o.nodes) for o in theirs):
        # A graph without a cycle runs each node once: a node Flowno ran again was
        # demanded again after consuming its data. The re-runs may meet a cancel at
        # another point, move stateful nodes on, and end at a limit or an error.
        return True
    for other in theirs:
        if other.ended != ours.ended and not (ours.ended == "completed" and other.ended == "limit"):
            continue
        extra = False
        ok = True
        unstarted = _unstarted_components(program, other)
        for n, d, _g, r in other.nodes:
            if n in unstarted:
                continue
            my_d, my_r = mine[n]
            if d != my_d or r < my_r:
                ok = False
                break
            extra = extra or r > my_r
        if ok and extra:
            return True
    return False


def _graph(program: Program) -> dict[str, list[str]]:
    """Producers of each node (constants aside)."""
    return {spec.name: [p.src for p in spec.inputs if p.src is not None] for spec in program.nodes}


def _closure(start: str, edges: dict[str, list[str]]) -> set[str]:
    seen = {start}
    todo = [start]
    while todo:
        for nxt in edges[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def _cut_candidates(program: Program, ours: Outcome) -> list[str]:
    cut = _cutting_node(program, ours)
    if cut is not None:
        return [cut]
    if ours.ended == "limit" and program.limit is not None and program.limit[0] == "global":
        limit = program.limit[2]
        return [n for n, _d, g, _r in ours.nodes if g is not None and tuple(g[:1]) >= limit]
    return []


def _concurrent_branches(program: Program, ours: Outcome, theirs: list[Outcome]) -> bool:
    """§12.2 A run starts from every source; independent branches run concurrently. When a
    limit or an error cuts the run, the node that cut it and everything it depends on
    agree with Flowno; nodes fed only by that cone are not further behind than in
    Flowno; the other branches stand wherever concurrency had brought them."""
    if ours.ended == "completed":
        return False
    producers = _graph(program)
    consumers: dict[str, list[str]] = {n: [] for n in producers}
    for n, srcs in producers.items():
        for src in srcs:
            consumers[src].append(n)
    mine = {n: (d, g, r) for n, d, g, r in ours.nodes}
    for cut in _cut_candidates(program, ours):
        cone = _closure(cut, producers)
        below = _closure(cut, consumers) - cone
        fed_by_cone = {n for n in below if _closure(n, producers) <= cone | below}
        others = set(producers) - cone - fed_by_cone
        if not others:
            continue
        for other in theirs:
            if other.ended != ours.ended:
                if other.ended != "completed" and any(
                    theirs_cut not in cone and cut not in _closure(theirs_cut, producers)
                    for theirs_cut in _cut_candidates(program, other)
                ):
                    return True  # each engine was cut first by another branch
                continue
            flowno = {n: (d, g, r) for n, d, g, r in other.nodes}
            if all(mine[n] == flowno[n] for n in cone) and all(
                mine[n][2] >= flowno[n][2] for n in fed_by_cone
            ):
                return True
    return False


def _runs(outcome: Outcome) -> dict[str, tuple[str, int]]:
    return {n: (d, r) for n, d, _g, r in outcome.nodes}


def _no_demand_dropped(program: Program, ours: Outcome, theirs: list[Outcome]) -> bool:
    """§12.2 Demands are served in the order they arrive, and none is dropped: Flowno
    skips a demand that finds its producer finishing a step; through a cancelled
    stream that can stop a cycle, and its run "completes" where flowtrace's goes on
    to the limit; a self-loop whose own notification is solved while it is still
    storing its result stops iterating the same way. No node ran more often in
    Flowno."""
    shapes = {"take", "cycle", "self_loop"}
    if not shapes & set(program.features) or ours.ended != "limit":
        return False
    mine = _runs(ours)
    return any(
        other.ended == "completed" and all(r <= mine[n][1] for n, (_d, r) in _runs(other).items())
        for other in theirs
    )


def _resumed_in_order(program: Program, ours: Outcome, theirs: list[Outcome]) -> bool:
    """§12.2 Resumed nodes run in the order they were resumed (Flowno: nodes with
    fewer inputs overtake, loop steps per input). At the cut no node is behind
    Flowno's, and a node that ran as often holds the same data."""
    if ours.ended == "completed":
        return False
    mine = _runs(ours)
    for other in theirs:
        if other.ended != ours.ended:
            continue
        flowno = _runs(other)
        if all(
            mine[n][1] > r or (mine[n][1] == r and mine[n][0] == d) for n, (d, r) in flowno.items()
        ):
            return True
    return False


def _streams_of_a_cycle_are_read_whole(
    program: Program, ours: Outcome, theirs: list[Outcome]
) -> bool:
    """§12.2 Streams: a Stream reads one producer generation item by item, never
    jumping (Flowno's first read in a new generation jumps to the newest item, so a
    reader of a cycling producer skips items and generations, compatibility §5). A
    streaming producer on a cycle feeds readers outside it: the cycle agrees, the
    nodes downstream of those stream edges may not."""
    producers = _graph(program)
    consumers: dict[str, list[str]] = {n: [] for n in producers}
    for n, srcs in producers.items():
        for src in srcs:
            consumers[src].append(n)
    downstream: set[str] = set()
    for spec in program.nodes:
        for port in spec.inputs:
            if not (port.stream and port.src):
                continue
            src = port.src
            above = _closure(src, producers) - {src}
            below = _closure(src, consumers) - {src}
            on_cycle = bool(above & below) or src in producers[src]
            if on_cycle and spec.name not in above:
                downstream |= _closure(spec.name, consumers)
    if not downstream:
        return False
    mine = {n: (d, g, r) for n, d, g, r in ours.nodes}
    for other in theirs:
        if other.ended != ours.ended:
            continue
        flowno = {n: (d, g, r) for n, d, g, r in other.nodes}
        if all(mine[n] == flowno[n] for n in producers if n not in downstream):
            return True
    return False


def _cancel_reaches_producer(program: Program, ours: Outcome, theirs: list[Outcome]) -> bool:
    """§12.2 Cancellation: a cancel always reaches its producer — at once when it is
    parked, at its next item boundary when it is running. Flowno looks for cancels
    only when something resumes the producer, so a cancel that arrives while it is
    finishing an item step is lost when nothing pulls it again: the producer (and an
    unconsumed pass-through beside the reader) stays parked without a final value.
    Every node that differs is complete here and parked mid-stream in Flowno."""
    return "take" in program.features and _left_parked_in_flowno(ours, theirs)


def _no_lost_notification(program: Program, ours: Outcome, theirs: list[Outcome]) -> bool:
    """§12.2 No lost notification / Demands are served in the order they arrive: a
    stream node told that its producer ended while it was still storing its last
    item looks again when it parks, and ends its generation. Flowno skips that
    demand, so a node nobody pulls (an unconsumed pass-through beside a mono consumer
    of the same source) stays parked after its last item without a final value."""
    return _left_parked_in_flowno(ours, theirs)


def _left_parked_in_flowno(ours: Outcome, theirs: list[Outcome]) -> bool:
    """Every node that differs is complete here and parked mid-stream in Flowno."""
    mine = {n: (d, g, r) for n, d, g, r in ours.nodes}
    for other in theirs:
        if other.ended != ours.ended:
            continue
        differing = [(n, g) for n, d, g, r in other.nodes if mine[n] != (d, g, r)]
        if differing and all(_finished_where_flowno_parks(mine[n][1], g) for n, g in differing):
            return True
    return False


def _cycles_with_several_breakers(program: Program) -> bool:
    producers = _graph(program)
    consumers: dict[str, list[str]] = {n: [] for n in producers}
    for n, srcs in producers.items():
        for src in srcs:
            consumers[src].append(n)
    specs = program.by_name()
    for name in producers:
        scc = _closure(name, producers) & _closure(name, consumers)
        if len(scc) < 2:
            continue
        breakers = [
            m
            for m in scc
            if all(p.default for p in specs[m].inputs if p.src is not None and p.src in scc)
        ]
        if len(breakers) >= 2:
            return True
    return False


def _deterministic_cycle_breaker(program: Program, ours: Outcome, theirs: list[Outcome]) -> bool:
    """§12.2 Deterministic: a cycle with several members whose in-cycle inputs all
    have defaults is broken at the component's root, then discovery order; Flowno
    picks one by identity hash (it varies between processes, but may favour another
    member in every run tried). Which node runs first then shifts everything in and
    below the cycle."""
    return _cycles_with_several_breakers(program) and any(
        other.ended == ours.ended or other.ended != "completed" != ours.ended for other in theirs
    )


def _cancel_region(program: Program) -> set[str]:
    """Producers a cancel can reach (a cancelling reader's producer and, through
    pass-throughs, theirs) and every node fed by them."""
    specs = program.by_name()
    producers = _graph(program)
    consumers: dict[str, list[str]] = {n: [] for n in producers}
    for n, srcs in producers.items():
        for src in srcs:
            consumers[src].append(n)
    reached: set[str] = set()
    todo = [p.src for s in program.nodes if s.kind == "take" for p in s.inputs if p.src]
    while todo:
        name = todo.pop()
        if name in reached:
            continue
        reached.add(name)
        if specs[name].kind == "pass":
            todo.extend(p.src for p in specs[name].inputs if p.src and p.stream)
    region: set[str] = set()
    for name in reached:
        region |= _closure(name, consumers)
    return region


def _cancel_lands_elsewhere(program: Program, ours: Outcome, theirs: list[Outcome]) -> bool:
    """§12.2 Cancellation and "Demands are served in the order they arrive": where a
    cancel meets its producer depends on which demands moved the producer on first;
    Flowno's depends on how many loop steps each node takes (it skips demands on a
    producer still finishing a step, and checks for cancels only when resumed). Only
    nodes a cancel can reach, or fed by them, differ."""
    if "take" not in program.features:
        return False
    region = _cancel_region(program)
    mine = {n: (d, g, r) for n, d, g, r in ours.nodes}
    return any(
        other.ended == ours.ended
        and all(mine[n] == (d, g, r) or n in region for n, d, g, r in other.nodes)
        for other in theirs
    )


RULES: list[tuple[str, Rule]] = [
    ("a cancel always reaches its producer", _cancel_reaches_producer),
    ("no notification is lost", _no_lost_notification),
    ("a cancel meets its producer where the demands brought it", _cancel_lands_elsewhere),
    ("the cycle breaker is chosen deterministically", _deterministic_cycle_breaker),
    ("streams of a cycle are read whole", _streams_of_a_cycle_are_read_whole),
    ("demands are served in order, none dropped", _no_demand_dropped),
    ("resumed nodes run in the order they were resumed", _resumed_in_order),
    ("independent branches run concurrently", _concurrent_branches),
    ("consumed data is not demanded again", _no_rerun_of_consumed_data),
    ("disconnected components run concurrently", _concurrent_components),
    ("a stream reads its own output port", _stream_reads_port_one),
    ("mono -> stream edges are defined", _mono_to_stream),
]


def classify(program: Program, ours: Outcome, theirs: list[Outcome]) -> str | None:
    for name, rule in RULES:
        if rule(program, ours, theirs):
            return name
    return None


def _finished_where_flowno_parks(
    ours: tuple[int, ...] | None, theirs: tuple[int, ...] | None
) -> bool:
    """Ours ended generation ``(k,)`` where Flowno's is parked at an item ``(k, j)``."""
    return (
        theirs is not None
        and len(theirs) == 2
        and ours is not None
        and len(ours) == 1
        and ours[0] == theirs[0]
    )

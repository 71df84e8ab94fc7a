"""A seeded generator of Flowno programs over the public API.

``generate(seed)`` returns a :class:`Program`: a list of node specifications (kind,
inputs, constants), a definition order, an optional generation limit, and the
features used. ``Program.source()`` renders it as a self-contained Python script that
imports either engine (``python prog.py flowno`` or ``python prog.py flowtrace``;
``flowtrace-first-node`` is flowtrace starting each component from its first node,
as Flowno does),
runs the flow and prints one JSON line (marker ``@@OUTCOME``): how the run ended and,
per named node, its final data, generation and how many times its function ran.

What a program may contain: mono nodes of one to three inputs, constants as
arguments, stateful class nodes, multiple-output nodes, streaming sources (with or
without a mono input), stream pass-throughs, stream consumers that sum, consumers that
cancel after some items, consumers alternating reads of two streams, nodes that raise
once their input passes a threshold, template groups, back edges onto defaulted ports
(cycles and self-loops) under a generation limit (per node or global), and now and then
a mono producer wired to a stream port. Values stay small integers (mod 97), so every
stream accumulates the same way in both engines.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field

__all__ = ["Input", "NodeSpec", "Program", "generate"]

MOD = 97


@dataclass
class Input:
    """One argument: a node's output (``src``, ``output``) or a constant ``value``."""

    src: str | None = None
    output: int = 0
    value: int = 0
    stream: bool = False  # the port is a stream_in port
    default: bool = False  # the port has a default (0, or None for a stream port)


@dataclass
class NodeSpec:
    name: str
    kind: str
    inputs: list[Input] = field(default_factory=list)
    const: int = 0  # a constant baked into the function (offset, item count, threshold)


@dataclass
class Program:
    seed: int
    nodes: list[NodeSpec]
    order: list[int]
    #: ("dict", node, generation), ("global", None, generation) or None
    limit: tuple[str, str | None, tuple[int, ...]] | None
    features: list[str]

    def by_name(self) -> dict[str, NodeSpec]:
        return {n.name: n for n in self.nodes}

    def source(self) -> str:
        return _render(self)


STREAM_OUT = {"gen", "gen_in", "gen2", "pass"}
MULTI = {"multi", "gen2"}


def generate(seed: int) -> Program:
    rng = random.Random(seed)
    size = rng.randint(2, 7)
    nodes: list[NodeSpec] = []
    features: set[str] = set()

    def pick_producer(before: int, stream: bool) -> tuple[str, int] | None:
        if before == 0:
            return None
        pool = list(range(before))
        if stream:
            streaming = [i for i in pool if nodes[i].kind in STREAM_OUT]
            if streaming and rng.random() < 0.93:
                pool = streaming
            elif not streaming and rng.random() < 0.8:
                return None
        i = rng.choice(pool)
        producer = nodes[i]
        output = rng.randint(0, 1) if producer.kind in MULTI else 0
        if stream and producer.kind not in STREAM_OUT:
            features.add("mono_to_stream")
        return producer.name, output

    for i in range(size):
        name = f"n{i}"
        has_stream = any(n.kind in STREAM_OUT for n in nodes)
        choices = ["src", "add", "add", "add2", "state", "multi", "gen", "gen_in", "fail", "tmpl"]
        if has_stream:
            choices += ["pass", "pass", "collect", "collect", "take", "alt", "gen2"]
        else:
            choices += ["gen2"]
        kind = rng.choice(choices) if i else rng.choice(["src", "gen", "gen_in", "state", "add"])
        spec = NodeSpec(name, kind, const=rng.randint(0, 5))
        if kind in ("add", "state", "multi", "gen_in", "fail", "tmpl"):
            arity = 1
        elif kind == "add2":
            arity = rng.randint(2, 3)
        elif kind in ("pass", "collect", "take"):
            arity = 1
        elif kind == "alt":
            arity = 2
        else:
            arity = 0
        for _ in range(arity):
            stream = kind in ("pass", "collect", "take", "alt")
            got = pick_producer(i, stream)
            if got is None:
                if stream:
                    spec.kind = kind = "add"
                    stream = False
                if rng.random() < 0.5 or i == 0:
                    spec.inputs.append(Input(value=rng.randint(0, 9)))
                    features.add("constant")
                    continue
                got = pick_producer(i, False)
                if got is None:
                    spec.inputs.append(Input(value=rng.randint(0, 9)))
                    continue
            src, output = got
            spec.inputs.append(Input(src=src, output=output, stream=stream))
        if kind == "take":
            spec.const = rng.randint(1, 2)
        if kind in ("gen", "gen_in", "gen2"):
            spec.const = rng.randint(1, 3)
        if kind == "fail":
            spec.const = rng.randint(2, 12)
        nodes.append(spec)
        features.add(kind)

    # Back edges: a later (or the same) node feeds a defaulted mono port.
    cyclic = False
    for spec in nodes:
        if spec.kind in ("src", "gen"):
            continue
        for port in spec.inputs:
            if port.stream or rng.random() > 0.22:
                continue
            j = int(spec.name[1:])
            later = [n for n in nodes[j:] if n.kind not in ("take",)]
            back = rng.choice(later)
            port.src = back.name
            port.output = rng.randint(0, 1) if back.kind in MULTI else 0
            port.default = True
            cyclic = True
            features.add("self_loop" if back.name == spec.name else "cycle")
    # Some defaults on ordinary ports too (they matter for cycle breaking).
    for spec in nodes:
        for port in spec.inputs:
            if not port.default and not port.stream and port.src and rng.random() < 0.1:
                port.default = True
    for spec in nodes:  # Python: no parameter without a default after one with a default
        after = False
        for port in spec.inputs:
            after = after or port.default
            port.default = after
    order = list(range(len(nodes)))
    if rng.random() < 0.6:
        rng.shuffle(order)
        features.add("shuffled")
    limit: tuple[str, str | None, tuple[int, ...]] | None = None
    if cyclic or rng.random() < 0.25:
        if rng.random() < 0.7:
            target = rng.choice(nodes).name
            limit = ("dict", target, (rng.randint(0, 4),))
        else:
            limit = ("global", None, (rng.randint(1, 5),))
        features.add("limit_" + limit[0])
    return Program(seed, nodes, order, limit, sorted(features))


# --------------------------------------------------------------------------- rendering

_HEADER = """\
import json, sys
ENGINE = sys.argv[1]
if ENGINE == "flowno":
    from flowno import FlowHDL, FlowHDLView, Stream, StreamCancelled, TerminateLimitReached, node
else:
    from flowtrace import FlowHDL, FlowHDLView, Stream, StreamCancelled, TerminateLimitReached, node
    if ENGINE == "flowtrace-first-node":  # Flowno's start rule, for the classifier
        from flowtrace.engine.flow import Flow
        Flow._start_from_sources = False
RUNS = {}
def ran(name):
    RUNS[name] = RUNS.get(name, 0) + 1
"""


def _params(spec: NodeSpec) -> str:
    out = []
    for k, port in enumerate(spec.inputs):
        pname = f"x{k}"
        if port.stream:
            out.append(f"{pname}: Stream" + (" = None" if port.default else ""))
        else:
            out.append(pname + ("=0" if port.default else ""))
    return ", ".join(out)


def _sum(spec: NodeSpec) -> str:
    terms = [f"_v(x{k})" for k in range(len(spec.inputs))]
    return " + ".join(terms) if terms else "0"


def _render_node(spec: NodeSpec) -> list[str]:
    n, c = spec.name, spec.const
    p = _params(spec)
    lines: list[str] = []
    k = spec.kind
    if k in ("src", "add", "add2"):
        lines += [
            "@node",
            f"async def F_{n}({p}):",
            f"    ran({n!r})",
            f"    return ({_sum(spec)} + {c}) % {MOD}",
        ]
    elif k == "fail":
        lines += [
            "@node",
            f"async def F_{n}({p}):",
            f"    ran({n!r})",
            f"    if {_sum(spec)} > {c}:",
            f"        raise ValueError('boom {n}')",
            f"    return ({_sum(spec)} + 1) % {MOD}",
        ]
    elif k == "state":
        lines += [
            "@node",
            f"class F_{n}:",
            "    total = 0",
            f"    async def call(self, {p}):" if p else "    async def call(self):",
            f"        ran({n!r})",
            f"        self.total = (self.total + {_sum(spec)} + 1) % {MOD}",
            "        return self.total",
        ]
    elif k == "multi":
        lines += [
            "@node(multiple_outputs=True)",
            f"async def F_{n}({p}):",
            f"    ran({n!r})",
            f"    s = {_sum(spec)}",
            f"    return (s + {c}) % {MOD}, (2 * s + 1) % {MOD}",
        ]
    elif k == "gen":
        lines += [
            "@node",
            f"async def F_{n}():",
            f"    ran({n!r})",
            f"    for i in range({c}):",
            f"        yield (i + {n[1:]}) % {MOD}",
        ]
    elif k == "gen_in":
        lines += [
            "@node",
            f"async def F_{n}({p}):",
            f"    ran({n!r})",
            f"    for i in range({c}):",
            f"        yield ({_sum(spec)} + i) % {MOD}",
        ]
    elif k == "gen2":
        lines += [
            "@node(multiple_outputs=True)",
            f"async def F_{n}():",
            f"    ran({n!r})",
            f"    for i in range({c}):",
            f"        yield (i, (10 * i + 1) % {MOD})",
        ]
    elif k == "pass":
        lines += [
            "@node(stream_in=['x0'])",
            f"async def F_{n}({p}):",
            f"    ran({n!r})",
            "    if x0 is None:",
            "        return",
            "    async for v in x0:",
            f"        yield (v + {c}) % {MOD}",
        ]
    elif k == "collect":
        lines += [
            "@node(stream_in=['x0'])",
            f"async def F_{n}({p}):",
            f"    ran({n!r})",
            "    t = 0",
            "    if x0 is not None:",
            "        async for v in x0:",
            "            t += _v(v)",
            f"    return (t + {c}) % {MOD}",
        ]
    elif k == "take":
        lines += [
            "@node(stream_in=['x0'])",
            f"async def F_{n}({p}):",
            f"    ran({n!r})",
            "    t = 0",
            "    got = 0",
            "    if x0 is not None:",
            "        async for v in x0:",
            "            t += _v(v)",
            "            got += 1",
            f"            if got >= {c}:",
            "                await x0.cancel()",
            "                break",
            f"    return (t + 10 * got) % {MOD}",
        ]
    elif k == "alt":
        lines += [
            "@node(stream_in=['x0', 'x1'])",
            f"async def F_{n}({p}):",
            f"    ran({n!r})",
            "    t = 0",
            "    its = [x0.__aiter__(), x1.__aiter__()]",
            "    live = [True, True]",
            "    k = 0",
            "    while any(live):",
            "        if live[k]:",
            "            try:",
            "                t = (t * 3 + _v(await its[k].__anext__())) % 9973",
            "            except StopAsyncIteration:",
            "                live[k] = False",
            "        k = 1 - k",
            f"    return t % {MOD}",
        ]
    elif k == "tmpl":
        lines += [
            "@node",
            f"async def G_{n}(x):",
            f"    ran({n + '.inner'!r})",
            f"    return (_v(x) + {c}) % {MOD}",
            "@node.template",
            f"def F_{n}(v: FlowHDLView, {p}):",
            f"    v.{n}_inner = G_{n}(x0)",
            f"    return G_{n}(v.{n}_inner)",
        ]
    else:  # pragma: no cover - generator and renderer kinds must match
        raise ValueError(k)
    return lines


def _arg(port: Input) -> str:
    if port.src is None:
        return str(port.value)
    ref = f"f.{port.src}"
    return ref if port.output == 0 else f"{ref}.output({port.output})"


def _render(program: Program) -> str:
    lines = [_HEADER, "def _v(x):", "    return x if isinstance(x, int) else 0", ""]
    for spec in program.nodes:
        lines += _render_node(spec)
        lines.append("")
    lines.append("with FlowHDL() as f:")
    for i in program.order:
        spec = program.nodes[i]
        args = ", ".join(_arg(p) for p in spec.inputs)
        lines.append(f"    f.{spec.name} = F_{spec.name}({args})")
    lines.append("outcome = 'completed'")
    lines.append("try:")
    if program.limit is None:
        lines.append("    f.run_until_complete()")
    elif program.limit[0] == "dict":
        lines.append(
            f"    f.run_until_complete(stop_at_node_generation={{f.{program.limit[1]}: "
            f"{program.limit[2]!r}}})"
        )
    else:
        lines.append(f"    f.run_until_complete(stop_at_node_generation={program.limit[2]!r})")
    lines += [
        "except TerminateLimitReached:",
        "    outcome = 'limit'",
        "except Exception as e:",
        "    outcome = 'error ' + type(e).__name__ + ': ' + str(e).splitlines()[0][:80]",
        "nodes = {}",
        f"for name in {[n.name for n in program.nodes]!r}:",
        "    fin = getattr(f, name)",
        "    data = fin.get_data()",
        "    gen = fin.generation",
        "    nodes[name] = [repr(data), list(gen) if gen is not None else None, RUNS.get(name, 0)]",
        "inner = {k: v for k, v in RUNS.items() if '.' in k}",
        "print('@@OUTCOME ' + json.dumps({'outcome': outcome, 'nodes': nodes, 'inner': inner}),"
        " flush=True)",
        "import os",
        "os._exit(0)",
    ]
    return "\n".join(lines) + "\n"


def describe(program: Program) -> str:
    """A one-line summary (for reports)."""
    return json.dumps({"seed": program.seed, "features": program.features})

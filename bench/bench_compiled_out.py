"""What the engine's emission guards cost when no instrument is attached.

Every emission site in the engine is guarded (``if bus.listening[Kind.kind]:
bus.emit(...)``) so that an unobserved kind costs one list index and a truth test. This
measures what those guards still cost, against the only honest floor: the same engine
with emission *compiled out*.

At start the script builds that engine: every module of ``flowtrace/engine`` is parsed,
transformed and written to a temporary package (``ftnoemit.engine``) whose imports of
``flowtrace.engine`` point at itself (the rest of flowtrace — events, codec, the bus —
is shared). The transform (:class:`StripEmission`, then :func:`fold`):

* every ``….listening[k]`` and ``listening[k]`` becomes the constant ``False`` (what it
  is when nobody listens), and a local bound once to such a guard
  (``want_reads = bus.listening[...]``) is replaced by it;
* tests that are then constant are folded — ``if False: …`` goes (its ``else`` stays),
  ``if not False: return`` becomes the ``return`` and drops the code after it,
  ``a if False else b`` becomes ``b``, ``x is not None and False`` is false;
* assignments left without a reader whose value has no effect (``bus = self._bus``,
  ``reads = []``, ``listening = loop.bus.listening``) are dropped.

What remains is the engine's own work with no emission code at all. The script counts
the guards removed and fails if any ``emit`` call or ``listening`` read survives, then
runs chain, cycle and stream bare (no instrument) on both engines, alternately within
this process (round by round, the order flipped every round), and reports the median
CPU time of the run phase of each and the median of the per-round ratios
(target: guards / compiled out <= 1.05).

``--quick`` runs small sizes, in seconds; ``--repeats N`` sets the rounds; ``--keep DIR``
writes the transformed package to ``DIR`` to read or diff it.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import os
import statistics
import sys
import tempfile
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import flowtrace.engine

#: The package the compiled-out engine is imported as.
PACKAGE = "ftnoemit"

#: Workload sizes (normal, quick), as in ``bench_record.py``.
SIZES = {"chain": (1000, 100), "cycle": (2000, 100), "stream": (2000, 300)}

#: The guard constants this transform created (a local bound to one is a guard too).
_GUARD = "ftnoemit-guard"


def _is_guard(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and getattr(node, _GUARD, False)


def _pure(node: ast.expr | None) -> bool:
    """Whether evaluating ``node`` has no effect worth keeping: constants, names,
    attribute reads (the engine has no properties with effects on these paths),
    comparisons and literal containers of those."""
    if node is None or isinstance(node, ast.Constant | ast.Name):
        return True
    if isinstance(node, ast.Attribute):
        return _pure(node.value)
    if isinstance(node, ast.Compare):
        return _pure(node.left) and all(_pure(c) for c in node.comparators)
    if isinstance(node, ast.UnaryOp):
        return _pure(node.operand)
    if isinstance(node, ast.BoolOp):
        return all(_pure(v) for v in node.values)
    if isinstance(node, ast.List | ast.Tuple | ast.Set):
        return all(_pure(e) for e in node.elts)
    if isinstance(node, ast.Dict):
        return all(_pure(k) for k in node.keys) and all(_pure(v) for v in node.values)
    return False


def _truth(node: ast.expr) -> bool | None:
    """The truth value of a test, when the transform made it constant."""
    if isinstance(node, ast.Constant):
        return bool(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        inner = _truth(node.operand)
        return None if inner is None else not inner
    if isinstance(node, ast.BoolOp):
        decisive = isinstance(node.op, ast.Or)  # the value that decides an or / an and
        known = [_truth(v) for v in node.values]
        for i, value in enumerate(known):
            if value is decisive and all(_pure(v) for v in node.values[:i]):
                return decisive
        if all(v is not None for v in known):
            return not decisive
    return None


class StripEmission(ast.NodeTransformer):
    """Replace every ``listening[...]`` read by the constant ``False``."""

    def __init__(self) -> None:
        self.guards = 0

    def visit_Subscript(self, node: ast.Subscript) -> ast.expr:
        self.generic_visit(node)
        target = node.value
        if isinstance(node.ctx, ast.Load) and (
            (isinstance(target, ast.Attribute) and target.attr == "listening")
            or (isinstance(target, ast.Name) and target.id == "listening")
        ):
            self.guards += 1
            const = ast.copy_location(ast.Constant(False), node)
            setattr(const, _GUARD, True)
            return const
        return node


def _propagate_guard_locals(func: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
    """``want = <guard>`` bound once in ``func``: every read of ``want`` becomes the
    guard constant, and the assignment goes."""
    stores: dict[str, int] = {}
    for node in ast.walk(func):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            stores[node.id] = stores.get(node.id, 0) + 1
    names = {
        stmt.targets[0].id
        for stmt in ast.walk(func)
        if isinstance(stmt, ast.Assign)
        and len(stmt.targets) == 1
        and isinstance(stmt.targets[0], ast.Name)
        and _is_guard(stmt.value)
        and stores.get(stmt.targets[0].id) == 1
    }
    if not names:
        return

    class Substitute(ast.NodeTransformer):
        def visit_Name(self, node: ast.Name) -> ast.expr:
            if node.id in names and isinstance(node.ctx, ast.Load):
                const = ast.copy_location(ast.Constant(False), node)
                setattr(const, _GUARD, True)
                return const
            return node

        def visit_Assign(self, node: ast.Assign) -> ast.stmt | None:
            target = node.targets[0]
            if len(node.targets) == 1 and isinstance(target, ast.Name) and target.id in names:
                return None
            return node

    Substitute().visit(func)


class _Fold(ast.NodeTransformer):
    """Fold the tests the guards made constant."""

    def __init__(self) -> None:
        self.blocks = 0

    def visit_If(self, node: ast.If) -> Any:
        self.generic_visit(node)
        truth = _truth(node.test)
        if truth is None:
            return node
        self.blocks += 1
        return node.body if truth else node.orelse

    def visit_Try(self, node: ast.Try) -> Any:
        self.generic_visit(node)
        node.finalbody = [s for s in node.finalbody if not isinstance(s, ast.Pass)]
        if not node.handlers and not node.finalbody:
            return node.body + node.orelse  # a try whose finally was all emission
        return node

    def visit_IfExp(self, node: ast.IfExp) -> Any:
        self.generic_visit(node)
        truth = _truth(node.test)
        if truth is None:
            return node
        return node.body if truth else node.orelse


_TERMINAL = (ast.Return, ast.Raise, ast.Continue, ast.Break)


def _tidy_blocks(tree: ast.AST) -> None:
    """No statement after a return (the code a folded guard made unreachable), and a
    ``pass`` in every block the folding emptied."""
    for node in ast.walk(tree):
        for field in ("body", "orelse", "finalbody"):
            block = getattr(node, field, None)
            if not isinstance(block, list) or (block and not isinstance(block[0], ast.stmt)):
                continue
            for i, stmt in enumerate(block):
                if isinstance(stmt, _TERMINAL):
                    del block[i + 1 :]
                    break
            if not block and field == "body":
                block.append(ast.Pass())


def _drop_dead_stores(func: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Drop ``name = <pure value>`` where ``name`` is never read in ``func`` (nested
    functions included, so closures count as reads); repeat until nothing changes."""
    dropped = 0
    while True:
        read: set[str] = set()
        for node in ast.walk(func):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load | ast.Del):
                read.add(node.id)
            elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
                read.add(node.target.id)
            elif isinstance(node, ast.Global | ast.Nonlocal):
                read.update(node.names)

        def dead(stmt: ast.stmt, read: set[str] = read) -> bool:
            if isinstance(stmt, ast.Assign):
                return (
                    len(stmt.targets) == 1
                    and isinstance(stmt.targets[0], ast.Name)
                    and stmt.targets[0].id not in read
                    and _pure(stmt.value)
                )
            if isinstance(stmt, ast.AnnAssign):
                return (
                    isinstance(stmt.target, ast.Name)
                    and stmt.target.id not in read
                    and _pure(stmt.value)
                )
            return False

        changed = 0
        for node in ast.walk(func):
            for field in ("body", "orelse", "finalbody"):
                block = getattr(node, field, None)
                if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
                    kept = [s for s in block if not dead(s)]
                    changed += len(block) - len(kept)
                    block[:] = kept or [ast.Pass()]
        dropped += changed
        if not changed:
            return dropped


class _RenameImports(ast.NodeTransformer):
    """``flowtrace.engine[.x]`` → ``ftnoemit.engine[.x]`` in every import."""

    def visit_ImportFrom(self, node: ast.ImportFrom) -> ast.ImportFrom:
        if node.level == 0 and node.module is not None:
            node.module = _renamed(node.module)
        return node

    def visit_Import(self, node: ast.Import) -> ast.Import:
        for alias in node.names:
            if alias.name.startswith("flowtrace.engine") and alias.asname is None:
                raise ValueError(f"cannot rename a bare `import {alias.name}`")
            alias.name = _renamed(alias.name)
        return node


def _renamed(module: str) -> str:
    if module == "flowtrace.engine" or module.startswith("flowtrace.engine."):
        return PACKAGE + module[len("flowtrace") :]
    return module


def fold(tree: ast.Module) -> int:
    """Fold constant tests, tidy blocks, drop dead stores; the number of blocks folded."""
    for func in [
        n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
    ]:
        _propagate_guard_locals(func)
    folder = _Fold()
    folder.visit(tree)
    _tidy_blocks(tree)
    for func in [
        n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
    ]:
        _drop_dead_stores(func)
    _tidy_blocks(tree)
    return folder.blocks


def strip_source(source: str, filename: str) -> tuple[str, int, int]:
    """The module's source with emission compiled out; guards removed, blocks folded."""
    tree = ast.parse(source, filename)
    stripper = StripEmission()
    stripper.visit(tree)
    blocks = fold(tree)
    _RenameImports().visit(tree)
    ast.fix_missing_locations(tree)
    left = [
        f"{filename}:{n.lineno}"
        for n in ast.walk(tree)
        if (isinstance(n, ast.Attribute) and n.attr in ("emit", "listening"))
        or (isinstance(n, ast.Name) and n.id == "listening")
    ]
    if left:
        raise RuntimeError(f"emission left in the compiled-out engine: {', '.join(left)}")
    return ast.unparse(tree) + "\n", stripper.guards, blocks


def build_compiled_out(dest: Path) -> tuple[types.ModuleType, dict[str, tuple[int, int]]]:
    """Write the compiled-out engine under ``dest`` and import it; returns a module
    with the names the workloads use (``node``, ``FlowHDL``, ``TerminateLimitReached``)
    and, per engine module, (guards removed, blocks folded)."""
    src_dir = Path(flowtrace.engine.__file__).parent
    pkg = dest / PACKAGE
    (pkg / "engine").mkdir(parents=True, exist_ok=True)
    (pkg / "__init__.py").write_text('"""flowtrace\'s engine with emission compiled out."""\n')
    counts: dict[str, tuple[int, int]] = {}
    for path in sorted(src_dir.glob("*.py")):
        text, guards, blocks = strip_source(path.read_text(encoding="utf-8"), path.name)
        (pkg / "engine" / path.name).write_text(text, encoding="utf-8")
        if guards:
            counts[path.name] = (guards, blocks)
    sys.path.insert(0, str(dest))
    importlib.invalidate_caches()
    hdl = importlib.import_module(f"{PACKAGE}.engine.hdl")
    node = importlib.import_module(f"{PACKAGE}.engine.node")
    flow = importlib.import_module(f"{PACKAGE}.engine.flow")
    importlib.import_module(f"{PACKAGE}.engine.loop")
    module = types.ModuleType(PACKAGE)
    module.node = node.node  # type: ignore[attr-defined]
    module.FlowHDL = hdl.FlowHDL  # type: ignore[attr-defined]
    module.TerminateLimitReached = flow.TerminateLimitReached  # type: ignore[attr-defined]
    return module, counts


def measure(
    engines: dict[str, types.ModuleType], quick: bool, repeats: int
) -> list[tuple[str, dict[str, float], float, float, float]]:
    """Per workload: name, {engine: median run-phase CPU ms}, the median of the
    per-round ratios (first engine / second), and its lower and upper quartiles."""
    import workloads

    rows = []
    names = list(engines)
    for wl_name, (size, quick_size) in SIZES.items():
        n = quick_size if quick else size
        wl = workloads.WORKLOADS[wl_name]
        runners: dict[str, Callable[[], Any]] = {
            name: wl.build(m, n, {"instruments": []}) for name, m in engines.items()
        }
        for run in runners.values():  # warm up
            run()
            run()
        times: dict[str, list[float]] = {name: [] for name in names}
        ratios = []
        for i in range(repeats):
            for name in names if i % 2 == 0 else reversed(names):
                runners[name]()
                times[name].append(runners[name].timer.last_run_cpu_s)  # type: ignore[attr-defined]
            ratios.append(times[names[0]][-1] / times[names[1]][-1])
        q = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratios[0]] * 3
        rows.append(
            (
                f"{wl_name}({n})",
                {name: statistics.median(t) * 1e3 for name, t in times.items()},
                statistics.median(ratios),
                q[0],
                q[2],
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, seconds")
    parser.add_argument(
        "--repeats", type=int, default=None, help="alternating rounds (default 31; quick 5)"
    )
    parser.add_argument("--keep", type=Path, default=None, help="write the package here")
    args = parser.parse_args()
    repeats = args.repeats or (5 if args.quick else 31)
    import flowtrace as ft

    with tempfile.TemporaryDirectory(prefix="ftnoemit-") as tmp_name:
        dest = args.keep if args.keep is not None else Path(tmp_name)
        stripped, counts = build_compiled_out(dest)
        guards = sum(g for g, _ in counts.values())
        blocks = sum(b for _, b in counts.values())
        print(
            f"compiled-out engine: {guards} guards removed, {blocks} blocks folded, "
            "no emit left (" + ", ".join(f"{name} {g}" for name, (g, _) in counts.items()) + ")"
        )
        print(
            "bare runs (no instrument), median CPU ms of the run phase over "
            f"{repeats} alternating rounds; guards/out = the median of per-round ratios "
            "(target <= 1.05x), [quartiles]"
        )
        print(f"{'workload':<14}{'guards ms':>11}{'out ms':>9}{'guards/out':>12}  quartiles")
        for name, ms, ratio, lo, hi in measure(
            {"guards": ft, "out": stripped}, args.quick, repeats
        ):
            print(
                f"{name:<14}{ms['guards']:>11.2f}{ms['out']:>9.2f}{ratio:>11.3f}x"
                f"  [{lo:.3f}, {hi:.3f}]"
            )


if __name__ == "__main__":
    main()

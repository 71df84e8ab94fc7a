"""The differential tester: generated programs under Flowno 0.1.19 and flowtrace.

    .venv-bench/bin/python bench/differential/run.py [--programs 400] [--seed 0]
        [--flowno-runs 3] [--timeout 6] [--jobs 2] [--show N] [--keep DIR]

(``make conformance`` runs it.) For each seed: generate a program
(``generator.py``), run it once under flowtrace and under Flowno in fresh processes
(``engines.py``). Flowno's result varies between processes for some programs (its
cycle breaker and wake orders follow identity hashes), so when the first Flowno run
differs it is run again, up to ``--flowno-runs`` times, and flowtrace agrees when its
outcome is any one of Flowno's. A difference that remains is classified
(``classify.py``): a documented deliberate difference (docs/DESIGN.md §12), Flowno
hanging or crashing where flowtrace finishes, or *unexplained*. Prints the counts and
the first ``--show`` unexplained programs with both outcomes; exits 1 when any
difference is unexplained.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from classify import classify
from engines import Outcome, run_program
from generator import Program, generate


@dataclass
class Verdict:
    seed: int
    category: str  # agree / deliberate: <name> / flowno hangs / unexplained / both hang
    flowtrace: Outcome
    flowno: list[Outcome]
    program: Program
    variant: Outcome | None = None


def judge(seed: int, python: str, workdir: Path, flowno_runs: int, timeout: float) -> Verdict:
    program = generate(seed)
    path = workdir / f"prog_{seed}.py"
    path.write_text(program.source())
    ours = run_program(python, path, "flowtrace", timeout)
    theirs: list[Outcome] = []
    for _ in range(flowno_runs):
        got = run_program(python, path, "flowno", timeout)
        theirs.append(got)
        if got.key() == ours.key():
            break
        if got.hung and len(theirs) >= 2:
            break  # a hang costs the whole timeout: two are enough
    variant = None
    if not any(t.key() == ours.key() for t in theirs):
        variant = run_program(python, path, "flowtrace-first-node", timeout)
    return Verdict(seed, categorize(program, ours, theirs, variant), ours, theirs, program, variant)


def categorize(
    program: Program, ours: Outcome, theirs: list[Outcome], variant: Outcome | None = None
) -> str:
    """``variant``: flowtrace's outcome when it starts each component from its first
    node (Flowno's rule); if that one is Flowno's, the start rule made the difference."""
    if any(t.key() == ours.key() for t in theirs):
        return "agree"
    if variant is not None and any(t.key() == variant.key() for t in theirs):
        return "deliberate: a run starts from every source"
    if ours.hung:
        return "both hang" if all(t.hung for t in theirs) else "unexplained"
    if all(t.hung for t in theirs):
        if any(_REJECTED_FORWARD in t.detail for t in theirs):
            return "deliberate: a template's arguments may be forward references"
        return "flowno hangs"
    finished = [t for t in theirs if not t.hung]
    reason = classify(program, ours, finished)
    if reason is None and variant is not None and not variant.hung:
        also = classify(program, variant, finished)
        if also is not None:
            reason = f"a run starts from every source, and {also}"
    return f"deliberate: {reason}" if reason else "unexplained"


#: Flowno finalizes a template's view when the template is called, so an argument that
#: is a forward reference (or the node's own name) fails there.
_REJECTED_FORWARD = "is referenced, but has not been defined"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--programs", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0, help="first seed")
    parser.add_argument("--flowno-runs", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=6.0)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--show", type=int, default=5)
    parser.add_argument("--keep", type=Path, default=None, help="keep programs in DIR")
    parser.add_argument("--json", type=Path, default=None, help="write verdicts to FILE")
    parser.add_argument(
        "--reclassify",
        type=Path,
        default=None,
        help="classify the outcomes stored in FILE (--json of an earlier run) again",
    )
    args = parser.parse_args(argv)
    python = sys.executable
    if args.reclassify is not None:
        verdicts = [_reclassify(item) for item in json.loads(args.reclassify.read_text())]
        args.seed = min(v.seed for v in verdicts)
        args.programs = len(verdicts)
        return _report(args, verdicts)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.keep or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        seeds = range(args.seed, args.seed + args.programs)
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            verdicts = list(
                pool.map(
                    lambda s: judge(s, python, workdir, args.flowno_runs, args.timeout),
                    seeds,
                )
            )
    return _report(args, verdicts)


def _outcome(table: dict[str, Any]) -> Outcome:
    nodes = tuple(
        (n, d, tuple(g) if g is not None else None, r) for n, (d, g, r) in table["nodes"].items()
    )
    return Outcome(
        table["ended"], nodes, tuple(sorted(table["inner"].items())), table.get("detail", "")
    )


def _reclassify(item: dict[str, Any]) -> Verdict:
    program = generate(item["seed"])
    ours = _outcome(item["flowtrace"])
    theirs = [_outcome(t) for t in item["flowno"]]
    variant = _outcome(item["variant"]) if item.get("variant") else None
    category = categorize(program, ours, theirs, variant)
    return Verdict(item["seed"], category, ours, theirs, program, variant)


def _report(args: argparse.Namespace, verdicts: list[Verdict]) -> int:
    counts = Counter(
        v.category.split(":")[0] if v.category.startswith("deliberate") else v.category
        for v in verdicts
    )
    reasons = Counter(v.category for v in verdicts if v.category.startswith("deliberate"))
    print(f"{len(verdicts)} programs (seeds {args.seed}..{args.seed + args.programs - 1}):")
    for name in ("agree", "deliberate", "flowno hangs", "both hang", "unexplained"):
        print(f"  {name:13} {counts.get(name, 0)}")
    for reason, n in sorted(reasons.items()):
        print(f"    {n:4}  {reason}")
    bad = [v for v in verdicts if v.category == "unexplained"]
    for v in bad[: args.show]:
        print(f"\n-- seed {v.seed} unexplained ({', '.join(v.program.features)})")
        print("   flowtrace:", json.dumps(v.flowtrace.table()), v.flowtrace.detail)
        for t in v.flowno:
            print("   flowno:   ", json.dumps(t.table()), t.detail)
    if args.json is not None:
        args.json.write_text(
            json.dumps(
                [
                    {
                        "seed": v.seed,
                        "category": v.category,
                        "flowtrace": v.flowtrace.table(),
                        "flowno": [t.table() for t in v.flowno],
                        "variant": v.variant.table() if v.variant else None,
                    }
                    for v in verdicts
                ],
                indent=1,
            )
        )
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())

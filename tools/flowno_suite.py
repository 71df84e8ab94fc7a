"""Run Flowno 0.1.19's own test suite against flowtrace, and against Flowno itself.

``make flowno-tests`` runs this. It downloads the flowno sdist from PyPI into a
temporary directory (``pip download``), copies its ``tests/`` twice — once as they are,
once with every whole word ``flowno`` replaced by ``flowtrace`` (what a user does to port
a program: ``from flowno.io import …`` becomes ``from flowtrace.io import …``) — and runs
each copy with pytest and pytest-timeout: the rewritten one in flowtrace's environment,
the original in an environment where flowno is installed (``.venv-bench``). It then
prints, per test, which engine passed it, and a summary.

Nothing of Flowno's is written into the repository: the scratch copies live in the
temporary directory, which is removed at the end (``--keep`` keeps it and says where).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

VERSION = "0.1.19"
_WORD = re.compile(r"\bflowno\b")


def download(into: Path, pip_python: str) -> Path:
    """The extracted sdist directory (``pip download`` with ``pip_python``'s pip)."""
    subprocess.run(
        [
            pip_python,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--no-binary",
            ":all:",
            f"flowno=={VERSION}",
            "-d",
            str(into),
        ],
        check=True,
    )
    archive = next(into.glob("flowno-*.tar.gz"))
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    return into / f"flowno-{VERSION}"


def rewrite(src: Path, dst: Path) -> int:
    """Copy ``src`` to ``dst`` with ``flowno`` → ``flowtrace`` in every ``.py`` file;
    returns how many files changed."""
    changed = 0
    shutil.copytree(src, dst)
    for path in dst.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        new = _WORD.sub("flowtrace", text)
        if new != text:
            path.write_text(new, encoding="utf-8")
            changed += 1
    return changed


def run_pytest(python: str, tests: Path, xml: Path, timeout: int) -> tuple[int, str]:
    """Run pytest in ``tests``' parent; returns (exit code, last summary line)."""
    proc = subprocess.run(
        [
            os.path.abspath(python),
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--continue-on-collection-errors",
            f"--timeout={timeout}",
            f"--junitxml={xml}",
            "-o",
            "junit_family=xunit2",
            tests.name,
        ],
        cwd=tests.parent,
        capture_output=True,
        text=True,
        check=False,
    )
    summary = re.compile(r"^=*\s*\d+ (passed|failed|skipped|errors?)\b.* in [\d.]+s")
    lines = [ln.strip("= ") for ln in proc.stdout.splitlines() if summary.match(ln)]
    return proc.returncode, lines[-1] if lines else proc.stderr.strip()[-300:]


def outcomes(xml: Path) -> dict[str, tuple[str, str]]:
    """``{test id: (outcome, first line of the failure message)}`` from a JUnit file."""
    result: dict[str, tuple[str, str]] = {}
    if not xml.exists():
        return result
    for case in ET.parse(xml).getroot().iter("testcase"):
        name = f"{case.get('classname', '')}::{case.get('name', '')}"
        outcome, message = "passed", ""
        for child in case:
            if child.tag in ("failure", "error"):
                outcome = "failed"
                message = (
                    (child.get("message") or "").splitlines()[0][:160]
                    if child.get("message")
                    else ""
                )
                break
            if child.tag == "skipped":
                outcome = "skipped"
                break
        result[name] = (outcome, message)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--flowtrace-python", default=sys.executable)
    parser.add_argument(
        "--flowno-python",
        default=None,
        help="a Python with flowno==0.1.19 installed (skip Flowno if unset)",
    )
    parser.add_argument("--timeout", type=int, default=10, help="per test, seconds")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    parser.add_argument("-v", "--verbose", action="store_true", help="list every test")
    args = parser.parse_args(argv)

    scratch = Path(tempfile.mkdtemp(prefix="flowno-suite-"))
    try:
        sdist = download(scratch / "dl", args.flowtrace_python)
        original = scratch / "flowno" / "tests"
        shutil.copytree(sdist / "tests", original)
        ported = scratch / "flowtrace" / "tests"
        n = rewrite(sdist / "tests", ported)
        print(
            f"flowno {VERSION} tests: {len(list(original.glob('test_*.py')))} files, "
            f"{n} rewritten to import flowtrace"
        )

        code, line = run_pytest(args.flowtrace_python, ported, scratch / "ft.xml", args.timeout)
        print(f"flowtrace: {line}")
        ft = outcomes(scratch / "ft.xml")
        fn: dict[str, tuple[str, str]] = {}
        if args.flowno_python:
            _, line = run_pytest(args.flowno_python, original, scratch / "fn.xml", args.timeout)
            print(f"flowno:    {line}")
            fn = outcomes(scratch / "fn.xml")

        groups: dict[str, list[str]] = {}
        for name in sorted(set(ft) | set(fn)):
            a = ft.get(name, ("missing", ""))[0]
            b = fn.get(name, ("not run", ""))[0] if fn else "not run"
            groups.setdefault(f"flowtrace {a:7} / flowno {b}", []).append(name)
        print()
        for key in sorted(groups):
            print(f"{len(groups[key]):4}  {key}")
        for key in sorted(groups):
            if "failed" in key or "missing" in key or args.verbose:
                print(f"\n{key}:")
                for name in groups[key]:
                    msg = ft.get(name, ("", ""))[1]
                    print(
                        f"  {name}"
                        + (f"\n      {msg}" if msg and "flowtrace failed" in key else "")
                    )
        counts = Counter(o for o, _ in ft.values())
        print(f"\nflowtrace totals: {dict(sorted(counts.items()))}")
        if args.keep:
            print(f"scratch kept in {scratch}")
        return 0 if code in (0, 1) else code
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())

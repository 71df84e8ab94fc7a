"""Trace files are untrusted input: every reader gets through a corpus of hostile files
(:mod:`hostile.corpus`) in bounded time and memory, each file ending in a clear
one-line error or a lenient result, never a traceback, never a terminal escape."""

from __future__ import annotations

import gzip
import json
import os
import resource
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from hostile import corpus

DRIVER = Path(__file__).with_name("driver.py")
#: Address space each reader process may use: a reader that held a whole bomb (or a
#: whole line past the limit) would die of MemoryError well before it.
MEMORY_LIMIT = 768 << 20
#: Wall time for a whole batch of readers over the corpus (each file also has its own
#: limit inside the driver); generous for a loaded 2-core machine.
TIMEOUT = 300

COMMANDS = ["show", "show-lenient", "export-chrome", "export-jaeger", "tui-summary"]


def limited(memory: int) -> Callable[[], None]:
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    return apply


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("hostile")
    cases = corpus.build(directory / "corpus")
    path = directory / "manifest.json"
    path.write_text(
        json.dumps([{"name": c.name, "path": str(c.path), "sound": c.sound} for c in cases])
    )
    return path


def run_driver(manifest: Path, readers: list[str]) -> subprocess.Popen[str]:
    env = {**os.environ, "FLOWTRACE_MAX_LINE_MIB": str(corpus.LINE_LIMIT_MIB), "COLUMNS": "100"}
    return subprocess.Popen(
        [sys.executable, str(DRIVER), str(manifest), *readers],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=limited(MEMORY_LIMIT),
    )


def test_every_reader_ends_every_hostile_file_cleanly(manifest: Path) -> None:
    cases = json.loads(manifest.read_text())
    assert len(cases) > 80
    # two processes: the machine has two cores
    batches = [["api"], COMMANDS]
    procs = [run_driver(manifest, readers) for readers in batches]
    results: list[dict[str, object]] = []
    for proc, readers in zip(procs, batches, strict=True):
        out, err = proc.communicate(timeout=TIMEOUT)
        assert proc.returncode == 0, err[-2000:]
        lines = [json.loads(line) for line in out.splitlines()]
        usage = lines.pop()
        # The hard bound is RLIMIT_AS (768 MiB) on each driver. Peaks seen: 80-165 MB
        # run alone on 3.11-3.13, once 455 MB on 3.12 in a full CI run (not explained
        # yet); this checks that no reader comes near the limit.
        assert isinstance(usage["peak_rss_kb"], int) and usage["peak_rss_kb"] < 600_000
        assert {(r["case"], r["reader"]) for r in lines} == {
            (c["name"], reader) for c in cases for reader in readers
        }
        results.extend(lines)
    failures = [f"{r['reader']} {r['case']}: {r['why']}" for r in results if not r["ok"]]
    assert not failures, "\n".join(failures)


def test_the_corpus_holds_what_it_promises(manifest: Path) -> None:
    cases = {c["name"]: Path(c["path"]) for c in json.loads(manifest.read_text())}
    sizes = sum(p.stat().st_size for p in cases.values())
    assert sizes < 30 << 20  # small on disk: the bombs are compressed
    bomb = gzip.decompress(cases["gz-bomb"].read_bytes())
    assert len(bomb) > 20 * cases["gz-bomb"].stat().st_size
    assert json.dumps(corpus.ESCAPES)[1:-1] in cases["escapes"].read_text()
    for name in (
        "seq-swapped",
        "deep-array",
        "blank-flood",
        "huge-line",
        "flip-0",
        "kind-unknown",
        "absurd-but-typed",
        "values-odd-shapes",
    ):
        assert name in cases


def test_a_bomb_read_with_the_default_line_limit_stays_in_bounded_memory(
    tmp_path: Path,
) -> None:
    """The real command, the real 16 MiB limit: a line of 40 MiB of zeros (40 KB on
    disk) is refused strictly and skipped leniently, under a memory limit that holding
    it (and the block copies around it) would exceed."""
    base = tmp_path / "base.ftrace.jsonl"
    corpus._record(base)
    bomb = tmp_path / "bomb.ftrace.jsonl.gz"
    with gzip.open(bomb, "wb", compresslevel=9) as f:
        f.write(base.read_bytes())
        for _ in range(40):
            f.write(b"\0" * (1 << 20))
        f.write(b"\n")
    env = {k: v for k, v in os.environ.items() if k != "FLOWTRACE_MAX_LINE_MIB"}

    def flowtrace(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "flowtrace.cli", *args],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
            preexec_fn=limited(400 << 20),
        )

    strict = flowtrace("show", str(bomb))
    assert strict.returncode == 1
    assert strict.stderr.count("\n") == 1 and "is longer than 16 MiB" in strict.stderr
    lenient = flowtrace("show", "--lenient", str(bomb))
    assert lenient.returncode == 0, lenient.stderr
    assert "1 bad line(s) skipped (41943041 bytes)" in lenient.stdout.replace("\n", " ")
    assert "2 run(s)" in lenient.stdout

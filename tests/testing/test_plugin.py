"""The pytest plugin and the syrupy extension, end to end: a user's test file run by
pytest (``pytester``) writes a ``.trace.txt`` snapshot, fails with a readable diff when
the order changes, and passes again after ``--snapshot-update``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

# A conftest in tests/testing/ may not declare plugins (pytest refuses pytest_plugins
# outside the top-level conftest); a test module may.
pytest_plugins = ["pytester"]

#: A user's program whose order is chosen by an environment variable: spawning the
#: tasks in another order is the "scheduler change" the snapshot must catch.
PROGRAM = """
import os
from flowtrace import EventLoop, sleep, spawn

async def main():
    async def work(name):
        await sleep(0)
        return name
    handles = [await spawn(work(n), name=n) for n in os.environ.get("ORDER", "ab")]
    for handle in handles:
        await handle.join()

def run_my_flow():
    EventLoop().run_until_complete(main(), join=True)
"""

USER_TEST = (
    PROGRAM
    + """
def test_order(flowtrace_capture, flowtrace_snapshot):
    run_my_flow()
    assert flowtrace_capture.order("full") == flowtrace_snapshot
"""
)

SNAPSHOT_AB = """\
   0  loop started: root task 0
   1  task 0 spawned: 'main'
   2  task 1 spawned: 'a' by task 0
   3  task 1 sleeps 0.0s
   4  task 1 sleep ended
   5  task 2 spawned: 'b' by task 0
   6  task 1 returned 'a'
   7  task 2 sleeps 0.0s
   8  task 2 sleep ended
   9  task 2 returned 'b'
  10  task 0 returned None
  11  loop exited: completed, 0 tasks left
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini("[pytest]\ntestpaths = tests\n")
    pytester.mkdir("tests")
    return pytester


def _pytest(project: pytest.Pytester, *args: str) -> pytest.RunResult:
    """Run pytest in-process on the user's project. Hypothesis's plugin is left out:
    it takes over a second to configure in every in-process session."""
    return project.runpytest("-p", "no:hypothesispytest", *args)


def _write_test(project: pytest.Pytester, source: str, name: str = "test_user.py") -> None:
    (project.path / "tests" / name).write_text(source)


def test_snapshot_is_written_fails_with_a_diff_and_is_updated(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write_test(project, USER_TEST)
    snapshot = project.path / "snapshots" / "test_user" / "test_order.trace.txt"

    created = _pytest(project, "--snapshot-update")
    created.assert_outcomes(passed=1)
    assert snapshot.read_text() == SNAPSHOT_AB
    _pytest(project).assert_outcomes(passed=1)

    monkeypatch.setenv("ORDER", "ba")
    changed = _pytest(project)
    changed.assert_outcomes(failed=1)
    changed.stdout.fnmatch_lines(
        [
            "*   1  task 0 spawned: 'main'",
            "*-    2  task 1 spawned: 'a' by task 0",
            "*+    2  task 1 spawned: 'b' by task 0",
            "*1 snapshot failed*",
        ]
    )
    assert snapshot.read_text() == SNAPSHOT_AB  # a failure never rewrites the snapshot

    _pytest(project, "--snapshot-update").assert_outcomes(passed=1)
    assert "   2  task 1 spawned: 'b' by task 0\n" in snapshot.read_text()
    _pytest(project).assert_outcomes(passed=1)


def test_a_missing_snapshot_fails_until_it_is_created(project: pytest.Pytester) -> None:
    _write_test(project, USER_TEST)
    result = _pytest(project)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*Snapshot 'test_order' does not exist!*"])


def test_syrupy_snapshot_with_the_extension_and_a_capture_as_data(
    project: pytest.Pytester,
) -> None:
    _write_test(
        project,
        PROGRAM
        + """
from flowtrace.testing import TraceSnapshotExtension

def test_explicit(flowtrace_capture, snapshot):
    run_my_flow()
    assert flowtrace_capture.order("full") == snapshot.use_extension(TraceSnapshotExtension)

def test_capture_itself(flowtrace_capture, flowtrace_snapshot):
    run_my_flow()
    assert flowtrace_capture == flowtrace_snapshot
""",
    )
    _pytest(project, "--snapshot-update").assert_outcomes(passed=2)
    folder = project.path / "snapshots" / "test_user"
    assert (folder / "test_explicit.trace.txt").read_text() == SNAPSHOT_AB
    # A Capture compared directly is stored at the default (scheduling) level: a
    # plain loop program has no flow events, so the file is empty.
    assert (folder / "test_capture_itself.trace.txt").read_text() == ""
    _pytest(project).assert_outcomes(passed=2)


def test_the_snapshot_folder_follows_the_ini_option_and_the_tests_tree(
    project: pytest.Pytester,
) -> None:
    project.makeini("[pytest]\ntestpaths = tests\nflowtrace_snapshot_dir = golden/orders\n")
    project.mkdir("tests/engine")
    _write_test(project, USER_TEST, "engine/test_user.py")
    _pytest(project, "--snapshot-update").assert_outcomes(passed=1)
    written = sorted(p.relative_to(project.path) for p in project.path.rglob("*.trace.txt"))
    assert written == [Path("golden/orders/engine/test_user/test_order.trace.txt")]


def test_parametrized_tests_get_one_file_per_case(project: pytest.Pytester) -> None:
    _write_test(
        project,
        PROGRAM
        + """
import pytest

@pytest.mark.parametrize("order", ["ab", "ba"])
def test_case(order, monkeypatch, flowtrace_capture, flowtrace_snapshot):
    monkeypatch.setenv("ORDER", order)
    run_my_flow()
    assert flowtrace_capture.order("full") == flowtrace_snapshot
""",
    )
    _pytest(project, "--snapshot-update").assert_outcomes(passed=2)
    folder = project.path / "snapshots" / "test_user"
    assert sorted(p.name for p in folder.iterdir()) == [
        "test_case[ab].trace.txt",
        "test_case[ba].trace.txt",
    ]
    _pytest(project).assert_outcomes(passed=2)


def test_unused_snapshots_are_reported_and_deleted_on_update(project: pytest.Pytester) -> None:
    _write_test(project, USER_TEST)
    _pytest(project, "--snapshot-update").assert_outcomes(passed=1)
    stale = project.path / "snapshots" / "test_user" / "test_removed.trace.txt"
    stale.write_text("   0  loop started: root task 0\n")
    _pytest(project).stdout.fnmatch_lines(["*1 snapshot unused*"])
    _pytest(project, "--snapshot-update").assert_outcomes(passed=1)
    assert not stale.exists()
    assert (stale.parent / "test_order.trace.txt").exists()


def test_the_capture_fixture_is_detached_after_the_test(project: pytest.Pytester) -> None:
    _write_test(
        project,
        PROGRAM
        + """
from flowtrace.instrument import default_instruments

seen = []

def test_first(flowtrace_capture):
    seen.append(flowtrace_capture)
    run_my_flow()
    assert len(flowtrace_capture.runs) == 1
    assert flowtrace_capture in default_instruments()

def test_after():
    run_my_flow()
    assert len(seen[0].runs) == 1
    assert seen[0] not in default_instruments()
""",
    )
    _pytest(project).assert_outcomes(passed=2)


def test_without_syrupy_the_capture_works_and_the_snapshot_fixture_explains(
    project: pytest.Pytester,
) -> None:
    _write_test(
        project,
        PROGRAM
        + """
def test_capture_only(flowtrace_capture):
    run_my_flow()
    assert flowtrace_capture.lines("full")[0] == "loop started: root task 0"

def test_snapshot(flowtrace_snapshot):
    pass
""",
    )
    result = _pytest(project, "-p", "no:syrupy")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*flowtrace_snapshot needs syrupy*snapshot*fixture*missing*"])


def test_loading_the_plugin_imports_neither_syrupy_nor_the_testing_tools() -> None:
    code = (
        "import sys, flowtrace.testing.plugin\n"
        "print(sorted(m for m in sys.modules if m.startswith(('syrupy', 'flowtrace.testing.'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert out.strip() == "['flowtrace.testing.plugin']"


def test_without_syrupy_installed_the_snapshot_fixture_says_how_to_get_it(
    project: pytest.Pytester,
) -> None:
    project.makeconftest(
        """
import sys
import pytest

@pytest.fixture(autouse=True)
def syrupy_not_installed(monkeypatch):
    monkeypatch.setitem(sys.modules, "syrupy", None)  # import syrupy -> ImportError
"""
    )
    _write_test(project, "def test_snapshot(flowtrace_snapshot):\n    pass\n")
    result = _pytest(project, "-p", "no:syrupy")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*flowtrace_snapshot needs syrupy: install syrupy*"])


def _first_python_block(markdown: str) -> str:
    start = markdown.index("```python\n") + len("```python\n")
    return markdown[start : markdown.index("```", start)]


def test_the_users_test_from_the_guide_works_end_to_end(project: pytest.Pytester) -> None:
    guide = (Path(__file__).resolve().parents[2] / "docs" / "testing.md").read_text()
    source = _first_python_block(guide)
    assert "assert flowtrace_capture.order() == flowtrace_snapshot" in source
    _write_test(project, source, "test_flows.py")
    snapshot = project.path / "snapshots" / "test_flows" / "test_order.trace.txt"

    _pytest(project, "--snapshot-update").assert_outcomes(passed=1)
    original = snapshot.read_text()
    assert "total emitted (0,): 7" in original

    # The user rewires the flow: the order changes and the test says how.
    changed_source = source.replace("Add(f.double, 1)", "Add(1, f.double)")
    assert changed_source != source
    _write_test(project, changed_source, "test_flows.py")
    failed = _pytest(project)
    failed.assert_outcomes(failed=1)
    failed.stdout.fnmatch_lines(["*-*flow started: *; total: mono Add(a <- double.0, b <- *"])
    failed.stdout.fnmatch_lines(
        ["*+*flow started: *; total: mono Add(a <- Constant#*, b <- double.0)*"]
    )
    assert snapshot.read_text() == original

    _pytest(project, "--snapshot-update").assert_outcomes(passed=1)
    assert snapshot.read_text() != original
    _pytest(project).assert_outcomes(passed=1)

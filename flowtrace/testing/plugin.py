"""pytest plugin (entry point ``flowtrace``): fixtures for execution-order tests.

Fixtures:

``flowtrace_capture``
    a fresh :class:`~flowtrace.testing.Capture` attached as a process-default
    instrument for the test, so every flow the test runs (in any thread) is captured
    without passing it; detached afterwards.
``flowtrace_snapshot``
    syrupy's ``snapshot`` using :class:`~flowtrace.testing.TraceSnapshotExtension`
    (``.trace.txt`` files under ``snapshots/``).

Ini option ``flowtrace_snapshot_dir``: where trace snapshots live (default
``snapshots``, relative to the rootdir).

pytest loads this module in every run of every project where flowtrace is installed,
so it imports nothing at module level beyond pytest itself: flowtrace and syrupy are
imported inside the fixtures, and a missing syrupy only matters to a test that asks
for ``flowtrace_snapshot``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from syrupy.assertion import SnapshotAssertion

    from flowtrace.testing.capture import Capture

__all__ = ["flowtrace_capture", "flowtrace_snapshot", "pytest_addoption"]


def pytest_addoption(parser: pytest.Parser) -> None:
    """Declare the ``flowtrace_snapshot_dir`` ini setting."""
    parser.addini(
        "flowtrace_snapshot_dir",
        "folder of flowtrace execution-order snapshots (.trace.txt), relative to the "
        "rootdir (default: snapshots)",
        default="snapshots",
    )


@pytest.fixture
def flowtrace_capture() -> Iterator[Capture]:
    """A Capture attached to every flow run during the test."""
    from flowtrace.instrument import add_default_instrument, remove_default_instrument
    from flowtrace.testing.capture import Capture

    capture = Capture()
    add_default_instrument(capture)
    try:
        yield capture
    finally:
        remove_default_instrument(capture)


@pytest.fixture
def flowtrace_snapshot(request: pytest.FixtureRequest) -> SnapshotAssertion:
    """syrupy's ``snapshot`` storing ``.trace.txt`` files under the snapshot folder."""
    hint = "install syrupy (pip install syrupy, or flowtrace[test]) and keep its plugin enabled"
    try:
        import syrupy  # noqa: F401
    except ImportError:
        pytest.fail(f"flowtrace_snapshot needs syrupy: {hint}", pytrace=False)
    try:
        snapshot: SnapshotAssertion = request.getfixturevalue("snapshot")
    except pytest.FixtureLookupError:
        pytest.fail(
            f"flowtrace_snapshot needs syrupy's 'snapshot' fixture, which is missing: {hint}",
            pytrace=False,
        )
    from flowtrace.testing.syrupy_ext import TraceSnapshotExtension

    return snapshot.use_extension(TraceSnapshotExtension)

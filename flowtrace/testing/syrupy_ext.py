"""A syrupy extension that stores execution orders as ``.trace.txt`` files.

One snapshot is one plain-text file, one event per line, so a changed order reviews
as an ordinary line diff (in the pytest failure and in ``git diff``). Files live in
one top-level folder of the project, not beside each test, so the project's
behaviour can be read in one place::

    <rootdir>/<flowtrace_snapshot_dir>/<test dir below testpaths>/<test file>/<test>.trace.txt

``flowtrace_snapshot_dir`` is an ini option (default ``snapshots``; relative to the
rootdir, or absolute); a subclass may set :attr:`TraceSnapshotExtension.snapshot_dir`
instead. The last two path parts follow syrupy's single-file layout, which syrupy
relies on to find unused snapshots and to delete them on ``--snapshot-update``.

A failed comparison explains itself first: the message starts with the first event
where the received order departs from the snapshot, both versions of that line and the
nodes (and generations) involved (:func:`flowtrace.diff.text.divergence_summary`),
then syrupy's line diff.

This module imports syrupy; :mod:`flowtrace.testing` imports it only on demand.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

if TYPE_CHECKING:
    from syrupy.location import PyTestLocation
    from syrupy.types import PropertyFilter, PropertyMatcher, SerializableData, SerializedData

__all__ = ["TraceSnapshotExtension", "DEFAULT_SNAPSHOT_DIR", "INI_OPTION"]

DEFAULT_SNAPSHOT_DIR = "snapshots"
INI_OPTION = "flowtrace_snapshot_dir"


class TraceSnapshotExtension(SingleFileSnapshotExtension):
    """Snapshots of execution orders: text files ending in ``.trace.txt``.

    Accepts a ``str`` (what :meth:`Capture.order` returns) or any object with an
    ``order()`` method (a :class:`~flowtrace.testing.Capture`: its ``scheduling``
    order is stored).
    """

    file_extension = "trace.txt"
    _write_mode = WriteMode.TEXT
    #: Overrides the ini option when set (relative to the rootdir, or absolute).
    snapshot_dir: ClassVar[str | None] = None
    #: True while syrupy stores a diff as a snapshot (no explanation in it then).
    _plain_diff = False

    def diff_lines(
        self, serialized_data: SerializedData, snapshot_data: SerializedData
    ) -> Iterator[str]:
        """syrupy's diff of a failed assertion, after the first divergence."""
        if not self._plain_diff and snapshot_data:
            from flowtrace.diff.text import divergence_summary

            yield from divergence_summary(str(snapshot_data), str(serialized_data))
        yield from super().diff_lines(serialized_data, snapshot_data)

    def diff_snapshots(
        self, serialized_data: SerializedData, snapshot_data: SerializedData
    ) -> SerializedData:
        self._plain_diff = True
        try:
            return super().diff_snapshots(serialized_data, snapshot_data)
        finally:
            self._plain_diff = False

    def serialize(
        self,
        data: SerializableData,
        *,
        exclude: PropertyFilter | None = None,
        include: PropertyFilter | None = None,
        matcher: PropertyMatcher | None = None,
    ) -> SerializedData:
        if isinstance(data, str):
            text = data
        elif callable(getattr(data, "order", None)):
            text = str(data.order())
        else:
            raise TypeError(
                f"a trace snapshot stores text, got {type(data).__name__}: compare "
                "capture.order() (or the Capture itself) with the snapshot"
            )
        text = text.replace("\r\n", "\n")
        if text and not text.endswith("\n"):
            text += "\n"
        return text

    @classmethod
    def snapshot_root(cls, *, test_location: PyTestLocation) -> Path:
        """The folder holding every trace snapshot of the project."""
        config = test_location.item.config
        configured = cls.snapshot_dir
        if configured is None:
            configured = _ini(config, INI_OPTION) or DEFAULT_SNAPSHOT_DIR
        path = Path(configured)
        return path if path.is_absolute() else Path(config.rootpath) / path

    @classmethod
    def dirname(cls, *, test_location: PyTestLocation) -> str:
        root = cls.snapshot_root(test_location=test_location)
        relative = _test_dir_below_testpaths(test_location)
        return str(root / relative / test_location.basename)


def _ini(config: Any, name: str) -> str | None:
    """An ini value, or ``None`` when unset or unknown (the plugin not loaded)."""
    try:
        value = config.getini(name)
    except ValueError:
        return None
    return str(value) if value else None


def _test_dir_below_testpaths(test_location: PyTestLocation) -> Path:
    """The test file's folder relative to the ``testpaths`` entry holding it (else to
    the rootdir), so ``tests/engine/test_x.py`` maps to ``snapshots/engine/test_x/``."""
    config = test_location.item.config
    rootpath = Path(config.rootpath).resolve()
    test_dir = Path(test_location.filepath).resolve().parent
    testpaths = _ini_list(config, "testpaths")
    for entry in testpaths:
        base = (rootpath / entry).resolve()
        if test_dir.is_relative_to(base):
            return test_dir.relative_to(base)
    if test_dir.is_relative_to(rootpath):
        return test_dir.relative_to(rootpath)
    return Path()


def _ini_list(config: Any, name: str) -> list[str]:
    try:
        value = config.getini(name)
    except ValueError:
        return []
    return [str(v) for v in value] if isinstance(value, list) else []

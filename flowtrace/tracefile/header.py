"""The trace file's names and its header: the format name and suffixes, line 1 of a
file (:class:`TraceHeader`: schema version, versions, wall-clock start, command line,
encoding options), which schema versions a reader opens, and where a script's trace
goes by default.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from flowtrace.codec import JsonValue
from flowtrace.events import SCHEMA_VERSION
from flowtrace.tracefile.errors import TraceFormatError, TraceVersionError

__all__ = [
    "FORMAT_NAME",
    "SUFFIX",
    "GZIP_SUFFIX",
    "TraceHeader",
    "make_header",
    "default_trace_path",
]

FORMAT_NAME = "flowtrace"
SUFFIX = ".ftrace.jsonl"
GZIP_SUFFIX = ".ftrace.jsonl.gz"


@dataclass(frozen=True)
class TraceHeader:
    """Line 1 of a trace file. ``options`` records how values were encoded
    (``values``: values kept or omitted, ``max_repr``, ``redacted``); ``extra`` keeps
    any header key this version does not know, so nothing read is lost."""

    schema: tuple[int, int]
    flowtrace_version: str
    python_version: str
    wall_time_ns: int
    argv: tuple[str, ...]
    pid: int = 0
    options: dict[str, JsonValue] = field(default_factory=dict)
    extra: dict[str, JsonValue] = field(default_factory=dict)

    def to_json(self) -> dict[str, JsonValue]:
        started = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(self.wall_time_ns / 1e9))
        return {
            "format": FORMAT_NAME,
            "schema": list(self.schema),
            "flowtrace": self.flowtrace_version,
            "python": self.python_version,
            "wall_time_ns": self.wall_time_ns,
            "started_at": started + "Z",
            "argv": list(self.argv),
            "pid": self.pid,
            "options": dict(self.options),
            **self.extra,
        }

    @classmethod
    def from_json(cls, obj: Any, path: str) -> TraceHeader:
        """Validate a decoded header line; raises :class:`TraceFormatError`."""
        if type(obj) is not dict or obj.get("format") != FORMAT_NAME:
            raise TraceFormatError(
                path, 1, "not a flowtrace trace: the first line is not a flowtrace header"
            )
        schema = obj.get("schema")
        if type(schema) is not list or len(schema) != 2 or not all(type(x) is int for x in schema):
            raise TraceFormatError(
                path, 1, f"bad header: schema must be [major, minor], got {schema!r}"
            )
        major, minor = schema
        if major not in _READABLE_MAJORS:
            ours = SCHEMA_VERSION[0]
            advice = (
                "upgrade flowtrace to read it"
                if major > ours
                else "re-record it with this flowtrace, or read it with the older flowtrace"
            )
            raise TraceVersionError(
                path,
                1,
                f"this trace uses schema {major}.{minor}, but this flowtrace reads "
                f"schema {ours}.x (and 1.x, upgraded) only: {advice}",
            )

        def get(key: str, kind: type, default: Any) -> Any:
            value = obj.get(key, default)
            if type(value) is not kind:
                raise TraceFormatError(
                    path, 1, f"bad header: {key!r} should be {kind.__name__}, got {value!r}"
                )
            return value

        known = {
            "format",
            "schema",
            "flowtrace",
            "python",
            "wall_time_ns",
            "started_at",
            "argv",
            "pid",
            "options",
        }
        argv = get("argv", list, [])
        return cls(
            schema=(major, minor),
            flowtrace_version=get("flowtrace", str, ""),
            python_version=get("python", str, ""),
            wall_time_ns=get("wall_time_ns", int, 0),
            argv=tuple(str(a) for a in argv),
            pid=get("pid", int, 0),
            options=get("options", dict, {}),
            extra={k: v for k, v in obj.items() if k not in known},
        )

    @property
    def newer_minor(self) -> bool:
        """True when the file comes from a newer minor schema than ours (for a 1.x
        file: newer than the last 1.x, 1.2)."""
        return self.schema[1] > _READABLE_MAJORS.get(self.schema[0], SCHEMA_VERSION[1])

    @property
    def upgraded(self) -> bool:
        """True for a file of an older major schema, whose events are upgraded on
        reading (:mod:`flowtrace.upgrade`)."""
        return self.schema[0] < SCHEMA_VERSION[0]


#: Major schema versions a reader opens, with the last minor version it knows of each.
_READABLE_MAJORS: dict[int, int] = {SCHEMA_VERSION[0]: SCHEMA_VERSION[1], 1: 2}


def make_header(
    argv: list[str] | tuple[str, ...] | None = None,
    options: dict[str, JsonValue] | None = None,
) -> TraceHeader:
    """The header for a trace starting now in this process."""
    import flowtrace  # late: flowtrace/__init__ may import the recorder

    return TraceHeader(
        schema=SCHEMA_VERSION,
        flowtrace_version=flowtrace.__version__,
        python_version=".".join(str(x) for x in sys.version_info[:3]),
        wall_time_ns=time.time_ns(),
        argv=tuple(sys.argv if argv is None else argv),
        pid=os.getpid(),
        options=dict(options or {}),
    )


def default_trace_path(script: str, *, compress: bool = False, directory: str = "") -> str:
    """``hello.py`` -> ``hello.ftrace.jsonl`` (or ``.ftrace.jsonl.gz``) in ``directory``
    (default: the current directory)."""
    stem = os.path.basename(os.path.normpath(script))
    if stem.endswith(".py"):
        stem = stem[:-3]
    return os.path.join(directory, stem + (GZIP_SUFFIX if compress else SUFFIX))

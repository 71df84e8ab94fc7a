"""A generated corpus of hostile trace files: everything a damaged disk, a killed writer
or an attacker can put in a file that ``flowtrace show/tui/export`` is asked to read.

:func:`build` records one sound trace of real flows (a stream, a cycle-free DAG, a node
that raises) and derives every case from it: truncations, bit flips, lines merged and
split, lines longer than the reader's limit, deep nesting, floods of blank lines, events
out of order, fields of the wrong type, values of the right type but absurd meaning,
terminal escape sequences and rich markup in every string a view shows, compressed
streams that break off or expand a thousandfold, and files that are no trace at all.

Sizes assume the reader's line limit is lowered to :data:`LINE_LIMIT_MIB` (the test
sets ``FLOWTRACE_MAX_LINE_MIB``), so the whole corpus is a few megabytes and every
reader gets through it in seconds. The derivation is seeded: the same corpus every run.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flowtrace import FlowHDL, node
from flowtrace.record import Recorder

__all__ = ["LINE_LIMIT_MIB", "Case", "build", "ESCAPES"]

#: The reader's line limit while the corpus is read (MiB).
LINE_LIMIT_MIB = 1
_LIMIT = LINE_LIMIT_MIB << 20

#: What must never reach a terminal from a trace: OSC 52 (sets the clipboard), OSC 0
#: (the window title), CSI 2J (clears the screen), a bell, a C1 CSI, a bidi override.
ESCAPES = "\x1b]52;c;cHduZWQ=\x07\x1b]0;owned\x07\x1b[2J\x07\x9b31m\u202e"
#: Rich markup that crashes (a closing tag with nothing open) or restyles.
MARKUP = "[/x][bold red]loud[/bold red][link=http://x]"


@node
async def Count(limit: int) -> Any:
    for i in range(limit):
        yield i


@node(stream_in=["items"])
async def Total(items: Any) -> int:
    total = 0
    async for item in items:
        total += item
    return total


@node
async def Source(n: int) -> int:
    return n


@node
async def Explode(x: int) -> int:
    raise ValueError(f"boom {x} {ESCAPES} {MARKUP}")


def _record(path: Path) -> None:
    recorder = Recorder(path, flush_interval=0)
    with FlowHDL() as f:
        f.count = Count(4)
        f.total = Total(f.count)
    f.run_until_complete(instruments=[recorder])
    with FlowHDL() as g:
        g.src = Source(21)
        g.boom = Explode(g.src)
    with contextlib.suppress(Exception):  # the node's error ends the run, recorded
        g.run_until_complete(instruments=[recorder])
    recorder.close()


@dataclass(frozen=True)
class Case:
    """One file of the corpus; ``sound`` when every strict reader must accept it."""

    name: str
    path: Path
    sound: bool = False


def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")[:-1]


def _join(lines: list[bytes]) -> bytes:
    return b"".join(line + b"\n" for line in lines)


def _event_line(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def build(directory: Path, seed: int = 20) -> list[Case]:
    """Write the corpus into ``directory``; returns its cases."""
    directory.mkdir(parents=True, exist_ok=True)
    base_path = directory / "base.ftrace.jsonl"
    _record(base_path)
    base = base_path.read_bytes()
    lines = _lines(base)
    header, events = lines[0], lines[1:]
    objs = [json.loads(line) for line in events]
    rng = random.Random(seed)
    cases: list[Case] = [Case("base", base_path, sound=True)]

    def add(name: str, data: bytes, *, sound: bool = False, gz: bool = False) -> None:
        path = directory / (name + (".ftrace.jsonl.gz" if gz else ".ftrace.jsonl"))
        path.write_bytes(gzip.compress(data, 6) if gz else data)
        cases.append(Case(name, path, sound))

    def with_event(name: str, index: int, change: Callable[[dict[str, Any]], Any]) -> None:
        """The base with event ``index`` rewritten by ``change`` (which may return the
        raw bytes of the new line instead of changing the object)."""
        obj = json.loads(events[index])
        raw = change(obj)
        new = list(events)
        new[index] = raw if isinstance(raw, bytes) else _event_line(obj)
        assert new[index] != events[index], name
        add(name, _join([header, *new]))

    def first(kind: str) -> int:
        return next(i for i, o in enumerate(objs) if o["kind"] == kind)

    # -- truncations and bit flips
    for fraction in (0.0, 0.001, 0.3, 0.5, 0.97):
        add(f"cut-{fraction}", base[: int(len(base) * fraction)])
    add("cut-header", base[: len(header) // 2])
    for n in range(8):
        data = bytearray(base)
        for _ in range(1 + n * 3):
            at = rng.randrange(len(header) + 1, len(data))
            data[at] ^= 1 << rng.randrange(8)
        add(f"flip-{n}", bytes(data))
    merged = list(events)
    merged[5:7] = [merged[5] + merged[6]]
    add("lines-merged", _join([header, *merged]))
    split = list(events)
    cut = len(split[8]) // 2
    split[8:9] = [split[8][:cut], split[8][cut:]]
    add("line-split", _join([header, *split]))

    # -- length, nesting, blank floods
    add("huge-line", _join([header, *events[:4], b"a" * (_LIMIT * 2 + 7), *events[4:]]))
    add("huge-last-line-unterminated", _join([header, *events]) + b"{" * (_LIMIT + 10))
    add(
        "huge-valid-string",
        _join(
            [
                header,
                *events[:4],
                _event_line({**objs[4], "run_id": "x" * (_LIMIT + 1)}),
                *events[5:],
            ]
        ),
    )
    add("huge-header", b'{"format":"flowtrace","pad":"' + b"p" * (_LIMIT + 1) + b'"}\n' + base)
    add("deep-array", _join([header, *events[:3], b"[" * 100_000, *events[3:]]))
    add(
        "deep-object",
        _join([header, *events[:3], b'{"a":' * 50_000 + b"1" + b"}" * 50_000, *events[3:]]),
    )
    deep_value = "[" * 900 + "0" + "]" * 900
    index = first("DataEmitted")
    with_event(
        "deep-value",
        index,
        lambda o: events[index].replace(
            b'"values":[', b'"values":[' + deep_value.encode() + b",", 1
        ),
    )
    add(
        "deep-header",
        b'{"format":"flowtrace","x":' + b"[" * 5000 + b"]" * 5000 + b"}\n" + _join(events),
    )
    add("blank-flood", _join([header, *events[:10]]) + b"\n" * 3_000_000 + _join(events[10:]))
    add(
        "whitespace-flood",
        _join([header, *events[:10]]) + b" \t\r\n" * 300_000 + _join(events[10:]),
    )
    add("blank-header", b"\n" * 1000 + base)

    # -- order
    swapped = list(events)
    swapped[10], swapped[11] = swapped[11], swapped[10]
    add("seq-swapped", _join([header, *swapped]))
    add("seq-duplicated", _join([header, *events[:12], events[11], *events[12:]]))
    add("seq-reset", _join([header, *events[:15], *events[:15], *events[15:]]))
    reversed_run = [events[0], *reversed(events[1:30]), *events[30:]]
    add("seq-reversed", _join([header, *reversed_run]))
    with_event("seq-negative", 0, lambda o: o.update(seq=-5))
    with_event("seq-huge", 3, lambda o: o.update(seq=10**30))

    # -- wrong types
    wrong: dict[str, Callable[[dict[str, Any]], Any]] = {
        "seq-string": lambda o: o.update(seq="4"),
        "seq-float": lambda o: o.update(seq=4.0),
        "seq-bool": lambda o: o.update(seq=True),
        "seq-nan": lambda o: events[3].replace(b'"seq":3', b'"seq":NaN', 1),
        "seq-1e400": lambda o: events[3].replace(b'"seq":3', b'"seq":1e400', 1),
        "seq-digits": lambda o: events[3].replace(b'"seq":3', b'"seq":' + b"9" * 5000, 1),
        "run-id-int": lambda o: o.update(run_id=7),
        "run-id-null": lambda o: o.update(run_id=None),
        "t-ns-string": lambda o: o.update(t_ns="now"),
        "kind-missing": lambda o: o.pop("kind"),
        "kind-unknown": lambda o: o.update(kind="Teleported"),
        "kind-number": lambda o: o.update(kind=3),
        "not-an-object": lambda o: b"[1,2,3]",
        "a-string": lambda o: b'"NodeStarted"',
        "extra-field": lambda o: o.update(extra={"nested": [1, 2]}),
        "missing-field": lambda o: o.pop(next(k for k in o if k not in ("kind", "seq"))),
        "nul-bytes": lambda o: b"\0" * 300,
        "invalid-utf8": lambda o: events[3][:-2] + b'\xff\xfe"}',
    }
    for name, change in wrong.items():
        with_event(name, 3, change)
    index = first("NodeStarted")
    with_event("generation-dict", index, lambda o: o.update(generation={"a": 1}))
    with_event("generation-strings", index, lambda o: o.update(generation=["0"]))
    with_event("node-id-list", index, lambda o: o.update(node_id=["a"]))
    index = first("FlowStarted")
    with_event("graph-null", index, lambda o: o.update(graph=None))
    with_event("graph-nodes-dict", index, lambda o: o["graph"].update(nodes={"x": 1}))
    with_event("graph-node-missing-id", index, lambda o: o["graph"]["nodes"][0].pop("node_id"))
    index = first("NodeErrored")
    with_event("error-null", index, lambda o: o.update(error=None))
    with_event("error-message-int", index, lambda o: o["error"].update(message=5))
    with_event("error-traceback-list", index, lambda o: o["error"].update(traceback=["a"]))
    index = first("DataEmitted")
    with_event("values-string", index, lambda o: o.update(values="nope"))
    with_event(
        "values-odd-shapes",
        index,
        lambda o: o.update(
            values=[
                {"$repr": 5, "$type": ["x"], "$truncated": "yes"},
                {"$redacted": "no"},
                {"$omitted": 1},
                {"$x": {"$y": [None]}},
                1e308,
                -0.0,
            ]
        ),
    )
    with_event("values-many", index, lambda o: o.update(values=list(range(20_000))))

    # -- right types, absurd meaning
    absurd = list(objs)
    start = first("NodeStarted")
    absurd.insert(start, {**objs[start], "node_id": "ghost", "generation": [10**18, 3]})
    absurd.insert(
        start,
        {**objs[start], "kind": "NodeFinished", "node_id": "never-started", "outcome": "completed"},
    )
    for seq, obj in enumerate(o for o in absurd if o["run_id"] == objs[0]["run_id"]):
        obj["seq"] = seq
    add("absurd-but-typed", _join([header, *(_event_line(o) for o in absurd)]))
    add("only-the-end", _join([header, *events[-3:]]))
    add("header-only", header + b"\n", sound=True)
    add(
        "events-without-start",
        _join(
            [
                header,
                *(e for e, o in zip(events, objs, strict=True) if o["kind"] != "FlowStarted"),
            ]
        ),
    )
    with_event("generation-empty", first("NodeStarted"), lambda o: o.update(generation=[]))
    with_event("t-ns-backwards", 5, lambda o: o.update(t_ns=-(10**18)))

    # -- escapes and markup in everything that is shown (valid files: strict readers read them)
    hostile = ESCAPES + MARKUP + " \ud800 :smile: \x00"
    loud = [dict(o) for o in objs]
    for o in loud:
        for key in ("run_id", "node_id", "flow_id", "outcome", "name", "reason", "action"):
            if type(o.get(key)) is str and key in ("run_id", "node_id", "flow_id"):
                o[key] = o[key] + hostile
        if o["kind"] == "NodeErrored":
            o["error"] = {
                **o["error"],
                "type": "Evil" + hostile,
                "message": hostile,
                "traceback": "Traceback\n" + hostile + "\n",
            }
        if o["kind"] == "DataEmitted":
            o["values"] = [hostile, {"k" + hostile: [hostile]}]
        if o["kind"] == "FlowStarted":
            for n in o["graph"]["nodes"]:
                n["node_id"] += hostile
                n["label"] = hostile
                for p in n["inputs"]:
                    if p.get("producer"):
                        p["producer"] += hostile
    loud_header = json.loads(header)
    loud_header["argv"] = ["evil.py", hostile]
    loud_header["flowtrace"] = hostile
    add("escapes", _join([_event_line(loud_header), *(_event_line(o) for o in loud)]), sound=True)
    add(
        "escapes-gz",
        _join([_event_line(loud_header), *(_event_line(o) for o in loud)]),
        sound=True,
        gz=True,
    )

    # -- compressed files
    add("gz", base, sound=True, gz=True)
    packed = gzip.compress(base, 6)
    for fraction in (0.3, 0.9, 0.999):
        path = directory / f"gz-cut-{fraction}.ftrace.jsonl.gz"
        path.write_bytes(packed[: int(len(packed) * fraction)])
        cases.append(Case(f"gz-cut-{fraction}", path))
    for n in range(3):
        data = bytearray(packed)
        at = rng.randrange(20, len(data) - 10)
        data[at] ^= 0xFF
        path = directory / f"gz-flip-{n}.ftrace.jsonl.gz"
        path.write_bytes(bytes(data))
        cases.append(Case(f"gz-flip-{n}", path))
    bomb = directory / "gz-bomb.ftrace.jsonl.gz"
    with gzip.open(bomb, "wb", compresslevel=9) as f:  # 24 MiB of zeros in ~24 KB
        f.write(base)
        zeros = b"\0" * (1 << 20)
        for _ in range(24):
            f.write(zeros)
    cases.append(Case("gz-bomb", bomb))
    bomb_lines = directory / "gz-bomb-blank-lines.ftrace.jsonl.gz"
    with gzip.open(bomb_lines, "wb", compresslevel=9) as f:  # 8 MiB of newlines
        f.write(base)
        for _ in range(8):
            f.write(b"\n" * (1 << 20))
    cases.append(Case("gz-bomb-blank-lines", bomb_lines))
    add("gz-header-bomb", b"{" + b" " * (8 << 20), gz=True)
    path = directory / "gz-magic-only.ftrace.jsonl.gz"
    path.write_bytes(b"\x1f\x8b")
    cases.append(Case("gz-magic-only", path))

    # -- not traces, or traces of another version
    add("empty", b"")
    add("binary", bytes(rng.randrange(256) for _ in range(4096)))
    add("json-array", b"[1, 2, 3]\n")
    add("other-format", b'{"format":"other"}\n' + _join(events))
    head = json.loads(header)
    add("schema-major", _event_line({**head, "schema": [99, 0]}) + b"\n" + _join(events))
    add(
        "schema-newer-minor",
        _event_line({**head, "schema": [head["schema"][0], 99]})
        + b"\n"
        + _join(events[:5])
        + _event_line({**objs[5], "new_field": 1})
        + b"\n"
        + _event_line({"kind": "FromTheFuture", "seq": 10**6, "t_ns": 0, "run_id": "r"})
        + b"\n"
        + _join(events[6:]),
    )
    add("schema-strings", _event_line({**head, "schema": ["1", "0"]}) + b"\n")
    add("header-argv-dict", _event_line({**head, "argv": {"a": 1}}) + b"\n")
    add("header-options-list", _event_line({**head, "options": [1]}) + b"\n" + _join(events))
    return cases

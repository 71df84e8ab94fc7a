"""Reading trace files: lazily, by run, and with a precise report of any damage."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest

from flowtrace.events import (
    SCHEMA_VERSION,
    Event,
    FlowFinished,
    FlowStarted,
    GraphInfo,
    LoopExited,
    NodeFinished,
    NodeStarted,
)
from flowtrace.record import TraceWriter
from flowtrace.tracefile import (
    FORMAT_NAME,
    TraceFormatError,
    TraceReader,
    TraceVersionError,
    default_trace_path,
    iter_events,
    make_header,
    read_trace,
)

GRAPH = GraphInfo(())


def run_events(run_id: str, evaluations: int = 2) -> list[Event]:
    events: list[Event] = [FlowStarted(0, 100, run_id, "flow", 5, GRAPH)]
    seq = 1
    for g in range(evaluations):
        events.append(NodeStarted(seq, 100 + seq, run_id, "a", (g,), 0))
        events.append(NodeFinished(seq + 1, 101 + seq, run_id, "a", (g,), 0, "completed"))
        seq += 2
    events.append(FlowFinished(seq, 200, run_id, "flow", "completed", None, None, None))
    return events


def write(path: Path, *batches: list[Event], argv: list[str] | None = None) -> Path:
    writer = TraceWriter(path, make_header(argv or ["prog", "arg"]))
    for batch in batches:
        writer.write(batch)
    writer.close()
    return path


def lines_of(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


# ----------------------------------------------------------------------------- header


def test_the_header_says_what_wrote_the_file(tmp_path: Path) -> None:
    path = write(tmp_path / "t.ftrace.jsonl", run_events("r1"), argv=["hello.py", "-v"])
    header = json.loads(lines_of(path)[0])
    assert header["format"] == FORMAT_NAME
    assert header["schema"] == list(SCHEMA_VERSION)
    assert header["argv"] == ["hello.py", "-v"]
    assert isinstance(header["wall_time_ns"], int) and header["started_at"].endswith("Z")
    assert header["flowtrace"] and header["python"].count(".") == 2
    with TraceReader(path) as reader:
        assert reader.header.argv == ("hello.py", "-v")
        assert reader.header.schema == SCHEMA_VERSION


def test_unknown_header_keys_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "t.ftrace.jsonl"
    head = make_header().to_json()
    head["host"] = "box"
    path.write_text(json.dumps(head) + "\n")
    assert read_trace(path).header.extra == {"host": "box"}


# ----------------------------------------------------------------------------- reading


def test_events_come_back_equal_with_their_line_numbers(tmp_path: Path) -> None:
    events = run_events("r1")
    path = write(tmp_path / "t.ftrace.jsonl", events[:2], events[2:])
    with TraceReader(path) as reader:
        numbered = list(reader.numbered())
    assert [e for _, e in numbered] == events
    assert [n for n, _ in numbered] == list(range(2, 2 + len(events)))


def test_several_runs_in_one_file_are_grouped_by_run(tmp_path: Path) -> None:
    a, b = run_events("flow-1", 1), run_events("flow-2", 3)
    interleaved = [a[0], b[0], *a[1:], *b[1:]]
    trace = read_trace(write(tmp_path / "t.ftrace.jsonl", interleaved))
    assert list(trace.runs) == ["flow-1", "flow-2"]
    assert trace.runs["flow-1"].events == a
    assert trace.runs["flow-2"].events == b
    assert trace.events == interleaved
    assert trace.runs["flow-2"].outcome == "completed"
    assert trace.runs["flow-2"].duration_ns == 100
    with pytest.raises(KeyError, match="2 runs"):
        trace.run()


def test_a_run_without_its_end_is_incomplete(tmp_path: Path) -> None:
    trace = read_trace(write(tmp_path / "t.ftrace.jsonl", run_events("r")[:-1]))
    assert trace.run().outcome == "incomplete"


def test_a_plain_loop_run_takes_the_loops_outcome(tmp_path: Path) -> None:
    trace = read_trace(
        write(tmp_path / "t.ftrace.jsonl", [LoopExited(0, 1, "loop-1", "deadlock", None, 2)])
    )
    assert trace.run().outcome == "deadlock"


def test_reading_is_lazy(tmp_path: Path) -> None:
    path = write(tmp_path / "t.ftrace.jsonl", run_events("r"))
    with path.open("ab") as f:
        f.write(b"garbage\n")
    events = iter_events(path)
    assert isinstance(next(events), FlowStarted)  # read before the bad line is reached
    with pytest.raises(TraceFormatError):
        list(events)


def test_big_files_are_read_across_block_boundaries(tmp_path: Path) -> None:
    events: list[Event] = [NodeStarted(i, i, "r", "n" * (i % 50), (i,), 0) for i in range(30_000)]
    path = write(tmp_path / "t.ftrace.jsonl", events)
    assert path.stat().st_size > 2 << 20  # more than two read blocks
    with TraceReader(path) as reader:
        numbered = list(reader.numbered())
    assert [e for _, e in numbered] == events
    assert numbered[-1][0] == len(events) + 1


def test_blank_lines_are_ignored(tmp_path: Path) -> None:
    path = write(tmp_path / "t.ftrace.jsonl", run_events("r"))
    data = lines_of(path)
    path.write_bytes(b"".join([data[0], b"\n", *data[1:3], b"  \n", *data[3:]]))
    assert read_trace(path).events == run_events("r")


# ----------------------------------------------------------------------------- gzip


def test_gzip_traces_read_like_plain_ones(tmp_path: Path) -> None:
    events = run_events("r")
    path = write(tmp_path / "t.ftrace.jsonl.gz", events)
    assert path.read_bytes()[:2] == b"\x1f\x8b"
    assert read_trace(path).events == events
    # the format is plain gzip of the plain format
    assert gzip.decompress(path.read_bytes()).count(b"\n") == len(events) + 1


def test_a_gzip_trace_never_closed_reads_leniently_to_its_last_flush(tmp_path: Path) -> None:
    events = run_events("r")
    path = tmp_path / "t.ftrace.jsonl.gz"
    writer = TraceWriter(path, make_header())
    writer.write(events)
    snapshot = tmp_path / "snapshot.ftrace.jsonl.gz"
    shutil.copyfile(path, snapshot)  # what a kill -9 would leave: no gzip trailer
    writer.close()
    with pytest.raises(TraceFormatError, match="compressed stream ends early") as info:
        read_trace(snapshot)
    assert info.value.line == len(events) + 2
    trace = read_trace(snapshot, lenient=True)
    assert trace.events == events
    assert trace.damage is not None and trace.damage.line == len(events) + 2


# ----------------------------------------------------------------------------- damage


def test_a_truncated_last_line_is_reported_with_its_number(tmp_path: Path) -> None:
    events = run_events("r")
    path = write(tmp_path / "t.ftrace.jsonl", events)
    data = path.read_bytes()
    path.write_bytes(data[:-20])  # cut inside the last event
    with pytest.raises(TraceFormatError) as info:
        read_trace(path)
    assert info.value.line == len(events) + 1
    assert "truncated line" in info.value.reason
    assert str(info.value).startswith(f"{path}:{len(events) + 1}: ")
    trace = read_trace(path, lenient=True)
    assert trace.events == events[:-1]
    assert trace.damage is not None
    assert (trace.damage.line, trace.damage.skipped_lines) == (len(events) + 1, 1)
    assert trace.damage.skipped_bytes == len(data) - 20 - sum(map(len, lines_of(path)[:-1]))


def test_a_corrupt_line_in_the_middle_is_skipped_and_reading_resumes_after_it(
    tmp_path: Path,
) -> None:
    events = run_events("r", 5)
    path = write(tmp_path / "t.ftrace.jsonl", events)
    data = lines_of(path)
    data[4] = b'{"kind":"NodeStarted","seq":"four"}\n'
    data[7] = b"garbage\n"
    path.write_bytes(b"".join(data))
    with pytest.raises(TraceFormatError, match=r":5: NodeStarted"):
        read_trace(path)
    trace = read_trace(path, lenient=True)
    assert trace.events == events[:3] + events[4:6] + events[7:]
    damage = trace.damage
    assert damage is not None
    assert (damage.line, damage.skipped_lines, damage.stopped) == (5, 2, None)
    assert [s.line for s in damage.skipped] == [5, 8]
    assert damage.skipped_bytes == len(data[4]) + len(data[7])
    assert "2 bad line(s) skipped" in damage.describe() and "line 5" in damage.describe()
    listing = damage.listing(str(path))
    assert listing[0].startswith(f"{path}:5: NodeStarted")
    assert listing[1].startswith(f"{path}:8: not valid JSON")


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (b"not json at all\n", "not valid JSON"),
        (b'{"kind":"NodeStarted","seq":1}{"x":2}\n', "not valid JSON"),
        (b'["NodeStarted", 1]\n', "expected a JSON object"),
        (b'{"kind":"Teleported","seq":1}\n', "unknown event kind 'Teleported'"),
        (
            b'{"kind":"NodeStarted","seq":9,"t_ns":2,"run_id":"r","node_id":"a",'
            b'"generation":[0]}\n',
            "NodeStarted: Object missing required field `run_level`",
        ),
        (
            b'{"kind":"NodeStarted","seq":"9","t_ns":2,"run_id":"r","node_id":"a",'
            b'"generation":[0],"run_level":0}\n',
            r"t.ftrace.jsonl:8: NodeStarted: Expected `int`, got `str` - at `\$.seq`",
        ),
        (
            b'{"kind":"FlowStarted","seq":9,"t_ns":2,"run_id":"r","flow_id":"f",'
            b'"wall_time_ns":1,"graph":{"nodes":[{"node_id":5}]}}\n',
            r"FlowStarted: Expected `str`, got `int` - at `\$.graph.nodes\[0\].node_id`",
        ),
    ],
)
def test_each_kind_of_bad_line_is_explained(tmp_path: Path, bad: bytes, reason: str) -> None:
    path = write(tmp_path / "t.ftrace.jsonl", run_events("r"))
    with path.open("ab") as f:
        f.write(bad)
    with pytest.raises(TraceFormatError, match=reason):
        read_trace(path)


@pytest.mark.parametrize(
    ("field", "value"), [("seq", 2**63), ("seq", 10**30), ("t_ns", -(2**63) - 1)]
)
def test_a_header_number_beyond_64_bits_is_a_bad_line(
    tmp_path: Path, field: str, value: int
) -> None:
    events = run_events("r")
    path = write(tmp_path / "t.ftrace.jsonl", events)
    data = lines_of(path)
    obj = json.loads(data[3])
    obj[field] = value
    data[3] = (json.dumps(obj) + "\n").encode()
    path.write_bytes(b"".join(data))
    with pytest.raises(TraceFormatError, match=f":4: {field} {value} is out of range"):
        read_trace(path)
    trace = read_trace(path, lenient=True)
    assert trace.damage is not None and trace.damage.line == 4
    assert len(trace.events) == len(events) - 1


def test_a_field_the_reader_does_not_know_is_ignored(tmp_path: Path) -> None:
    """msgspec's schema evolution: an added field never makes a line unreadable (a
    damaged field name still does: the real field is then missing)."""
    path = write(tmp_path / "t.ftrace.jsonl", run_events("r"))
    with path.open("ab") as f:
        f.write(
            b'{"kind":"NodeStarted","seq":9,"t_ns":2,"run_id":"r","node_id":"a",'
            b'"generation":[0],"run_level":0,"new":1}\n'
        )
    assert read_trace(path).events[-1] == NodeStarted(9, 2, "r", "a", (0,), 0)


def test_a_file_that_is_not_a_trace_is_refused_on_line_1(tmp_path: Path) -> None:
    for content in (b"", b"hello\n", b'{"format":"other"}\n', b"\x1f\x8bnot gzip"):
        path = tmp_path / "x.ftrace.jsonl"
        path.write_bytes(content)
        with pytest.raises(TraceFormatError) as info:
            read_trace(path, lenient=True)
        assert info.value.line == 1


# ----------------------------------------------------------------------------- versions


def header_with_schema(major: int, minor: int) -> bytes:
    head = make_header().to_json()
    head["schema"] = [major, minor]
    return (json.dumps(head) + "\n").encode()


@pytest.mark.parametrize("major", [SCHEMA_VERSION[0] + 1, 0])
def test_an_unknown_major_version_is_refused_even_leniently(tmp_path: Path, major: int) -> None:
    path = tmp_path / "t.ftrace.jsonl"
    path.write_bytes(header_with_schema(major, 0))
    with pytest.raises(TraceVersionError, match=f"schema {major}.0") as info:
        read_trace(path, lenient=True)
    assert f"reads schema {SCHEMA_VERSION[0]}.x (and 1.x, upgraded) only" in str(info.value)


def test_a_newer_minor_version_is_read_ignoring_what_it_added(tmp_path: Path) -> None:
    path = tmp_path / "t.ftrace.jsonl"
    event = NodeStarted(0, 1, "r", "a", (0,), 0)
    obj = json.loads(
        json.dumps(
            {
                "kind": "NodeStarted",
                "seq": 0,
                "t_ns": 1,
                "run_id": "r",
                "node_id": "a",
                "generation": [0],
                "run_level": 0,
                "colour": "red",
            }
        )
    )
    path.write_bytes(
        header_with_schema(SCHEMA_VERSION[0], SCHEMA_VERSION[1] + 1)
        + json.dumps(obj).encode()
        + b"\n"
        + b'{"kind":"Teleported","seq":1,"t_ns":2,"run_id":"r"}\n'
    )
    with pytest.warns(UserWarning):
        trace = read_trace(path)
    assert trace.events == [event]
    assert trace.skipped_kinds == {"Teleported": 1}


def test_default_trace_path_is_named_after_the_script() -> None:
    assert default_trace_path("examples/hello.py") == "hello.ftrace.jsonl"
    assert default_trace_path("hello.py", compress=True) == "hello.ftrace.jsonl.gz"
    assert default_trace_path("tool", directory="out") == "out/tool.ftrace.jsonl"


# ----------------------------------------------------------------------------- hostile files


def with_lines(path: Path, index: int, *new: bytes) -> Path:
    """The trace at ``path`` with ``new`` lines inserted before line ``index`` (0-based)."""
    data = lines_of(path)
    path.write_bytes(b"".join([*data[:index], *new, *data[index:]]))
    return path


def test_a_line_longer_than_the_limit_is_refused_by_number_and_skipped_leniently(
    tmp_path: Path,
) -> None:
    events = run_events("r", 3)
    path = with_lines(write(tmp_path / "t.ftrace.jsonl", events), 3, b"x" * 5000 + b"\n")
    with pytest.raises(TraceFormatError, match="line 4 is longer than 1 KiB") as info:
        read_trace(path, max_line_bytes=1024)
    assert info.value.line == 4
    trace = read_trace(path, lenient=True, max_line_bytes=1024)
    assert trace.events == events
    assert trace.damage is not None
    assert (trace.damage.line, trace.damage.skipped_lines) == (4, 1)
    assert trace.damage.skipped_bytes == 5001
    damage = read_trace(path, lenient=True).damage
    assert damage is not None and damage.reason.startswith("not valid JSON")


def test_the_line_limit_holds_across_blocks_and_at_the_end_of_the_file(tmp_path: Path) -> None:
    events = run_events("r", 2)
    path = write(tmp_path / "t.ftrace.jsonl", events)
    with path.open("ab") as f:
        f.write(b"y" * 3000)  # a long last line without its newline
    trace = read_trace(path, lenient=True, max_line_bytes=1024)
    assert trace.events == events
    assert trace.damage is not None and trace.damage.skipped_bytes == 3000
    assert "longer than 1 KiB" in trace.damage.reason


def test_the_line_limit_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = with_lines(
        write(tmp_path / "t.ftrace.jsonl", run_events("r")), 2, b"z" * 3 * 1024 + b"\n"
    )
    monkeypatch.setenv("FLOWTRACE_MAX_LINE_MIB", str(2 / 1024))
    with pytest.raises(TraceFormatError, match="line 3 is longer than 2 KiB"):
        read_trace(path)


def test_a_header_longer_than_the_limit_is_refused_without_reading_it_all(
    tmp_path: Path,
) -> None:
    path = tmp_path / "t.ftrace.jsonl"
    path.write_bytes(b'{"format":"flowtrace","pad":"' + b"a" * 10_000 + b'"}\n')
    with pytest.raises(TraceFormatError, match="line 1 is longer than 1 KiB") as info:
        TraceReader(path, lenient=True, max_line_bytes=1024)
    assert info.value.line == 1


def test_a_device_of_endless_zeros_is_not_a_trace() -> None:
    with pytest.raises(TraceFormatError, match="not a flowtrace trace") as info:
        TraceReader("/dev/zero", lenient=True)
    assert info.value.line == 1


def test_a_gzip_bomb_is_refused_at_the_line_limit_and_skipped_in_bounded_memory(
    tmp_path: Path,
) -> None:
    events = run_events("r")
    plain = write(tmp_path / "t.ftrace.jsonl", events).read_bytes()
    path = tmp_path / "bomb.ftrace.jsonl.gz"
    with gzip.open(path, "wb", compresslevel=9) as f:
        f.write(plain)
        zeros = b"\0" * (1 << 20)
        for _ in range(40):  # 40 MiB of one line: about 40 KB on disk
            f.write(zeros)
        f.write(b"\n")
    assert path.stat().st_size < 100_000
    with pytest.raises(TraceFormatError, match=f"line {len(events) + 2} is longer than 1 MiB"):
        read_trace(path, max_line_bytes=1 << 20)
    trace = read_trace(path, lenient=True, max_line_bytes=1 << 20)
    assert trace.events == events
    assert trace.damage is not None and trace.damage.skipped_bytes == 40 * (1 << 20) + 1


def test_deep_nesting_is_a_bad_line_not_a_recursion_error(tmp_path: Path) -> None:
    events = run_events("r")
    deep = b"[" * 100_000 + b"]" * 100_000 + b"\n"
    path = with_lines(write(tmp_path / "t.ftrace.jsonl", events), 2, deep)
    with pytest.raises(TraceFormatError, match="nesting too deep") as info:
        read_trace(path)
    assert info.value.line == 3
    trace = read_trace(path, lenient=True)
    assert trace.events == events and trace.damage is not None


def test_a_value_nested_deeper_than_the_codec_writes_is_refused(tmp_path: Path) -> None:
    value = "[" * 200 + "1" + "]" * 200
    line = (
        '{"kind":"DataEmitted","seq":9,"t_ns":1,"run_id":"r","node_id":"a",'
        f'"generation":[0],"run_level":0,"values":[{value}],"pending_readers":0,'
        '"parked":false}\n'
    ).encode()
    path = with_lines(write(tmp_path / "t.ftrace.jsonl", run_events("r")), 1, line)
    with pytest.raises(TraceFormatError, match="nesting too deep: a value nests more than 64"):
        read_trace(path)


def test_a_deep_header_is_not_a_trace(tmp_path: Path) -> None:
    path = tmp_path / "t.ftrace.jsonl"
    path.write_bytes(b"{" + b'"a":{' * 50_000 + b"}" * 50_001 + b"\n")
    with pytest.raises(TraceFormatError, match="nesting too deep") as info:
        TraceReader(path, lenient=True)
    assert info.value.line == 1


@pytest.mark.parametrize("seq", [1, 3])
def test_events_out_of_seq_order_in_a_run_are_refused_and_skipped_leniently(
    tmp_path: Path, seq: int
) -> None:
    events = run_events("r", 3)
    moved = NodeStarted(seq, 1, "r", "b", (0,), 0)  # seq 3 is taken by then
    other_run = NodeStarted(0, 1, "other", "b", (0,), 0)
    path = write(tmp_path / "t.ftrace.jsonl", events[:4], [moved, other_run], events[4:])
    with pytest.raises(TraceFormatError, match=f"seq {seq} of run 'r' comes after seq 3") as info:
        read_trace(path)
    assert info.value.line == 6
    trace = read_trace(path, lenient=True)
    assert trace.runs["r"].events == events
    assert trace.runs["other"].events == [other_run]
    assert trace.damage is not None and (trace.damage.line, trace.damage.skipped_lines) == (6, 1)


def test_blank_lines_cost_nothing_per_line(tmp_path: Path) -> None:
    events = run_events("r")
    path = with_lines(
        write(tmp_path / "t.ftrace.jsonl", events), 3, b"\n" * 3_000_000, b" \t\r\n" * 10_000
    )
    with TraceReader(path) as reader:
        numbered = list(reader.numbered())
    assert [e for _, e in numbered] == events
    assert numbered[2][0] == 3 + 3_010_000 + 1


def test_a_lenient_read_lists_a_hundred_skipped_lines_and_counts_them_all(
    tmp_path: Path,
) -> None:
    events = run_events("r")
    path = with_lines(write(tmp_path / "t.ftrace.jsonl", events), 2, b"{bad\n" * 1000)
    trace = read_trace(path, lenient=True)
    assert trace.events == events
    assert trace.damage is not None
    assert trace.damage.skipped_lines == 1000 and len(trace.damage.skipped) == 100
    assert trace.damage.listing()[-1] == "… and 900 more skipped line(s)"


def test_a_blank_first_line_is_not_an_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "t.ftrace.jsonl"
    path.write_bytes(b"\n" + write(tmp_path / "u.ftrace.jsonl", run_events("r")).read_bytes())
    with pytest.raises(TraceFormatError, match="line 1 is blank"):
        read_trace(path, lenient=True)
    path.write_bytes(b"")
    with pytest.raises(TraceFormatError, match="empty file"):
        read_trace(path, lenient=True)

"""Reading a big trace in a second process, so that the debugger loads on two cores.

The loading thread spends about a third of its time in the trace reader (the file,
its lines, decoding, checking order); in a helper process that work runs beside the
indexing instead of before it. The helper (``python -m flowtrace.tui.readproc PATH
SKIP``) reads the trace as :func:`~flowtrace.tui.loader.load_into` would (leniently),
leaves out the first ``SKIP`` events (the loader has read them itself, to paint the
first screen without waiting for a process to start), and writes frames to its
standard output:

* ``E``: the bytes of the file read so far, then a block of events (MessagePack,
  decoded in the loader by one ``msgspec`` call: cheaper than reading JSON lines);
* ``D``: at the end, what the lenient read skipped and noted;
* ``X``: the reader failed (its exception's class name and message).

Each frame is a tag byte, a little-endian 8-byte position and a 4-byte length,
then the payload. Nothing here imports Textual or the engine.
"""

from __future__ import annotations

import struct
import sys
from typing import Any, BinaryIO

import msgspec

__all__ = ["HEAD", "write_frame", "main"]

#: tag, position (bytes of the file read), payload length
HEAD = struct.Struct("<cQI")


def write_frame(out: BinaryIO, tag: bytes, position: int, payload: bytes) -> None:
    out.write(HEAD.pack(tag, position, len(payload)))
    out.write(payload)


def main(argv: list[str]) -> int:
    from flowtrace.tracefile import TraceReader

    path, skip = argv[0], int(argv[1])
    out = sys.stdout.buffer
    encode = msgspec.msgpack.Encoder().encode
    try:
        reader = TraceReader(path, lenient=True, warn=False)
        try:
            for events, _numbers in reader.blocks():
                if skip:
                    if len(events) <= skip:
                        skip -= len(events)
                        continue
                    events, skip = events[skip:], 0
                write_frame(out, b"E", reader.position(), encode(events))
            damage = reader.damage
            end: dict[str, Any] = {
                "damage": damage.describe() if damage is not None else None,
                "skipped": damage.listing(reader.path) if damage is not None else [],
                "notes": list(reader.notes),
            }
            write_frame(out, b"D", reader.size, encode(end))
        finally:
            reader.close()
    except BrokenPipeError:  # the debugger went away: nothing to say to anyone
        return 1
    except Exception as exc:
        write_frame(out, b"X", 0, encode([type(exc).__name__, str(exc)]))
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

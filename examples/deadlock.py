"""A flow that can make no more progress ends with ``DeadlockError`` naming each waiting
node and what it waits for — never a silent hang. Here a streaming producer waits on an
event nobody sets after its first item, and its reader stalls on the second item."""

from collections.abc import AsyncIterator

from flowtrace import DeadlockError, Event, FlowHDL, Stream, node

gate = Event()


@node
async def Producer() -> AsyncIterator[str]:
    yield "first"
    await gate.wait()  # nobody will ever set it
    yield "second"


@node(stream_in=["items"])
async def Reader(items: Stream[str]) -> list[str]:
    return [item async for item in items]


def main() -> None:
    with FlowHDL() as f:
        f.producer = Producer()
        f.reader = Reader(f.producer)
    try:
        f.run_until_complete()
    except DeadlockError as error:
        print("DeadlockError:")
        for node_id, what in error.waiting:
            print(f"  {node_id}: {what}")


if __name__ == "__main__":
    main()

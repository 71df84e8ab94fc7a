"""Stream cancellation and its propagation: the consumer cancels after three items;
``StreamCancelled`` is thrown into the pass-through, escapes it, and flowtrace cancels
the pass-through's own input, so the source stops too."""

from collections.abc import AsyncIterator

from flowtrace import FlowHDL, Stream, StreamCancelled, node


@node
async def Numbers() -> AsyncIterator[int]:
    n = 0
    try:
        while True:
            yield n
            n += 1
    except StreamCancelled:
        print(f"source: cancelled after {n}")
        raise


@node(stream_in=["xs"])
async def Square(xs: Stream[int]) -> AsyncIterator[int]:
    try:
        async for x in xs:
            yield x * x
    except StreamCancelled:
        print("square: cancelled")
        raise


@node(stream_in=["xs"])
async def FirstThree(xs: Stream[int]) -> list[int]:
    got: list[int] = []
    async for x in xs:
        got.append(x)
        if len(got) == 3:
            print("consumer: cancelling")
            await xs.cancel()
    return got


def main() -> None:
    with FlowHDL() as f:
        f.numbers = Numbers()
        f.square = Square(f.numbers)
        f.first = FirstThree(f.square)
    f.run_until_complete()
    print("consumer got", f.first.get_data()[0])
    print("square final", f.square.get_data()[0], "source final", f.numbers.get_data()[0])


if __name__ == "__main__":
    main()

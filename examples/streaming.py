"""Streaming: a token source, an upper-casing pass-through, a stream collector and a
mono consumer that receives the accumulated text (compatibility §4)."""

from collections.abc import AsyncIterator

from flowtrace import FlowHDL, Stream, node, sleep


@node
async def Tokens(text: str) -> AsyncIterator[str]:
    for word in text.split():
        await sleep(0.05)  # e.g. an LLM producing tokens
        yield word + " "


@node(stream_in=["tokens"])
async def Upper(tokens: Stream[str]) -> AsyncIterator[str]:
    async for token in tokens:
        yield token.upper()


@node(stream_in=["tokens"])
async def Collect(tokens: Stream[str]) -> list[str]:
    got = []
    async for token in tokens:
        print("collected", repr(token))
        got.append(token)
    return got


@node
async def Whole(text: str) -> str:
    return text.strip()


def main() -> None:
    with FlowHDL() as f:
        f.tokens = Tokens("streams flow through the graph")
        f.upper = Upper(f.tokens)
        f.collect = Collect(f.upper)
        f.whole = Whole(f.upper)
    f.run_until_complete(virtual_time=True)
    print("items:", f.collect.get_data()[0])
    print("final:", f.whole.get_data()[0])


if __name__ == "__main__":
    main()

"""Hello, flowtrace: two sources, a sum and a greeting (a Flowno program with only the
import changed)."""

from flowtrace import FlowHDL, node


@node
async def Number(value: int) -> int:
    return value


@node
async def Add(x: int, y: int) -> int:
    return x + y


@node
async def Greet(total: int, name: str = "world") -> str:
    return f"hello {name}: {total}"


def main() -> None:
    with FlowHDL() as f:
        f.total = Add(Number(40), Number(2))
        f.greeting = Greet(f.total)
    f.run_until_complete()
    print(f.total.get_data()[0])
    print(f.greeting.get_data()[0])


if __name__ == "__main__":
    main()

"""A cycle broken by a default: Increment(value=0) ⇄ Double, stopped by a generation
limit (the sequence of compatibility §6)."""

from flowtrace import FlowHDL, TerminateLimitReached, node


@node
async def Increment(value: int = 0) -> int:
    print(f"Increment({value}) => {value + 1}")
    return value + 1


@node
async def Double(value: int) -> int:
    print(f"Double({value}) => {value * 2}")
    return value * 2


def main() -> None:
    with FlowHDL() as f:
        f.increment = Increment(f.double)  # forward reference closes the cycle
        f.double = Double(f.increment)
    try:
        f.run_until_complete(stop_at_node_generation=(3,))
    except TerminateLimitReached as stop:
        print(f"stopped: {stop}")
    print("increment", f.increment.generation, f.increment.get_data())
    print("double", f.double.generation, f.double.get_data())


if __name__ == "__main__":
    main()

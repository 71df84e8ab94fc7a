"""Template groups: ``@node.template`` builds a sub-graph and stands for the node it
returns; templates nest."""

from typing import Any

from flowtrace import FlowHDL, FlowHDLView, node


@node
async def Inc(x: int) -> int:
    return x + 1


@node
async def Mul(a: int, b: int) -> int:
    return a * b


@node
async def Add(a: int, b: int) -> int:
    return a + b


@node.template
def IncTwice(v: FlowHDLView, x: Any) -> Any:
    v.first = Inc(x)
    v.second = Inc(v.first)
    return v.second


@node.template
def IncFour(v: FlowHDLView, x: Any) -> Any:
    return IncTwice(IncTwice(x))


@node.template
def TripleProduct(v: FlowHDLView, a: Any, b: Any, c: Any) -> Any:
    return Add(Add(Mul(a, b), Mul(b, c)), Mul(c, a))


def main() -> None:
    with FlowHDL() as f:
        f.four = IncFour(1)
        f.both = Add(f.four, IncTwice(f.four))
        f.product = TripleProduct(2, 3, 4)
    f.run_until_complete()
    print("IncFour(1) =", f.four.get_data()[0])
    print("IncFour(1) + IncTwice(IncFour(1)) =", f.both.get_data()[0])
    print("2*3 + 3*4 + 4*2 =", f.product.get_data()[0])
    print("nodes at run time:", len(f._flow.nodes), "(no group nodes)")


if __name__ == "__main__":
    main()

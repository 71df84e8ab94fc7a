"""FlowHDL: placeholders, finalization errors (compatibility §1), templates, ids."""

from __future__ import annotations

from typing import Any

import pytest

from flowtrace import FlowHDL, FlowHDLView, node
from flowtrace.engine.node import FinalizedNode, NodePlaceholder


@node
async def Ident(x: Any = None) -> Any:
    return x


@node
async def Need(x: Any, y: Any) -> Any:
    return (x, y)


@node
async def Inc(x: int) -> int:
    return x + 1


def test_placeholders_before_and_attribute_error_after() -> None:
    f = FlowHDL()
    with f:
        ph = f.later
        assert isinstance(ph, NodePlaceholder)
        assert ph.name == "later"
        f.later = Ident(1)
    with pytest.raises(AttributeError, match='Attribute "nothing" not found'):
        _ = f.nothing
    assert isinstance(f.later, FinalizedNode)


def test_underscore_names_are_plain_attributes() -> None:
    view = FlowHDLView()
    view._private = 5
    assert view._private == 5
    assert "_private" not in view._nodes
    with pytest.raises(AttributeError):
        _ = view._missing


def test_unconnected_port_without_default_is_refused() -> None:
    message = r"input\(1\) is not connected and has no default"
    with pytest.raises(AttributeError, match=message), FlowHDL() as f:
        f.n = Need(1)


def test_undefined_reference_names_the_attribute() -> None:
    with pytest.raises(AttributeError, match="bar"), FlowHDL() as f:
        f.n = Ident(f.bar)


def test_reference_to_a_non_node_names_the_attribute() -> None:
    with pytest.raises(AttributeError, match="baz"), FlowHDL() as f:
        f.n = Ident(f.baz)
        f.baz = 999


def test_a_failing_block_is_not_finalized() -> None:
    with pytest.raises(RuntimeError, match="boom"), FlowHDL() as f:
        f.n = Ident(1)
        raise RuntimeError("boom")
    from flowtrace.engine.hdl import current_view

    assert current_view() is None


def test_node_ids_are_names_or_per_flow_labels() -> None:
    with FlowHDL() as f:
        f.first = Inc(Inc(1))
    ids = [n.node_id for n in f._flow.nodes]
    assert "first" in ids
    assert "Inc#0" in ids
    assert "Constant#0" in ids
    with FlowHDL() as g:
        g.x = Inc(Inc(2))
    assert "Inc#0" in [n.node_id for n in g._flow.nodes]


def test_template_internal_names_stay_private() -> None:
    @node.template
    def Twice(v: FlowHDLView, x: Any) -> Any:
        v.inner = Inc(x)
        return Inc(v.inner)

    with FlowHDL() as f:
        f.a = Twice(1)
        f.b = Twice(f.a)
    f.run_until_complete()
    assert f.b.get_data() == (5,)
    with pytest.raises(AttributeError):
        _ = f.inner


def test_template_outside_a_block_raises_runtime_error() -> None:
    @node.template
    def Wrap(v: FlowHDLView, x: Any) -> Any:
        return Inc(x)

    with pytest.raises(RuntimeError, match="inside a `with FlowHDL"):
        Wrap(1)


def test_template_returning_a_plain_value_becomes_a_constant() -> None:
    @node.template
    def Seven(v: FlowHDLView) -> Any:
        return 7

    with FlowHDL() as f:
        f.s = Inc(Seven())
    f.run_until_complete()
    assert f.s.get_data() == (8,)


def test_consumer_order_direct_before_forward_references() -> None:
    with FlowHDL() as f:
        f.late = Ident(f.src)
        f.src = Ident(1)
        f.early = Ident(f.src)
    assert [c.node_id for c in f.src.get_output_nodes()] == ["early", "late"]


def test_flow_add_nodes_finalizes_connected_drafts() -> None:
    from flowtrace import Flow

    a = Inc(1)
    b = Inc(a)
    flow = Flow()
    flow.add_nodes([a, b])
    flow.run_until_complete()
    last = next(n for n in flow.nodes if n._draft_node is b)
    assert last.get_data() == (3,)

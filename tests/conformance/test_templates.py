"""Conformance: ``@node.template`` groups (compatibility §1).

A template is a plain function whose first parameter is a ``FlowHDLView``; it builds a
sub-graph and returns one node. Pinned: the group disappears at finalization (no group
node at run time), references to the group are re-wired to the returned node, defaults
of template parameters are honoured, templates nest and may return an input.
"""

from __future__ import annotations

from typing import Any

import pytest

from flowtrace import FlowHDL, FlowHDLView, node
from flowtrace.core.group_node import DraftGroupNode
from flowtrace.core.node_base import FinalizedNode

pytestmark = pytest.mark.timeout(10)


@node
async def One() -> int:
    return 1


@node
async def Inc(x: int) -> int:
    return x + 1


@node
async def Add(a: int, b: int) -> int:
    return a + b


@node
async def Mul(a: int, b: int) -> int:
    return a * b


@node
async def Sink(x: Any) -> None:
    return None


@node.template
def IncTwice(v: FlowHDLView, x: Any) -> Any:
    v.inc_twice_first = Inc(x)
    v.inc_twice_second = Inc(v.inc_twice_first)
    return v.inc_twice_second


@node.template
def AddGroup(v: FlowHDLView, a: Any, b: Any = 5) -> Any:
    v.add_group_sum = Add(a, b)
    return v.add_group_sum


@node.template
def IncFourTimes(v: FlowHDLView, x: Any) -> Any:
    v.inc_four_inner = IncTwice(x)
    v.inc_four_outer = IncTwice(v.inc_four_inner)
    return v.inc_four_outer


@node.template
def TripleProduct(v: FlowHDLView, a: Any, b: Any, c: Any) -> Any:
    return Add(Add(Mul(a, b), Mul(b, c)), Mul(c, a))


@node.template
def PassThrough(v: FlowHDLView, x: Any) -> Any:
    return x


def assert_no_group_at_run_time(f: Any) -> None:
    """No node registered with the flow comes from a template group."""
    tasks = f._flow.node_tasks
    assert len(tasks) > 0
    for finalized in tasks:
        assert not isinstance(finalized._draft_node, DraftGroupNode)


def test_group_attribute_is_the_finalized_returned_node() -> None:
    """``f.g = IncTwice(f.c)``: after the block ``f.g`` is the finalized returned node,
    the sink's port points straight at it, and 42 → 44."""
    with FlowHDL() as f:
        f.c = Inc(41)
        f.g = IncTwice(f.c)
        f.sink = Inc(f.g)
    assert isinstance(f.g, FinalizedNode)
    assert not isinstance(f.g._draft_node, DraftGroupNode)
    assert f.sink._input_ports[0].connected_output.node is f.g
    f.run_until_complete()
    assert f.g.get_data() == (44,)
    assert f.sink.get_data() == (45,)
    assert_no_group_at_run_time(f)


def test_nested_template_applied_to_a_constant() -> None:
    """A template built from two ``IncTwice`` groups adds 4: 1 → 5, then ``Inc`` → 6."""
    with FlowHDL() as f:
        f.c = One()
        f.g = IncFourTimes(f.c)
        f.extra = Inc(f.g)
    f.run_until_complete()
    assert f.g.get_data() == (5,)
    assert f.extra.get_data() == (6,)
    assert_no_group_at_run_time(f)


def test_triple_product_template() -> None:
    """``TripleProduct(2, 3, 4)`` computes ``a*b + b*c + c*a`` = 26."""
    with FlowHDL() as f:
        f.p = TripleProduct(2, 3, 4)
    f.run_until_complete()
    assert f.p.get_data() == (26,)
    assert_no_group_at_run_time(f)


def test_group_result_consumed_directly_and_through_another_node() -> None:
    """Two sinks of one group: the direct one is wired to the returned node, the one
    behind an extra ``Inc`` is not."""
    with FlowHDL() as f:
        f.c = One()
        f.g = IncTwice(f.c)
        f.s1 = Sink(f.g)
        f.s2 = Sink(Inc(f.g))
    f.run_until_complete()
    assert isinstance(f.g, FinalizedNode)
    assert f.s1._input_ports[0].connected_output.node is f.g
    assert f.s2._input_ports[0].connected_output.node is not f.g
    assert_no_group_at_run_time(f)


def test_sink_of_a_nested_group_is_wired_to_its_result() -> None:
    """A sink of a nested group points at the group's final node."""
    with FlowHDL() as f:
        f.c = One()
        f.g = IncFourTimes(f.c)
        f.s = Sink(f.g)
    f.run_until_complete()
    assert f.s._input_ports[0].connected_output.node is f.g
    assert_no_group_at_run_time(f)


def test_group_with_two_inputs() -> None:
    """``AddGroup(a=1, b=Inc(1))`` → 3."""
    with FlowHDL() as f:
        f.a = One()
        f.b = Inc(f.a)
        f.g = AddGroup(f.a, f.b)
    f.run_until_complete()
    assert f.g.get_data() == (3,)
    assert_no_group_at_run_time(f)


def test_group_parameter_default_is_honoured() -> None:
    """``AddGroup(1)`` with ``b=5`` by default → 6."""
    with FlowHDL() as f:
        f.a = One()
        f.g = AddGroup(f.a)
        f.s = Sink(f.g)
    f.run_until_complete()
    assert f.g.get_data() == (6,)
    assert_no_group_at_run_time(f)


def test_inc_twice_of_one_is_three() -> None:
    """``IncTwice(1)`` → 3."""
    with FlowHDL() as f:
        f.c = One()
        f.g = IncTwice(f.c)
    f.run_until_complete()
    assert f.g.get_data() == (3,)


def test_identity_group_returns_its_input() -> None:
    """A template returning its own argument binds the attribute to that input node."""
    with FlowHDL() as f:
        f.c = One()
        f.g = PassThrough(f.c)
        f.s = Sink(f.g)
    f.run_until_complete()
    assert f.g.get_data() == (1,)
    assert f.g is f.c
    assert_no_group_at_run_time(f)


def test_group_result_used_twice_by_one_node() -> None:
    """``Add(g, g)`` with ``g = IncTwice(1)`` → 6."""
    with FlowHDL() as f:
        f.c = One()
        f.g = IncTwice(f.c)
        f.added = Add(f.g, f.g)
    f.run_until_complete()
    assert f.added.get_data() == (6,)
    assert_no_group_at_run_time(f)


def test_group_result_reused_by_several_sinks_and_an_adder() -> None:
    """``g`` reused by two sinks and ``Add(g, g)`` → 6."""
    with FlowHDL() as f:
        f.c = One()
        f.g = IncTwice(f.c)
        f.s1 = Sink(f.g)
        f.s2 = Sink(f.g)
        f.added = Add(f.g, f.g)
    f.run_until_complete()
    assert f.added.get_data() == (6,)
    assert_no_group_at_run_time(f)


def test_group_referenced_before_definition() -> None:
    """A sink may reference the group's attribute before it is assigned."""
    with FlowHDL() as f:
        f.s = Inc(f.g)
        f.c = One()
        f.g = IncTwice(f.c)
    f.run_until_complete()
    assert f.g.get_data() == (3,)
    assert f.s.get_data() == (4,)
    assert f.s._input_ports[0].connected_output.node is f.g
    assert_no_group_at_run_time(f)


def test_names_inside_a_template_stay_in_its_own_view() -> None:
    """Flowno leaked names assigned inside a template into the outer namespace (last
    instance wins); in flowtrace they stay inside the template's view."""
    with FlowHDL() as f:
        f.c = One()
        f.g1 = IncTwice(f.c)
        f.g2 = IncTwice(f.g1)
    with pytest.raises(AttributeError):
        _ = f.inc_twice_first
    f.run_until_complete()
    assert f.g2.get_data() == (5,)


def test_template_called_outside_a_block_is_a_runtime_error() -> None:
    """A group needs an enclosing FlowHDL block: outside one it raises ``RuntimeError``
    (Flowno: a bare ``StopIteration``)."""
    with pytest.raises(RuntimeError):
        IncTwice(1)

"""Conformance: an input that is neither connected nor defaulted.

Pinned (compatibility §3): a ``FlowHDL`` block refuses such an input when it ends
(tests/conformance/test_flowhdl.py), but ``Flow.add_node`` / ``add_nodes`` accept a
node that has one — building the flow by hand, ports may be wired after adding —
and the error comes only when that node runs: its gather fails with
``MissingDefaultError`` naming the node, the input's index and its parameter. Flowno
raises the same error type inside the node but then never ends the run; flowtrace ends
it (a deliberate difference, compatibility §9: gather-time errors).
"""

from __future__ import annotations

from typing import Any, TypeVar

import pytest

from flowtrace import Flow, FlowHDL, node
from flowtrace.core.node_base import MissingDefaultError
from flowtrace.engine.flow import NodeExecutionError

pytestmark = pytest.mark.timeout(10)

T = TypeVar("T")


@node
async def Echo(value: T) -> T:
    return value


@node
async def Seven() -> int:
    return 7


def test_a_flow_accepts_a_node_with_an_unwired_input() -> None:
    flow = Flow()
    lonely = Echo()
    flow.add_node(lonely)
    flow.add_nodes([lonely])  # adding it again changes nothing
    assert len(flow.nodes) == 1
    assert flow.nodes[0]._input_ports[0].connected_output is None


def test_adding_several_drafts_keeps_their_wiring() -> None:
    flow = Flow()
    src = Seven()
    out = Echo(src)
    flow.add_nodes([src, out])
    twin_src, twin_out = flow.nodes
    connected = twin_out._input_ports[0].connected_output
    assert connected is not None and connected.node is twin_src
    flow.run_until_complete()
    assert twin_out.get_data() == (7,)


def test_running_it_fails_naming_node_port_and_parameter() -> None:
    flow = Flow()
    flow.add_node(Echo())
    with pytest.raises(MissingDefaultError, match=r"^Echo#0\.input\(0\) `value` is not connected"):
        flow.run_until_complete()


def test_without_terminating_the_other_nodes_finish_first() -> None:
    flow = Flow()
    src = Seven()
    flow.add_nodes([src, Echo()])
    with pytest.raises(NodeExecutionError) as caught:
        flow.run_until_complete(terminate_on_node_error=False)
    assert isinstance(caught.value.__cause__, MissingDefaultError)
    assert "Echo#0.input(0) `value`" in str(caught.value)
    assert flow.nodes[0].get_data() == (7,)


def test_a_port_disconnected_after_the_block_fails_the_same_way() -> None:
    """The rule is the node's, not the builder's: a finalized port whose connection is
    removed before the run fails when its node gathers."""
    with FlowHDL() as f:
        f.src = Seven()
        f.echo = Echo(f.src)
    echo: Any = f.echo
    echo._input_ports[0].connected_output = None
    with pytest.raises(MissingDefaultError, match=r"echo\.input\(0\) `value`"):
        f.run_until_complete()
    assert f.src.get_data() == (7,)


def test_a_flowhdl_block_still_refuses_it() -> None:
    expected = "is not connected and has no default value"
    with pytest.raises(AttributeError, match=expected), FlowHDL() as f:
        f.echo = Echo()


def test_a_draft_added_after_its_producer_is_wired_to_the_producer_already_there() -> None:
    flow = Flow()
    src = Seven()
    out = Echo(src)
    flow.add_node(src)
    flow.add_node(out)
    flow.add_node(src)
    assert len(flow.nodes) == 2
    twin_src, twin_out = flow.nodes
    connected = twin_out._input_ports[0].connected_output
    assert connected is not None and connected.node is twin_src
    assert twin_src.get_output_nodes() == [twin_out]
    flow.run_until_complete()
    assert twin_out.get_data() == (7,)


def test_drafts_connected_after_they_were_added_run_connected() -> None:
    """Flowno's ``Flow`` holds the drafts themselves, so wiring them after adding counts:
    the run follows the connection, and only the input still unwired fails."""
    flow = Flow()
    first = Echo()
    second = Echo()
    flow.add_nodes([first, second])
    first.output(0).connect(second.input(0))
    with pytest.raises(MissingDefaultError, match=r"^Echo#0\.input\(0\) `value`"):
        flow.run_until_complete()
    twin_first, twin_second = flow.nodes
    connected = twin_second._input_ports[0].connected_output
    assert connected is not None and connected.node is twin_first
    assert twin_first.get_output_nodes() == [twin_second]


def test_a_source_connected_after_adding_feeds_its_consumer() -> None:
    flow = Flow()
    src = Seven()
    out = Echo()
    flow.add_nodes([src, out])
    src.output(0).connect(out.input(0))
    flow.run_until_complete()
    assert flow.nodes[1].get_data() == (7,)

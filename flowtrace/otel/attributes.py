"""Names of every span attribute, span event and span name flowtrace produces.

They live in one module so that the mapping, the exporters and the documentation agree:
``docs/otel.md`` lists each of them and a test checks that it does. All attributes share
the ``flowtrace.`` prefix (the OpenTelemetry semantic conventions reserve unprefixed
names); the exception event uses the standard ``exception.*`` attributes so that every
backend recognises it.
"""

from __future__ import annotations

__all__ = [
    "ATTRIBUTES",
    "EVENT_NAMES",
    "INPUT_FIELDS",
    "ROOT_SPAN_NAME",
    # run / root span
    "RUN_ID",
    "FLOW_ID",
    "FLOW_NAME",
    "FLOW_OUTCOME",
    "FLOW_ERROR_NODE",
    "FLOW_ERROR_GENERATION",
    "GRAPH_NODES",
    "GRAPH_NODE_COUNT",
    "GRAPH_EDGE_COUNT",
    "DEADLOCK_WAITING",
    # node evaluation spans
    "NODE_ID",
    "NODE_LABEL",
    "NODE_KIND",
    "GENERATION",
    "RUN_LEVEL",
    "OUTCOME",
    "QUEUE_WAIT_NS",
    "INPUTS_DEFAULTED",
    "INPUT_PREFIX",
    "OUTPUT_PREFIX",
    "ERROR_PHASE",
    "EVENTS_DROPPED",
    # span events' own attributes
    "STATUS_OLD",
    "STATUS_NEW",
    "PORT",
    "VALUE",
    "PRODUCER",
    "PRODUCER_OUTPUT",
    "PRODUCER_GENERATION",
    "PENDING_READERS",
    "BLOCKED",
    "WAITED_NS",
    "CANCELLED",
    "PROPAGATED",
    "HANDLED",
    "REQUESTED_BY",
    "LIMIT",
    "CYCLE_NODE",
    "CYCLE_MEMBERS",
    "CYCLE_DEFAULTED_PORTS",
    "LINK_KIND",
    "EXCEPTION_TYPE",
    "EXCEPTION_MESSAGE",
    "EXCEPTION_STACKTRACE",
    # offloaded calls (a child span per call)
    "OFFLOAD_SPAN_PREFIX",
    "OFFLOAD_CALL_ID",
    "OFFLOAD_EXECUTOR",
    "OFFLOAD_EXECUTOR_KIND",
    "OFFLOAD_FUNCTION",
    "OFFLOAD_BODY",
    "OFFLOAD_PAYLOAD_BYTES",
    "OFFLOAD_RESULT_BYTES",
    "OFFLOAD_OUTCOME",
    "OFFLOAD_QUEUE_NS",
    "OFFLOAD_RUN_NS",
    "WORKER_ADDRESS",
    "WORKER_HOST",
    "WORKER_PID",
    "input_attribute",
    "output_attribute",
]

ROOT_SPAN_NAME = "flow.run"

# ------------------------------------------------------------------ run (root span)
RUN_ID = "flowtrace.run.id"
FLOW_ID = "flowtrace.flow.id"
#: The flow's name: the one given to ``FlowHDL(name=...)``, else the script's (the root
#: span is then named ``flow.run <name>``, so runs of different flows tell apart).
FLOW_NAME = "flowtrace.flow.name"
FLOW_OUTCOME = "flowtrace.flow.outcome"
FLOW_ERROR_NODE = "flowtrace.flow.error.node"
FLOW_ERROR_GENERATION = "flowtrace.flow.error.generation"
GRAPH_NODES = "flowtrace.graph.nodes"
GRAPH_NODE_COUNT = "flowtrace.graph.node_count"
GRAPH_EDGE_COUNT = "flowtrace.graph.edge_count"
DEADLOCK_WAITING = "flowtrace.deadlock.waiting"

# ------------------------------------------------------------------ node evaluation spans
NODE_ID = "flowtrace.node.id"
NODE_LABEL = "flowtrace.node.label"
NODE_KIND = "flowtrace.node.kind"
GENERATION = "flowtrace.generation"
RUN_LEVEL = "flowtrace.run_level"
OUTCOME = "flowtrace.outcome"
QUEUE_WAIT_NS = "flowtrace.queue_wait_ns"
INPUTS_DEFAULTED = "flowtrace.inputs.defaulted"
#: ``flowtrace.input.<port>.<field>`` — one group per input port (see :func:`input_attribute`).
INPUT_PREFIX = "flowtrace.input"
#: ``flowtrace.output.<index>`` — the encoded run-level-0 result of each output.
OUTPUT_PREFIX = "flowtrace.output"
ERROR_PHASE = "flowtrace.error.phase"
EVENTS_DROPPED = "flowtrace.events.dropped"

# ------------------------------------------------------------------ span events
STATUS_OLD = "flowtrace.status.old"
STATUS_NEW = "flowtrace.status.new"
PORT = "flowtrace.port"
VALUE = "flowtrace.value"
PRODUCER = "flowtrace.producer.node.id"
PRODUCER_OUTPUT = "flowtrace.producer.output"
PRODUCER_GENERATION = "flowtrace.producer.generation"
PENDING_READERS = "flowtrace.barrier.pending_readers"
BLOCKED = "flowtrace.barrier.blocked"
WAITED_NS = "flowtrace.barrier.waited_ns"
CANCELLED = "flowtrace.stream.cancelled"
PROPAGATED = "flowtrace.stream.propagated"
HANDLED = "flowtrace.stream.handled"
REQUESTED_BY = "flowtrace.stream.requested_by"
LIMIT = "flowtrace.generation.limit"
CYCLE_NODE = "flowtrace.cycle.node.id"
CYCLE_MEMBERS = "flowtrace.cycle.members"
CYCLE_DEFAULTED_PORTS = "flowtrace.cycle.defaulted_ports"
LINK_KIND = "flowtrace.link.kind"

# ------------------------------------------------------------------ offloaded calls
#: Span name of an offloaded call: ``offload <function>``.
OFFLOAD_SPAN_PREFIX = "offload"
OFFLOAD_CALL_ID = "flowtrace.offload.call_id"
OFFLOAD_EXECUTOR = "flowtrace.offload.executor"
OFFLOAD_EXECUTOR_KIND = "flowtrace.offload.executor_kind"
OFFLOAD_FUNCTION = "flowtrace.offload.function"
OFFLOAD_BODY = "flowtrace.offload.body"
OFFLOAD_PAYLOAD_BYTES = "flowtrace.offload.payload_bytes"
OFFLOAD_RESULT_BYTES = "flowtrace.offload.result_bytes"
OFFLOAD_OUTCOME = "flowtrace.offload.outcome"
OFFLOAD_QUEUE_NS = "flowtrace.offload.queue_ns"
OFFLOAD_RUN_NS = "flowtrace.offload.run_ns"
WORKER_ADDRESS = "flowtrace.worker.address"
WORKER_HOST = "flowtrace.worker.host"
WORKER_PID = "flowtrace.worker.pid"

EXCEPTION_TYPE = "exception.type"
EXCEPTION_MESSAGE = "exception.message"
EXCEPTION_STACKTRACE = "exception.stacktrace"

#: Fields of the per-port input attributes ``flowtrace.input.<port>.<field>``.
INPUT_FIELDS: tuple[str, ...] = (
    "producer",
    "producer_output",
    "producer_generation",
    "producer_span_id",
    "defaulted",
    "stream",
    "value",
)


def input_attribute(port: int, field: str) -> str:
    """``flowtrace.input.<port>.<field>``, e.g. ``flowtrace.input.0.producer``."""
    return f"{INPUT_PREFIX}.{port}.{field}"


def output_attribute(index: int) -> str:
    """``flowtrace.output.<index>``, e.g. ``flowtrace.output.0``."""
    return f"{OUTPUT_PREFIX}.{index}"


#: Every fixed attribute name (the per-port families are documented by their pattern).
ATTRIBUTES: tuple[str, ...] = (
    RUN_ID,
    FLOW_ID,
    FLOW_NAME,
    FLOW_OUTCOME,
    FLOW_ERROR_NODE,
    FLOW_ERROR_GENERATION,
    GRAPH_NODES,
    GRAPH_NODE_COUNT,
    GRAPH_EDGE_COUNT,
    DEADLOCK_WAITING,
    NODE_ID,
    NODE_LABEL,
    NODE_KIND,
    GENERATION,
    RUN_LEVEL,
    OUTCOME,
    QUEUE_WAIT_NS,
    INPUTS_DEFAULTED,
    ERROR_PHASE,
    EVENTS_DROPPED,
    STATUS_OLD,
    STATUS_NEW,
    PORT,
    VALUE,
    PRODUCER,
    PRODUCER_OUTPUT,
    PRODUCER_GENERATION,
    PENDING_READERS,
    BLOCKED,
    WAITED_NS,
    CANCELLED,
    PROPAGATED,
    HANDLED,
    REQUESTED_BY,
    LIMIT,
    CYCLE_NODE,
    CYCLE_MEMBERS,
    CYCLE_DEFAULTED_PORTS,
    LINK_KIND,
    EXCEPTION_TYPE,
    EXCEPTION_MESSAGE,
    EXCEPTION_STACKTRACE,
    OFFLOAD_CALL_ID,
    OFFLOAD_EXECUTOR,
    OFFLOAD_EXECUTOR_KIND,
    OFFLOAD_FUNCTION,
    OFFLOAD_BODY,
    OFFLOAD_PAYLOAD_BYTES,
    OFFLOAD_RESULT_BYTES,
    OFFLOAD_OUTCOME,
    OFFLOAD_QUEUE_NS,
    OFFLOAD_RUN_NS,
    WORKER_ADDRESS,
    WORKER_HOST,
    WORKER_PID,
)

#: Names of the span events flowtrace adds.
EVENT_NAMES: tuple[str, ...] = (
    "status",
    "data",
    "stream.item",
    "stream.consumed",
    "stream.stalled",
    "stream.resumed",
    "stream.ended",
    "stream.cancel_requested",
    "stream.cancelled",
    "barrier.wait",
    "barrier.released",
    "generation_limit",
    "cycle_break",
    "deadlock",
    "exception",
    "flowtrace.events_dropped",
    "offload.started",
)

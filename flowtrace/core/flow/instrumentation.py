"""Flowno's ``flowno.core.flow.instrumentation`` names (built on the event stream)."""

from flowtrace.adapters import (
    NO_OP_INSTRUMENT,
    FlowInstrument,
    LogInstrument,
    MinimalInstrument,
    PrintInstrument,
    get_current_flow_instrument,
)

__all__ = [
    "NO_OP_INSTRUMENT",
    "FlowInstrument",
    "LogInstrument",
    "MinimalInstrument",
    "PrintInstrument",
    "get_current_flow_instrument",
]

"""Flowno's ``flowno.core.event_loop.instrumentation`` names, from
:mod:`flowtrace.loop_adapters` (event-loop hooks built on flowtrace's event stream)."""

from flowtrace.loop_adapters import (
    EMPTY_INSTRUMENT,
    EventLoopInstrument,
    InstrumentationMetadata,
    LogInstrument,
    PrintInstrument,
    ReadySocketInstrumentationMetadata,
    SocketConnectReadyMetadata,
    SocketConnectStartMetadata,
    SocketRecvDataMetadata,
    SocketSendDataMetadata,
    TaskSendMetadata,
    TaskThrowMetadata,
    TLSHandshakeMetadata,
    _CompositeInstrument,
    _instrument_stack,
    get_current_instrument,
)

__all__ = [
    "EMPTY_INSTRUMENT",
    "EventLoopInstrument",
    "InstrumentationMetadata",
    "LogInstrument",
    "PrintInstrument",
    "ReadySocketInstrumentationMetadata",
    "SocketConnectReadyMetadata",
    "SocketConnectStartMetadata",
    "SocketRecvDataMetadata",
    "SocketSendDataMetadata",
    "TLSHandshakeMetadata",
    "TaskSendMetadata",
    "TaskThrowMetadata",
    "_CompositeInstrument",
    "_instrument_stack",
    "get_current_instrument",
]

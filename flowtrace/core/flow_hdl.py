"""Flowno's ``flowno.core.flow_hdl`` names."""

from flowtrace.engine.hdl import FlowHDL

__all__ = ["FlowHDL"]

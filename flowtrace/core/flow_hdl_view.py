"""Flowno's ``flowno.core.flow_hdl_view`` names."""

from flowtrace.engine.hdl import FlowHDLView

__all__ = ["FlowHDLView"]

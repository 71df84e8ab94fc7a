"""Flowno's ``flowno.core.flow`` package."""

from flowtrace.engine.flow import Flow

__all__ = ["Flow"]

"""Flowno's ``flowno.core.event_loop.event_loop`` names."""

from flowtrace.engine.loop import EventLoop, current_event_loop, current_task

__all__ = ["EventLoop", "current_event_loop", "current_task"]

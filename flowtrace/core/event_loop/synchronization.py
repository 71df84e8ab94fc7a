"""Flowno's ``flowno.core.event_loop.synchronization`` names."""

from flowtrace.engine.sync import Condition, CountdownLatch, Event, Lock

__all__ = ["Condition", "CountdownLatch", "Event", "Lock"]

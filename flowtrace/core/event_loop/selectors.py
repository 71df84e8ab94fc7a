"""Flowno's ``flowno.core.event_loop.selectors`` names."""

from flowtrace.engine.sockets import SocketHandle

__all__ = ["SocketHandle"]

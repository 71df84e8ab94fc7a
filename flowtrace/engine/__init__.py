"""The engine: the event loop core (:mod:`~flowtrace.engine.loop`), its primitives and
the flow runtime. Its public names are re-exported by :mod:`flowtrace`; import the
submodules directly for the rest."""

__all__: list[str] = []

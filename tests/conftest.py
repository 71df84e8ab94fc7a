"""Suite-wide settings: instruments run in strict mode, so an instrument that raises
fails the test instead of being detached quietly (tests of the non-strict behaviour
build their ``Bus`` with ``strict=False``)."""

from __future__ import annotations

from flowtrace.instrument import set_strict

set_strict(True)

"""Suite-wide settings: instruments run in strict mode, so an instrument that raises
fails the test instead of being detached quietly (tests of the non-strict behaviour
build their ``Bus`` with ``strict=False``); hypothesis has no per-example deadline (CI
runs on a loaded 2-core machine, and a slow example is not a wrong one); and fixtures
several folders use."""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

from flowtrace.instrument import set_strict

set_strict(True)
settings.register_profile("flowtrace", deadline=None)
settings.load_profile("flowtrace")


@pytest.fixture
def no_otel_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No ``OTEL_*`` variable of the developer's environment leaks into the test (they
    choose exporters, endpoints and protocols)."""
    for name in list(os.environ):
        if name.startswith("OTEL_"):
            monkeypatch.delenv(name)

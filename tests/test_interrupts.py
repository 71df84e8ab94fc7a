"""A Ctrl-C is postponed out of protected code, never dropped, and other handlers are
left alone (``flowtrace.interrupts``)."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator

import pytest

from flowtrace import interrupts


def _critical(log: list[str]) -> None:
    log.append("in")
    signal.raise_signal(signal.SIGINT)
    deadline = time.monotonic() + 0.05
    while time.monotonic() < deadline:  # bytecodes run: a KeyboardInterrupt could land
        pass
    log.append("out")


interrupts.protect([_critical])


@pytest.fixture(autouse=True)
def pristine_sigint(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts from Python's default handler and no users (a recorder another
    test left open may hold a guard), and the process's state is put back after."""
    saved = signal.signal(signal.SIGINT, signal.default_int_handler)
    monkeypatch.setattr(interrupts, "_users", 0)
    monkeypatch.setattr(interrupts, "_presses", 0)
    monkeypatch.setattr(interrupts, "_pending", False)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, saved)


def test_a_ctrl_c_inside_protected_code_lands_right_after_it() -> None:
    log: list[str] = []
    assert interrupts.install()
    try:
        with pytest.raises(KeyboardInterrupt):
            _critical(log)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                time.sleep(0.001)
            log.append("never interrupted")
    finally:
        interrupts.uninstall()
    assert log == ["in", "out"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def _stuck(log: list[str]) -> None:
    """Protected code that does not end soon (a write to a hanging disk)."""
    for press in range(interrupts.INSIST):
        log.append(f"press {press + 1}")
        signal.raise_signal(signal.SIGINT)
    log.append("still inside")


interrupts.protect([_stuck])


def test_pressing_ctrl_c_again_and_again_interrupts_even_protected_code() -> None:
    log: list[str] = []
    assert interrupts.install()
    try:
        with pytest.raises(KeyboardInterrupt):
            _stuck(log)
    finally:
        interrupts.uninstall()
    assert log == [f"press {n + 1}" for n in range(interrupts.INSIST)]
    time.sleep(10 * interrupts.RETRY_SECONDS)  # no stale re-send lands afterwards


def test_outside_protected_code_a_ctrl_c_is_raised_at_once() -> None:
    assert interrupts.install()
    try:
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
    finally:
        interrupts.uninstall()


def test_a_programs_own_handler_is_never_replaced() -> None:
    seen: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: seen.append(signum))
    try:
        assert not interrupts.install()
        assert not interrupts.installed()
        signal.raise_signal(signal.SIGINT)
        assert seen == [signal.SIGINT]
    finally:
        signal.signal(signal.SIGINT, previous)


def test_installs_are_counted_and_the_last_uninstall_restores_the_default() -> None:
    assert interrupts.install() and interrupts.install()
    interrupts.uninstall()
    assert interrupts.installed()
    interrupts.uninstall()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


class _Finalized:
    """Its ``__del__`` takes a Ctrl-C: Python would print and drop a KeyboardInterrupt
    raised there ("Exception ignored in ...")."""

    def __init__(self, log: list[str]) -> None:
        self.log = log

    def __del__(self) -> None:
        self.log.append("finalizer")
        signal.raise_signal(signal.SIGINT)
        deadline = time.monotonic() + 0.02
        while time.monotonic() < deadline:
            pass


def test_a_ctrl_c_landing_in_a_finalizer_is_postponed_not_dropped() -> None:
    log: list[str] = []
    assert interrupts.install()
    try:
        with pytest.raises(KeyboardInterrupt):
            obj = _Finalized(log)
            del obj  # the finalizer runs here and takes the signal
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                time.sleep(0.001)
            log.append("never interrupted")
    finally:
        interrupts.uninstall()
    assert log == ["finalizer"]

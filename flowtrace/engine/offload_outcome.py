"""What came back from an executor, as the node sees it: the completion thread turns a
finished future into a :class:`_Resolution` (the worker's report, the result unpickled
here), and the loop maps that to the value or exception the node's task resumes with,
the call's outcome and the error the trace records (:func:`_outcome`).
"""

from __future__ import annotations

import pickle
from typing import TYPE_CHECKING, Any

from flowtrace.engine.loop import error_info
from flowtrace.engine.offload_errors import (
    OffloadError,
    OffloadLostError,
    RemoteError,
    RemoteTraceback,
)
from flowtrace.engine.remote import CallOutcome
from flowtrace.events import ErrorInfo, OffloadOutcome

if TYPE_CHECKING:
    from flowtrace.engine.offload_session import _Call


class _Resolution:
    """What the completion thread learned about a finished future (the loop thread
    turns it into events and a resumed task)."""

    __slots__ = ("exc", "outcome", "value")

    def __init__(
        self, outcome: CallOutcome | None, value: Any = None, exc: BaseException | None = None
    ) -> None:
        self.outcome = outcome
        self.value = value
        self.exc = exc


def _resolve(future: Any) -> _Resolution:
    """Runs on the executor's callback thread: collect the result, unpickle it."""
    try:
        outcome = future.result()
    except BaseException as exc:  # the executor's failure, never the user's
        return _Resolution(None, None, exc)
    if not isinstance(outcome, CallOutcome):
        return _Resolution(None, None, TypeError(f"unexpected reply {outcome!r}"))
    if outcome.blob is None:
        return _Resolution(outcome)
    try:
        value = pickle.loads(outcome.blob)
    except BaseException as exc:
        return _Resolution(outcome, None, exc)
    return _Resolution(outcome, value)


def _outcome(
    call: _Call, res: _Resolution
) -> tuple[Any, BaseException | None, OffloadOutcome, ErrorInfo | None]:
    """(value, exception for the node, outcome, error for the trace)."""
    outcome = res.outcome
    backend = call.backend
    if outcome is None:  # the executor failed: the call is lost
        cause = res.exc
        assert cause is not None
        lost = OffloadLostError(
            f"{call.label()} was lost: {backend.describe()} failed "
            f"({type(cause).__name__}: {cause or 'no message'})",
            backend.name,
        )
        lost.__cause__ = cause
        return None, lost, "lost", error_info(lost)
    where = f"{outcome.worker} ({outcome.host})"
    if outcome.status == "returned":
        if res.exc is not None:
            err = OffloadError(
                f"{call.label()}: the result sent back by {where} cannot be unpickled "
                f"here ({type(res.exc).__name__}: {res.exc})"
            )
            err.__cause__ = res.exc
            return None, err, "raised", error_info(err)
        return res.value, None, "returned", None
    remote_tb = RemoteTraceback(outcome.traceback)
    info = ErrorInfo(outcome.error_type, outcome.error_message, outcome.traceback)
    if outcome.status == "raised":
        user = res.value
        if isinstance(user, BaseException):
            user.__cause__ = remote_tb
            return None, user, "raised", info
        wrapped = RemoteError(
            f"{call.label()} raised {outcome.error_type}: {outcome.error_message} on "
            f"{where} (the exception could not be sent back by pickle, so it arrives "
            "as RemoteError; the remote traceback is its cause)",
            outcome.error_type,
            outcome.error_message,
            outcome.traceback,
        )
        wrapped.__cause__ = remote_tb
        return None, wrapped, "raised", info
    failed = OffloadError(f"{call.label()} failed on {where}: {outcome.error_message}")
    failed.__cause__ = remote_tb
    return None, failed, "raised", info

"""OTLP exporters that can never hang a flow or the CLI, and a provider built from ``OTEL_*``.

Where the spans go (:func:`resolve_otlp`, :func:`refusal_probe`) is
:mod:`flowtrace.otel.target`, re-exported here. Two things live here:

* :class:`GuardedExporter` — wraps the SDK's OTLP exporter: counts what was exported
  and what was lost, silences the SDK's per-retry log lines, and, after a failure, drops
  batches for ``retry_after`` seconds instead of waiting for the timeout again — so the
  time lost to a dead collector is one export timeout, not one per batch. Before
  trying a collector that has not answered yet (and while shutting down) it connects
  to its address once (:func:`refusal_probe`): a refused connection — nothing is
  listening — fails the batch at once, where the SDK would retry it with backoff until
  the timeout (about 8 s at the end of every script with a collector that is not
  running). A collector that accepts and never answers still costs the timeout. The
  failure is reported once, as a single warning naming the endpoint, the reason
  (``connection refused``, ``no answer within 10 s``, …) and the number of spans lost,
  when the exporter shuts down (end of ``flowtrace run``/``export``, or process exit).
* :func:`build_provider` — a ``TracerProvider`` with that exporter behind a batch
  processor (live: a background thread, the flow never waits) or a synchronous batcher
  (offline: no queue to overflow), span limits raised to what the mapping keeps.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import re
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from typing import Literal

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from flowtrace.otel.target import (
    DEFAULT_TIMEOUT,
    OtlpTarget,
    Protocol,
    _env,
    make_otlp_exporter,
    refusal_probe,
    resolve_otlp,
)

__all__ = [
    "OtlpTarget",
    "Protocol",
    "resolve_otlp",
    "make_otlp_exporter",
    "refusal_probe",
    "GuardedExporter",
    "SyncBatchProcessor",
    "OwnedProvider",
    "build_provider",
    "DEFAULT_TIMEOUT",
]

logger = logging.getLogger("flowtrace.otel")


#: Loggers of the OTLP exporters whose per-attempt messages we replace by one warning.
_EXPORTER_LOGGERS = (
    "opentelemetry.exporter.otlp.proto.grpc.exporter",
    "opentelemetry.exporter.otlp.proto.grpc.trace_exporter",
    "opentelemetry.exporter.otlp.proto.http._common",
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "opentelemetry.exporter.otlp.common.http",
)


# ------------------------------------------------------------------ the guard


class _Quiet(logging.Filter):
    """Drops the exporter loggers' records on threads inside a guarded call, keeping the
    last message as the reason to report."""

    def __init__(self) -> None:
        super().__init__()
        self.local = threading.local()

    def filter(self, record: logging.LogRecord) -> bool:
        sink: list[str] | None = getattr(self.local, "messages", None)
        if sink is None:
            return True
        with contextlib.suppress(Exception):
            sink.append(record.getMessage())
        return False


_QUIET = _Quiet()
_quiet_installed = False
_install_lock = threading.Lock()


def _install_quiet() -> None:
    global _quiet_installed
    with _install_lock:
        if not _quiet_installed:
            for name in _EXPORTER_LOGGERS:
                logging.getLogger(name).addFilter(_QUIET)
            _quiet_installed = True


@contextlib.contextmanager
def _quiet(messages: list[str]) -> Iterator[None]:
    previous = getattr(_QUIET.local, "messages", None)
    _QUIET.local.messages = messages
    try:
        yield
    finally:
        _QUIET.local.messages = previous


_TRANSIENT = re.compile(
    r"Transient error (?P<what>.*?) encountered while exporting .*?retrying in [0-9.]+s\.\s*"
    r"(?P<details>.*)$",
    re.S,
)


#: What the SDK's messages say when an export used up its time without an answer …
_NO_ANSWER = re.compile(r"timeout|timed out|deadline", re.I)
#: … and when the collector did answer, with a status to retry on, until the deadline.
_ANSWERED = re.compile(
    r"code: [0-9]{3}|StatusCode\.(?!DEADLINE_EXCEEDED|UNAVAILABLE)"
    r"|Too Many Requests|Bad Gateway|Service Unavailable|Gateway Timeout",
    re.I,
)


def _unanswered(messages: list[str]) -> bool:
    text = "\n".join(messages)
    return not messages or (_NO_ANSWER.search(text) is not None and _ANSWERED.search(text) is None)


def _concise(message: str, limit: int = 240) -> str:
    """The SDK's first log line about a failure, without its retry chatter."""
    match = _TRANSIENT.match(message)
    if match:
        details = match.group("details").removeprefix("Error details: ")
        message = match.group("what") + (f": {details}" if details else "")
    return message if len(message) <= limit else message[: limit - 1] + "…"


class GuardedExporter(SpanExporter):
    """Counts exported and lost spans around ``inner`` and reports a failure once.

    ``retry_after``: after a failed export, batches arriving within this many seconds
    are counted as lost without trying (a dead collector costs one timeout, not one per
    batch); after shutdown begins, a failure makes every later batch fail at once.
    ``probe`` (see :func:`refusal_probe`) runs before each export until the collector
    has answered once, after a failure, and while shutting down: when it gives a reason,
    the batch fails at once without the SDK's retries. ``timeout``: the inner
    exporter's; an export that failed after about this long is reported as "no answer
    within ``timeout`` s".
    """

    def __init__(
        self,
        inner: SpanExporter,
        endpoint: str,
        *,
        retry_after: float = 5.0,
        timeout: float = DEFAULT_TIMEOUT,
        probe: Callable[[], str | None] | None = None,
    ) -> None:
        self.inner = inner
        self.endpoint = endpoint
        self.retry_after = retry_after
        self.timeout = timeout
        self.probe = probe
        self.exported = 0
        self.lost = 0
        self.failures = 0
        self.reason: str | None = None
        self.reported = False
        self._failed_at: float | None = None
        self._answered = False
        self._stopping = False
        self._lock = threading.Lock()
        _install_quiet()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        n = len(spans)
        failed_at = self._failed_at
        if failed_at is not None and (
            self._stopping or time.monotonic() - failed_at < self.retry_after
        ):
            self._count(lost=n)
            return SpanExportResult.FAILURE
        if self.probe is not None and (self._stopping or not self._answered):
            refusal = self.probe()
            if refusal is not None:
                self._failed(n, refusal)
                return SpanExportResult.FAILURE
        messages: list[str] = []
        started = time.monotonic()
        try:
            with _quiet(messages):
                result = self.inner.export(spans)
        except Exception as error:  # an exporter must never take the flow down
            messages.append(f"{type(error).__name__}: {error}")
            result = SpanExportResult.FAILURE
        if result is SpanExportResult.SUCCESS:
            self._failed_at = None
            self._answered = True
            self._count(exported=n)
        elif time.monotonic() - started >= 0.9 * self.timeout and _unanswered(messages):
            self._failed(n, f"no answer within {self.timeout:g} s")
        else:
            self._failed(n, _concise(messages[0]) if messages else None)
        return result

    def _failed(self, n: int, reason: str | None) -> None:
        self._failed_at = time.monotonic()
        self._answered = False
        if reason is not None and self.reason is None:
            self.reason = reason
        self._count(lost=n, failure=True)

    def _count(self, *, exported: int = 0, lost: int = 0, failure: bool = False) -> None:
        with self._lock:
            self.exported += exported
            self.lost += lost
            self.failures += int(failure)

    def begin_stop(self) -> None:
        """From now on a failed collector is not retried (used while shutting down)."""
        self._stopping = True

    def shutdown(self, timeout_millis: float = 30_000) -> None:
        self._stopping = True
        messages: list[str] = []
        with _quiet(messages), contextlib.suppress(Exception):
            self.inner.shutdown()
        self.report()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        messages: list[str] = []
        with _quiet(messages):
            try:
                return bool(self.inner.force_flush(timeout_millis))
            except Exception:
                return False

    def report(self, *, unfinished: bool = False) -> None:
        """Log the single warning about lost spans, if any were lost and not yet said.

        ``unfinished``: the export was abandoned while still running; warn even if no
        batch has failed yet (the spans it held are lost too).
        """
        with self._lock:
            if self.reported or (self.lost == 0 and not unfinished):
                return
            self.reported = True
            lost, reason = self.lost, self.reason
        logger.warning(
            "flowtrace: could not export spans to %s (%s); %d span%s lost%s",
            self.endpoint,
            reason or "the collector did not accept them",
            lost,
            "" if lost == 1 else "s",
            ", plus those still queued" if unfinished else "",
        )


# ------------------------------------------------------------------ processors


class SyncBatchProcessor(SpanProcessor):
    """Exports ended spans in batches from the calling thread.

    For the offline export: nothing is dropped for a full queue (the producer simply
    waits for each batch), and the time bound comes from the guarded exporter.
    """

    def __init__(self, exporter: SpanExporter, batch_size: int = 512) -> None:
        self.exporter = exporter
        self.batch_size = batch_size
        self._batch: list[ReadableSpan] = []
        self._shutdown = False

    def on_end(self, span: ReadableSpan) -> None:
        if self._shutdown or not (span.context and span.context.trace_flags.sampled):
            return
        self._batch.append(span)
        if len(self._batch) >= self.batch_size:
            self._flush()

    def _flush(self) -> None:
        batch, self._batch = self._batch, []
        if batch:
            self.exporter.export(batch)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        self._flush()
        return True

    def shutdown(self) -> None:
        if self._shutdown:
            return
        self._flush()
        self._shutdown = True
        self.exporter.shutdown()


class OwnedProvider:
    """A provider flowtrace built (and so must shut down), with its guard's counters."""

    def __init__(
        self,
        provider: TracerProvider,
        processor: SpanProcessor,
        guard: GuardedExporter | None,
        max_events: int | None,
        shutdown_timeout: float,
    ) -> None:
        self.provider = provider
        self.processor = processor
        self.guard = guard
        self.max_events = max_events
        self.shutdown_timeout = shutdown_timeout
        self._done = False
        _live_providers.add(self)

    @property
    def exported(self) -> int:
        return self.guard.exported if self.guard else 0

    @property
    def lost(self) -> int:
        return self.guard.lost if self.guard else 0

    def shutdown(self, timeout: float | None = None) -> bool:
        """Flush what is buffered and stop, waiting at most ``timeout`` seconds.

        The SDK's own shutdown runs in a daemon thread that we wait for with a bound,
        so no collector can hold the caller longer. Returns False when it did not
        finish in time (what was still queued is then abandoned with the process).
        """
        if self._done:
            return True
        self._done = True
        seconds = self.shutdown_timeout if timeout is None else timeout
        if self.guard is not None:
            self.guard.begin_stop()
        worker = threading.Thread(
            target=self.provider.shutdown, name="flowtrace-otel-shutdown", daemon=True
        )
        try:
            worker.start()
        except RuntimeError:  # interpreter shutdown: no new thread; the probe keeps it short
            self.provider.shutdown()
        else:
            worker.join(seconds)
        finished = not worker.is_alive()
        if self.guard is not None:
            if not finished and self.guard.reason is None:
                self.guard.reason = f"no answer within {self.guard.timeout:g} s"
            self.guard.report(unfinished=not finished)
        return finished


_live_providers: weakref.WeakSet[OwnedProvider] = weakref.WeakSet()


def _shutdown_at_exit() -> None:
    """Flush every provider flowtrace built and nobody shut down, each within its bound
    (the SDK's own exit hook would wait up to 30 s per processor)."""
    for owned in list(_live_providers):
        owned.shutdown()


def _register_exit_hook() -> None:
    """Run :func:`_shutdown_at_exit` while threads can still start: since Python 3.12 an
    ``atexit`` callback can no longer start the bounded shutdown's thread, so use the
    hook that ``threading`` runs before it joins the remaining threads (the one
    :mod:`concurrent.futures` uses), and plain ``atexit`` where that does not exist."""
    register = getattr(threading, "_register_atexit", None)
    if register is not None:
        try:
            register(_shutdown_at_exit)
            return
        except RuntimeError:  # imported during shutdown
            pass
    atexit.register(_shutdown_at_exit)


_register_exit_hook()


def build_provider(
    *,
    target: OtlpTarget | None = None,
    exporter: SpanExporter | None = None,
    service_name: str = "flowtrace",
    max_events: int | None = None,
    batch: Literal["background", "sync"] = "background",
    schedule_delay_millis: float | None = None,
    shutdown_timeout: float | None = None,
    retry_after: float = 5.0,
) -> OwnedProvider:
    """A provider exporting to ``exporter`` (tests) or OTLP at ``target``.

    The resource comes from ``OTEL_SERVICE_NAME`` / ``OTEL_RESOURCE_ATTRIBUTES``;
    ``service_name`` applies only when they name no service. Span limits: the event
    limit is ``max_events`` (or ``OTEL_SPAN_EVENT_COUNT_LIMIT``, or 1024), so that the
    mapping, which drops what is beyond it and says so, is the one place that drops.
    """
    from flowtrace._version import __version__

    resource = Resource.create({})
    if str(resource.attributes.get("service.name", "")).startswith("unknown_service"):
        resource = resource.merge(Resource({"service.name": service_name}))
    resource = resource.merge(Resource({"flowtrace.version": __version__}))
    if max_events is None:
        env_limit = _env("OTEL_SPAN_EVENT_COUNT_LIMIT")
        max_events = int(env_limit) if env_limit is not None else 1024
    limits = SpanLimits(max_events=max_events)
    guard: GuardedExporter | None = None
    if exporter is None:
        if target is None:
            target = resolve_otlp()
        guard = GuardedExporter(
            make_otlp_exporter(target),
            target.endpoint,
            retry_after=retry_after,
            timeout=target.timeout,
            probe=refusal_probe(target),
        )
        exporter = guard
        if shutdown_timeout is None:
            shutdown_timeout = target.timeout + 2.0
    if shutdown_timeout is None:
        shutdown_timeout = 5.0
    processor: SpanProcessor
    if batch == "sync":
        processor = SyncBatchProcessor(exporter)
    else:
        processor = BatchSpanProcessor(exporter, schedule_delay_millis=schedule_delay_millis)
    # shutdown_on_exit=False: our own exit hook (above) flushes it with a bound.
    provider = TracerProvider(resource=resource, span_limits=limits, shutdown_on_exit=False)
    provider.add_span_processor(processor)
    return OwnedProvider(provider, processor, guard, max_events, shutdown_timeout)

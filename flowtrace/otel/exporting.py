"""OTLP exporters that can never hang a flow or the CLI, and a provider built from ``OTEL_*``.

Three things live here:

* :func:`resolve_otlp` — endpoint and protocol from arguments, then the standard
  environment variables (``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` / ``…_ENDPOINT``,
  ``…_PROTOCOL``, ``…_TIMEOUT``), then defaults; an endpoint on port 4317 means gRPC.
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
import errno
import logging
import os
import re
import socket
import threading
import time
import urllib.request
import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

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

Protocol = Literal["grpc", "http/protobuf"]

DEFAULT_TIMEOUT = 10.0
_GRPC_PORT = 4317

#: Loggers of the OTLP exporters whose per-attempt messages we replace by one warning.
_EXPORTER_LOGGERS = (
    "opentelemetry.exporter.otlp.proto.grpc.exporter",
    "opentelemetry.exporter.otlp.proto.grpc.trace_exporter",
    "opentelemetry.exporter.otlp.proto.http._common",
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "opentelemetry.exporter.otlp.common.http",
)


@dataclass(frozen=True, slots=True)
class OtlpTarget:
    """Where and how spans go: ``endpoint`` as given to the SDK exporter."""

    endpoint: str
    protocol: Protocol
    timeout: float


def _env(*names: str) -> str | None:
    for name in names:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None


def _protocol_name(value: str) -> Protocol:
    v = value.strip().lower()
    if v == "grpc":
        return "grpc"
    if v in ("http", "http/protobuf"):
        return "http/protobuf"
    raise ValueError(f"unsupported OTLP protocol {value!r}: use 'grpc' or 'http' (http/protobuf)")


def resolve_otlp(
    endpoint: str | None = None,
    protocol: str | None = None,
    timeout: float | None = None,
) -> OtlpTarget:
    """Decide endpoint, protocol and export timeout.

    Precedence: arguments, then ``OTEL_EXPORTER_OTLP_TRACES_*``, then
    ``OTEL_EXPORTER_OTLP_*``. Without a protocol, an endpoint on port 4317 means gRPC and
    anything else http/protobuf (the OTLP default). A bare ``host:port`` gets ``http://``;
    an http endpoint without a path gets ``/v1/traces``.
    """
    explicit_endpoint = endpoint is not None and endpoint != ""
    raw = (
        endpoint
        if explicit_endpoint
        else _env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
    )
    signal_specific = (
        not explicit_endpoint and _env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") is not None
    )
    proto_text = protocol or _env(
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"
    )
    if proto_text is not None:
        proto = _protocol_name(proto_text)
    elif raw is not None and _port_of(raw) == _GRPC_PORT:
        proto = "grpc"
    else:
        proto = "http/protobuf"
    if raw is None:
        raw = "http://localhost:4317" if proto == "grpc" else "http://localhost:4318"
    if "://" not in raw:
        raw = "http://" + raw
    if proto == "http/protobuf":
        parts = urlsplit(raw)
        if parts.path in ("", "/") and not signal_specific:
            raw = raw.rstrip("/") + "/v1/traces"
    if timeout is None:
        env_timeout = _env("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT")
        # The specification says milliseconds; the Python SDK historically read seconds.
        # Values above 1000 can only be milliseconds.
        if env_timeout is not None:
            value = float(env_timeout)
            timeout = value / 1000.0 if value > 1000 else value
        else:
            timeout = DEFAULT_TIMEOUT
    if timeout <= 0:
        raise ValueError(f"the export timeout must be positive, not {timeout}")
    return OtlpTarget(raw, proto, float(timeout))


def _port_of(endpoint: str) -> int | None:
    text = endpoint if "://" in endpoint else "http://" + endpoint
    try:
        return urlsplit(text).port
    except ValueError:
        return None


def make_otlp_exporter(target: OtlpTarget) -> SpanExporter:
    """The SDK's OTLP span exporter for ``target`` (headers etc. still from ``OTEL_*``)."""
    if target.protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
            OTLPSpanExporter as GrpcExporter,
        )

        return GrpcExporter(endpoint=target.endpoint, timeout=target.timeout)
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
        OTLPSpanExporter as HttpExporter,
    )

    return HttpExporter(endpoint=target.endpoint, timeout=target.timeout)


# ------------------------------------------------------------------ the probe

#: Connection errors that mean "nobody can answer at this address" right away.
_UNREACHABLE = frozenset({errno.ECONNREFUSED, errno.ENETUNREACH, errno.EHOSTUNREACH})


def _behind_proxy(scheme: str, host: str) -> bool:
    """Whether a proxy from the environment would carry the connection (then the
    collector's own address says nothing about whether it can be reached)."""
    proxies = urllib.request.getproxies()
    names = ("grpc", "https", "http", "all") if scheme == "grpc" else (scheme, "all")
    if not any(name in proxies for name in names):
        return False
    return not urllib.request.proxy_bypass(host)


def refusal_probe(target: OtlpTarget) -> Callable[[], str | None] | None:
    """A check that connects once to ``target``'s address and says why nothing can
    answer there — ``"connection refused: nothing listens on HOST:PORT"``, the host or
    network unreachable, or no answer within the timeout — or None when a connection
    was made or the question cannot be settled that way (a name that does not resolve
    now may later: the SDK decides). None instead of a check when the address is not a
    TCP host and port (a Unix socket) or a proxy carries the connection."""
    endpoint = target.endpoint
    parts = urlsplit(endpoint if "://" in endpoint else "http://" + endpoint)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        return None
    try:
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname
    if port is None and target.protocol == "http/protobuf":
        port = 443 if scheme == "https" else 80
    if not host or port is None:
        return None
    if _behind_proxy("grpc" if target.protocol == "grpc" else scheme, host):
        return None
    timeout = target.timeout
    where = f"{host}:{port}"

    def probe() -> str | None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                return None
        except socket.gaierror:
            return None
        except TimeoutError:
            return f"no answer within {timeout:g} s"
        except OSError as error:
            if error.errno == errno.ECONNREFUSED:
                return f"connection refused: nothing listens on {where}"
            if error.errno in _UNREACHABLE:
                return f"{where} unreachable ({error.strerror})"
            return None

    return probe


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

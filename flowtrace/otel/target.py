"""Where spans go: the OTLP endpoint and protocol, the SDK exporter for it, and a
probe that tells a refused connection at once.

:func:`resolve_otlp` takes the endpoint and protocol from arguments, then the standard
environment variables (``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` / ``…_ENDPOINT``,
``…_PROTOCOL``, ``…_TIMEOUT``), then defaults; an endpoint on port 4317 means gRPC.
:func:`refusal_probe` connects to the collector's address once, so that nothing
listening fails a batch at once instead of after the SDK's retries (see
:mod:`flowtrace.otel.exporting`, which uses both).
"""

from __future__ import annotations

import errno
import os
import socket
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from opentelemetry.sdk.trace.export import SpanExporter

__all__ = [
    "DEFAULT_TIMEOUT",
    "OtlpTarget",
    "Protocol",
    "make_otlp_exporter",
    "refusal_probe",
    "resolve_otlp",
]

Protocol = Literal["grpc", "http/protobuf"]

DEFAULT_TIMEOUT = 10.0
_GRPC_PORT = 4317


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

"""The ``--otlp [ENDPOINT]`` options shared by ``flowtrace run`` and ``flowtrace export``,
and the instrument factory that ``flowtrace run`` calls for them.

``--otlp`` takes an optional value. Click would take whatever follows as that value —
in ``flowtrace run --otlp script.py`` the script itself — so :class:`OptionalEndpoint`
gives an argument that names an existing file or ends in ``.py`` back to the command
line: ``--otlp script.py`` means "OTLP to the default endpoint, run script.py".
Nothing here imports OpenTelemetry until an instrument is actually built.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from flowtrace._cli.run import RunOptions

__all__ = ["OptionalEndpoint", "otlp_run_options", "otel_instruments", "script_name"]

F = TypeVar("F", bound=Callable[..., Any])


def _looks_like_a_path(value: str) -> bool:
    return value.endswith(".py") or os.path.exists(value)


def _flag_sentinel() -> object | None:
    """Click's marker for "option given without its value" (private, so looked up)."""
    for module_name in ("click._utils", "click.parser"):
        try:
            module = __import__(module_name, fromlist=["_"])
        except ImportError:
            continue
        for name in ("FLAG_NEEDS_VALUE", "_flag_needs_value"):
            if hasattr(module, name):
                sentinel: object = getattr(module, name)
                return sentinel
    return None


class OptionalEndpoint(click.Option):
    """An option with an optional value that never swallows a following file path."""

    def add_to_parser(self, parser: Any, ctx: click.Context) -> None:
        super().add_to_parser(parser, ctx)
        sentinel = _flag_sentinel()
        table = getattr(parser, "_long_opt", None)
        if sentinel is None or not isinstance(table, dict):
            return  # an unknown click: plain optional-value behaviour
        for name in self.opts:
            parser_option = table.get(name)
            if parser_option is None:
                continue
            original = parser_option.process

            def process(value: Any, state: Any, _original: Any = original) -> None:
                if isinstance(value, str) and value and _looks_like_a_path(value):
                    state.rargs.insert(0, value)
                    value = sentinel
                _original(value, state)

            parser_option.process = process


def otlp_run_options(f: F) -> F:
    """``--otlp [ENDPOINT]``, ``--otlp-protocol``, ``--otlp-timeout``,
    ``--otlp-stream-items`` for ``flowtrace run``."""
    f = click.option(
        "--otlp-stream-items",
        "otlp_stream_items",
        type=click.Choice(["events", "spans"]),
        default="events",
        show_default=True,
        help="With --otlp: stream items as span events, or as child spans.",
    )(f)
    f = click.option(
        "--otlp-timeout",
        "otlp_timeout",
        type=click.FloatRange(min=0.01),
        default=None,
        metavar="S",
        help="With --otlp: export timeout in seconds (default: OTEL_EXPORTER_OTLP_TIMEOUT, "
        "else 10). A dead collector delays the end of the script by at most about this.",
    )(f)
    f = click.option(
        "--otlp-protocol",
        "otlp_protocol",
        type=click.Choice(["grpc", "http"]),
        default=None,
        help="With --otlp: grpc or http (http/protobuf). Default: OTEL_EXPORTER_OTLP_PROTOCOL, "
        "else grpc for port 4317 and http otherwise.",
    )(f)
    f = click.option(
        "--otlp",
        "otlp",
        cls=OptionalEndpoint,
        is_flag=False,
        flag_value="",
        default=None,
        metavar="[ENDPOINT]",
        help="Also send every flow run live as an OpenTelemetry trace over OTLP to ENDPOINT "
        "(default: OTEL_EXPORTER_OTLP_ENDPOINT, else localhost:4318).",
    )(f)
    return f


def script_name(path: str | None) -> str | None:
    """``examples/hello.py`` -> ``hello``: the name of a script's unnamed flows in
    span names (None for what is not a script, such as ``-c`` or ``pytest``)."""
    if not path:
        return None
    stem = os.path.basename(os.path.normpath(path))
    if not stem.endswith(".py"):
        return None
    stem = stem[:-3]
    return stem if stem and stem != "__main__" else None


def otel_instruments(options: RunOptions) -> list[Any]:
    """The live OTel instrument when ``--otlp`` was given (factory for ``flowtrace run``)."""
    extra = options.extra
    endpoint = extra.get("otlp")
    if endpoint is None:
        return []
    from flowtrace._extras import MissingExtraError, require_extra

    try:
        require_extra("otel", "--otlp")
    except MissingExtraError as exc:
        raise click.UsageError(str(exc)) from None
    from flowtrace.otel.instrument import OTelInstrument

    try:
        instrument = OTelInstrument(
            endpoint=endpoint or None,
            protocol=extra.get("otlp_protocol"),
            timeout=extra.get("otlp_timeout"),
            stream_items=extra.get("otlp_stream_items") or "events",
            record_values=not options.no_values,
            flow_name=script_name(options.script),
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--otlp") from None
    return [instrument]

"""flowtrace.io in flows: the chat example over http and https, and every kind of bad
server reaching the node as a clear exception, recorded as ``NodeErrored`` — never a
hang (each run is bounded by the test timeout)."""

from __future__ import annotations

import os
import re
import ssl
import subprocess
import sys
from collections.abc import AsyncGenerator
from pathlib import Path

import pytest

from flowtrace import FlowHDL, Stream, node
from flowtrace.events import NodeErrored, SocketClosed, SocketOpEnded, TLSHandshakeCompleted
from flowtrace.io import HttpClient
from flowtrace.io.http_client import (
    HTTPConnectionClosed,
    HTTPException,
    HTTPProtocolError,
    streaming_response_is_ok,
)
from flowtrace.testing import Capture
from flowtrace.testing.llm_server import LocalLLMServer, Mode
from flowtrace.testing.tls import self_signed_certificate, trusting
from flowtrace.tracefile import read_trace

REPO = Path(__file__).resolve().parents[2]
CHAT = REPO / "examples" / "chat" / "chat.py"

pytestmark = pytest.mark.timeout(60)


def run_chat(*args: str, stdin: str, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(
        [sys.executable, str(CHAT), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_the_chat_example_streams_answers_in_a_cycle_with_its_own_local_server() -> None:
    out = run_chat("--local", stdin="hello there\nhow are you\n")
    assert "You said: hello there" in out
    assert "You said: how are you" in out
    assert out.rstrip().endswith("bye")


def test_the_chat_example_talks_https_to_a_server_trusted_through_ssl_cert_file(
    tmp_path: Path,
) -> None:
    cert, key = self_signed_certificate(tmp_path)
    with LocalLLMServer(certfile=str(cert), keyfile=str(key), api_key="sk-test") as server:
        out = run_chat(
            "--url",
            server.url,
            stdin="over tls\n",
            env={"SSL_CERT_FILE": str(cert), "OPENAI_API_KEY": "sk-test"},
        )
        assert server.requests[0].headers["authorization"] == "Bearer sk-test"
        assert server.requests[0].body["stream"] is True
    assert "You said: over tls" in out


@node
async def Ask(url: str) -> AsyncGenerator[str, None]:
    client = HttpClient()
    response = await client.stream_post(
        url, json={"messages": [{"role": "user", "content": "one two three"}], "stream": True}
    )
    if not streaming_response_is_ok(response):
        raise HTTPException(response.status, await response.text())
    async for data in response.body:
        content = data["choices"][0]["delta"].get("content")
        if content:
            yield content


@node(stream_in=["words"])
async def Join(words: Stream[str]) -> str:
    return "".join([w async for w in words])


def ask(url: str) -> tuple[str | None, Capture, BaseException | None]:
    with FlowHDL() as f:
        f.ask = Ask(url)
        f.join = Join(f.ask)
    cap = Capture()
    error: BaseException | None = None
    try:
        f.run_until_complete(instruments=[cap], terminate_on_node_error=True)
    except Exception as exc:
        error = exc
    data = f.join.get_data()
    return (data[0] if data else None), cap, error


def errored(cap: Capture) -> NodeErrored:
    (event,) = [e for e in cap.events if isinstance(e, NodeErrored)]
    return event


@pytest.mark.parametrize("mode", ["ok", "gzip", "deflate", "jsonlines"])
def test_a_streamed_answer_reaches_the_consumer_item_by_item(mode: Mode) -> None:
    with LocalLLMServer(mode=mode) as server:
        answer, _cap, error = ask(server.url)
    assert error is None
    assert answer == "You said: one two three"


def chain(exc: BaseException | None) -> list[BaseException]:
    out = []
    while exc is not None:
        out.append(exc)
        exc = exc.__cause__ or exc.__context__
    return out


@pytest.mark.parametrize(
    ("mode", "kind", "message"),
    [
        ("status", HTTPException, "500 Internal Server Error: .*overloaded"),
        ("close", HTTPConnectionClosed, "closed the connection mid-stream"),
        ("malformed", HTTPProtocolError, "malformed server-sent event"),
    ],
)
def test_a_misbehaving_server_is_a_clear_node_error(
    mode: Mode, kind: type[Exception], message: str
) -> None:
    with LocalLLMServer(mode=mode) as server:
        _, cap, error = ask(server.url)
    failures = [e for e in chain(error) if isinstance(e, kind)]
    assert failures, chain(error)
    assert re.search(message, str(failures[0])), str(failures[0])
    event = errored(cap)
    assert event.node_id == "ask" and event.error.type.endswith(kind.__name__)


def test_a_refused_connection_is_a_clear_node_error() -> None:
    with LocalLLMServer() as server:
        url = server.url  # the port is free again once the server is gone
    _, cap, error = ask(url)
    refused = [e for e in chain(error) if isinstance(e, ConnectionRefusedError)]
    assert refused and "cannot connect to 127.0.0.1" in str(refused[0])
    assert errored(cap).error.type.endswith("ConnectionRefusedError")


def test_an_untrusted_certificate_is_a_clear_node_error(tmp_path: Path) -> None:
    cert, key = self_signed_certificate(tmp_path)
    with LocalLLMServer(certfile=str(cert), keyfile=str(key)) as server:
        _, cap, error = ask(server.url)
    failed = [e for e in chain(error) if isinstance(e, ssl.SSLCertVerificationError)]
    assert failed and "TLS handshake with localhost" in str(failed[0])
    assert errored(cap).error.type.endswith("SSLCertVerificationError")


def test_a_trusted_certificate_streams_over_tls_and_the_trace_shows_the_handshake(
    tmp_path: Path,
) -> None:
    cert, key = self_signed_certificate(tmp_path)
    with LocalLLMServer(certfile=str(cert), keyfile=str(key)) as server, trusting(cert):
        answer, cap, error = ask(server.url)
    assert error is None and answer == "You said: one two three"
    assert [e for e in cap.events if isinstance(e, TLSHandshakeCompleted)]
    assert any(isinstance(e, SocketOpEnded) and e.operation == "recv" for e in cap.events)


@node(stream_in=["words"])
async def FirstWord(words: Stream[str]) -> str:
    async for word in words:
        await words.cancel()
        return word
    return ""


def test_cancelling_a_streamed_answer_closes_its_connection_in_a_recorded_run() -> None:
    with LocalLLMServer(mode="slow", delay=0.05, reply="a b c d e f g h") as server:
        with FlowHDL() as f:
            f.ask = Ask(server.url)
            f.first = FirstWord(f.ask)
        cap = Capture()
        f.run_until_complete(instruments=[cap])
    assert f.first.get_data() == ("a ",)
    closed = [e for e in cap.events if isinstance(e, SocketClosed)]
    assert closed, "the cancelled producer's socket was closed"
    assert not [e for e in cap.events if isinstance(e, NodeErrored)]


def test_the_chat_recorded_by_flowtrace_run_holds_its_sockets_and_ends_cleanly(
    tmp_path: Path,
) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "flowtrace.cli", "run", str(CHAT), "--local"],
        input="hi\n",
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.returncode == 0, proc.stderr
    trace = read_trace(tmp_path / "chat.ftrace.jsonl")
    (run,) = trace.runs.values()
    assert run.outcome == "exit"
    kinds = {type(e).__name__ for e in run.events}
    assert {"SocketOpBegan", "SocketOpEnded", "SocketClosed", "StreamItemConsumed"} <= kinds
    assert "NodeErrored" not in kinds

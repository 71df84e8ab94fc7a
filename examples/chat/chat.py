"""A streaming LLM chat with a cycle — the shape of Flowno's tutorial program.

``Inference`` streams a chat completion from an OpenAI-compatible API with
``HttpClient.stream_post`` (``Authorization`` header through ``Headers``), checks
``streaming_response_is_ok``, raises ``HTTPException`` on an error body and yields each
chunk's ``choices[0].delta.content``. ``TerminalChat`` prints the chunks as they
arrive and reads the next prompt with ``input()``; the stateful ``ChatHistory`` closes
the cycle. The run is wrapped in the flow and event-loop ``LogInstrument``\\s.

    python examples/chat/chat.py --local      # a local server on 127.0.0.1, no key
    OPENAI_API_KEY=... python examples/chat/chat.py [--url URL] [--model MODEL]
    flowtrace tui examples/chat/chat.py --local   # step through the conversation

It ends when the prompt is empty, ``quit``, or stdin ends (so ``printf 'hi\\n' |
python examples/chat/chat.py --local`` runs without a terminal). Only the imports differ
from the Flowno program (``flowno`` → ``flowtrace``).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
from collections.abc import AsyncGenerator, Iterator

from flowtrace import FlowHDL, Stream, TerminateLimitReached, exit, node
from flowtrace.core.event_loop.instrumentation import LogInstrument as EventLoopLogInstrument
from flowtrace.core.flow.instrumentation import LogInstrument as FlowLogInstrument
from flowtrace.io import Headers, HttpClient
from flowtrace.io.http_client import HTTPException, streaming_response_is_ok

API_URL = "https://api.openai.com/v1/chat/completions"
MODEL = "gpt-4o-mini"
SYSTEM = "You are a helpful assistant."


class Config:
    url = API_URL
    model = MODEL
    token = ""


@node(stream_in=["response_chunks"])
async def TerminalChat(response_chunks: Stream[str] | None = None) -> str:
    """Print the streamed answer (if any), then ask for the next prompt."""
    if response_chunks is not None:
        async for chunk in response_chunks:
            print(chunk, end="", flush=True)
        print()
    try:
        prompt = input("> ")
    except EOFError:
        prompt = ""
    if prompt.strip() in ("", "quit", "exit"):
        print("bye")
        await exit()  # ends the whole run, cleanly
    return prompt


@node
class ChatHistory:
    """The conversation so far; each call appends the last answer and the new prompt."""

    messages: tuple[dict[str, str], ...] = ({"role": "system", "content": SYSTEM},)

    async def call(self, prompt: str, last_response: str | None = None) -> list[dict[str, str]]:
        if last_response is not None:
            self.messages = (*self.messages, {"role": "assistant", "content": last_response})
        self.messages = (*self.messages, {"role": "user", "content": prompt})
        return list(self.messages)


@node
async def Inference(messages: list[dict[str, str]]) -> AsyncGenerator[str, None]:
    """Stream the model's answer to ``messages``, chunk by chunk."""
    headers = Headers()
    headers.set("Authorization", f"Bearer {Config.token}")
    client = HttpClient(headers=headers)
    response = await client.stream_post(
        Config.url, json={"model": Config.model, "messages": messages, "stream": True}
    )
    if not streaming_response_is_ok(response):
        body = response.body if isinstance(response.body, bytes) else await response.text()
        raise HTTPException(response.status, body)
    async for data in response.body:
        for choice in data.get("choices", []):
            content = choice.get("delta", {}).get("content")
            if content:
                yield content


def build() -> FlowHDL:
    with FlowHDL() as f:
        f.terminal = TerminalChat(f.inference)
        f.history = ChatHistory(f.terminal, f.inference)
        f.inference = Inference(f.history)
    return f


@contextlib.contextmanager
def local_server() -> Iterator[str]:
    from flowtrace.testing.llm_server import LocalLLMServer

    with LocalLLMServer() as server:
        yield server.url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="A streaming chat with a cycle.")
    parser.add_argument("--local", action="store_true", help="start a local server")
    parser.add_argument("--url", default=os.environ.get("CHAT_API_URL", API_URL))
    parser.add_argument("--model", default=os.environ.get("CHAT_MODEL", MODEL))
    parser.add_argument("--turns", type=int, default=20, help="at most this many answers")
    args = parser.parse_args(argv)
    logging.basicConfig(level=os.environ.get("CHAT_LOG_LEVEL", "WARNING"))
    Config.model = args.model
    Config.token = os.environ.get("OPENAI_API_KEY", "")
    with contextlib.ExitStack() as stack:
        Config.url = stack.enter_context(local_server()) if args.local else args.url
        if not args.local and not Config.token:
            parser.error("set OPENAI_API_KEY, or use --local")
        f = build()
        with FlowLogInstrument(), EventLoopLogInstrument():
            try:
                f.run_until_complete(
                    stop_at_node_generation={f.inference: (args.turns - 1,)},
                    terminate_on_node_error=True,
                )
            except TerminateLimitReached:
                print(f"\n(stopped: at most {args.turns} answers)")
            except Exception as exc:
                print(f"chat failed: {exc}")
                return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

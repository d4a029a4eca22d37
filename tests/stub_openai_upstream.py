"""A small real OpenAI chat-completions server on 127.0.0.1, the logging gateway's upstream.

It answers `POST …/chat/completions` with an echo of the last user message, streamed as SSE
(`data: …` chunks, usage in a last chunk when `stream_options.include_usage`, then
`data: [DONE]`) or as one JSON object. The model name picks a behaviour:

- `stub-slow`: waits `delay` seconds before answering;
- `stub-stall`: streams its first chunk, then waits `delay` seconds;
- `stub-fail`: HTTP 500 with an OpenAI error body;
- `stub-bad`: HTTP 400 with an OpenAI error body;
- anything else: a normal answer.

Token counts are whitespace-separated words (prompt: all message contents; completion: the
reply), so tests can predict them. Every request is kept in `received`.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

S = TypeVar("S", bound="LocalServer")


def words(text: str) -> int:
    return len(text.split())


def reply_for(body: dict[str, Any]) -> tuple[str, int, int]:
    messages = body.get("messages") or []
    last_user = next((m for m in reversed(messages) if m.get("role") == "user"), {})
    text = f"echo: {last_user.get('content', '')}"
    prompt = sum(words(str(m.get("content", ""))) for m in messages)
    return text, prompt, words(text)


class _Handler(BaseHTTPRequestHandler):
    server: StubServer

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
        self.server.received.append(
            {"path": self.path, "headers": dict(self.headers), "body": body}
        )
        model = body.get("model", "")
        try:
            if model == "stub-slow":
                time.sleep(self.server.delay)
            if model in ("stub-fail", "stub-bad"):
                status = 500 if model == "stub-fail" else 400
                self._json(
                    status,
                    {
                        "error": {
                            "message": f"{model} says no",
                            "type": "stub",
                            "param": None,
                            "code": model,
                        }
                    },
                )
            elif body.get("stream"):
                self._stream(body)
            else:
                self._complete(body)
        except (BrokenPipeError, ConnectionResetError):  # the gateway gave up on us
            pass

    def _json(self, status: int, obj: Any) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.send_header("x-request-id", "req_stub")
        self.end_headers()
        self.wfile.write(data)

    def _complete(self, body: dict[str, Any]) -> None:
        text, prompt, completion = reply_for(body)
        self._json(
            200,
            {
                "id": "chatcmpl-stub",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text},
                        "finish_reason": "stop",
                        "logprobs": None,
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt,
                    "completion_tokens": completion,
                    "total_tokens": prompt + completion,
                },
            },
        )

    def _event(self, obj: Any) -> None:
        data = obj if isinstance(obj, str) else json.dumps(obj)
        self.wfile.write(f"data: {data}\n\n".encode())
        self.wfile.flush()

    def _stream(self, body: dict[str, Any]) -> None:
        text, prompt, completion = reply_for(body)
        self.send_response(200)
        self.send_header("content-type", "text/event-stream; charset=utf-8")
        self.send_header("cache-control", "no-cache")
        self.end_headers()  # no content-length: the stream ends when the connection closes
        self.close_connection = True
        head = {
            "id": "chatcmpl-stub",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body.get("model"),
        }
        self._event(
            {**head, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}
        )
        if body.get("model") == "stub-stall":
            time.sleep(self.server.delay)
        pieces = text.split(" ")
        for i, piece in enumerate(pieces):
            piece = piece if i == len(pieces) - 1 else piece + " "
            self._event({**head, "choices": [{"index": 0, "delta": {"content": piece}}]})
            if i == 0 and body.get("model") == "stub-held":
                # the rest waits until the test has seen this first piece come through
                self.server.held.set()
                self.server.released_in_time = self.server.release.wait(30)
        self._event({**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        if (body.get("stream_options") or {}).get("include_usage"):
            self._event(
                {
                    **head,
                    "choices": [],
                    "usage": {
                        "prompt_tokens": prompt,
                        "completion_tokens": completion,
                        "total_tokens": prompt + completion,
                    },
                }
            )
        self._event("[DONE]")


class LocalServer(ThreadingHTTPServer):
    """A threaded HTTP server on a free port of 127.0.0.1, serving while in a `with`."""

    daemon_threads = True
    request_queue_size = 256  # a burst of connections must not be refused

    def __init__(self, handler: type[BaseHTTPRequestHandler]):
        super().__init__(("127.0.0.1", 0), handler)
        self.release = threading.Event()
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def __enter__(self: S) -> S:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()  # whatever waits for it gives up
        self.shutdown()
        self.server_close()


class StubServer(LocalServer):
    def __init__(self, delay: float = 5.0):
        super().__init__(_Handler)
        self.delay = delay
        self.received: list[dict[str, Any]] = []
        self.held = threading.Event()  # a `stub-held` stream sent its first piece and waits
        # ... for `release`; whether the release came before the stub gave up waiting:
        self.released_in_time = False


def gateway_env(stub: StubServer, timeout: float = 1.0) -> dict[str, str]:
    """Server settings that point the `openai` provider at the stub, with a short timeout."""
    upstreams = {"openai": {"base_url": stub.base_url, "api_key": "upstream-secret"}}
    return {
        "GRISTMILL_UPSTREAMS": json.dumps(upstreams),
        "GRISTMILL_GATEWAY_TIMEOUT_SECONDS": str(timeout),
        "GRISTMILL_MAX_LOG_BATCH": "1000",
    }

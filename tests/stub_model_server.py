"""A stand-in for a model provider during runs: a real OpenAI chat-completions server on
127.0.0.1 that answers each of Gristmill's recipes deterministically, counts tokens as OpenAI
does (`o200k_base`: each message's tokens + 3, + 3 for the reply), and misbehaves on demand.

A marker in the user's text picks the misbehaviour (the answer is otherwise normal):

- `[[429]]` / `[[500]]`: that status (429 with `Retry-After: 0`) the first time a request
  is seen, a normal answer on the retry;
- `[[garbage]]`: HTTP 200 whose body is not JSON; `[[empty]]`: empty content;
- `[[length]]`: the answer cut off (`finish_reason: length`); `[[refuse]]`: a refusal;
- `[[echo]]`: the user's text back, unchanged; `[[badjson]]`: broken JSON where JSON is asked;
- `[[slow]]`: waits `delay` seconds first.

Every answer takes `latency` seconds (0 by default; the run bench uses 0.2).

`successes` counts the answers delivered per (task, user text). With `hold_after` set, every
request after that many answers waits until `release` is set; one whose client has gone
meanwhile (a killed worker) is dropped unanswered and uncounted, as a real server's would be.
"""

from __future__ import annotations

import hashlib
import json
import select
import socket
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler
from typing import Any

from gristmill.pipeline.recipes import judge, rewrites, translate
from gristmill.pipeline.tokens import encoding
from tests.quality.corpus import documented
from tests.stub_openai_upstream import LocalServer

SENTENCE_WORDS = {"one or two sentences": 35, "concisely": 110, "in detail": 300}


def tokens(text: str) -> int:
    return len(encoding().encode_ordinary(text))


def task_of(system: str) -> str:
    if system == rewrites.REPHRASE_SYSTEM:
        return "prompt_rephrase"
    if system == rewrites.REASONING_SYSTEM:
        return "reasoning_traces"
    if system == rewrites.WORSE_SYSTEM:
        return "rejected_answer"
    if system == rewrites.SAFETY_SYSTEM:
        return "safety"
    if system.startswith(translate.SYSTEM.split("{")[0]):
        return "translate"
    if system.endswith(judge.INSTRUCTION):
        return "judge"
    return "completion"


def _words(seed: str, n: int) -> str:
    """About `n` words of real, varied text (standard-library docs), picked by `seed`."""
    pool = documented()
    h = int.from_bytes(hashlib.sha256(seed.encode()).digest()[:8], "big")
    words: list[str] = []
    i = 0
    while len(words) < n:
        words.extend(pool[(h + i * 7919) % len(pool)][1].split())
        i += 1
    return " ".join(words[:n])


def answer_for(task: str, system: str, user: str) -> str:
    if task == "prompt_rephrase":
        return f"Could you tell me: {user}"
    if task == "reasoning_traces":
        return json.dumps({"reasoning": f"First, {_words(user, 20)}.", "answer": _words(user, 8)})
    if task == "rejected_answer":
        return f"Maybe {_words(user, 12)}."
    if task == "safety":
        return json.dumps({"prompt": ["violence"] if "fight" in user else [], "response": []})
    if task == "judge":  # longer responses score higher, 1 to 10
        response = user.split("Response:\n", 1)[-1]
        score = min(10.0, 1.0 + len(response.split()) / 15)
        return json.dumps({"score": round(score, 2), "reason": "by length"})
    if task == "translate":
        target = system.split("into ", 1)[1].split(".", 1)[0]
        fields = json.loads(user)
        return json.dumps({k: f"[{target}] {v}" for k, v in fields.items()})
    n = next((w for phrase, w in SENTENCE_WORDS.items() if phrase in system), 110)
    return _words(user, n).rstrip(".") + "."


class _Handler(BaseHTTPRequestHandler):
    server: ModelServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("content-length", 0)))
        body = json.loads(raw or b"{}")
        messages = body.get("messages") or []
        system = next((m["content"] for m in messages if m.get("role") == "system"), "")
        user = next((m["content"] for m in reversed(messages) if m.get("role") == "user"), "")
        task = task_of(system)
        srv = self.server
        with srv.lock:
            srv.requests += 1
            first_time = srv.seen[raw] == 0
            srv.seen[raw] += 1
            held = srv.hold_after is not None and sum(srv.successes.values()) >= srv.hold_after
        if held:
            srv.holding.set()
            srv.release.wait(60)
            if self._client_gone():
                self.close_connection = True
                return
        if "[[slow]]" in user:
            time.sleep(srv.delay)
        if srv.latency:
            time.sleep(srv.latency)
        if first_time and ("[[429]]" in user or "[[500]]" in user):
            status = 429 if "[[429]]" in user else 500
            err = {"error": {"message": "try again", "type": "stub", "code": str(status)}}
            self._send(status, json.dumps(err).encode(), {"retry-after": "0"})
            return
        if "[[garbage]]" in user:
            self._send(200, b"<html>upstream proxy error</html>")
            return
        text, finish = answer_for(task, system, user), "stop"
        if "[[empty]]" in user:
            text = ""
        elif "[[length]]" in user:
            text, finish = text[: len(text) // 2], "length"
        elif "[[refuse]]" in user:
            text = "I'm sorry, but I can't help with that."
        elif "[[echo]]" in user:
            text = user
        elif "[[badjson]]" in user and body.get("response_format"):
            text = '{"reasoning": "unfinished'
        prompt = sum(tokens(str(m.get("content", ""))) + 3 for m in messages) + 3
        completion = tokens(text)
        reply = {
            "id": "chatcmpl-run-stub",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": finish,
                }
            ],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
            },
        }
        if self._send(200, json.dumps(reply).encode()):
            with srv.lock:
                srv.successes[(task, user)] += 1

    def _client_gone(self) -> bool:
        """Whether the caller has closed its end (what a killed process leaves)."""
        sock = self.connection
        readable, _, _ = select.select([sock], [], [], 0)
        if not readable:
            return False
        try:
            return sock.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def _send(self, status: int, data: bytes, headers: dict[str, str] | None = None) -> bool:
        try:
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
            return True
        except (BrokenPipeError, ConnectionResetError):
            return False


class ModelServer(LocalServer):
    def __init__(self, delay: float = 5.0, latency: float = 0.0):
        super().__init__(_Handler)
        self.delay = delay
        self.latency = latency  # seconds every answer takes
        self.lock = threading.Lock()
        self.requests = 0
        self.seen: Counter[bytes] = Counter()
        self.successes: Counter[tuple[str, str]] = Counter()
        self.hold_after: int | None = None
        self.holding = threading.Event()


def run_env(server: ModelServer, *, timeout: float = 2.0) -> dict[str, str]:
    """Server settings: the `openai` upstream is the stub, runs call `openai/stub-model`
    priced at $1 / $2 per million tokens, retries wait 50 ms."""
    return {
        "GRISTMILL_UPSTREAMS": json.dumps({"openai": {"base_url": server.base_url}}),
        "GRISTMILL_GATEWAY_TIMEOUT_SECONDS": str(timeout),
        "GRISTMILL_RUN_MODEL": "openai/stub-model",
        "GRISTMILL_MODEL_PRICES": json.dumps({"stub-model": [1.0, 2.0]}),
        "GRISTMILL_RUN_RETRY_BASE_SECONDS": "0.05",
        "GRISTMILL_RUN_MAX_RETRIES": "3",
    }

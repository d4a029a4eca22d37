"""A fast stand-in model server for benchmarks: an ASGI app on uvicorn (one process, one
event loop) that answers OpenAI chat completions after a fixed latency, so that thousands of
calls in flight cost it almost nothing. The test suite's `tests/stub_model_server.py` is a
thread-per-connection server, faithful but too slow to measure a client's throughput with.

    python bench/fast_model.py PORT LATENCY_SECONDS
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

import orjson
import uvicorn


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    request = orjson.loads(body or b"{}")
    messages = request.get("messages") or [{}]
    user = str(messages[-1].get("content", ""))
    await asyncio.sleep(LATENCY)
    text = f"Could you tell me: {user}"
    prompt = sum(len(str(m.get("content", "")).split()) for m in messages)
    reply = {
        "id": "chatcmpl-fast",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.get("model"),
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": len(text.split()),
            "total_tokens": prompt + len(text.split()),
        },
    }
    data = orjson.dumps(reply)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": data})


LATENCY = float(sys.argv[2]) if len(sys.argv) > 2 else 0.2

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", backlog=2048)

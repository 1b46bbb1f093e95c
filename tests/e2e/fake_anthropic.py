"""A fake Anthropic Messages API on loopback, for driving real Claude Code turns offline.

Claude Code reaches it through ``ANTHROPIC_BASE_URL=http://127.0.0.1:PORT`` and
``ANTHROPIC_API_KEY``. Every request is recorded (method, path, headers, JSON body) so a test can
read what Claude Code sent: the ``tools`` it offered the model and the ``tool_result`` blocks that
carry an MCP tool's answer.

Replies are scripted: ``FakeAnthropic(script)`` calls ``script(body)`` for each ``POST
/v1/messages`` and sends back the content blocks it returns (``text`` and ``tool_use`` dicts, as
the API spells them), streamed as server-sent events when the request asks for ``stream: true``
and as one JSON message otherwise. A ``tool_use`` reply ends with ``stop_reason: "tool_use"``, any
other with ``"end_turn"``. Token counting answers a plausible count; any other endpoint an empty
JSON object.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Block = dict[str, Any]
Script = Callable[[dict[str, Any]], list[Block]]

_ids = itertools.count(1)


def text(s: str) -> Block:
    return {"type": "text", "text": s}


def tool_use(name: str, tool_input: dict[str, Any]) -> Block:
    return {
        "type": "tool_use",
        "id": f"toolu_fake{next(_ids):06d}",
        "name": name,
        "input": tool_input,
    }


def plain_reply(_body: dict[str, Any]) -> list[Block]:
    return [text("OK.")]


@dataclass
class Recorded:
    """One request as it arrived: header names lower-cased, a JSON body parsed."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any


def tool_names(body: dict[str, Any]) -> list[str]:
    return [t.get("name", "") for t in body.get("tools") or []]


def tool_results(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Every ``tool_result`` block of the request's messages, in order, with its text joined."""
    found = []
    for message in body.get("messages") or []:
        content = message.get("content")
        if not isinstance(content, list):
            continue
        for block in content:
            if isinstance(block, dict) and block.get("type") == "tool_result":
                inner = block.get("content")
                if isinstance(inner, list):
                    joined = "".join(b.get("text", "") for b in inner if isinstance(b, dict))
                else:
                    joined = str(inner or "")
                found.append({**block, "text": joined})
    return found


def tool_uses(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Every ``tool_use`` block of the assistant messages in the request, in order."""
    return [
        block
        for message in body.get("messages") or []
        if message.get("role") == "assistant" and isinstance(message.get("content"), list)
        for block in message["content"]
        if isinstance(block, dict) and block.get("type") == "tool_use"
    ]


def _usage(output_tokens: int = 1) -> dict[str, int]:
    return {
        "input_tokens": 10,
        "output_tokens": output_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }


def _message(model: str, blocks: list[Block]) -> dict[str, Any]:
    stop = "tool_use" if any(b["type"] == "tool_use" for b in blocks) else "end_turn"
    return {
        "id": f"msg_fake{next(_ids):06d}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": blocks,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": _usage(5),
    }


def _sse(model: str, blocks: list[Block]) -> Iterator[tuple[str, dict[str, Any]]]:
    """The event stream of one message, as the Messages API streams it."""
    whole = _message(model, blocks)
    yield (
        "message_start",
        {
            "type": "message_start",
            "message": {**whole, "content": [], "stop_reason": None, "usage": _usage(1)},
        },
    )
    for index, block in enumerate(blocks):
        start: Block
        if block["type"] == "text":
            start = {"type": "text", "text": ""}
            delta = {"type": "text_delta", "text": block["text"]}
        else:
            start = {**block, "input": {}}
            delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
        yield (
            "content_block_start",
            {"type": "content_block_start", "index": index, "content_block": start},
        )
        yield "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}
        yield "content_block_stop", {"type": "content_block_stop", "index": index}
    yield (
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": whole["stop_reason"], "stop_sequence": None},
            "usage": {"output_tokens": 5},
        },
    )
    yield "message_stop", {"type": "message_stop"}


@dataclass
class FakeAnthropic:
    """``with FakeAnthropic(script) as fake:`` serves on ``fake.base_url`` until the block ends."""

    script: Script = plain_reply
    requests: list[Recorded] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args: object) -> None:  # quiet: the test reads .requests
                pass

            def _read_body(self) -> Any:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    return json.loads(raw) if raw else None
                except ValueError:
                    return raw.decode("utf-8", "replace")

            def _record(self, body: Any) -> None:
                with fake._lock:
                    fake.requests.append(
                        Recorded(
                            self.command,
                            self.path,
                            {k.lower(): v for k, v in self.headers.items()},
                            body,
                        )
                    )

            def _json(self, status: int, payload: Any) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("request-id", f"req_fake{next(_ids):06d}")
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._record(None)
                self._json(200, {})

            def do_HEAD(self) -> None:
                self._record(None)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_POST(self) -> None:
                body = self._read_body()
                self._record(body)
                path = self.path.split("?", 1)[0]
                if path.endswith("/messages/count_tokens"):
                    size = len(json.dumps(body)) if body is not None else 0
                    self._json(200, {"input_tokens": max(1, size // 4)})
                    return
                if not path.endswith("/messages") or not isinstance(body, dict):
                    self._json(200, {})
                    return
                try:
                    blocks = fake.script(body)
                except Exception as exc:  # the test sees it in .errors, Claude Code a 500
                    fake.errors.append(f"{type(exc).__name__}: {exc}")
                    self._json(
                        500, {"type": "error", "error": {"type": "api_error", "message": str(exc)}}
                    )
                    return
                model = str(body.get("model") or "claude-fake")
                if not body.get("stream"):
                    self._json(200, _message(model, blocks))
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Connection", "close")
                self.send_header("request-id", f"req_fake{next(_ids):06d}")
                self.end_headers()
                for event, data in _sse(model, blocks):
                    self.wfile.write(f"event: {event}\ndata: {json.dumps(data)}\n\n".encode())
                    self.wfile.flush()
                self.close_connection = True

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def __enter__(self) -> FakeAnthropic:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def messages(self) -> list[dict[str, Any]]:
        """The bodies of every ``POST …/messages`` request, in arrival order."""
        with self._lock:
            return [
                r.body
                for r in self.requests
                if r.method == "POST"
                and r.path.split("?", 1)[0].endswith("/messages")
                and isinstance(r.body, dict)
            ]

"""The fake Anthropic Messages API speaks the wire format Claude Code reads (no Claude Code here).

Claude Code 2.1.330 only streamed; the whole-message answer, token counting and other endpoints
are checked here so a newer Claude Code that uses them meets a fake that works.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from fake_anthropic import (
    FakeAnthropic,
    text,
    tool_names,
    tool_results,
    tool_use,
    tool_uses,
)


def post(url: str, body: dict[str, Any]) -> tuple[str, bytes]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "x-api-key": "test"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.headers.get("Content-Type", ""), response.read()


def sse_events(raw: bytes) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for frame in raw.decode().split("\n\n"):
        if not frame.strip():
            continue
        fields = dict(line.split(": ", 1) for line in frame.splitlines())
        events.append((fields["event"], json.loads(fields["data"])))
    return events


BODY: dict[str, Any] = {
    "model": "claude-test",
    "max_tokens": 100,
    "tools": [{"name": "mcp__x__search", "description": "d", "input_schema": {"type": "object"}}],
    "messages": [
        {"role": "user", "content": "find it"},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "t1", "name": "mcp__x__search", "input": {}}],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "t1", "content": "plain"},
                {
                    "type": "tool_result",
                    "tool_use_id": "t2",
                    "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
                },
            ],
        },
    ],
}


def test_streamed_tool_use_then_text_and_recorded() -> None:
    def script(body: dict[str, Any]) -> list[dict[str, Any]]:
        return [text("Looking."), tool_use("mcp__x__search", {"query": "q", "force": True})]

    with FakeAnthropic(script) as fake:
        kind, raw = post(f"{fake.base_url}/v1/messages?beta=true", {**BODY, "stream": True})
    assert kind == "text/event-stream"
    events = sse_events(raw)
    names = [name for name, _ in events]
    assert names == [
        "message_start",
        *["content_block_start", "content_block_delta", "content_block_stop"] * 2,
        "message_delta",
        "message_stop",
    ]
    assert all(data["type"] == name for name, data in events)
    assert events[0][1]["message"]["model"] == "claude-test"
    assert events[2][1]["delta"] == {"type": "text_delta", "text": "Looking."}
    started = events[4][1]["content_block"]
    assert (started["type"], started["name"], started["input"]) == (
        "tool_use",
        "mcp__x__search",
        {},
    )
    delta = events[5][1]["delta"]
    assert delta["type"] == "input_json_delta"
    assert json.loads(delta["partial_json"]) == {"query": "q", "force": True}
    assert events[7][1]["delta"]["stop_reason"] == "tool_use"

    (body,) = fake.messages()
    assert tool_names(body) == ["mcp__x__search"]
    assert [u["id"] for u in tool_uses(body)] == ["t1"]
    assert [(r["tool_use_id"], r["text"]) for r in tool_results(body)] == [
        ("t1", "plain"),
        ("t2", "ab"),
    ]
    assert fake.requests[0].headers["x-api-key"] == "test"


def test_whole_message_count_tokens_and_other_endpoints() -> None:
    with FakeAnthropic() as fake:
        kind, raw = post(f"{fake.base_url}/v1/messages", BODY)
        message = json.loads(raw)
        _, counted = post(f"{fake.base_url}/v1/messages/count_tokens", BODY)
        with urllib.request.urlopen(f"{fake.base_url}/api/hello", timeout=10) as response:
            other = json.loads(response.read())
    assert kind == "application/json"
    assert message["content"] == [{"type": "text", "text": "OK."}]
    assert (message["role"], message["stop_reason"]) == ("assistant", "end_turn")
    assert json.loads(counted)["input_tokens"] > 0
    assert other == {}
    assert [(r.method, r.path) for r in fake.requests] == [
        ("POST", "/v1/messages"),
        ("POST", "/v1/messages/count_tokens"),
        ("GET", "/api/hello"),
    ]
    assert len(fake.messages()) == 1  # count_tokens is not a model call


def test_a_failing_script_is_a_500_and_reported() -> None:
    def script(body: dict[str, Any]) -> list[dict[str, Any]]:
        raise ValueError("no reply scripted")

    with FakeAnthropic(script) as fake:
        try:
            post(f"{fake.base_url}/v1/messages", BODY)
        except urllib.error.HTTPError as exc:
            assert exc.code == 500
            assert json.loads(exc.read())["error"]["message"] == "no reply scripted"
        else:
            raise AssertionError("expected a 500")
    assert fake.errors == ["ValueError: no reply scripted"]

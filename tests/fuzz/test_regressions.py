"""Hostile-but-well-formed bodies the fuzzer found crashing a request translator (a 500).

Each must now be the client's 400 in its own error shape, with nothing logged and no
credential cooled: the body is routed to an upstream of another family, so the
translator parses it into the IR (pass-through routes never parse it).
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from tests.fuzz.env import ROUTES, Env
from tests.fuzz.wire import Answer

pytestmark = pytest.mark.asyncio(loop_scope="module")

BY_NAME = {r.name: r for r in ROUTES}


async def _bad_request(env: Env, route: str, model: str, body: dict[str, Any], param: str) -> Answer:
    answer = await env.fuzz(BY_NAME[route], model, body)  # 4xx in shape or success, clean logs and pool
    assert answer.status == 400, answer.describe()
    message = orjson.loads(answer.body)["error"]["message"]
    assert message.startswith(param), message
    return answer


@pytest.mark.parametrize("model", ["claude-model", "gemini-model", "codex-model"])
async def test_chat_allowed_tools_not_an_object(fuzz_env: Env, model: str) -> None:
    # openai_chat/request.py: (value.get("allowed_tools") or {}).get("mode") on an int
    body = {
        "model": model,
        "messages": [{"role": "user", "content": "hi"}],
        "tool_choice": {"type": "allowed_tools", "allowed_tools": 5},
    }
    await _bad_request(fuzz_env, "chat", model, body, "tool_choice.allowed_tools")


@pytest.mark.parametrize("kind", [{}, [], 5])
async def test_claude_tool_choice_type_not_a_string(fuzz_env: Env, kind: Any) -> None:
    # claude/request.py: ``kind in _CHOICE`` with an unhashable (or non-string) type
    body = {
        "model": "compat-model",
        "max_tokens": 16,
        "messages": [{"role": "user", "content": "hi"}],
        "tool_choice": {"type": kind},
    }
    await _bad_request(fuzz_env, "messages", "compat-model", body, "tool_choice.type")


@pytest.mark.parametrize("effort", [{}, ["high"], 5])
async def test_responses_reasoning_effort_not_a_string(fuzz_env: Env, effort: Any) -> None:
    # claude/thinking.py: ``effort in EFFORT_BUDGETS`` with an unhashable effort from the IR
    body = {"model": "claude-model", "input": "hi", "reasoning": {"effort": effort}}
    await _bad_request(fuzz_env, "responses", "claude-model", body, "reasoning.effort")


@pytest.mark.parametrize("model", ["claude-model", "gemini-model", "compat-model"])
async def test_responses_reasoning_summary_text_not_a_string(fuzz_env: Env, model: str) -> None:
    # openai_responses/parse.py: "".join() over summary texts that are not strings
    body = {
        "model": model,
        "input": [
            {"type": "reasoning", "summary": [{"type": "summary_text", "text": 5}], "encrypted_content": "x"},
            {"role": "user", "content": "hi"},
        ],
    }
    await _bad_request(fuzz_env, "responses", model, body, "input[0].summary[0].text")


@pytest.mark.parametrize("effort", [[], {}, 5])
async def test_claude_output_config_effort_not_a_string(fuzz_env: Env, effort: Any) -> None:
    # openai_responses/build.py: ``effort in _EFFORTS`` with the client's unhashable effort
    body = {
        "model": "codex-model",
        "max_tokens": 16,
        "messages": [{"role": "user", "content": "hi"}],
        "output_config": {"effort": effort},
    }
    await _bad_request(fuzz_env, "messages", "codex-model", body, "output_config.effort")


@pytest.mark.parametrize(("key", "value"), [("url", 5), ("data", 5), ("media_type", ["image/png"])])
async def test_claude_image_source_field_not_a_string(fuzz_env: Env, key: str, value: Any) -> None:
    # gemini/media.py: block.url.startswith(...) on the client's int url
    source = (
        {"type": "url", "url": "https://example.invalid/a.png"}
        if key == "url"
        else {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}
    )
    source[key] = value
    body = {
        "model": "gemini-model",
        "max_tokens": 16,
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "image", "source": source}]}
        ],
    }
    await _bad_request(fuzz_env, "messages", "gemini-model", body, f"messages[0].content[1].source.{key}")


@pytest.mark.parametrize("ptype", [[], {}, 5])
async def test_responses_content_part_type_not_a_string(fuzz_env: Env, ptype: Any) -> None:
    # openai_responses/parts.py: ``ptype in _TEXT_TYPES`` with an unhashable type
    body = {
        "model": "claude-model",
        "input": [{"type": "message", "role": "user", "content": [{"type": ptype, "text": "hi"}]}],
    }
    await _bad_request(fuzz_env, "responses", "claude-model", body, "input[0].content[0].type")

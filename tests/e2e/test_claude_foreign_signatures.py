"""A Claude client's history holding signatures no Anthropic upstream issued, sent to one.

A Claude client of a Gemini model holds thinking blocks whose ``signature`` is one of the
proxy's Gemini carriers (``cpa-gemini-carrier-v1:...``: a thought's signature, an image's);
a client that went through Codex may hold OpenAI ``encrypted_content``. When the next
request goes to a Claude model (the client switched models, or the proxy failed over to a
Claude credential), Anthropic would refuse each of those blocks with 400 ``Invalid
`signature` in `thinking` block`` (the fake does too). The Claude executor's sanitizer
drops them first, as CPA's does (``SanitizeClaudeMessagesForClaudeUpstream``); the
thinking Anthropic signed goes on as the client sent it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anthropic
import pytest

from cliproxy.translate.carriers import claude_carrier
from tests.e2e.clients import KEY
from tests.e2e.test_claude_cloak import last, write_oauth
from tests.fakes.claude import issue_signature
from tests.fakes.gemini import THOUGHT_SIGNATURE

CLAUDE = "claude-sonnet-4-6"


def config(fakes: Any, claude_alias: str, gemini_alias: str) -> str:
    """A Gemini key serving an image model as ``gemini_alias`` and an Anthropic key
    serving Claude as ``claude_alias``; the Gemini key comes first for a shared alias."""
    return (
        f'api-keys: ["{KEY}"]\n'
        + f'gemini-api-key:\n  - api-key: "gem-key"\n    base-url: "{fakes.gemini.base_url}"\n    priority: 2\n'
        + f'    models: [{{name: "gemini-3-pro-image-preview", alias: "{gemini_alias}"}}]\n'
        + f'claude-api-key:\n  - api-key: "sk-ant-key"\n    base-url: "{fakes.claude.base_url}"\n'
        + f'    priority: 1\n    models: [{{name: "{CLAUDE}", alias: "{claude_alias}"}}]\n'
    )


def claude_turn() -> dict[str, Any]:
    """An earlier answer of Claude's own: thinking Anthropic signed, and text."""
    thinking = {"type": "thinking", "thinking": "plan", "signature": issue_signature(CLAUDE)}
    return {"role": "assistant", "content": [thinking, {"type": "text", "text": "planned"}]}


def foreign(*signatures: str) -> list[dict[str, Any]]:
    return [{"type": "thinking", "thinking": "", "signature": s} for s in signatures]


async def gemini_turn(client: anthropic.AsyncAnthropic, model: str) -> dict[str, Any]:
    """A Gemini image model's answer as the proxy showed it to the client: text, the
    image's carrier, the image as Markdown; before them a thought's carrier, the same
    Gemini signature bare and behind CPA's ``gemini#`` cache prefix, and Codex reasoning
    (what turns through other backends leave)."""
    answer = await client.messages.create(
        model=model, max_tokens=64, messages=[{"role": "user", "content": "draw a cat"}]
    )
    blocks = [b.model_dump(exclude_none=True) for b in answer.content]
    assert blocks[1]["signature"].startswith("cpa-gemini-carrier-v1:next:image:")
    carried = claude_carrier(THOUGHT_SIGNATURE, None)
    others = foreign(carried, THOUGHT_SIGNATURE, "gemini#" + THOUGHT_SIGNATURE, "gAAAAA" + "B" * 130)
    return {"role": "assistant", "content": [*others, *blocks]}


def conversation(gemini: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"role": "user", "content": "plan it"},
        claude_turn(),
        {"role": "user", "content": "now draw a cat"},
        gemini,
        {"role": "user", "content": "describe it"},
    ]


def assistant_turns(sent: Any) -> list[dict[str, Any]]:
    """The assistant turns of a request the fake received (user turns get the proxy's cache
    points and, under OAuth, Claude Code's context)."""
    return [m for m in sent.json["messages"] if m["role"] == "assistant"]


def without_thinking(message: dict[str, Any]) -> dict[str, Any]:
    return {**message, "content": [b for b in message["content"] if b["type"] != "thinking"]}


@pytest.mark.usefixtures("anthropic_api")  # Anthropic's API counts upstream; a gateway, locally
@pytest.mark.parametrize(
    ("auth", "stream"),
    [("api-key", False), ("api-key", True), ("oauth", False)],
    ids=["api-key-whole", "api-key-stream", "oauth-whole"],
)
async def test_a_switch_to_claude_drops_the_thinking_anthropic_did_not_sign(
    start_proxy: Any, fakes: Any, tmp_path: Path, auth: str, stream: bool
) -> None:
    """The client drew with a Gemini image model, then asks a Claude model: the Gemini
    carriers and the Codex reasoning are left out (CPA
    TestClaudeExecutor_ExecuteSanitizesSignaturesBeforeUpstream and
    TestStripInvalidClaudeThinkingBlocks_RemovesGPTEncryptedContent, with the proxy's own
    carriers as the foreign signatures); Claude's own thinking goes as sent, and the
    picture's Markdown stays text. A count goes through the same sanitizer (CPA's
    claude_executor_tokens.go)."""
    yaml = config(fakes, "writer", "painter")
    model = "writer"
    if auth == "oauth":
        write_oauth(tmp_path, "a", fakes.claude.base_url)
        yaml = yaml.split("claude-api-key:")[0] + f'auth-dir: "{tmp_path / "auths"}"\n'
        model = CLAUDE
    proxy = await start_proxy(yaml)
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        messages = conversation(await gemini_turn(client, "painter"))
        if stream:
            async with client.messages.stream(model=model, max_tokens=64, messages=messages) as s:
                answer = await s.get_final_message()
        else:
            answer = await client.messages.create(model=model, max_tokens=64, messages=messages)
            count = await client.messages.count_tokens(model=model, messages=messages)
            assert count.input_tokens > 0
            assert assistant_turns(last(fakes.claude, "/v1/messages/count_tokens")) == [
                messages[1],
                without_thinking(messages[3]),
            ]
    assert answer.content[-1].type == "text"
    assert assistant_turns(last(fakes.claude)) == [messages[1], without_thinking(messages[3])]


async def test_a_failover_to_claude_drops_the_gemini_carriers(start_proxy: Any, fakes: Any) -> None:
    """One alias on a Gemini key and an Anthropic key; Gemini answers 500 and the proxy
    moves the request to the Claude credential, which gets the history without the
    thinking only Gemini could read (CPA's executor sanitizes each attempt's body)."""
    proxy = await start_proxy(config(fakes, "duo", "duo"))
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        messages = conversation(await gemini_turn(client, "duo"))
        fakes.gemini.fail_next(500)
        await client.messages.create(model="duo", max_tokens=64, messages=messages)
    assert len(fakes.gemini.requests) == 2  # the Gemini credential was asked first, and failed
    assert assistant_turns(last(fakes.claude)) == [messages[1], without_thinking(messages[3])]

"""What the thinking and summary-intent tests share on the wire: a proxy config with one API
key for each fake upstream a test names (its ``models:`` listed as given), and one request
in a client's own format, read back at the fake.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import aiohttp
import orjson

from tests.e2e.clients import KEY

Models = Sequence[dict[str, Any]] | None  # None: no such key; empty: a key without ``models:``

PATHS = {
    "openai": "/v1/chat/completions",
    "responses": "/v1/responses",
    "claude": "/v1/messages",
    "interactions": "/v1beta/interactions",
}


def same(name: str, thinking: dict[str, Any] | None = None) -> dict[str, Any]:
    """A ``models:`` entry whose alias is its own name, with ``thinking:`` when given."""
    entry: dict[str, Any] = {"name": name, "alias": name}
    if thinking is not None:
        entry["thinking"] = thinking
    return entry


def _key(block: str, entry: str, models: Models) -> str:
    if models is None:
        return ""
    text = f"{block}:\n  - {entry}\n"
    if models:
        text += "    models:\n" + "".join(f"      - {json.dumps(m)}\n" for m in models)
    return text


def keys_config(
    fakes: Any,
    *,
    claude: Models = None,
    codex: Models = None,
    chat: Models = None,
    gemini: Models = None,
    extra: str = "",
) -> str:
    """``api-keys`` and an API key on each named fake: Claude, Codex (the Responses fake),
    an OpenAI-compatible provider ``chat`` (the Chat fake) and Gemini; then ``extra``."""
    return f'api-keys: ["{KEY}"]\n' + "".join(
        (
            _key("claude-api-key", f'api-key: "sk-ant-1"\n    base-url: "{fakes.claude.base_url}"', claude),
            _key(
                "codex-api-key",
                f'api-key: "sk-codex-1"\n    base-url: "{fakes.responses.base_url}/backend-api/codex"',
                codex,
            ),
            _key(
                "openai-compatibility",
                f'name: chat\n    base-url: "{fakes.openai.base_url}/v1"\n'
                '    api-key-entries: [{api-key: "sk-compat-1"}]',
                chat,
            ),
            _key("gemini-api-key", f'api-key: "gem-key-1"\n    base-url: "{fakes.gemini.base_url}"', gemini),
            extra,
        )
    )


async def send_as(url: str, client: str, body: dict[str, Any]) -> int:
    """POST ``body`` as a client of format ``client`` would (a Gemini client names the model
    in the path; a Claude body gets ``max_tokens`` 1024 unless it has one) and return the
    status; the answer is read and dropped."""
    model = body["model"]
    path = f"/v1beta/models/{model}:generateContent" if client == "gemini" else PATHS[client]
    if client == "gemini":
        body = {k: v for k, v in body.items() if k != "model"}
    if client == "claude":
        body = {"max_tokens": 1024, **body}
    headers = {"Authorization": f"Bearer {KEY}", "x-api-key": KEY, "x-goog-api-key": KEY}
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as s,
        s.post(url + path, data=orjson.dumps(body), headers=headers) as r,
    ):
        await r.read()
        return r.status

"""A request's top-level ``metadata`` never reaches the ChatGPT Codex backend, which refuses
it with ``400 {"detail":"Unsupported parameter: metadata"}`` (CPA issue 5112 with its
reproduction: the same request without the field answers 200; OpenClaw and LiteLLM users met
the same refusal on the subscription path); nor do ``top_logprobs``, ``seed`` and the
penalties, refused the same way. The fake Codex backend refuses them alike, over HTTP and
on its WebSocket.

CPA still forwards a Responses client's ``metadata`` (its Codex translator's list of dropped
fields lacks it; issue 5112 and pull requests 4871 and 5114 are open): we drop it on purpose,
since an OpenAI SDK, LiteLLM or OpenClaw client that sets it cannot be served otherwise.
Codex CLI's own ``client_metadata`` is a different field and still reaches Codex.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import openai
import orjson
import pytest

from tests.e2e.clients import KEY
from tests.e2e.test_responses_ws import connect, turn, ws_messages

HEAD = f'api-keys: ["{KEY}"]\n'
MODEL = "gpt-5.4"
META = {"trace_id": "abc", "user": "team-1"}


def codex_file(tmp_path: Path, base: str, **extra: Any) -> None:
    """A ChatGPT sign-in whose requests go to the fake Codex backend."""
    auth_dir = tmp_path / "auths"
    auth_dir.mkdir(exist_ok=True)
    data = {
        "type": "codex",
        "access_token": "codex-token",
        "refresh_token": "codex-refresh",
        "account_id": "acct-1",
        "email": "acct-1@example.com",
        "expired": "2099-01-01T00:00:00Z",
        "base_url": base + "/backend-api/codex",
        **extra,
    }
    (auth_dir / "codex.json").write_bytes(orjson.dumps(data))


def sent(fake: Any) -> dict[str, Any]:
    [rec] = [r for r in fake.requests if r.path == "/backend-api/codex/responses"]
    return rec.json


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_a_responses_clients_metadata_is_not_sent_to_codex(
    start_proxy, fake_responses, tmp_path, stream: bool
) -> None:
    """The openai SDK's ``responses.create(metadata=...)`` on a ChatGPT account answers; the
    upstream body has no ``metadata`` and keeps the Codex CLI's ``client_metadata``."""
    codex_file(tmp_path, fake_responses.base_url)
    proxy = await start_proxy(HEAD)
    client_metadata = {"session_id": "s-1", "turn_id": "t-1"}
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        if stream:
            async with client.responses.stream(
                model=MODEL, input="Say hello", metadata=META, extra_body={"client_metadata": client_metadata}
            ) as events:
                answer = await events.get_final_response()
        else:
            answer = await client.responses.create(
                model=MODEL, input="Say hello", metadata=META, extra_body={"client_metadata": client_metadata}
            )
    assert "Hello from fake-responses" in answer.output_text
    body = sent(fake_responses)
    assert "metadata" not in body
    assert body["client_metadata"] == client_metadata


async def test_a_chat_clients_metadata_is_not_sent_to_codex(start_proxy, fake_responses, tmp_path) -> None:
    """A Chat Completions client's ``metadata`` (which CPA's Chat-to-Codex translator never
    copies) is not made into the Responses field either."""
    codex_file(tmp_path, fake_responses.base_url)
    proxy = await start_proxy(HEAD)
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        answer = await client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "Say hello"}], metadata=META
        )
    assert "Hello from fake-responses" in (answer.choices[0].message.content or "")
    assert "metadata" not in sent(fake_responses)


async def test_a_websocket_turns_metadata_is_not_sent_to_codex(start_proxy, fake_responses, tmp_path) -> None:
    """A ``response.create`` with ``metadata`` on the proxy's Responses WebSocket, served over
    Codex's socket (``websockets: true``): the turn completes and Codex's message has none."""
    codex_file(tmp_path, fake_responses.base_url, websockets=True)
    proxy = await start_proxy(HEAD)
    message = {"type": "response.create", "model": MODEL, "input": "hello", "metadata": META}
    async with aiohttp.ClientSession() as session, await connect(session, proxy) as ws:
        events = await turn(ws, message)
    assert events[-1]["type"] == "response.completed", events[-1]
    [upstream] = ws_messages(fake_responses)
    assert upstream.json["type"] == "response.create"
    assert "metadata" not in upstream.json


@pytest.mark.parametrize(
    ("field", "value"),
    [("top_logprobs", 2), ("presence_penalty", 0.5), ("frequency_penalty", 0.5), ("seed", 7)],
)
async def test_other_fields_codex_refuses_are_not_sent(
    start_proxy, fake_responses, tmp_path, field: str, value: object
) -> None:
    """The backend refuses ``top_logprobs`` (useless there anyway: the proxy asks Codex to
    include only the encrypted reasoning, never the logprobs) and the Chat-only ``seed`` and
    penalties that some Responses clients carry over, each with ``400 Unsupported
    parameter`` (a live test of the backend, askalf/dario issue 1009)."""
    codex_file(tmp_path, fake_responses.base_url)
    proxy = await start_proxy(HEAD)
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        answer = await client.responses.create(model=MODEL, input="Say hello", extra_body={field: value})
    assert "Hello from fake-responses" in answer.output_text
    assert field not in sent(fake_responses)

# ruff: noqa: F811  (pytest fixtures imported from tests.fakes.fixtures)
"""The fakes' shared machinery: lifecycle, recording, behaviour matching (raw HTTP)."""

from __future__ import annotations

import aiohttp
import pytest

from tests.fakes.claude import ClaudeFake
from tests.fakes.fixtures import Fakes, fake_claude, fake_gemini, fake_openai, fake_responses, fakes  # noqa: F401
from tests.fakes.gemini import GeminiFake
from tests.fakes.openai import OpenAIFake
from tests.fakes.server import Behavior

CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


async def post(url: str, body: object = CHAT, **kw: object) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as session, session.post(url, json=body, **kw) as resp:
        return resp.status, await resp.json(content_type=None)


async def test_runs_on_the_callers_loop():
    async with OpenAIFake() as fake:
        assert fake.port != 0
        status, body = await post(fake.url("/v1/chat/completions"))
    assert status == 200 and body["object"] == "chat.completion"
    assert fake._runner is None


async def test_fakes_fixture_gives_four_servers(fakes: Fakes):
    ports = {fakes.openai.port, fakes.responses.port, fakes.claude.port, fakes.gemini.port}
    assert len(ports) == 4


async def test_times_and_path_matching(fake_openai: OpenAIFake):
    fake_openai.fail_next(503, times=2, path="/responses")
    assert (await post(fake_openai.url("/v1/chat/completions")))[0] == 200
    responses = fake_openai.url("/v1/responses")
    statuses = [(await post(responses, {"model": "m", "input": "x"}))[0] for _ in range(3)]
    assert statuses == [503, 503, 200]
    assert fake_openai.behaviors == []


async def test_first_scripted_match_wins_and_reset(fake_openai: OpenAIFake):
    rule = fake_openai.fail_key("k-a", 403)
    fake_openai.script(Behavior(status=500), Behavior(status=502))
    url = fake_openai.url("/v1/chat/completions")
    auth = {"Authorization": "Bearer k-a"}
    assert (await post(url, headers=auth))[0] == 403
    assert (await post(url))[0] == 500
    assert (await post(url))[0] == 502
    assert (await post(url, headers=auth))[0] == 403
    assert fake_openai.behaviors == [rule]
    fake_openai.reset()
    assert fake_openai.behaviors == [] and fake_openai.requests == []


async def test_custom_body_headers_and_text(fake_openai: OpenAIFake):
    fake_openai.fail_next(418, body={"oops": True}, headers={"x-test": "1"})
    async with (
        aiohttp.ClientSession() as session,
        session.post(fake_openai.url("/v1/chat/completions"), json=CHAT) as resp,
    ):
        assert (resp.status, resp.headers["x-test"], await resp.json()) == (418, "1", {"oops": True})
    fake_openai.script(Behavior(text="scripted answer"))
    _, body = await post(fake_openai.url("/v1/chat/completions"))
    assert body["choices"][0]["message"]["content"] == "scripted answer"


async def test_invalid_json_is_400_and_recorded(fake_claude: ClaudeFake):
    async with (
        aiohttp.ClientSession() as session,
        session.post(fake_claude.url("/v1/messages?beta=true"), data=b"{nope") as resp,
    ):
        body = await resp.json()
    assert resp.status == 400 and body["type"] == "error"
    assert fake_claude.last.body == b"{nope" and fake_claude.last.json is None
    assert fake_claude.last.query == {"beta": "true"}


async def test_claude_x_api_key_header(fake_claude: ClaudeFake):
    fake_claude.valid_keys = {"sk-a"}
    body = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
    url = fake_claude.url("/v1/messages")
    assert (await post(url, body, headers={"x-api-key": "sk-a"}))[0] == 200
    status, err = await post(url, body)
    assert status == 401 and err["error"]["message"] == "x-api-key header is required"


async def test_missing_keys(fake_openai: OpenAIFake, fake_gemini: GeminiFake):
    fake_openai.valid_keys = fake_gemini.valid_keys = {"k"}
    status, body = await post(fake_openai.url("/v1/chat/completions"))
    assert status == 401 and "didn't provide an API key" in body["error"]["message"]
    gem = {"contents": [{"parts": [{"text": "hi"}]}]}
    status, body = await post(fake_gemini.url("/v1beta/models/g:generateContent"), gem)
    assert status == 403 and body["error"]["status"] == "PERMISSION_DENIED"


async def test_responses_stream_cut_and_slow(fake_responses: OpenAIFake):
    fake_responses.cut_next(after=3, stream_delay=0.01)
    async with aiohttp.ClientSession() as session:
        url = fake_responses.url("/responses")
        async with session.post(url, json={"model": "m", "input": "x", "stream": True}) as resp:
            with pytest.raises(aiohttp.ClientPayloadError):
                await resp.read()
    assert fake_responses.last.path == "/responses"


def test_sync_use_without_fixture():
    import requests

    with GeminiFake() as fake:
        resp = requests.get(fake.url("/v1beta/models/gemini-2.5-pro"), timeout=5)
        assert resp.json()["name"] == "models/gemini-2.5-pro"
        assert requests.get(fake.url("/v1beta/models/nope"), timeout=5).status_code == 404
    with pytest.raises(requests.ConnectionError):
        requests.get(fake.url("/v1beta/models"), timeout=5)


async def test_stream_faults_wait_for_a_streaming_request(fake_openai: OpenAIFake):
    fake_openai.cut_next(after=1)
    assert (await post(fake_openai.url("/v1/chat/completions")))[0] == 200
    assert len(fake_openai.behaviors) == 1
    async with aiohttp.ClientSession() as session:
        url = fake_openai.url("/v1/chat/completions")
        async with session.post(url, json={**CHAT, "stream": True}) as resp:
            with pytest.raises(aiohttp.ClientPayloadError):
                await resp.read()
    assert fake_openai.behaviors == []

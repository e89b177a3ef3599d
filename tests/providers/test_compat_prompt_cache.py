"""``openai-compatibility[].support-prompt-cache-key`` (CPA
runtime/executor/openai_compat_executor_compact_test.go: TestOpenAICompatExecutorApplyPromptCacheKey,
...CallerValueWinsPayloadOverride, ...IsModelAndProtocolScoped, ...UsesConfigIndex,
...Execute, ...ExecuteStream, ...StreamCompactSkipped), through a running proxy with the
official SDKs where a client sees it."""

from __future__ import annotations

from typing import Any

import aiohttp
import anthropic
import openai
import orjson
import pytest
from google import genai
from google.genai import types as genai_types

from cliproxy.credentials.record import Credential
from cliproxy.formats import Format
from cliproxy.plugins.models import apply_auth_data
from cliproxy.providers import compat_cache
from cliproxy.providers.codex_ws_wire import SESSION_HEADER
from cliproxy.providers.openai_compat import OpenAICompatProvider
from tests.e2e.clients import KEY

OTHER_KEY = "sk-proxy-other"


def _yaml(fakes: Any, *, support: bool = True, extra: str = "") -> str:
    return f"""
api-keys: ["{KEY}", "{OTHER_KEY}"]
openai-compatibility:
  - name: off
    base-url: "{fakes.openai.base_url}/v1"
    api-key-entries: [{{api-key: "k0"}}]
    models: [{{name: "gpt-off", alias: "off"}}]
  - name: up
    base-url: "{fakes.openai.base_url}/v1"
    support-prompt-cache-key: {"true" if support else "false"}
    api-key-entries: [{{api-key: "k1"}}]
    models: [{{name: "gpt-5.6", alias: "m"}}, {{name: "gpt-5.5", alias: "m2"}}]
{extra}"""


def _sent(fakes: Any) -> Any:
    return fakes.openai.last.json.get("prompt_cache_key")


def _carry(
    fmt: Format, body: dict[str, Any], headers: dict[str, str] | None = None, model: str = "gpt-5.6"
) -> str:
    """carry + apply on an empty attempt body: the key the upstream would get, or None."""
    attempt: dict[str, Any] = {"model": model, "messages": []}
    compat_cache.carry(attempt, fmt, body, headers or {}, model, "compat")
    if compat_cache.CARRIED in attempt:
        compat_cache.apply(attempt)
    return attempt.get("prompt_cache_key")  # type: ignore[return-value]


# -- CPA's table, on the two steps


CLAUDE_CODE = {"model": "gpt-5.6", "metadata": {"user_id": '{"session_id":"cache-session"}'}}


def test_claude_code_session_gives_a_key() -> None:
    """CPA: TestOpenAICompatExecutorApplyPromptCacheKey (derived)"""
    key = _carry(Format.CLAUDE, CLAUDE_CODE)
    assert key and key == _carry(Format.CLAUDE, CLAUDE_CODE)
    assert key != _carry(Format.CLAUDE, CLAUDE_CODE, model="gpt-5.5")  # per upstream model


def test_the_callers_own_key_wins() -> None:
    """CPA: TestOpenAICompatExecutorApplyPromptCacheKey (explicit caller key wins),
    TestOpenAICompatExecutorPromptCacheKeyCallerValueWinsPayloadOverride"""
    assert _carry(Format.CLAUDE, {**CLAUDE_CODE, "prompt_cache_key": "caller-key"}) == "caller-key"
    # ... over a key a payload rule put in the attempt's body too
    attempt: dict[str, Any] = {"model": "gpt-5.6", "prompt_cache_key": "payload-override"}
    compat_cache.carry(attempt, Format.OPENAI, {"prompt_cache_key": "caller-key"}, {}, "gpt-5.6", "compat")
    compat_cache.apply(attempt)
    assert attempt["prompt_cache_key"] == "caller-key"


def test_a_payload_rules_key_beats_a_derived_one() -> None:
    attempt: dict[str, Any] = {"model": "gpt-5.6", "prompt_cache_key": "payload-override"}
    body = {"messages": [{"role": "user", "content": "hello"}]}
    compat_cache.carry(attempt, Format.OPENAI, body, {}, "gpt-5.6", "compat")
    compat_cache.apply(attempt)
    assert attempt["prompt_cache_key"] == "payload-override"


@pytest.mark.parametrize(
    ("fmt", "body"),
    [
        (Format.OPENAI, {"messages": [{"role": "user", "content": "hello"}]}),
        (Format.RESPONSES, {"input": "hello"}),
        (Format.GEMINI, {"contents": [{"role": "user", "parts": [{"text": "hello"}]}]}),
        (Format.INTERACTIONS, {"input": "hello"}),
        (Format.CODEX, {"input": "hello"}),
    ],
    ids=lambda v: v.value if isinstance(v, Format) else "",
)
def test_every_client_format_gets_a_derived_key(fmt: Format, body: dict[str, Any]) -> None:
    """CPA: TestOpenAICompatExecutorApplyPromptCacheKey (OpenAI ... Codex rows)"""
    assert _carry(fmt, body)


def test_no_identity_no_key() -> None:
    """CPA: TestOpenAICompatExecutorApplyPromptCacheKey (non Claude source without identity)"""
    assert _carry(Format.OPENAI, {"messages": [{"role": "system", "content": "only a system turn"}]}) is None
    # an explicit session the provider does not read (a user id) leaves nothing to derive from
    assert (
        _carry(Format.OPENAI, {"metadata": {"user_id": "u"}, "messages": [{"role": "user", "content": "x"}]})
        is None
    )


def test_model_and_protocol_scoped() -> None:
    """CPA: TestOpenAICompatExecutorPromptCacheKeyIsModelAndProtocolScoped"""
    headers = {SESSION_HEADER: "execution-session"}
    body = {"messages": [{"role": "user", "content": "hello"}]}
    base = _carry(Format.OPENAI, body, headers)
    assert base
    assert _carry(Format.OPENAI, body, headers, model="gpt-5.5") != base
    assert _carry(Format.RESPONSES, body, headers) != base
    # the execution session names the conversation: another opening keeps its key
    assert _carry(Format.OPENAI, {"messages": [{"role": "user", "content": "other"}]}, headers) == base


# -- through the proxy


async def test_chat_client_conversation_keeps_its_key(start_proxy, fakes) -> None:
    """CPA: TestOpenAICompatExecutorPromptCacheKeyExecute"""
    proxy = await start_proxy(_yaml(fakes))
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        first = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello"}]
        await client.chat.completions.create(model="m", messages=first)  # type: ignore[arg-type]
        key = _sent(fakes)
        assert isinstance(key, str) and len(key) == 36
        grown = [*first, {"role": "assistant", "content": "hi"}, {"role": "user", "content": "more"}]
        await client.chat.completions.create(model="m", messages=grown)  # type: ignore[arg-type]
        assert _sent(fakes) == key
        other = [{"role": "user", "content": "another conversation"}]
        await client.chat.completions.create(model="m", messages=other)  # type: ignore[arg-type]
        assert _sent(fakes) not in (None, key)
        await client.chat.completions.create(model="off", messages=first)  # type: ignore[arg-type]
        assert _sent(fakes) is None  # an entry without the key set: nothing added
    async with openai.AsyncOpenAI(
        base_url=proxy.url + "/v1", api_key=OTHER_KEY, max_retries=0
    ) as other_caller:
        await other_caller.chat.completions.create(model="m", messages=first)  # type: ignore[arg-type]
        assert _sent(fakes) not in (None, key)  # another caller, the same opening: its own key


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_claude_code_session_through_the_proxy(start_proxy, fakes, stream: bool) -> None:
    """CPA: TestOpenAICompatExecutorPromptCacheKeyExecuteStream (and ...Execute)"""
    proxy = await start_proxy(_yaml(fakes))
    headers = {"X-Claude-Code-Session-Id": "sess-1"}
    async with anthropic.AsyncAnthropic(
        base_url=proxy.url, api_key=KEY, max_retries=0, default_headers=headers
    ) as client:
        kwargs: dict[str, Any] = {
            "model": "m",
            "max_tokens": 64,
            "messages": [{"role": "user", "content": "hello"}],
        }
        if stream:
            async with client.messages.stream(**kwargs) as s:
                await s.get_final_message()
        else:
            await client.messages.create(**kwargs)
    assert _sent(fakes) == _carry(Format.CLAUDE, {}, {"x-claude-code-session-id": "sess-1"})


async def test_gemini_client_gets_a_key(start_proxy, fakes) -> None:
    proxy = await start_proxy(_yaml(fakes))
    client = genai.Client(
        api_key=KEY, http_options=genai_types.HttpOptions(base_url=proxy.url, api_version="v1beta")
    )
    await client.aio.models.generate_content(model="m", contents="hello")
    key = _sent(fakes)
    assert isinstance(key, str) and len(key) == 36


async def test_own_key_wins_over_a_payload_rule_and_compact_gets_none(start_proxy, fakes) -> None:
    rules = """payload:
  override:
    - models: [{name: "gpt-5.6"}]
      params: {"prompt_cache_key": "payload-override"}
"""
    proxy = await start_proxy(_yaml(fakes, extra=rules))
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        messages = [{"role": "user", "content": "hello"}]
        await client.chat.completions.create(
            model="m",
            messages=messages,
            extra_body={"prompt_cache_key": "caller-key"},  # type: ignore[arg-type]
        )
        assert _sent(fakes) == "caller-key"
        await client.chat.completions.create(model="m", messages=messages)  # type: ignore[arg-type]
        assert _sent(fakes) == "payload-override"


async def test_compact_gets_no_key(start_proxy, fakes) -> None:
    """CPA: TestOpenAICompatExecutorCompactPassthrough,
    TestOpenAICompatExecutorPromptCacheKeyStreamCompactSkipped: the compact body goes to the
    entry's ``/responses/compact`` as a Responses body (no Chat ``messages``), without a
    derived key, and the upstream's compaction object comes back byte for byte."""
    proxy = await start_proxy(_yaml(fakes))
    answer = b'{"id":"resp_1","object":"response.compaction","usage":{"input_tokens":1,"output_tokens":2,"total_tokens":3}}'
    fakes.openai.compact_answers = [orjson.loads(answer)]
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            proxy.url + "/v1/responses/compact",
            headers={"Authorization": f"Bearer {KEY}"},
            json={"model": "m", "input": [{"role": "user", "content": "hello"}]},
        ) as r,
    ):
        assert r.status == 200, await r.text()
        assert await r.read() == answer
    assert fakes.openai.last.path == "/v1/responses/compact"
    sent = fakes.openai.last.json
    assert "input" in sent and "messages" not in sent
    assert "prompt_cache_key" not in sent


async def test_disabled_entry_adds_nothing(start_proxy, fakes) -> None:
    """CPA: TestOpenAICompatExecutorApplyPromptCacheKey (disabled)"""
    proxy = await start_proxy(_yaml(fakes, support=False))
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hello"}])
    assert "prompt_cache_key" not in fakes.openai.last.json


async def test_credentials_of_one_entry_keep_their_own_attributes(start_proxy, fakes) -> None:
    """Each key of an entry has its own attributes (they were one shared dict, so every
    credential showed the last key's ``api_key`` and ``source``)."""
    proxy = await start_proxy(f"""
openai-compatibility:
  - name: up
    base-url: "{fakes.openai.base_url}/v1"
    support-prompt-cache-key: true
    api-key-entries: [{{api-key: "k1"}}, {{api-key: "k2"}}]
""")
    creds = sorted(proxy.service.pool.credentials(), key=lambda c: c.api_key)
    assert [c.attributes["api_key"] for c in creds] == ["k1", "k2"]
    assert [c.attributes["source"] for c in creds] == [c.source for c in creds]
    assert all(c.attributes["support_prompt_cache_key"] == "true" for c in creds)


async def test_entries_sharing_a_name_keep_their_own_setting(start_proxy, fakes) -> None:
    """CPA: TestOpenAICompatExecutorPromptCacheKeyUsesConfigIndex: two entries with one name,
    the first without the key and the second with it, each decide for their own credential."""
    proxy = await start_proxy(f"""
api-keys: ["{KEY}"]
openai-compatibility:
  - name: duplicate
    base-url: "{fakes.openai.base_url}/v1"
    api-key-entries: [{{api-key: "k1"}}]
    models: [{{name: "gpt-5.6", alias: "first"}}]
  - name: duplicate
    base-url: "{fakes.openai.base_url}/v1"
    support-prompt-cache-key: true
    api-key-entries: [{{api-key: "k2"}}]
    models: [{{name: "gpt-5.6", alias: "second"}}]
""")
    messages = [{"role": "user", "content": "hello"}]
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        await client.chat.completions.create(model="first", messages=messages)  # type: ignore[arg-type]
        assert _sent(fakes) is None
        await client.chat.completions.create(model="second", messages=messages)  # type: ignore[arg-type]
        assert isinstance(_sent(fakes), str)


def test_a_plugin_credential_cannot_turn_the_key_on() -> None:
    """CPA: TestOpenAICompatExecutorPromptCacheKeyIgnoresConfigIndexForNonConfigAuth: only
    a config entry's ``support-prompt-cache-key`` turns the key on; a credential that is
    not the config's (a plugin's auth data naming ``config_index``, ``compat_name`` and the
    proxy's own attribute) gets none. Before, a plugin's attributes could set it."""
    cred = Credential(id="auth-1", provider="duplicate", compat_name="duplicate")
    attrs = {"compat_name": "duplicate", "provider_key": "duplicate", "config_index": "1"}
    apply_auth_data(cred, {"Attributes": {**attrs, compat_cache.ATTRIBUTE: "true"}})
    assert cred.attributes == attrs
    assert OpenAICompatProvider().carrier(cred) is None

"""Antigravity's ``sessionId`` for clients that name no session: the identity of their
conversation (CPA's derived session, ``helps.DerivedAntigravitySessionID``), through a
running proxy with the official SDKs. Stable as the conversation grows, one per
conversation and per caller; a request that names its session another way (a body
``prompt_cache_key``) gets the first-text hash, as from CPA."""

from __future__ import annotations

import hashlib
from typing import Any

import openai
from google import genai
from google.genai import types as genai_types

from cliproxy.credentials.derived_session import antigravity_session_id, caller_scope, derive_id
from cliproxy.formats import Format
from tests.e2e.clients import KEY
from tests.e2e.test_providers_more import antigravity_auth

OTHER = "sk-proxy-other"


def _session(fakes: Any) -> str:
    sid: str = fakes.gemini.last.json["request"]["sessionId"]
    return sid


async def _proxy(start_proxy: Any, fakes: Any, tmp_path: Any) -> Any:
    antigravity_auth(tmp_path, fakes.gemini.base_url)
    return await start_proxy(f'api-keys: ["{KEY}", "{OTHER}"]\n')


async def test_chat_client_conversation_gets_its_derived_session(start_proxy, fakes, tmp_path) -> None:
    proxy = await _proxy(start_proxy, fakes, tmp_path)
    first = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello"}]
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        await client.chat.completions.create(model="gemini-3-flash", messages=first)  # type: ignore[arg-type]
        sid = _session(fakes)
        assert sid == antigravity_session_id(derive_id(Format.OPENAI, {"messages": first}, caller_scope(KEY)))
        grown = [*first, {"role": "assistant", "content": "hi"}, {"role": "user", "content": "more"}]
        stream = await client.chat.completions.create(model="gemini-3-flash", messages=grown, stream=True)  # type: ignore[arg-type]
        async for _ in stream:
            pass
        assert _session(fakes) == sid
        # a request that names its session in the body: CPA derives nothing, first-text hash
        await client.chat.completions.create(
            model="gemini-3-flash",
            messages=first,
            extra_body={"prompt_cache_key": "pck"},  # type: ignore[arg-type]
        )
        digest = hashlib.sha256(b"hello").digest()
        assert _session(fakes) == f"-{int.from_bytes(digest[:8], 'big') & 0x7FFFFFFFFFFFFFFF}"
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=OTHER, max_retries=0) as other:
        await other.chat.completions.create(model="gemini-3-flash", messages=first)  # type: ignore[arg-type]
        assert _session(fakes) not in (sid, "")


async def test_gemini_client_gets_its_derived_session(start_proxy, fakes, tmp_path) -> None:
    proxy = await _proxy(start_proxy, fakes, tmp_path)
    client = genai.Client(
        api_key=KEY, http_options=genai_types.HttpOptions(base_url=proxy.url, api_version="v1beta")
    )
    await client.aio.models.generate_content(model="gemini-3-flash", contents="hello there")
    body = {"contents": [{"role": "user", "parts": [{"text": "hello there"}]}]}
    assert _session(fakes) == antigravity_session_id(derive_id(Format.GEMINI, body, caller_scope(KEY)))

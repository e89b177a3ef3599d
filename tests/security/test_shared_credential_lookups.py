"""A client that names a resource the upstream cannot find (a cached content, an uploaded
file) gets the upstream's 403/404 in its own format, and the credential it shares with
other clients stays in service: their next request is served by it.

CPA cools the credential for such an answer (404: 12 h, 403: 30 min) for every client;
the house rule (no client can affect a credential others share) makes it a request fault
here. A real "model not found" 404 and a real permission 403 still cool, as in CPA."""

from __future__ import annotations

import anthropic
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as gtypes

from cliproxy.credentials.cooldown import classify
from tests.e2e.clients import KEY
from tests.e2e.conftest import matrix_config

OTHER = "sk-proxy-other"
HI = [{"role": "user", "content": "hi"}]


def _config(fakes) -> str:
    return matrix_config(fakes).replace(f'["{KEY}"]', f'["{KEY}", "{OTHER}"]')


def _gemini(proxy, key: str) -> genai.Client:
    retry = gtypes.HttpRetryOptions(attempts=1)
    options = gtypes.HttpOptions(base_url=proxy.url, api_version="v1beta", retry_options=retry)
    return genai.Client(api_key=key, http_options=options)


async def test_a_made_up_gemini_cached_content_cools_nothing(start_proxy, fakes):
    """Gemini answers 403 PERMISSION_DENIED "CachedContent not found (or permission
    denied)" for a cachedContent the project does not hold. The client gets that 403; the
    other client's next request is served by the same key. Before, the 403 cooled the
    key's model for 30 min (CPA's 403 rule) and every client got a cooldown error."""
    proxy = await start_proxy(_config(fakes))
    bad, good = _gemini(proxy, KEY), _gemini(proxy, OTHER)
    try:
        config = gtypes.GenerateContentConfig(cached_content="cachedContents/made-up-1")
        with pytest.raises(genai_errors.ClientError) as caught:
            await bad.aio.models.generate_content(model="gemini-model", contents="hi", config=config)
        assert caught.value.code == 403
        assert caught.value.message == "CachedContent not found (or permission denied)"
        served = await good.aio.models.generate_content(model="gemini-model", contents="hi")
        assert served.text
    finally:
        await bad.aio.aclose()
        await good.aio.aclose()
    assert [r.key for r in fakes.gemini.requests] == ["gem-key-1", "gem-key-1"]


async def test_a_made_up_anthropic_file_id_cools_nothing(start_proxy, fakes):
    """The Messages API answers 404 not_found_error "File not found: file_..." for a
    document whose Files API id the organisation does not hold. Before, the 404 cooled the
    key's model for 12 h (CPA's 404 rule), for every client."""
    proxy = await start_proxy(_config(fakes))
    block = {"type": "document", "source": {"type": "file", "file_id": "file_011made"}}
    messages = [{"role": "user", "content": [block, {"type": "text", "text": "sum up"}]}]
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as bad:
        with pytest.raises(anthropic.NotFoundError) as caught:
            await bad.messages.create(model="claude-model", max_tokens=16, messages=messages)
    assert caught.value.body["error"] == {
        "type": "not_found_error",
        "message": "File not found: file_011made",
    }
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=OTHER, max_retries=0) as good:
        served = await good.messages.create(model="claude-model", max_tokens=16, messages=HI)
    assert served.content
    assert [r.key for r in fakes.claude.requests] == ["sk-ant-1", "sk-ant-1"]


async def test_a_made_up_openai_file_id_cools_nothing(start_proxy, fakes):
    """OpenAI's 404 "No such File object" is typed invalid_request_error, a request fault
    in CPA too (clienterror.IsRequestFault): kept so, through an openai-compatibility key."""
    proxy = await start_proxy(_config(fakes))
    part = {"type": "file", "file": {"file_id": "file-made-up"}}
    messages = [{"role": "user", "content": [part, {"type": "text", "text": "sum up"}]}]
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as bad:
        with pytest.raises(openai.NotFoundError) as caught:
            await bad.chat.completions.create(model="compat-model", messages=messages)  # type: ignore[arg-type]
    assert caught.value.message.endswith("No such File object: file-made-up")
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=OTHER, max_retries=0) as good:
        served = await good.chat.completions.create(model="compat-model", messages=HI)  # type: ignore[arg-type]
    assert served.choices[0].message.content
    assert [r.key for r in fakes.openai.requests] == ["sk-compat-1", "sk-compat-1"]


async def test_a_real_model_not_found_still_cools(start_proxy, fakes):
    """The control: Anthropic's "model: ..." 404 is the credential's (CPA: 12 h), so the
    other client's request finds the only key cooling and reaches no upstream."""
    proxy = await start_proxy(_config(fakes))
    fakes.claude.fail_next(404, message="model: claude-sonnet-4-6")
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as bad:
        with pytest.raises(anthropic.NotFoundError):
            await bad.messages.create(model="claude-model", max_tokens=16, messages=HI)
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=OTHER, max_retries=0) as good:
        with pytest.raises(anthropic.APIStatusError):
            await good.messages.create(model="claude-model", max_tokens=16, messages=HI)
    assert len(fakes.claude.requests) == 1


@pytest.mark.parametrize(
    ("status", "body", "cools"),
    [
        (403, '{"error":{"code":403,"message":"CachedContent not found (or permission denied)"}}', False),
        (404, '{"error":{"code":404,"message":"CachedContent not found","status":"NOT_FOUND"}}', False),
        (
            403,
            '[{"error":{"code":403,"message":"You do not have permission to access the File x or '
            'it may not exist.","status":"PERMISSION_DENIED"}}]',
            False,
        ),
        (
            404,
            '{"type":"error","error":{"type":"not_found_error","message":"File not found: file_1"}}',
            False,
        ),
        # the account's own refusals, and a model the key does not serve: cooled as in CPA
        (
            403,
            '{"error":{"code":403,"message":"The caller does not have permission",'
            '"status":"PERMISSION_DENIED"}}',
            True,
        ),
        (
            404,
            '{"error":{"code":404,"message":"models/x is not found for API version v1beta",'
            '"status":"NOT_FOUND"}}',
            True,
        ),
        (404, '{"type":"error","error":{"type":"not_found_error","message":"model: claude-x"}}', True),
        # the client's text quoted after the upstream's own words changes nothing
        (403, '{"error":{"code":403,"message":"Permission denied on model CachedContent not found"}}', True),
        (500, '{"error":{"code":500,"message":"CachedContent not found"}}', True),
    ],
)
def test_classification(status, body, cools):
    """Unit view of the same rule (cooldown.is_missing_reference): the message must begin
    with the upstream's own words, on a 403 or 404. CPA's TestIsRequestFault keeps a
    plain 404 ("plain not found") a credential failure, as here; the missing-resource
    messages are our deliberate difference (the house rule), not CPA's."""
    assert classify(status, body).cools is cools

"""One credential attempt is one ``Attempt``: what an attempt rewrites (after-auth
interceptor headers, payload rules, thinking) never leaks into the next attempt or into
the client's ``Call``."""

from __future__ import annotations

import textwrap

import anthropic
import openai
import pytest

from tests.e2e.clients import KEY

APPEND = """
from cliproxy.plugins.api import *

class Append(Plugin, RequestInterceptor):
    name = "append"; version = "1"; author = "t"; github_repository = "https://example.com/a"
    async def intercept_after(self, req):
        seen = [v for k, vs in req.headers.items() if k.lower() == "x-count" for v in vs]
        return InterceptResult(headers={"X-Count": [(seen[0] if seen else "") + "+"]})
plugin = Append()
"""


def _two_claude_keys(fakes, extra: str = "", *, models: tuple[str, str] = ("up-a", "up-a")) -> str:
    return f"""
api-keys: ["{KEY}"]
claude-api-key:
  - api-key: "sk-a"
    base-url: "{fakes.claude.base_url}"
    headers: {{X-Count: "$X-Count"}}
    models: [{{name: "{models[0]}", alias: "m"}}]
  - api-key: "sk-b"
    base-url: "{fakes.claude.base_url}"
    headers: {{X-Count: "$X-Count"}}
    models: [{{name: "{models[1]}", alias: "m"}}]
{extra}
"""


async def _ask(proxy, **body) -> anthropic.types.Message:
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        return await client.messages.create(
            model="m", max_tokens=50, messages=[{"role": "user", "content": "hi"}], **body
        )


@pytest.mark.parametrize("status", [500, 429])
async def test_after_auth_interceptor_rewrites_headers_once_per_attempt(start_proxy, fakes, tmp_path, status):
    pdir = tmp_path / "plugins"
    pdir.mkdir()
    (pdir / "append.py").write_text(textwrap.dedent(APPEND))
    plugins = f'plugins:\n  enabled: true\n  dir: "{pdir}"\n  configs:\n    append:\n      enabled: true\n'
    proxy = await start_proxy(_two_claude_keys(fakes, plugins))
    fakes.claude.fail_next(status)  # the first attempt fails over to the other key
    answer = await _ask(proxy)
    assert answer.content[0].text
    sent = [r for r in fakes.claude.requests if r.path.startswith("/v1/messages")]
    assert len(sent) == 2 and sent[0].key != sent[1].key
    assert [r.headers.get("X-Count") for r in sent] == ["+", "+"]  # not "++" on the failover


async def test_a_payload_rule_of_attempt_one_does_not_leak_into_attempt_two(start_proxy, fakes):
    rule = """
payload:
  override:
    - models: [{name: "up-a"}]
      params: {"metadata.user_id": "set-by-rule-for-up-a"}
"""
    proxy = await start_proxy(_two_claude_keys(fakes, rule, models=("up-a", "up-b")))
    fakes.claude.fail_next(500, model="up-a", times=None)  # up-a always fails over to up-b
    for _ in range(2):  # round robin: one of the two requests tries up-a first
        await _ask(proxy, metadata={"user_id": "client-user"})
    sent = [r for r in fakes.claude.requests if r.path.startswith("/v1/messages")]
    models = [r.json["model"] for r in sent]
    assert models.count("up-a") == 1 and models.count("up-b") == 2, models
    failed = models.index("up-a")
    assert sent[failed].json["metadata"]["user_id"] == "set-by-rule-for-up-a"
    assert sent[failed + 1].json["model"] == "up-b"  # the failover of that request
    assert [r.json["metadata"]["user_id"] for r in sent if r.json["model"] == "up-b"] == ["client-user"] * 2


async def test_a_translated_failover_sends_each_key_its_own_model_name(start_proxy, fakes):
    """A Chat client on two Claude keys of other upstream names: the first attempt renames
    the IR it parsed for itself (``Call.ir_under``); the failover starts from the client's
    request again, under its own name, with the same messages."""
    proxy = await start_proxy(_two_claude_keys(fakes, models=("up-a", "up-b")))
    fakes.claude.fail_next(500, model="up-a", times=None)
    async with openai.AsyncOpenAI(base_url=f"{proxy.url}/v1", api_key=KEY, max_retries=0) as client:
        for _ in range(2):  # round robin: one of the two requests tries up-a first
            answer = await client.chat.completions.create(
                model="m",
                max_tokens=50,
                messages=[{"role": "system", "content": "terse"}, {"role": "user", "content": "hi"}],
            )
            assert answer.choices[0].message.content
    sent = [r.json for r in fakes.claude.requests if r.path.startswith("/v1/messages")]
    assert sorted(b["model"] for b in sent) == ["up-a", "up-b", "up-b"]
    assert all(
        [(m["role"], m["content"][0]["text"]) for m in b["messages"]] == [("user", "hi")] for b in sent
    )
    assert all("terse" in str(b["system"]) for b in sent)

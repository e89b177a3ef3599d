"""CPA's ``TestClaudeExecutorPayloadOverrideDisabledThinking`` and
``TestClaudeExecutorPayloadOverrideReenablesThinking`` (``claude_executor_test.go``): the
config's ``payload:`` rules against the ``context_management`` Claude Code's identity adds
to a cloaked request on api.anthropic.com.

CPA runs its payload rules after that identity and settles the member afterwards: a rule
that set or removed it owns it (a filter removes it for good), thinking a rule turned on
gets it, thinking a rule or a forced tool choice turned off never keeps it. We run the
rules first and the identity after, told whether a rule touched the member; the body
Anthropic receives is CPA's in every case below.

The requests reach ``https://api.anthropic.com`` (where alone the member is added) through
the TLS fake behind a CONNECT redirect of ``test_impersonate``.
"""

from __future__ import annotations

from typing import Any

import anthropic
import pytest

from cliproxy.providers.impersonate import OriginRouter
from tests.e2e.clients import KEY
from tests.fakes.claude import ClaudeFake
from tests.fakes.tls import Cert
from tests.providers import test_impersonate as tls
from tests.providers.test_impersonate import Redirect

pytestmark = tls.pytestmark  # (curl_cffi: the client of api.anthropic.com)
cert, tls_claude = tls.cert, tls.tls_claude  # the TLS fake and its CONNECT redirect

MODEL = "claude-opus-4-8"
AUTOMATIC = {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]}
RULE = '[{models: [{name: "' + MODEL + '", protocol: "claude"}], params: '


def config(redirect: str, payload: str) -> str:
    return f"""
api-keys: ["{KEY}"]
claude-api-key:
  - api-key: "sk-ant"
    base-url: "https://api.anthropic.com"
    proxy-url: "{redirect}"
    cloak: {{mode: always}}
payload:
{payload}
"""


async def sent(
    start_proxy: Any,
    tls: tuple[ClaudeFake, Any, Redirect],
    cert: Cert,
    payload: str,
    stream: bool,
    **body: Any,
) -> dict[str, Any]:
    """The body Anthropic received for one Messages request carrying ``body``'s fields."""
    fake, _, redirect = tls
    proxy = await start_proxy(config(redirect.url, payload))
    router = proxy.service.providers.get("claude").transport
    assert isinstance(router, OriginRouter)
    router.impersonating.verify = str(cert.cert)  # trust the fake's certificate
    messages: Any = [{"role": "user", "content": "hi"}]
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        if stream:
            async with client.messages.stream(model=MODEL, max_tokens=2048, messages=messages, **body) as s:
                await s.get_final_message()
        else:
            await client.messages.create(model=MODEL, max_tokens=2048, messages=messages, **body)
    got = fake.last.json
    assert isinstance(got, dict)
    return got


STREAMS = pytest.mark.parametrize("stream", [False, True], ids=["execute", "execute stream"])
ENABLED = {"thinking": {"type": "enabled", "budget_tokens": 1024}}


@STREAMS
async def test_a_filter_removes_the_identitys_context_management(
    start_proxy, tls_claude, cert, stream
) -> None:
    """ "payload filter remains effective" and "context management filter remains
    authoritative after re-enabling": thinking on (the caller's, or a rule's), a filter on
    ``context_management``: Anthropic gets none. Before, the identity added it back."""
    filt = f"  filter: {RULE}[context_management]}}]"
    got = await sent(start_proxy, tls_claude, cert, filt, stream, **ENABLED)
    assert got["thinking"]["type"] == "enabled" and "context_management" not in got
    both = f'  override: {RULE}{{"thinking.type": "enabled"}}}}]\n' + filt
    got = await sent(start_proxy, tls_claude, cert, both, stream, thinking={"type": "disabled"})
    assert got["thinking"]["type"] == "enabled" and "context_management" not in got


@STREAMS
async def test_thinking_a_rule_turns_on_or_off_decides(start_proxy, tls_claude, cert, stream) -> None:
    """Overrides of ``thinking.type``: "enabled" / "adaptive" add the identity's member,
    "disabled" keeps it out (TestClaudeExecutorPayloadOverrideReenablesThinking,
    TestClaudeExecutorPayloadOverrideDisabledThinking)."""
    for kind in ("enabled", "adaptive"):
        rule = f'  override: {RULE}{{"thinking.type": "{kind}"}}}}]'
        got = await sent(start_proxy, tls_claude, cert, rule, stream, thinking={"type": "disabled"})
        assert got["thinking"]["type"] == kind and got["context_management"] == AUTOMATIC, kind
    rule = f'  override: {RULE}{{"thinking.type": "disabled"}}}}]'
    got = await sent(start_proxy, tls_claude, cert, rule, stream, **ENABLED)
    assert got["thinking"]["type"] == "disabled" and "context_management" not in got


@pytest.mark.parametrize(
    "payload",
    [
        f"  default: {RULE}{{context_management: {{edits: [{{type: clear_thinking_20251015, keep: all}}]}}}}}}]",
        '  default-raw: [{models: [{name: "' + MODEL + '", protocol: "claude"}], '
        'params: {context_management: \'{"edits":[{"type":"clear_thinking_20251015","keep":"all"}]}\'}}]',
        f"  override: {RULE}{{context_management: {{edits: [{{type: payload_rule}}]}}}}}}]",
    ],
    ids=["default", "raw default", "override"],
)
async def test_a_rules_own_object_stays_with_thinking_off(start_proxy, tls_claude, cert, payload) -> None:
    """ "exact automatic value remains payload rule owned" and "payload override replacement
    is preserved": a rule's object stays as the rule wrote it, even with thinking turned off
    by another rule."""
    off = f'\n  override-raw: {RULE}{{"thinking": "{{\\"type\\":\\"disabled\\"}}"}}}}]'
    got = await sent(start_proxy, tls_claude, cert, payload + off, False)
    assert got["thinking"] == {"type": "disabled"}
    want = {"edits": [{"type": "payload_rule"}]} if "payload_rule" in payload else AUTOMATIC
    assert got["context_management"] == want


@STREAMS
async def test_the_callers_own_object_is_kept(start_proxy, tls_claude, cert, stream) -> None:
    """ "caller context management is preserved" (and after re-enabling): the caller's object
    goes as it is, whatever a rule does to thinking."""
    own = {"edits": [{"type": "caller_owned"}]}
    for kind in ("disabled", "enabled"):
        rule = f'  override: {RULE}{{"thinking.type": "{kind}"}}}}]'
        got = await sent(
            start_proxy,
            tls_claude,
            cert,
            rule,
            stream,
            thinking={"type": "disabled"},
            extra_body={"context_management": own},
        )
        assert got["context_management"] == own, kind

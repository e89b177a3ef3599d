"""The config's ``payload:`` rules against Claude Code's identity on a cloaked request, as
CPA's Claude executor orders them (``claude_executor_execute.go``, ``_stream.go``): the cloak
first (system layout, a cloaked API key's ``metadata.user_id``, sensitive words), Claude
Code's ``context_management`` on api.anthropic.com, then the rules, so a rule wins over all
of these; the default ``max_tokens``, a forced tool choice, the transport's ``stream``, the
OAuth identity's ``metadata.user_id`` and tool aliases come after the rules.

CPA's ``TestClaudeExecutorPayloadOverrideDisabledThinking`` and
``TestClaudeExecutorPayloadOverrideReenablesThinking`` (``claude_executor_test.go``): CPA
settles ``context_management`` after the rules: a rule that set or removed it owns it (a
filter removes it for good), thinking a rule turned on gets it, thinking a rule or a forced
tool choice turned off never keeps it. ``claude_mid_system_model_test.go``'s payload cases:
a rule that turns the model into one refusing ``role: system`` turns.

The requests reach ``https://api.anthropic.com`` (where alone the member is added) through
the TLS fake behind a CONNECT redirect of ``test_impersonate``.
"""

from __future__ import annotations

from typing import Any

import anthropic
import orjson
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


def config(redirect: str, payload: str, key: str, cloak: str) -> str:
    return f"""
api-keys: ["{KEY}"]
claude-api-key:
  - api-key: "{key}"
    base-url: "https://api.anthropic.com"
    proxy-url: "{redirect}"
    cloak: {cloak}
payload:
{payload}
"""


async def sent(
    start_proxy: Any,
    tls: tuple[ClaudeFake, Any, Redirect],
    cert: Cert,
    payload: str,
    stream: bool,
    *,
    key: str = "sk-ant",
    cloak: str = "{mode: always}",
    messages: Any = ({"role": "user", "content": "hi"},),
    **body: Any,
) -> dict[str, Any]:
    """The body Anthropic received for one Messages request carrying ``body``'s fields."""
    fake, _, redirect = tls
    proxy = await start_proxy(config(redirect.url, payload, key, cloak))
    router = proxy.service.providers.get("claude").transport
    assert isinstance(router, OriginRouter)
    router.impersonating.verify = str(cert.cert)  # trust the fake's certificate
    messages = list(messages)
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        if stream:
            async with client.messages.stream(model=MODEL, max_tokens=2048, messages=messages, **body) as s:
                await s.get_final_message()
        else:
            message = await client.messages.create(model=MODEL, max_tokens=2048, messages=messages, **body)
            assert message.type == "message"  # a whole answer, whatever a rule says of stream
    got = fake.last.json
    assert isinstance(got, dict)
    return got


STREAMS = pytest.mark.parametrize("stream", [False, True], ids=["execute", "execute stream"])
ENABLED = {"thinking": {"type": "enabled", "budget_tokens": 1024}}
# a rule that turns the model into one refusing role=system turns, and such a turn
LEGACY = f'  override: {RULE}{{model: "claude-haiku-4-5-20251001"}}}}]'
TURN = {"role": "system", "content": [{"type": "text", "text": "Same rule"}]}


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


def texts(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    return [b["text"] for b in content if b.get("type") == "text"]


async def test_a_rule_wins_over_what_the_cloak_writes(start_proxy, tls_claude, cert) -> None:
    """CPA cloaks before its payload rules (``applyCloaking``, then
    ``ApplyPayloadConfigWithRequestTracked``): a rule's ``system`` replaces Claude Code's
    layout, its ``metadata.user_id`` replaces the cloaked API key's fake one, and a word it
    writes is not hidden, while the caller's words still are. Before, the cloak ran last
    and overwrote all three."""
    rule = f'  override: {RULE}{{system: "Rule system, proxy", "metadata.user_id": "rule-user"}}}}]'
    words = '{mode: always, sensitive-words: ["proxy"]}'
    messages = [{"role": "user", "content": "hello proxy"}]
    got = await sent(
        start_proxy, tls_claude, cert, rule, False, cloak=words, messages=messages, system="Caller system"
    )
    assert texts(got["system"]) == ["Rule system, proxy"]
    assert got["metadata"] == {"user_id": "rule-user"}
    assert texts(got["messages"][0]["content"])[-1] == "hello p\u200broxy"


async def test_claude_codes_own_user_id_and_tool_aliases_follow_the_rules(
    start_proxy, tls_claude, cert
) -> None:
    """An OAuth (``sk-ant-oat``) identity: CPA writes its ``metadata.user_id`` and the MCP
    aliases of custom tools after the rules (``applyClaudeCLIIdentity``,
    ``prepareClaudeOAuthToolNamesForUpstream``), so a rule's user id gives way to Claude
    Code's and a tool a rule adds is aliased as the caller's own would be."""
    tool = {"name": "lookup", "description": "d", "input_schema": {"type": "object"}}
    oauth = "sk-ant-oat01-rules"
    own = await sent(start_proxy, tls_claude, cert, "  override: []", False, key=oauth, tools=[tool])
    lookup = "[{name: lookup, description: d, input_schema: {type: object}}]"
    rule = f'  override: {RULE}{{tools: {lookup}, "metadata.user_id": "rule-user"}}}}]'
    got = await sent(start_proxy, tls_claude, cert, rule, False, key=oauth)
    assert got["tools"][0]["name"] == own["tools"][0]["name"] != "lookup"
    identity = orjson.loads(got["metadata"]["user_id"])
    assert set(identity) >= {"device_id", "account_uuid", "session_id"}


@STREAMS
async def test_a_rules_legacy_model_gets_the_system_text_as_reminders(
    start_proxy, tls_claude, cert, stream
) -> None:
    """CPA ``TestClaudeExecutor_PayloadOverrideReconcilesRelocatedSystemPrompt``: the cloak
    put the caller's system text in a ``role: system`` turn for the asked model; a rule
    turns the model into one refusing those turns: the rule's model goes, the text as a
    ``<system-reminder>`` in the first user message. Before, the rule's model was
    overwritten by the asked one."""
    got = await sent(start_proxy, tls_claude, cert, LEGACY, stream, system="Caller top")
    assert got["model"] == "claude-haiku-4-5-20251001"
    assert [m["role"] for m in got["messages"]] == ["user"]
    first = texts(got["messages"][0]["content"])
    assert "<system-reminder>\nCaller top\n</system-reminder>" in first and first[-1] == "hi"


@pytest.mark.parametrize("system", ["Top rule", "Same rule"], ids=["smuggle", "matching caller turn"])
async def test_a_rules_legacy_model_with_the_callers_system_turn_is_refused(
    start_proxy, tls_claude, cert, system
) -> None:
    """CPA ``TestClaudeExecutor_PayloadOverrideCannotSmuggleLegacyMidSystemMessage`` and
    ``TestClaudeExecutor_PayloadOverrideDoesNotClaimMatchingCallerTurn``: the caller's own
    ``role: system`` turn (even one equal to what the cloak would insert, which then inserts
    none) with a model a rule turned legacy is the client's 400, checked on the finished
    body; Anthropic is not asked."""
    fake = tls_claude[0]
    messages = [{"role": "user", "content": "hi"}, TURN]
    with pytest.raises(anthropic.BadRequestError) as err:
        await sent(start_proxy, tls_claude, cert, LEGACY, False, messages=messages, system=system)
    assert "role 'system' is not supported on this model" in str(err.value.body)
    assert not fake.requests


async def test_a_callers_own_system_turn_is_not_repeated(start_proxy, tls_claude, cert) -> None:
    """The premise of ``..._PayloadOverrideDoesNotClaimMatchingCallerTurn``: when the caller
    already sent, after its first user turn, the ``role: system`` turn the cloak would make
    of its system text, the cloak inserts none (CPA). Before, the turn went twice."""
    messages = [{"role": "user", "content": "hi"}, TURN]
    got = await sent(
        start_proxy, tls_claude, cert, "  override: []", False, messages=messages, system="Same rule"
    )
    assert [m["role"] for m in got["messages"]] == ["user", "system"]


async def test_a_rule_does_not_choose_the_transport(start_proxy, tls_claude, cert) -> None:
    """CPA ``TestClaudeExecutor_ExecuteTransportMatchesResponseFormat`` (its payload rule
    part): a rule's ``stream`` gives way to the transport the client's answer needs."""
    for stream in (False, True):
        rule = f"  override: {RULE}{{stream: {str(not stream).lower()}}}}}]"
        got = await sent(start_proxy, tls_claude, cert, rule, stream)
        assert got["stream"] is stream

"""Claude Code detection, identity and signing, over CPA's own cases (its Go tests are the
spec: claude_client_detection_test.go, claude_signing_test.go, cloak_utils, the beta list)."""

from __future__ import annotations

import hashlib
import uuid

import orjson
import pytest

from cliproxy.config.sections import ClaudeHeaderDefaults
from cliproxy.credentials.record import Credential
from cliproxy.providers import claude_cloak as cloaking
from cliproxy.providers import claude_identity as ident
from cliproxy.providers import claude_sign as signing

USER_ID = orjson.dumps(
    {
        "device_id": "0" * 64,
        "account_uuid": "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa",
        "session_id": "11111111-2222-4333-8444-555555555555",
    }
).decode()
PROFILE = ident.DeviceProfile()


def cc_headers(**over: str) -> dict[str, str]:
    headers = {
        "user-agent": "claude-cli/2.1.220 (external, cli)",
        "x-app": "cli",
        "anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14",
    }
    headers.update(over)
    return {k: v for k, v in headers.items() if v}


def payload(uid: str | None = USER_ID) -> dict:
    return {"metadata": {"user_id": uid}} if uid is not None else {"messages": []}


def test_all_four_signals_confirm_a_native_cli() -> None:
    """CPA: TestDetectClaudeCodeRequestRequiresAllFourMessageSignals."""
    found = ident.detect(cc_headers(), payload(), count=False, profile=PROFILE)
    assert found.confirmed and found.strong and found.native and found.entrypoint == "cli"


@pytest.mark.parametrize(
    ("name", "headers", "body"),
    [
        ("x-app", cc_headers(**{"x-app": ""}), payload()),
        ("user-agent", cc_headers(**{"user-agent": "curl/8.7.1"}), payload()),
        ("betas", cc_headers(**{"anthropic-beta": ""}), payload()),
        ("betas without claude-code", cc_headers(**{"anthropic-beta": "oauth-2025-04-20"}), payload()),
        ("metadata", cc_headers(), payload(None)),
        ("legacy user id", cc_headers(), payload("user_" + "a" * 64 + "_account__session_x")),
        ("device id not hex", cc_headers(), payload(USER_ID.replace("0" * 64, "g" * 64))),
        (
            "ua with extra text",
            cc_headers(**{"user-agent": "claude-cli/2.1.220 (external, cli) extra"}),
            payload(),
        ),
    ],
)
def test_each_missing_signal_leaves_the_caller_unconfirmed(name: str, headers: dict, body: dict) -> None:
    """CPA: TestClaudeExecutor_CopiedVSCodeAgentSDKHeadersWithoutMetadataAreCloaked.
    CPA: TestDetectClaudeCodeRequestRejectsEachMissingMessageSignal."""
    assert not ident.detect(headers, body, count=False, profile=PROFILE).confirmed, name


def test_count_tokens_needs_no_metadata() -> None:
    """CPA: TestClaudeExecutor_CountTokensConfirmedNativePreservesMeasuredOAuthBody.
    CPA: TestDetectClaudeCodeCountTokensAllowsMissingMetadata."""
    assert ident.detect(cc_headers(), payload(None), count=True, profile=PROFILE).confirmed
    assert not ident.detect(cc_headers(), payload(None), count=False, profile=PROFILE).confirmed


@pytest.mark.parametrize(
    ("ua", "entrypoint", "native"),
    [
        ("claude-cli/2.1.220 (external, cli)", "cli", True),
        ("claude-cli/2.1.220 (external, claude-vscode, agent-sdk/0.3.220)", "claude-vscode", True),
        ("claude-cli/2.1.220 (external, sdk-cli)", "sdk-cli", True),
        ("claude-cli/2.1.220 (external, sdk-ts, agent-sdk/0.3.220)", "sdk-ts", False),
        ("claude-cli/2.1.220 (external, sdk-py, agent-sdk/0.1.0)", "sdk-py", False),
        ("claude-cli/2.1.220 (external, claude-desktop)", "claude-desktop", False),
        ("claude-cli/2.1.220 (external, claude-desktop-3p)", "claude-desktop-3p", False),
        ("claude-cli/2.1.220 (external, remote)", "remote", False),
        ("claude-cli/2.1.220 (external, claude-code-github-action)", "claude-code-github-action", False),
        ("claude-cli/2.1.220 (external, copied-client)", "copied-client", False),
    ],
)
def test_entrypoints_only_native_surfaces_pass(ua: str, entrypoint: str, native: bool) -> None:
    """CPA: TestClaudeExecutor_AgentSDKEntrypointWithStrongSignalsUsesCLICloak.
    CPA: TestDetectClaudeCodeRequestClassifiesEntrypoints (no subclient label: cliproxy
    keys its device pins by entrypoint)."""
    found = ident.detect(cc_headers(**{"user-agent": ua}), payload(), count=False, profile=PROFILE)
    assert found.strong  # every CCH signal is there
    assert (found.entrypoint, found.native, found.confirmed) == (entrypoint, native, native)


def test_the_version_must_be_the_configured_baseline() -> None:
    """CPA: TestDetectClaudeCodeRequestAcceptsConfiguredMeasuredBaseline."""
    headers = cc_headers(**{"user-agent": "claude-cli/2.2.0 (external, cli)"})
    assert not ident.detect(headers, payload(), count=False, profile=PROFILE).confirmed
    older = cc_headers(**{"user-agent": "claude-cli/2.1.219 (external, cli)"})
    assert not ident.detect(older, payload(), count=False, profile=PROFILE).confirmed
    configured = ident.DeviceProfile.from_config(
        ClaudeHeaderDefaults(user_agent="claude-cli/2.2.0 (external, cli)", package_version="0.95.0")
    )
    assert ident.detect(headers, payload(), count=False, profile=configured).confirmed
    assert (
        configured.package_version == "0.95.0" and configured.runtime_version == "v26.3.0"
    )  # unset: built-in
    assert configured.version == "2.2.0"


@pytest.mark.parametrize(
    ("uid", "valid"),
    [
        (USER_ID, True),
        (USER_ID.replace("aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa", ""), True),  # account may be empty
        (USER_ID.replace("aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa", "not-a-uuid"), False),
        (USER_ID.replace("11111111-2222-4333-8444-555555555555", "nope"), False),
        (USER_ID.replace("0" * 64, "0" * 63), False),
        ("not json", False),
        ("[]", False),
    ],
)
def test_user_id_shape(uid: str, valid: bool) -> None:
    assert ident.is_valid_user_id(uid) is valid


# ------------------------------------------------------------------ CCH (claude_signing_test.go)

BASE = (
    '{"model":"model-a","messages":[{"role":"user","content":[{"type":"text","text":"x"}]}],'
    '"system":[{"type":"text","text":"x-anthropic-billing-header: cc_version=2.1.220.test; '
    'cc_entrypoint=sdk-cli; cch=00000;"},{"type":"text","text":"system-x"}],"tools":[],'
    '"metadata":{"user_id":"meta-x"},"max_tokens":1,"thinking":{"type":"adaptive","display":"omitted"},'
    '"context_management":{"edits":[{"type":"clear_thinking_20251015","keep":"all"}]},'
    '"output_config":{"effort":"high"},"stream":true}'
)
META = '"metadata":{"user_id":"meta-x"}'


@pytest.mark.parametrize(
    ("body", "want"),
    [
        (BASE, "7ee87"),
        (BASE.replace('"model":"model-a"', '"model":"model-b"'), "7ee87"),
        (BASE.replace('"max_tokens":1', '"max_tokens":2'), "7ee87"),
        (BASE.replace('"text":"x"', '"text":"y"', 1), "b9cc8"),
        (BASE.replace('"system-x"', '"system-y"'), "a30d3"),
        (BASE.replace('"user_id":"meta-x"', '"user_id":"meta-y"'), "7a89d"),
        (
            BASE.replace(
                '"thinking":{"type":"adaptive","display":"omitted"}', '"thinking":{"type":"disabled"}'
            ),
            "7205c",
        ),
        (
            BASE.replace('{"edits":[{"type":"clear_thinking_20251015","keep":"all"}]}', '{"edits":[]}'),
            "05073",
        ),
        (BASE.replace('"effort":"high"', '"effort":"low"'), "12366"),
        (BASE.replace('"stream":true', '"stream":false'), "60400"),
        (
            BASE.replace(
                '"tools":[]', '"tools":[{"name":"t","description":"d","input_schema":{"type":"object"}}]'
            ),
            "3d78d",
        ),
        (BASE.replace('"stream":true}', '"stream":true,"extra_top":"extra"}'), "2d622"),
        (BASE.replace(META, '"metadata":{"user_id":"meta-x","model":"a"}'), "0601b"),
        (BASE.replace(META, '"metadata":{"user_id":"meta-x","max_tokens":2}'), "7ee87"),
        (BASE.replace('"stream":true}', '"stream":true,"fallbacks":[{"model":"fallback-a"}]}'), "7ee87"),
        (BASE.replace(META, '"metadata":{"user_id":"meta-x","fallback_credit_token":"a"}'), "7ee87"),
        (
            BASE.replace(
                META,
                '"metadata":{"user_id":"meta-x","max_tokens":999,"fallbacks":[{"model":"fallback-model"}]}',
            ),
            "4589b",
        ),
        (
            BASE.replace(
                META,
                '"metadata":{"user_id":"meta-x","model":"nested-model","max_tokens":999,'
                '"fallbacks":[{"model":"fallback-model"}],"fallback_credit_token":"not-a-real-token"}',
            ),
            "2d312",
        ),
        (
            BASE.replace(
                META,
                '"metadata":{"user_id":"meta-x","max_tokens":999,"model":"nested-model",'
                '"fallbacks":[{"model":"fallback-model"}]}',
            ),
            "0601b",
        ),
        (BASE.replace(META, '"metadata":{"user_id":"meta-x","plain":"a"}'), "8d74c"),
        (
            '{"system":[{"type":"text","text":"x-anthropic-billing-header: cc_version=2.1.220.test; '
            'cc_entrypoint=sdk-cli; cch=00000;"}]}',
            "f2edb",
        ),
        (  # the members in reverse: field order stays significant
            '{"stream":true,"output_config":{"effort":"high"},"context_management":{"edits":'
            '[{"type":"clear_thinking_20251015","keep":"all"}]},"thinking":{"type":"adaptive",'
            '"display":"omitted"},"max_tokens":1,"metadata":{"user_id":"meta-x"},"tools":[],'
            '"system":[{"type":"text","text":"x-anthropic-billing-header: cc_version=2.1.220.test; '
            'cc_entrypoint=sdk-cli; cch=00000;"},{"type":"text","text":"system-x"}],"messages":'
            '[{"role":"user","content":[{"type":"text","text":"x"}]}],"model":"model-a"}',
            "e5b6c",
        ),
    ],
)
def test_cch_known_vectors(body: str, want: str) -> None:
    """CPA: TestSignAnthropicMessagesBody_ClaudeCode21220KnownVectors."""
    signed = orjson.loads(signing.sign(orjson.loads(body)))
    assert signed["system"][0]["text"].endswith(f" cch={want};")


def test_cch_placeholder_inserted_and_only_the_digits_change() -> None:
    """CPA: TestFinalizeAnthropicMessagesBodyCCH_InsertsMissingPlaceholder,
    TestSignAnthropicMessagesBody_PreservesFinalSerializedBytes."""
    body = orjson.loads(BASE.replace(" cch=00000;", ""))
    signed = signing.sign(body)
    assert b"cc_entrypoint=sdk-cli; cch=7ee87;" in signed
    raw = BASE.replace('"text":"x"', '"text":"keep literal cch=00000; in the message"', 1)
    out = signing.sign(orjson.loads(raw))
    assert orjson.loads(out)["messages"][0]["content"][0]["text"] == "keep literal cch=00000; in the message"
    digits = out.index(b"cc_entrypoint=sdk-cli; cch=") + len(b"cc_entrypoint=sdk-cli; cch=")
    assert out[:digits] + b"00000" + out[digits + 5 :] == raw.encode()  # nothing else changed


@pytest.mark.parametrize(
    ("body", "want"),
    [
        ('{"model":"claude","keep":1}', '{"model":"","keep":1}'),
        ('{"max_tokens":1,"keep":2}', '{"keep":2}'),
        ('{"keep":1,"fallbacks":[{"model":"x"}],"tail":2}', '{"keep":1,"tail":2}'),
        ('{"keep":1,"fallback_credit_token":"secret"}', '{"keep":1}'),
        ('{"max_tokens":1,"fallbacks":[],"fallback_credit_token":"secret"}', "{}"),
        ('{"keep":1,"max_tokens":1,"fallbacks":[],"tail":2}', '{"keep":1,"tail":2}'),
        ('{"keep":1,"max_tokens":1,"fallbacks":[]}', '{"keep":1,}'),  # Claude Code's dangling comma
        ('{"outer":{"model":"x","max_tokens":1,"keep":"y"}}', '{"outer":{"model":"","keep":"y"}}'),
        (
            '{"text":"literal \\"model\\":\\"x\\" and \\"max_tokens\\":1"}',
            '{"text":"literal \\"model\\":\\"x\\" and \\"max_tokens\\":1"}',
        ),
    ],
)
def test_cch_hash_view(body: str, want: str) -> None:
    """CPA: TestNormalizeClaudeCCHInput_PreservesRawJSON: what the hash reads."""
    assert b"".join(signing._hash_view(orjson.loads(body))) == want.encode()


def test_cch_fallback_billing_block_leads_the_system() -> None:
    """CPA: TestFinalizeAnthropicMessagesBodyCCH_AddsMissingBillingBlock."""
    fallback = "x-anthropic-billing-header: cc_version=2.1.220.test; cc_entrypoint=sdk-cli; cch=00000;"
    out = orjson.loads(signing.sign({"system": "caller", "messages": []}, fallback))
    assert [b["text"][:27] for b in out["system"]] == ["x-anthropic-billing-header:", "caller"]
    assert signing.sign({"system": "caller"}) == orjson.dumps({"system": "caller"})  # nothing to sign


def test_xxh64_matches_the_reference() -> None:
    assert signing.xxh64(b"", 0) == 0xEF46DB3751D8E999  # the xxHash spec's empty-input vector


# ------------------------------------------------------------------ billing, betas, words


def test_billing_text_build_hash_reads_characters_4_7_20() -> None:
    text = "0123456789abcdefghijKLMN"  # [4]=4 [7]=7 [20]=K
    build = hashlib.sha256(b"59cf53e54c78" + b"47K" + b"2.1.220").hexdigest()[:3]
    assert cloaking.billing_text("2.1.220", text, signed=True) == (
        f"x-anthropic-billing-header: cc_version=2.1.220.{build}; cc_entrypoint=cli; cch=00000;"
    )
    short = hashlib.sha256(b"59cf53e54c78" + b"000" + b"2.1.220").hexdigest()[:3]
    assert cloaking.billing_text("2.1.220", "hi", signed=False).endswith(f".{short}; cc_entrypoint=cli;")


def test_cli_betas_in_claude_codes_order() -> None:
    body = {"model": "claude-opus-4-8", "tools": [{"name": "t"}], "speed": "fast"}
    assert ident.cli_betas(body, {"context-1m-2025-08-07", "structured-outputs-2025-12-15"}, True).split(
        ","
    ) == [
        "claude-code-20250219",
        "oauth-2025-04-20",
        "context-1m-2025-08-07",
        "interleaved-thinking-2025-05-14",
        "redact-thinking-2026-02-12",
        "thinking-token-count-2026-05-13",
        "context-management-2025-06-27",
        "prompt-caching-scope-2026-01-05",
        "mid-conversation-system-2026-04-07",
        "advanced-tool-use-2025-11-20",
        "effort-2025-11-24",
        "fallback-credit-2026-06-01",
        "structured-outputs-2025-12-15",
        "fast-mode-2026-02-01",
        "extended-cache-ttl-2025-04-11",
    ]
    legacy = {"model": "claude-sonnet-4-6", "thinking": {"type": "adaptive", "display": "summarized"}}
    assert ident.cli_betas(legacy, set(), False).split(",") == [
        "claude-code-20250219",
        "interleaved-thinking-2025-05-14",
        "thinking-token-count-2026-05-13",
        "context-management-2025-06-27",
        "prompt-caching-scope-2026-01-05",
        "effort-2025-11-24",
    ]
    assert ident.count_betas(True) == (
        "claude-code-20250219,oauth-2025-04-20,interleaved-thinking-2025-05-14,"
        "context-management-2025-06-27,token-counting-2024-11-01"
    )
    assert ident.with_oauth_betas("claude-code-20250219,x", count=False) == (
        "claude-code-20250219,oauth-2025-04-20,x,extended-cache-ttl-2025-04-11"
    )


def test_sensitive_words_get_a_zero_width_space() -> None:
    matcher = cloaking.word_matcher(["proxy", "CLIProxy", "x", " "])
    assert matcher is not None
    body = {
        "system": [{"type": "text", "text": "Use the cliproxy PROXY"}],
        "messages": [
            {"role": "user", "content": "a proxy"},
            {"role": "user", "content": [{"type": "text", "text": "no match"}, {"type": "image"}]},
        ],
    }
    cloaking.obfuscate(body, matcher)
    assert body["system"][0]["text"] == "Use the c\u200bliproxy P\u200bROXY"  # longest word first
    assert body["messages"][0]["content"] == "a p\u200broxy"
    assert body["messages"][1]["content"][0]["text"] == "no match"
    assert cloaking.word_matcher(["x", "a\u200bb"]) is None


# ------------------------------------------------------------------ identity and sessions


def test_cli_identity_is_stable_per_credential_and_differs_between_them() -> None:
    """CPA: TestEnsureClaudeCLIFingerprintIdentitySynthesizesStableSources,
    TestEnsureClaudeCLIFingerprintIdentityPreservesExistingOAuthSources."""
    key = Credential(id="k1", provider="claude", api_key="sk-ant-api-one")
    other = Credential(id="k2", provider="claude", api_key="sk-ant-api-two")
    device, account = ident.cli_identity(key)
    assert device == hashlib.sha256(b"cpa-claude-code-cli-device|sk-ant-api-one").hexdigest()
    assert account == str(uuid.uuid5(uuid.NAMESPACE_OID, "cpa-claude-code-cli-account|sk-ant-api-one"))
    assert ident.cli_identity(key) == (device, account)
    assert ident.cli_identity(other)[0] != device and ident.cli_identity(other)[1] != account
    oauth = Credential(
        id="f.json",
        provider="claude",
        kind="oauth",
        metadata={"account_uuid": "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb", "claude_device_ids": ["A" * 64]},
    )
    assert ident.cli_identity(oauth) == ("a" * 64, "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb")


def test_a_file_credentials_identity_follows_its_id_not_its_token() -> None:
    """CPA: TestClaudeCLIAuthIdentitySeedPrefersStableAuthIdentity,
    TestPrepareClaudeCLIFingerprintAuthDoesNotMutateSharedMetadata. A signed-in
    credential's synthesized identity is seeded by its id ("auth-id|<id>"), so a token
    refresh keeps it, and computing it writes nothing into the credential's metadata.
    Difference: CPA falls back to the auth index or file name when the id is empty; every
    cliproxy credential has an id (a file's is its name)."""
    meta = {"access_token": "token-1"}
    before = Credential(id="kimi-auth", provider="claude", kind="oauth", metadata=meta)
    after = Credential(id="kimi-auth", provider="claude", kind="oauth", metadata={"access_token": "token-2"})
    device, account = ident.cli_identity(before)
    assert device == hashlib.sha256(b"cpa-claude-code-cli-device|auth-id|kimi-auth").hexdigest()
    assert account == str(uuid.uuid5(uuid.NAMESPACE_OID, "cpa-claude-code-cli-account|auth-id|kimi-auth"))
    assert ident.cli_identity(after) == (device, account)
    assert meta == {"access_token": "token-1"}


def test_session_uuid_same_conversation_same_id() -> None:
    """CPA: TestClaudeAgentSessionUUIDPreservesNativeSession,
    TestClaudeAgentSessionUUIDIgnoresUnconfirmedClaudeSignals,
    TestClaudeAgentSessionUUIDUsesExecutionAndDerivedIdentity (a conversation's own
    signals, here its session header or first messages, give one stable UUID)."""
    body = {"messages": [{"role": "user", "content": "hello there"}]}
    first = ident.session_uuid({}, body, confirmed=False)
    assert first == ident.session_uuid({}, {"messages": [*body["messages"]]}, confirmed=False)
    assert first != ident.session_uuid(
        {}, {"messages": [{"role": "user", "content": "other"}]}, confirmed=False
    )
    sid = "cef6305b-531b-4fdd-80ed-ad54f65bf1c3"
    copied = {"x-claude-code-session-id": sid}
    assert ident.session_uuid(copied, body, confirmed=True) == sid
    assert ident.session_uuid(copied, body, confirmed=False) == first  # a copied header is not trusted
    named = ident.session_uuid({"x-session-id": "abc"}, body, confirmed=False)
    assert named == str(
        uuid.uuid5(uuid.NAMESPACE_OID, "cli-proxy-api\x00claude\x00agent-conversation\x00header:abc")
    )


def test_cloak_modes() -> None:
    """CPA: TestResolveClaudeWirePolicy,
    TestApplyCloaking_PreservesConfiguredStrictModeAndSensitiveWordsWhenModeOmitted.
    """
    plain = Credential(id="p", provider="claude", api_key="k")
    s = cloaking.settings(plain)
    assert not cloaking.should_cloak(s, oauth=False, confirmed=False, disabled_globally=False)
    assert cloaking.should_cloak(s, oauth=True, confirmed=False, disabled_globally=False)
    assert not cloaking.should_cloak(s, oauth=True, confirmed=True, disabled_globally=False)
    assert not cloaking.should_cloak(s, oauth=True, confirmed=False, disabled_globally=True)
    always = Credential(id="a", provider="claude", api_key="k", metadata={"cloak_mode": "always"})
    sa = cloaking.settings(always)
    assert cloaking.should_cloak(sa, oauth=False, confirmed=False, disabled_globally=True)
    assert not cloaking.should_cloak(sa, oauth=False, confirmed=True, disabled_globally=False)
    never = Credential(id="n", provider="claude", api_key="k", attributes={"cloak_mode": "never"})
    assert not cloaking.should_cloak(
        cloaking.settings(never), oauth=True, confirmed=False, disabled_globally=False
    )
    strict = Credential(id="s", provider="claude", api_key="k", metadata={"cloak_strict_mode": True})
    st = cloaking.settings(strict)
    assert st.strict and st.configured
    assert cloaking.should_cloak(st, oauth=False, confirmed=False, disabled_globally=False)  # auto + settings
    profile = Credential(
        id="c", provider="claude", api_key="k", attributes={"fingerprint_profile": "oauth-cli"}
    )
    assert cloaking.settings(profile).profile_cli


def test_fake_user_id_keeps_the_keys_session_and_caches_with_cache_user_id() -> None:
    one, two = ident.fake_user_id("sk-fake-a", cache=False), ident.fake_user_id("sk-fake-a", cache=False)
    assert ident.is_valid_user_id(one) and ident.is_valid_user_id(two)
    a, b = orjson.loads(one), orjson.loads(two)
    assert a["device_id"] != b["device_id"] and a["session_id"] == b["session_id"] and a["account_uuid"] == ""
    assert ident.fake_user_id("sk-fake-b", cache=True) == ident.fake_user_id("sk-fake-b", cache=True)
    assert orjson.loads(ident.fake_user_id("sk-fake-c", cache=False))["session_id"] != a["session_id"]


def test_billing_hash_reads_the_last_user_text() -> None:
    """The text of the last user turn that has one (its last text block): later user turns
    with no text (tool results) are passed over, assistant turns never read."""
    body = {
        "messages": [
            {"role": "user", "content": "first"},
            {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "wanted"}]},
            {"role": "assistant", "content": "not this"},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "x"}]},
            {"role": "user", "content": [{"type": "text", "text": ""}]},
        ]
    }
    assert cloaking.user_text(body) == "wanted"
    assert cloaking.user_text({"messages": [{"role": "assistant", "content": "x"}]}) == ""
    assert cloaking.user_text({"messages": "no"}) == ""

"""CPA's ``claude_executor_test.go`` cases on the request shaping functions, ported.

The betas Claude Code 2.1.220 sends, the cloak's system layout (mid-conversation system
turns or legacy reminders), the currentDate reminder, ``context_management``, the billing
build hash, the count_tokens relocation and the web_search domain lists; each test names
the CPA test it ports. The cases CPA runs through its executor are driven through a
running proxy in ``tests/e2e/test_claude_cpa_executor.py``.
"""

from __future__ import annotations

import copy
import gzip
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest

from cliproxy.credentials.record import Credential
from cliproxy.errors import RequestError
from cliproxy.providers import claude_cloak as cloaking
from cliproxy.providers import claude_identity as ident
from cliproxy.providers import decoding
from cliproxy.providers.claude import ClaudeProvider
from tests.providers.test_claude_identity import USER_ID, cc_headers

CONSTANTS = (
    "claude-code-20250219,interleaved-thinking-2025-05-14,redact-thinking-2026-02-12,"
    "thinking-token-count-2026-05-13,context-management-2025-06-27,prompt-caching-scope-2026-01-05"
)
CONTEXT_1M = "context-1m-2025-08-07"
SERVER_FALLBACK = "server-side-fallback-2026-06-01"
FALLBACK_CREDIT = "fallback-credit-2026-06-01"
STRUCTURED = "structured-outputs-2025-12-15"
FIXED = datetime(2026, 8, 1, 9, 0, 0, tzinfo=timezone(timedelta(hours=8)))
PLAIN = cloaking.CloakSettings(
    mode="", strict=False, words=None, cache_user_id=False, configured=False, profile_cli=False
)
STRICT = cloaking.CloakSettings(
    mode="", strict=True, words=None, cache_user_id=False, configured=True, profile_cli=False
)
EPHEMERAL = {"type": "ephemeral"}


def reminder(text: str) -> str:
    return f"<system-reminder>\n{text}\n</system-reminder>"


def cloaked(body: dict[str, Any], *, strict: bool = False, signed: bool = False) -> dict[str, Any]:
    """CPA's ``checkSystemInstructionsWithMode`` / ``...WithSigningMode`` at 2.1.220."""
    cloaking.cloak(body, STRICT if strict else PLAIN, version="2.1.220", signed=signed, now=FIXED)
    return body


def assert_date(block: dict[str, Any], now: datetime = FIXED) -> None:
    assert block == {"type": "text", "text": cloaking.date_reminder(now)}


def assert_user_text(block: dict[str, Any], text: str) -> None:
    assert block == {"type": "text", "text": text, "cache_control": EPHEMERAL}


def assert_system_turn(body: dict[str, Any], index: int, text: str) -> None:
    assert body["messages"][index] == {
        "role": "system",
        "content": [{"type": "text", "text": text, "cache_control": EPHEMERAL}],
    }


# ---------------------------------------------------------------- anthropic-beta


@pytest.mark.parametrize(
    ("body", "fast"),
    [
        ({"model": "claude-opus-5"}, False),
        ({"model": "claude-opus-5", "speed": "fast"}, True),
    ],
)
def test_fast_mode_beta_is_conditional(body: dict[str, Any], fast: bool) -> None:
    """TestApplyClaudeHeaders_FastModeBetaIsConditional: ``speed: fast`` (or the beta named
    in the body's ``betas``, the third case below) appends the fast-mode beta."""
    baseline = ident.cli_betas({"model": "claude-opus-5"}, set(), False)
    want = baseline + (",fast-mode-2026-02-01" if fast else "")
    assert ident.cli_betas(body, set(), False) == want
    assert ident.cli_betas({"model": "claude-opus-5"}, {"fast-mode-2026-02-01"}, False) == (
        baseline + ",fast-mode-2026-02-01"
    )


_MATRIX: list[tuple[dict[str, Any], set[str], bool, str]] = [
    ({"model": "claude-opus-4-6"}, set(), False, CONSTANTS + ",effort-2025-11-24"),
    (
        {"model": "claude-opus-4-6"},
        {CONTEXT_1M},
        False,
        "claude-code-20250219,context-1m-2025-08-07," + CONSTANTS.split(",", 1)[1] + ",effort-2025-11-24",
    ),
    (
        {"model": "claude-opus-5", "tools": [{"name": "Read"}]},
        {CONTEXT_1M, SERVER_FALLBACK, FALLBACK_CREDIT},
        False,
        "claude-code-20250219,context-1m-2025-08-07,"
        + CONSTANTS.split(",", 1)[1]
        + ",mid-conversation-system-2026-04-07,advanced-tool-use-2025-11-20,effort-2025-11-24,"
        "server-side-fallback-2026-06-01,fallback-credit-2026-06-01",
    ),
    ({"model": "claude-opus-4-6"}, {STRUCTURED}, False, CONSTANTS + ",effort-2025-11-24," + STRUCTURED),
    ({"model": "claude-opus-4-6"}, {"totally-made-up-2030-01-01"}, False, CONSTANTS + ",effort-2025-11-24"),
    (
        {"model": "claude-sonnet-5"},
        set(),
        False,
        CONSTANTS + ",mid-conversation-system-2026-04-07,effort-2025-11-24",
    ),
    (
        {"model": "claude-opus-4-8"},
        set(),
        False,
        CONSTANTS + ",mid-conversation-system-2026-04-07,effort-2025-11-24",
    ),
    (
        {"model": "claude-fable-5"},
        set(),
        False,
        CONSTANTS + ",mid-conversation-system-2026-04-07,effort-2025-11-24",
    ),
    ({"model": "claude-opus-4-7"}, set(), False, CONSTANTS + ",effort-2025-11-24"),
    (
        {"model": "claude-opus-4-6", "tools": [{"name": "Read"}]},
        set(),
        True,
        "claude-code-20250219,oauth-2025-04-20,"
        + CONSTANTS.split(",", 1)[1]
        + ",advanced-tool-use-2025-11-20,effort-2025-11-24,fallback-credit-2026-06-01,"
        "extended-cache-ttl-2025-04-11",
    ),
    (
        {"model": "claude-opus-5", "tools": [{"name": "Read"}]},
        {CONTEXT_1M, SERVER_FALLBACK, FALLBACK_CREDIT},
        True,
        "claude-code-20250219,oauth-2025-04-20,context-1m-2025-08-07,"
        + CONSTANTS.split(",", 1)[1]
        + ",mid-conversation-system-2026-04-07,advanced-tool-use-2025-11-20,effort-2025-11-24,"
        "server-side-fallback-2026-06-01,fallback-credit-2026-06-01,extended-cache-ttl-2025-04-11",
    ),
    ({"model": "claude-haiku-4-5-20251001"}, set(), False, CONSTANTS + ",effort-2025-11-24"),
    (
        {"model": "claude-sonnet-4-6", "tools": [{"name": "Read"}]},
        set(),
        False,
        CONSTANTS + ",advanced-tool-use-2025-11-20,effort-2025-11-24",
    ),
    (
        {"model": "claude-opus-5"},
        set(),
        False,
        CONSTANTS + ",mid-conversation-system-2026-04-07,effort-2025-11-24",
    ),
    (
        {"model": "claude-opus-5", "tools": [{"name": "Read"}]},
        set(),
        False,
        CONSTANTS + ",mid-conversation-system-2026-04-07,advanced-tool-use-2025-11-20,effort-2025-11-24",
    ),
    ({"model": "claude-opus-4-6", "tools": []}, set(), False, CONSTANTS + ",effort-2025-11-24"),
    (
        {"model": "claude-future-9"},
        set(),
        False,
        CONSTANTS + ",mid-conversation-system-2026-04-07,effort-2025-11-24",
    ),
    (
        {"model": "claude-opus-5", "thinking": {"type": "adaptive", "display": "summarized"}},
        set(),
        False,
        CONSTANTS.replace("redact-thinking-2026-02-12,", "")
        + ",mid-conversation-system-2026-04-07,effort-2025-11-24",
    ),
    (
        {
            "model": "claude-opus-4-6",
            "thinking": {"type": "enabled", "budget_tokens": 2048, "display": "omitted"},
        },
        set(),
        False,
        CONSTANTS.replace("redact-thinking-2026-02-12,", "") + ",effort-2025-11-24",
    ),
    (
        {"model": "claude-opus-4-6", "thinking": {"type": "adaptive"}},
        set(),
        False,
        CONSTANTS + ",effort-2025-11-24",
    ),
    (
        {"model": "claude-opus-4-6", "thinking": {"type": "adaptive", "display": "  "}},
        set(),
        False,
        CONSTANTS + ",effort-2025-11-24",
    ),
]


@pytest.mark.parametrize(("body", "requested", "oauth", "want"), _MATRIX)
def test_cli_betas_match_the_observed_client_matrix(
    body: dict[str, Any], requested: set[str], oauth: bool, want: str
) -> None:
    """TestClaudeCodeCLIBetas_MatchesObservedClientMatrix"""
    assert ident.cli_betas(body, requested, oauth) == want


def test_count_tokens_betas_match_native_oauth_220() -> None:
    """TestClaudeCountTokensBetasForCredentialMatchesNativeOAuth220"""
    oauth = (
        "claude-code-20250219,oauth-2025-04-20,interleaved-thinking-2025-05-14,"
        "context-management-2025-06-27,token-counting-2024-11-01"
    )
    api_key = oauth.replace("oauth-2025-04-20,", "")
    assert ident.count_betas(True) == oauth
    assert ident.count_betas(False) == api_key
    assert ident.with_oauth_betas(api_key, count=True) == oauth


@pytest.mark.parametrize(
    ("model", "legacy"),
    [
        ("claude-opus-4-6", True),
        ("claude-opus-4-7", True),
        ("claude-sonnet-5", False),
        ("prefix/claude-sonnet-4-6", True),
        ("claude-3-5-haiku-latest", True),
        ("claude-opus-5", False),
        ("prefix/claude-opus-4-8", False),
        ("claude-fable-5", False),
        ("claude-future-6", False),
        ("", False),
    ],
)
def test_uses_legacy_system_reminder(model: str, legacy: bool) -> None:
    """TestClaudeUsesLegacySystemReminder"""
    assert ident.uses_legacy_reminder(model) is legacy


# ---------------------------------------------------------------- context_management


@pytest.mark.parametrize("kind", ["enabled", "adaptive"])
def test_context_management_injected_with_thinking(kind: str) -> None:
    """TestInjectClaudeCodeContextManagement (enabled / adaptive thinking)."""
    body: dict[str, Any] = {"model": "claude-opus-5", "thinking": {"type": kind}}
    assert cloaking.inject_context_management(body) is True
    assert body["context_management"] == {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]}


@pytest.mark.parametrize(
    "body",
    [
        {"model": "claude-opus-4-6", "context_management": {"edits": []}},
        {"model": "claude-opus-5", "thinking": {"type": "disabled"}},
        {"model": "claude-opus-4-6"},
        {"model": "claude-opus-5", "thinking": {"type": "unexpected"}},
        {"model": "claude-opus-5", "thinking": {"type": 123}},
    ],
)
def test_context_management_left_alone(body: dict[str, Any]) -> None:
    """TestInjectClaudeCodeContextManagement (caller-owned, disabled, omitted, unknown) and
    TestReconcileClaudeCodeContextManagement's "invalid thinking prevents addition"."""
    before = copy.deepcopy(body)
    assert cloaking.inject_context_management(body) is False
    assert body == before


# ---------------------------------------------------------------- currentDate


def test_local_date_follows_the_calendar_of_the_zone() -> None:
    """TestClaudeCodeLocalDateMatchesNativeLocalCalendarAlgorithm"""
    instant = datetime(2026, 7, 31, 15, 30, tzinfo=UTC)
    kiritimati = instant.astimezone(timezone(timedelta(hours=14)))
    assert f"{kiritimati:%Y-%m-%d}" == "2026-08-01"
    assert f"{instant.astimezone(timezone(timedelta(hours=-12))):%Y-%m-%d}" == "2026-07-31"
    assert cloaking.date_reminder(kiritimati) == (
        "<system-reminder>\nAs you answer the user's questions, you can use the following context:\n"
        "# currentDate\nToday's date is 2026-08-01.\n\n      IMPORTANT: this context may or may not be "
        "relevant to your tasks. You should not respond to this context unless it is highly relevant to "
        "your task.\n</system-reminder>\n\n"
    )


def test_timezone_is_the_credentials_then_the_configured_one() -> None:
    """TestClaudeCodeTimezoneUsesCredentialThenConfiguredProfile"""
    honolulu = Credential(id="tz", provider="claude", metadata={"timezone": "Pacific/Honolulu"})
    assert cloaking.local_now(honolulu, "Asia/Tokyo").tzinfo == ZoneInfo("Pacific/Honolulu")
    plain = Credential(id="plain", provider="claude")
    assert cloaking.local_now(plain, "Asia/Tokyo").tzinfo == ZoneInfo("Asia/Tokyo")
    invalid = Credential(id="bad", provider="claude", metadata={"timezone": "not/a-timezone"})
    assert cloaking.local_now(invalid, "Asia/Tokyo").tzinfo == ZoneInfo("Asia/Tokyo")
    local = datetime.now().astimezone().utcoffset()
    assert cloaking.local_now(plain, "not/a-timezone").utcoffset() == local


def test_current_date_is_idempotent_and_aligns_the_first_user_cache() -> None:
    """TestInjectClaudeCodeCurrentDateIsIdempotentAndAlignsFirstUserCache: the caller's 1h
    mark on the first text becomes the plain ephemeral one Claude Code writes."""
    hello = {"type": "text", "text": "hello", "cache_control": {"type": "ephemeral", "ttl": "1h"}}
    messages: list[Any] = [{"role": "user", "content": [hello]}]
    cloaking._inject_date(messages, FIXED)
    first = copy.deepcopy(messages)
    cloaking._inject_date(messages, FIXED)
    assert messages == first
    content = messages[0]["content"]
    assert len(content) == 2
    assert_date(content[0])
    assert_user_text(content[1], "hello")
    assert b"\\u003c" not in orjson.dumps(messages)


def test_current_date_moves_an_existing_copy_to_the_first_block() -> None:
    """TestInjectClaudeCodeCurrentDateMovesExistingCopyToFirstBlock"""
    date = {"type": "text", "text": cloaking.date_reminder(FIXED)}
    messages: list[Any] = [{"role": "user", "content": [{"type": "text", "text": "hello"}, date]}]
    cloaking._inject_date(messages, FIXED)
    content = messages[0]["content"]
    assert len(content) == 2
    assert_date(content[0])
    assert_user_text(content[1], "hello")


def test_current_date_precedes_an_existing_reminder() -> None:
    """TestInjectClaudeCodeCurrentDatePrecedesExistingReminder"""
    caller = reminder("caller instructions")
    messages: list[Any] = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": caller},
                {"type": "text", "text": "continue", "cache_control": {"type": "ephemeral", "ttl": "1h"}},
            ],
        }
    ]
    cloaking._inject_date(messages, FIXED)
    content = messages[0]["content"]
    assert_date(content[0])
    assert content[1] == {"type": "text", "text": caller}
    assert_user_text(content[2], "continue")


def test_current_date_follows_leading_tool_results() -> None:
    """TestInjectClaudeCodeCurrentDateFollowsLeadingToolResults and
    TestInjectClaudeCodeCurrentDateFollowsAllLeadingToolResults: the first user turn (here
    the one answering the tools) keeps its results first."""
    call = {
        "role": "assistant",
        "content": [{"type": "tool_use", "id": "toolu_1", "name": "Read", "input": {}}],
    }
    result = {"type": "tool_result", "tool_use_id": "toolu_1", "content": "ok"}
    messages: list[Any] = [call, {"role": "user", "content": [result, {"type": "text", "text": "continue"}]}]
    cloaking._inject_date(messages, FIXED)
    first = copy.deepcopy(messages)
    cloaking._inject_date(messages, FIXED)
    assert messages == first
    content = messages[1]["content"]
    assert content[0] == result
    assert_date(content[1])
    assert_user_text(content[2], "continue")

    second = {"type": "tool_result", "tool_use_id": "toolu_2", "content": "ok"}
    only_results: list[Any] = [call, {"role": "user", "content": [result, second]}]
    cloaking._inject_date(only_results, FIXED)
    content = only_results[1]["content"]
    assert content[:2] == [result, second]
    assert_date(content[2])


# ---------------------------------------------------------------- answers


PLAINTEXT = b'data: {"type":"message_stop"}\n'


def test_gzip_body_without_its_header_is_sniffed() -> None:
    """TestDecodeResponseBody_MagicByteGzipNoHeader (for an error body: the Claude provider
    sniffs what it classifies)."""
    assert decoding.sniffed(gzip.compress(PLAINTEXT)) == PLAINTEXT


@pytest.mark.skipif(decoding.ZstdDecompressor is None, reason="no zstd package installed")
def test_zstd_body_without_its_header_is_sniffed() -> None:
    """TestDecodeResponseBody_MagicByteZstdNoHeader"""
    from backports.zstd import compress

    assert decoding.sniffed(compress(PLAINTEXT)) == PLAINTEXT


def _legacy_turn_body(model: str) -> dict[str, Any]:
    return {
        "model": model,
        "max_tokens": 32,
        "system": [{"type": "text", "text": "Top rule"}],
        "messages": [{"role": "user", "content": "hi"}, {"role": "system", "content": "Mid rule"}],
        "metadata": {"user_id": USER_ID},
    }


def test_a_confirmed_claude_code_keeps_its_system_turn_for_a_legacy_model() -> None:
    """CPA: TestClaudeExecutor_ConfirmedNativeLegacyMidSystemMessageForwarded: a real
    Claude Code owns its wire, so its body goes to api.anthropic.com as it is, the turn
    included; the same body from another caller is the client's 400."""
    provider = ClaudeProvider()
    cred = Credential(id="k", provider="claude", api_key="sk-ant-api-legacy")
    body = _legacy_turn_body("claude-haiku-4-5-20251001")
    sent = provider.build(
        cred, copy.deepcopy(body), model=body["model"], stream=False, client_headers=cc_headers()
    )
    assert [m["role"] for m in orjson.loads(sent.body)["messages"]] == ["user", "system"]
    with pytest.raises(RequestError):
        provider.build(cred, copy.deepcopy(body), model=body["model"], stream=False, client_headers={})


@pytest.mark.parametrize("model", ["claude-sonnet-5", "claude-sonnet-9"])
def test_a_model_that_takes_the_turn_gets_it(model: str) -> None:
    """CPA: TestClaudeExecutor_SupportedModelMidSystemMessageForwarded: a model outside
    the legacy list (a newer or unknown one) is sent the turn."""
    cred = Credential(id="k", provider="claude", api_key="sk-ant-api-newer")
    sent = ClaudeProvider().build(
        cred, _legacy_turn_body(model), model=model, stream=False, client_headers={}
    )
    assert [m["role"] for m in orjson.loads(sent.body)["messages"]] == ["user", "system"]


def test_plain_or_broken_bodies_are_left_as_they_are() -> None:
    """TestDecodeResponseBody_PlainTextNoHeader; and, ours, a body that only starts like
    gzip stays as it came, and a sniffed body is decoded to a bounded size."""
    assert decoding.sniffed(PLAINTEXT) == PLAINTEXT
    assert decoding.sniffed(b"\x1f\x8bnot gzip") == b"\x1f\x8bnot gzip"
    assert decoding.sniffed(gzip.compress(b"x" * 5000), limit=100) == b"x" * 100


# ---------------------------------------------------------------- rebuild-mid-system-message


def test_legacy_model_with_the_opt_in_is_rebuilt_not_refused() -> None:
    """TestClaudeExecutor_LegacyMidSystemMessageOptInStillRebuilds: on Anthropic's host a
    legacy model refuses a role=system turn (the client's 400), unless the credential asks
    for the rebuild, which runs first."""
    body = {
        "model": "claude-haiku-4-5-20251001",
        "max_tokens": 16,
        "messages": [{"role": "user", "content": "hi"}, {"role": "system", "content": "Mid rule"}],
    }
    provider = ClaudeProvider()
    plain = Credential(id="plain", provider="claude", api_key="sk-ant-api-plain")
    with pytest.raises(RequestError):
        provider.build(plain, copy.deepcopy(body), model=body["model"], stream=False, client_headers={})
    opted = Credential(
        id="opted",
        provider="claude",
        api_key="sk-ant-api-opted",
        attributes={"rebuild_mid_system_message": "true"},
    )
    sent = orjson.loads(
        provider.build(opted, copy.deepcopy(body), model=body["model"], stream=False, client_headers={}).body
    )
    assert [m["role"] for m in sent["messages"]] == ["user"]
    assert [b["text"] for b in sent["system"]] == ["Mid rule"]


def test_rebuild_keeps_turns_without_text_and_drops_blank_blocks() -> None:
    """CPA's ``rebuildMidSystemMessagesToTopLevel`` edges: system turns with no text change
    nothing; a blank text or a non-text block does not reach the top-level system."""
    body: dict[str, Any] = {
        "messages": [{"role": "user", "content": "hi"}, {"role": "system", "content": "  "}]
    }
    before = copy.deepcopy(body)
    cloaking.rebuild_mid_system(body)
    assert body == before
    body = {
        "system": [
            {"type": "text", "text": "top"},
            {"type": "image", "source": {}},
            {"type": "text", "text": ""},
        ],
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": " System ", "content": ["one", {"type": "text", "text": "two"}]},
        ],
    }
    cloaking.rebuild_mid_system(body)
    assert body["system"] == [
        {"type": "text", "text": "top"},
        {"type": "text", "text": "one"},
        {"type": "text", "text": "two"},
    ]
    assert body["messages"] == [{"role": "user", "content": "hi"}]

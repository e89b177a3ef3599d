"""CPA's provider-key list cases (internal/api/handlers/management/config_*_test.go), ported
through a running proxy's ``/v0/management/<family>-api-key`` routes and
``/auth-files/status`` on config keys."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.management.conftest import mcall

JSON = {"Content-Type": "application/json"}

# family route, YAML key, one entry's YAML (indented under "  - ")
FAMILIES: dict[str, str] = {
    "gemini-api-key": "api-key: key\n",
    "interactions-api-key": "api-key: key\n",
    "claude-api-key": "api-key: key\n",
    "vertex-api-key": "api-key: key\n    base-url: https://vertex.example.com\n",
    "codex-api-key": "api-key: key\n    base-url: https://codex.example.com\n",
    "xai-api-key": "api-key: key\n    base-url: https://api.x.ai/v1\n",
}


def one_entry(family: str, extra: str = "") -> str:
    return f"{family}:\n  - {FAMILIES[family]}{extra}"


def on_disk(proxy: Any, family: str) -> list[dict]:
    return yaml.safe_load(proxy.config_path.read_text()).get(family) or []


async def patch_raw(proxy: Any, path: str, body: bytes) -> int:
    status, _ = await mcall(proxy, "PATCH", path, data=body, headers=JSON)
    return status


# -- delete and patch identity ----------------------------------------------------------


SHARED = "  - api-key: shared-key\n    base-url: https://a.example.com\n  - api-key: shared-key\n    base-url: https://b.example.com\n"


@pytest.mark.parametrize("family", ["gemini-api-key", "xai-api-key", "codex-api-key", "vertex-api-key"])
async def test_delete_needs_base_url_when_the_key_is_shared(mproxy, family):
    """TestDeleteGeminiKey_RequiresBaseURLWhenAPIKeyDuplicated,
    TestDeleteXAIKey_RequiresBaseURLWhenAPIKeyDuplicated and
    TestDeleteCodexKey_RequiresBaseURLWhenAPIKeyDuplicated: two entries share an api-key;
    deleting by api-key alone is a 400 and both stay."""
    proxy = await mproxy(f"{family}:\n{SHARED}")
    status, _ = await mcall(proxy, "DELETE", f"/{family}?api-key=shared-key")
    assert status == 400 and len(on_disk(proxy, family)) == 2


@pytest.mark.parametrize(
    ("family", "gone", "kept"),
    [
        ("gemini-api-key", "https://a.example.com", "https://b.example.com"),
        ("vertex-api-key", "https://b.example.com", "https://a.example.com"),
    ],
)
async def test_delete_takes_only_the_matching_base_url(mproxy, family, gone, kept):
    """TestDeleteGeminiKey_DeletesOnlyMatchingBaseURL and
    TestDeleteVertexCompatKey_DeletesOnlyMatchingBaseURL."""
    proxy = await mproxy(f"{family}:\n{SHARED}")
    status, _ = await mcall(proxy, "DELETE", f"/{family}?api-key=shared-key&base-url={gone}")
    assert status == 200
    assert [e["base-url"] for e in on_disk(proxy, family)] == [kept]


async def test_claude_delete_with_an_empty_base_url(mproxy):
    """TestDeleteClaudeKey_DeletesEmptyBaseURLWhenExplicitlyProvided: ``base-url=`` given
    empty picks the entry without a base-url."""
    proxy = await mproxy(
        "claude-api-key:\n  - api-key: shared-key\n  - api-key: shared-key\n    base-url: https://claude.example.com\n"
    )
    status, _ = await mcall(proxy, "DELETE", "/claude-api-key?api-key=shared-key&base-url=")
    assert status == 200
    assert [e.get("base-url") for e in on_disk(proxy, "claude-api-key")] == ["https://claude.example.com"]


TWINS = (
    "  - api-key: shared-key\n    base-url: {first}\n    prefix: team-a\n"
    "  - api-key: shared-key\n    base-url: https://shared.example.com\n    prefix: team-b\n"
)


@pytest.mark.parametrize("family", ["gemini-api-key", "interactions-api-key"])
async def test_gemini_style_delete_refuses_an_ambiguous_identity(mproxy, family):
    """TestDeleteGeminiStyleKeyRejectsAmbiguousRoutingIdentity: same api-key and base-url
    twice (prefixes differ): a delete naming both is still ambiguous, 400, nothing removed."""
    proxy = await mproxy(f"{family}:\n" + TWINS.format(first="https://shared.example.com"))
    path = f"/{family}?api-key=shared-key&base-url=https://shared.example.com"
    status, _ = await mcall(proxy, "DELETE", path)
    assert status == 400 and len(on_disk(proxy, family)) == 2


@pytest.mark.parametrize("family", ["gemini-api-key", "interactions-api-key"])
@pytest.mark.parametrize(
    ("first", "code"), [("https://first.example.com", 200), ("https://shared.example.com", 400)]
)
async def test_gemini_style_patch_by_match_and_base_url(mproxy, family, first, code):
    """TestPatchGeminiStyleKeyRoutingIdentity: ``match`` plus ``?base-url=`` patches the one
    entry they name; when two entries share both, it is a 400 and nothing changes."""
    proxy = await mproxy(f"{family}:\n" + TWINS.format(first=first))
    body = {"match": "shared-key", "value": {"prefix": "updated"}}
    status, _ = await mcall(proxy, "PATCH", f"/{family}?base-url=https://shared.example.com", body)
    assert status == code
    prefixes = [e["prefix"] for e in on_disk(proxy, family)]
    assert prefixes == (["team-a", "updated"] if code == 200 else ["team-a", "team-b"])


# -- per-entry fields -------------------------------------------------------------------


@pytest.mark.parametrize("family", list(FAMILIES))
async def test_patch_weight_on_every_family(mproxy, family):
    """TestPatchAPIKeyWeightForEveryFamily: ``{"index":0,"value":{"weight":7}}`` is stored."""
    proxy = await mproxy(one_entry(family))
    status, _ = await mcall(proxy, "PATCH", f"/{family}", {"index": 0, "value": {"weight": 7}})
    assert status == 200 and on_disk(proxy, family)[0]["weight"] == 7


async def test_patch_weight_is_strict_and_null_resets(mproxy):
    """TestPatchAPIKeyWeightResetAndStrictValidation: a fraction, a number above 1000000,
    one past int64 and a string are 400s that keep the weight; ``null`` removes it."""
    proxy = await mproxy(one_entry("gemini-api-key", "    weight: 5\n"))
    for bad in (b"1.5", b"1000001", b"9223372036854775808", b'"7"'):
        body = b'{"index":0,"value":{"weight":' + bad + b"}}"
        assert await patch_raw(proxy, "/gemini-api-key", body) == 400, bad
        assert on_disk(proxy, "gemini-api-key")[0]["weight"] == 5
    assert await patch_raw(proxy, "/gemini-api-key", b'{"index":0,"value":{"weight":null}}') == 200
    assert "weight" not in on_disk(proxy, "gemini-api-key")[0]


async def test_put_weight_above_the_maximum_is_refused(mproxy):
    """TestPutAPIKeyWeightRejectsAboveMaximum."""
    proxy = await mproxy("debug: false\n")
    status, _ = await mcall(proxy, "PUT", "/gemini-api-key", [{"api-key": "key", "weight": 1000001}])
    assert status == 400 and on_disk(proxy, "gemini-api-key") == []


FAMILIES_WITH_COOLING = [*FAMILIES, "openai-compatibility"]


@pytest.mark.parametrize("family", FAMILIES_WITH_COOLING)
async def test_patch_disable_cooling_on_every_family(mproxy, family):
    """TestPatchDisableCoolingOverrideForEveryFamily: ``disable-cooling: false`` is stored as
    an explicit false (not dropped), ``null`` removes the override."""
    if family == "openai-compatibility":
        text = (
            "openai-compatibility:\n  - name: compat\n    base-url: https://compat.example.com\n"
            "    api-key-entries:\n      - api-key: key\n    disable-cooling: true\n"
        )
    else:
        text = one_entry(family, "    disable-cooling: true\n")
    proxy = await mproxy(text)
    body = b'{"index":0,"value":{"disable-cooling":false}}'
    assert await patch_raw(proxy, f"/{family}", body) == 200
    assert on_disk(proxy, family)[0]["disable-cooling"] is False
    assert await patch_raw(proxy, f"/{family}", b'{"index":0,"value":{"disable-cooling":null}}') == 200
    assert "disable-cooling" not in on_disk(proxy, family)[0]


async def test_get_openai_compatibility_shows_execution_fields(mproxy):
    """TestGetOpenAICompatIncludesDisableCooling: the listing carries
    support-prompt-cache-key, disable-cooling and a request-retry of 0."""
    proxy = await mproxy(
        "openai-compatibility:\n  - name: Mimo CN\n    base-url: https://token-plan-cn.xiaomimimo.com/v1\n"
        "    api-key-entries:\n      - api-key: test-key\n    models:\n      - name: mimo-v2.5\n"
        "    support-prompt-cache-key: true\n    disable-cooling: true\n    request-retry: 0\n"
    )
    status, body = await mcall(proxy, "GET", "/openai-compatibility")
    entry = body["openai-compatibility"][0]
    assert status == 200
    assert entry["support-prompt-cache-key"] is True and entry["disable-cooling"] is True
    assert entry["request-retry"] == 0


async def test_patch_xai_execution_fields(mproxy):
    """TestPatchXAIKeyUpdatesExecutionFields: priority, websockets false, disable-cooling and
    a request-retry of 0 are all stored."""
    proxy = await mproxy(
        "xai-api-key:\n  - api-key: xai-key\n    priority: 1\n    base-url: https://api.x.ai/v1\n"
        "    websockets: true\n    disable-cooling: false\n"
    )
    value = {"priority": 7, "websockets": False, "disable-cooling": True, "request-retry": 0}
    status, _ = await mcall(proxy, "PATCH", "/xai-api-key", {"index": 0, "value": value})
    entry = on_disk(proxy, "xai-api-key")[0]
    assert status == 200 and entry["priority"] == 7 and entry["disable-cooling"] is True
    assert not entry.get("websockets") and entry["request-retry"] == 0


async def test_patch_codex_alpha_search(mproxy):
    """TestPatchCodexKeyUpdatesAlphaSearch."""
    proxy = await mproxy(one_entry("codex-api-key"))
    status, _ = await mcall(proxy, "PATCH", "/codex-api-key", {"index": 0, "value": {"alpha-search": True}})
    assert status == 200 and on_disk(proxy, "codex-api-key")[0]["alpha-search"] is True


async def test_claude_fingerprint_profile(mproxy):
    """TestPatchClaudeKeyFingerprintProfile, TestPatchClaudeKeyRejectsUnknownFingerprintProfile
    and TestPutClaudeKeysRejectsUnknownFingerprintProfile: a known profile is stored, empty
    clears it, a legacy alias is stored canonical; an unknown one is a 400 naming the field
    (with its list path on PUT) and changes nothing."""
    proxy = await mproxy("claude-api-key:\n  - api-key: test-claude-key\n")

    async def patch(value: str) -> tuple[int, Any]:
        return await mcall(
            proxy, "PATCH", "/claude-api-key", {"index": 0, "value": {"fingerprint-profile": value}}
        )

    def profile() -> object:
        return on_disk(proxy, "claude-api-key")[0].get("fingerprint-profile")

    assert (await patch("claude-code-cli"))[0] == 200 and profile() == "claude-code-cli"
    assert (await patch(""))[0] == 200 and not profile()
    assert (await patch("  OAuth-CLI "))[0] == 200 and profile() == "claude-code-cli"
    status, body = await patch("claude-code")
    assert status == 400 and "fingerprint-profile" in str(body) and profile() == "claude-code-cli"
    items = [{"api-key": "k1"}, {"api-key": "k2", "fingerprint-profile": "claude-cli"}]
    status, body = await mcall(proxy, "PUT", "/claude-api-key", items)
    assert status == 400 and "claude-api-key[1].fingerprint-profile" in str(body)
    assert [e["api-key"] for e in on_disk(proxy, "claude-api-key")] == ["test-claude-key"]


async def test_routing_strategy_weighted_round_robin_spellings(mproxy):
    """TestNormalizeRoutingStrategyWeightedRoundRobin: the short spellings are stored as
    ``weighted-round-robin``."""
    proxy = await mproxy("debug: false\n")
    for spelling in ("weighted-round-robin", "weightedroundrobin", "wrr"):
        status, _ = await mcall(proxy, "PUT", "/routing/strategy", {"value": spelling})
        assert status == 200, spelling
        assert (await mcall(proxy, "GET", "/routing/strategy"))[1] == {"strategy": "weighted-round-robin"}


# -- disabling a config key from the auth-files panel -------------------------------------


@pytest.mark.parametrize(
    ("family", "entry"),
    [
        ("xai-api-key", "api-key: xai-test\n    base-url: https://api.x.ai/v1\n"),
        ("codex-api-key", "api-key: sk-test\n    base-url: https://example.com/v1\n"),
        ("vertex-api-key", "api-key: vertex-key-only\n"),
        ("claude-api-key", 'api-key: ""\n    base-url: https://custom-claude.example.com\n'),
        ("gemini-api-key", 'api-key: "   "\n    base-url: https://custom-gemini.example.com\n'),
    ],
)
async def test_status_on_a_config_key_toggles_excluded_all(mproxy, family, entry):
    """TestToggleConfigAPIKeyExcludedAll_XAI, _Codex, _Vertex_NoBaseURL, _EmptyKeyWithBaseURL
    and TestSetConfigAPIKeyExcludedAll: disabling a config-key credential appends ``*`` to
    that entry's excluded-models (keeping what was there), enabling takes only ``*`` away."""
    proxy = await mproxy(f"{family}:\n  - {entry}    excluded-models: [gpt-5]\n")
    creds = [c for c in proxy.service.pool.credentials() if c.source != "file"]
    if not creds:
        pytest.skip("no credential is made from this entry")
    cred = creds[0]
    body = {"name": cred.id, "auth_index": cred.index, "disabled": True}
    status, _ = await mcall(proxy, "PATCH", "/auth-files/status", body)
    assert status == 200 and on_disk(proxy, family)[0]["excluded-models"] == ["gpt-5", "*"]
    status, _ = await mcall(proxy, "PATCH", "/auth-files/status", {**body, "disabled": False})
    assert status == 200 and on_disk(proxy, family)[0]["excluded-models"] == ["gpt-5"]

"""ids and auth_index against vectors worked out by hand from CPA's algorithm."""

from __future__ import annotations

import os

from cliproxy.credentials.ids import (
    StableIDGenerator,
    auth_index,
    auth_index_seed,
    compat_provider_key,
    format_sorted_headers,
)

# sha256(b"claude:apikey\x00sk-1\x00\x00\x00\x00")[:12]
CLAUDE_ID = "claude:apikey:bf94234088fe"
# sha256(b"claude:apikey\x00sk-1\x00https://x\x00\x00team\x00X-A\x001\x00")[:12]
CLAUDE_ID_FULL = "claude:apikey:8316ed23adf2"
# sha256(b"openai-compatibility:openrouter\x00k1\x00https://or/v1\x00")[:12]
COMPAT_ID = "openai-compatibility:openrouter:33cc7bf5b9b3"


def test_stable_id_vectors():
    gen = StableIDGenerator()
    assert gen.next("claude:apikey", "sk-1", "", "", "", "") == (CLAUDE_ID, "bf94234088fe")
    assert gen.next("claude:apikey", " sk-1 ", "", "", "", "")[0] == CLAUDE_ID + "-1"  # trimmed, repeated
    headers = format_sorted_headers({"X-A": "1"})
    assert gen.next("claude:apikey", "sk-1", "https://x", "", "team", headers)[0] == CLAUDE_ID_FULL
    assert gen.next("openai-compatibility:openrouter", "k1", "https://or/v1", "")[0] == COMPAT_ID


def test_sorted_headers():
    assert format_sorted_headers({"b": "2", "a": "1"}) == "a\x001\x00b\x002\x00"
    assert format_sorted_headers({}) == ""


def test_auth_index_vectors():
    seed = auth_index_seed(provider="claude", cred_id=CLAUDE_ID, source="config:claude[x]", api_key="sk-1")
    assert seed == "claude-api-key:+sk-1"
    assert auth_index(seed) == "90b0e10bf4db27ce"
    seed = auth_index_seed(
        provider="openai-compatible-openrouter",
        cred_id=COMPAT_ID,
        api_key="k1",
        base_url="https://or/v1",
        compat_name="OpenRouter",
    )
    assert seed == "openai-compatibility:https://or/v1+k1"
    assert auth_index(seed) == "84fbf541308d9c5e"
    seed = auth_index_seed(provider="claude", cred_id="a.json", path="/tmp/auth/a.json", file_type="Claude")
    assert seed == "claude:/tmp/auth/a.json"
    assert auth_index(seed) == "5609d3f00e285cab"
    # vertex API keys have no list prefix in CPA: the id is the seed
    seed = auth_index_seed(provider="vertex", cred_id="vertex:apikey:abc", api_key="k")
    assert seed == "id:vertex:apikey:abc"
    assert auth_index(seed) == "c5facdab86ce3564"
    assert auth_index("") == ""


def test_compat_provider_key():
    assert compat_provider_key("OpenRouter") == "openai-compatible-openrouter"
    assert compat_provider_key("") == "openai-compatibility"
    assert compat_provider_key("openai-compatible-x") == "openai-compatible-x"


def test_auth_index_follows_the_credential_identity():
    """CPA: TestEnsureIndexUsesCredentialIdentity (one API key shared by a Gemini key and an
    OpenAI-compatible provider, or under another base URL, gets another index; the same key
    under another config source keeps it), TestEnsureIndexUsesOAuthTypeAndAbsolutePath (a
    file's index is seeded by its type and its absolute path)."""

    def index(**kw: str) -> str:
        return auth_index(auth_index_seed(**kw))

    gemini = index(provider="gemini", cred_id="g1", source="config:gemini[abc123]", api_key="shared-key")
    compat = index(
        provider="bohe", cred_id="c1", source="config:bohe[def456]", api_key="shared-key", compat_name="bohe"
    )
    alt = index(provider="gemini", cred_id="g2", api_key="shared-key", base_url="https://alt.example.com")
    again = index(provider="gemini", cred_id="g3", source="config:gemini[abc123-1]", api_key="shared-key")
    assert "" not in (gemini, compat, alt, again)
    assert gemini != compat and gemini != alt and gemini == again
    path = os.path.join(os.getcwd(), "test-oauth.json")
    relative = index(provider="antigravity", cred_id="x", path="test-oauth.json", file_type="antigravity")
    assert relative == auth_index("antigravity:" + os.path.normpath(path))

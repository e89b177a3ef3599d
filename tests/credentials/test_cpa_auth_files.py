"""CPA's file synthesizer tests (internal/watcher/synthesizer/file_test.go), ported: how
an auth-dir JSON file becomes a credential.

CPA's plugin auth-parser cases (TestSynthesizeAuthFileExpandsPluginMultiAuths and the
three beside it) need a plugin that parses auth files, a hook cliproxy does not offer;
the ledger in the audit records them as not applicable.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cliproxy.config import ConfigDocument
from cliproxy.credentials.files import normalize_metadata
from cliproxy.credentials.sources import load_auth_dir
from cliproxy.models.aliases import aliases_for


def write(root: Path, name: str, data: Any) -> Path:
    path = root / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_missing_or_empty_auth_dir_gives_nothing(tmp_path: Path) -> None:
    """TestFileSynthesizer_Synthesize_EmptyAuthDir, TestFileSynthesizer_Synthesize_NonExistentDir."""
    assert load_auth_dir(tmp_path) == []
    assert load_auth_dir(tmp_path / "non" / "existent") == []


def test_valid_auth_file(tmp_path: Path) -> None:
    """TestFileSynthesizer_Synthesize_ValidAuthFile. CPA: TestExtractCustomHeadersFromMetadata,
    TestApplyCustomHeadersFromMetadata (header names and values trimmed; a blank name or
    value and a non-text value are left out)."""
    write(
        tmp_path,
        "claude-auth.json",
        {
            "type": "claude",
            "email": "test@example.com",
            "proxy_url": "http://proxy.local",
            "prefix": "test-prefix",
            "headers": {" X-Test ": " value ", "X-Empty": "  ", "": "ignored", "X-Num": 1},
            "disable_cooling": True,
            "request_retry": 2,
        },
    )
    (cred,) = load_auth_dir(tmp_path)
    assert (cred.provider, cred.label, cred.prefix, cred.proxy_url) == (
        "claude",
        "test@example.com",
        "test-prefix",
        "http://proxy.local",
    )
    assert cred.attributes["header:X-Test"] == "value" and "header:X-Empty" not in cred.attributes
    assert [k for k in cred.attributes if k.startswith("header:")] == ["header:X-Test"]
    assert cred.disable_cooling is True and cred.request_retry == 2
    assert not cred.disabled


def test_legacy_kimi_fingerprint_profile_key(tmp_path: Path) -> None:
    """TestFileSynthesizer_Synthesize_LegacyKimiFingerprintProfile: the kebab-case key is
    read as fingerprint_profile and the legacy spelling does not stay in the metadata."""
    write(
        tmp_path,
        "kimi-auth.json",
        {"type": "kimi", "access_token": "a", "refresh_token": "r", "fingerprint-profile": "claude-code-cli"},
    )
    (cred,) = load_auth_dir(tmp_path)
    assert cred.provider == "kimi"
    assert cred.metadata["fingerprint_profile"] == "claude-code-cli"
    assert "fingerprint-profile" not in cred.metadata


@pytest.mark.parametrize("data", [{"type": "gemini", "email": "gemini@example.com"}, {"type": "gemini-cli"}])
def test_gemini_cli_files_are_left_out(tmp_path: Path, data: dict[str, Any]) -> None:
    """TestFileSynthesizer_Synthesize_IgnoresGeminiProviderFile,
    TestFileSynthesizer_Synthesize_IgnoresGeminiOAuthFile: CPA leaves Gemini CLI accounts to
    plugins."""
    write(tmp_path, "gemini-auth.json", {**data, "project_id": "a, b", "priority": " 10 "})
    assert load_auth_dir(tmp_path) == []


def test_invalid_files_and_directories_are_skipped(tmp_path: Path) -> None:
    """TestFileSynthesizer_Synthesize_SkipsInvalidFiles, TestFileSynthesizer_Synthesize_SkipsDirectories."""
    write(tmp_path, "not-json.txt", "text content")
    write(tmp_path, "invalid.json", "not valid json")
    write(tmp_path, "empty.json", "")
    write(tmp_path, "no-type.json", {"email": "test@example.com"})
    (tmp_path / "subdir.json").mkdir()
    write(tmp_path / "subdir.json", "inner.json", {"type": "claude"})
    write(tmp_path, "valid.json", {"type": "claude", "email": "valid@example.com"})
    assert [c.label for c in load_auth_dir(tmp_path)] == ["valid@example.com"]


def test_id_is_the_path_under_auth_dir(tmp_path: Path) -> None:
    """TestFileSynthesizer_Synthesize_RelativeID."""
    write(tmp_path, "my-auth.json", {"type": "claude"})
    assert [c.id for c in load_auth_dir(tmp_path)] == ["my-auth.json"]


@pytest.mark.parametrize(
    ("prefix", "want"),
    [
        ("myprefix", "myprefix"),
        ("/myprefix/", "myprefix"),
        ("  myprefix  ", "myprefix"),
        ("my/prefix", ""),
        ("", ""),
    ],
)
def test_prefix_validation(tmp_path: Path, prefix: str, want: str) -> None:
    """TestFileSynthesizer_Synthesize_PrefixValidation."""
    write(tmp_path, "auth.json", {"type": "claude", "prefix": prefix})
    assert load_auth_dir(tmp_path)[0].prefix == want


@pytest.mark.parametrize(
    ("priority", "want"),
    [(" 10 ", "10"), (8, "8"), ("1x", None), (True, None), ("1_0", None)],
)
def test_priority_parsing(tmp_path: Path, priority: Any, want: str | None) -> None:
    """TestFileSynthesizer_Synthesize_PriorityParsing: a priority that is not an integer is
    no priority at all (no attribute, credential priority 0). The boolean and the
    underscore-grouped string are extra cases: Go's JSON decoding and strconv.Atoi refuse
    both, Python's int() would not."""
    write(tmp_path, "auth.json", {"type": "claude", "priority": priority})
    (cred,) = load_auth_dir(tmp_path)
    assert cred.attributes.get("priority") == want
    assert cred.priority == (int(want) if want else 0)


@pytest.mark.parametrize(
    ("weight", "want"),
    [
        (5, "5"),
        ("", "1"),
        (" 3 ", "3"),
        (0, "0"),
        (-5, "0"),
        (1000000, "1000000"),
        (1.5, None),
        (1000001, None),
        ("9223372036854775808", None),
        ("heavy", None),
        ("1_000", None),
    ],
)
def test_weight_parsing(tmp_path: Path, weight: Any, want: str | None) -> None:
    """TestFileSynthesizer_Synthesize_WeightParsing: an invalid weight skips the file.
    CPA: TestParseValueValidation (an empty text is the default weight 1, a negative 0, a
    fraction, a value over 1,000,000 or an int64 overflow is refused), TestValidateAuthWeight
    and TestManagerLoadSkipsInvalidExplicitWeights (a credential with such a weight is not
    loaded; one with weight 0 is).
    TestAuthWeight_InvalidAndOverflowValuesAreExcluded: CPA's selector also reads such a weight
    as 0; here the file is never loaded, so the pool never sees one."""
    write(tmp_path, "auth.json", {"type": "claude", "weight": weight})
    creds = load_auth_dir(tmp_path)
    if want is None:
        assert creds == []
    else:
        (cred,) = creds
        assert cred.attributes["weight"] == want and cred.weight == int(want)


def test_oauth_excluded_models_merged(tmp_path: Path) -> None:
    """TestFileSynthesizer_Synthesize_OAuthExcludedModelsMerged,
    TestApplyAuthExcludedModelsMeta_OAuthMergeWritesCombinedModels."""
    write(tmp_path, "auth.json", {"type": "claude", "excluded_models": ["custom-model", "MODEL-B"]})
    cfg = ConfigDocument.from_text("oauth-excluded-models:\n  claude: [shared, model-b]\n").config
    (cred,) = load_auth_dir(tmp_path, cfg)
    assert cred.attributes["excluded_models"] == "custom-model,model-b,shared"


def test_model_aliases_read_from_file(tmp_path: Path) -> None:
    """TestFileSynthesizer_Synthesize_OAuthModelAliases: names and aliases are trimmed and
    an entry without a name is dropped. CPA also drops a repeated alias here; cliproxy
    drops it where the rules are applied (models/aliases.sanitize_rules), with the same
    first-wins result."""
    write(
        tmp_path,
        "codex-auth.json",
        {
            "type": "codex",
            "email": "codex@example.com",
            "model_aliases": [
                {"name": " gpt-5.3-codex-spark ", "alias": " gpt-5.5 "},
                {"name": "gpt-5.3-codex-spark", "alias": "gpt-5.4", "fork": True},
                {"name": "gpt-5.3-codex-spark", "alias": "gpt-5.5"},
                {"name": "", "alias": "ignored"},
            ],
        },
    )
    (cred,) = load_auth_dir(tmp_path)
    rules = aliases_for(cred, {})
    assert [(r.name, r.alias, r.fork) for r in rules] == [
        ("gpt-5.3-codex-spark", "gpt-5.5", False),
        ("gpt-5.3-codex-spark", "gpt-5.4", True),
    ]


@pytest.mark.parametrize(
    ("note", "want"),
    [
        ("hello world", "hello world"),
        ("  trimmed note  ", "trimmed note"),
        ("", None),
        ("   ", None),
        (12345, None),
    ],
)
def test_note_parsing(tmp_path: Path, note: Any, want: str | None) -> None:
    """TestFileSynthesizer_Synthesize_NoteParsing."""
    write(tmp_path, "auth.json", {"type": "claude", "note": note})
    assert load_auth_dir(tmp_path)[0].attributes.get("note") == want


def test_disabled_file_loads_disabled(tmp_path: Path) -> None:
    """TestFileTokenStore_Save_DisabledPersistsFlagForTokenStorage (the reading half): a file
    with disabled: true loads as a disabled credential."""
    write(tmp_path, "auth.json", {"type": "codex", "disabled": True})
    assert load_auth_dir(tmp_path)[0].disabled is True


def test_legacy_metadata_keys_are_renamed(tmp_path: Path) -> None:
    """CPA: TestNormalizeCredentialMetadata (kebab-case keys become snake_case, a present
    snake_case key wins, other keys stay), TestCanonicalCredentialMetadataKeyPreservesUnknownKeys,
    TestManagerRegisterNormalizesCredentialMetadata (a loaded file keeps ``request_retry: 0``
    over ``request-retry: 2`` and no legacy key)."""
    aliases = [{"name": "upstream", "alias": "public"}]
    meta: dict[str, Any] = {
        "api-key": "legacy-key",
        "base-url": "https://legacy.example",
        "disable-cooling": True,
        "excluded-models": ["legacy-model"],
        "fingerprint-profile": "claude-code-cli",
        "model-aliases": aliases,
        "proxy-url": "http://legacy-proxy.example",
        "request-retry": 3,
        "request_retry": 0,
        "request-scoped-errors": [{"status": 429}],
        "tool-prefix-disabled": True,
        "provider-specific-key": "preserved",
    }
    normalize_metadata(meta)
    assert meta == {
        "api_key": "legacy-key",
        "base_url": "https://legacy.example",
        "disable_cooling": True,
        "excluded_models": ["legacy-model"],
        "fingerprint_profile": "claude-code-cli",
        "model_aliases": aliases,
        "proxy_url": "http://legacy-proxy.example",
        "request_retry": 0,
        "request_scoped_errors": [{"status": 429}],
        "tool_prefix_disabled": True,
        "provider-specific-key": "preserved",
    }
    write(tmp_path, "legacy.json", {"type": "codex", "request-retry": 2, "request_retry": 0})
    (cred,) = load_auth_dir(tmp_path)
    assert cred.request_retry == 0 and "request-retry" not in cred.metadata


@pytest.mark.parametrize(
    ("extra", "want"),
    [
        ({}, None),
        ({"disable_cooling": True}, True),
        ({"disable_cooling": False}, False),
        ({"disable-cooling": False}, False),
        ({"disable_cooling": "false"}, False),
        ({"disable_cooling": "invalid"}, None),
    ],
    ids=["unset", "true", "false", "legacy-false", "text-false", "invalid"],
)
def test_a_files_disable_cooling_override(tmp_path: Path, extra: dict[str, Any], want: bool | None) -> None:
    """CPA: TestDisableCoolingOverrideSupportsExplicitFalse: an explicit false (also under the
    legacy key, or as text) is an override; an invalid value is unset."""
    write(tmp_path, "auth.json", {"type": "claude", **extra})
    (cred,) = load_auth_dir(tmp_path)
    assert cred.disable_cooling is want

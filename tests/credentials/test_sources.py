"""Config entries and auth-dir files become credential records the way CPA builds them."""

from __future__ import annotations

import base64
import hashlib
import logging
import os

import orjson

from cliproxy.config.model import Config
from cliproxy.credentials.record import KIND_APIKEY, KIND_OAUTH, ModelAlias, ScopedErrorRule
from cliproxy.credentials.sources import from_config, load_auth_dir, load_auth_file


def _cfg(data: dict) -> Config:
    return Config.model_validate(data)


def test_config_keys_in_cpa_order_with_ids_and_attributes():
    cfg = _cfg(
        {
            "claude-api-key": [
                {
                    "api-key": "sk-1",
                    "priority": 2,
                    "weight": 5,
                    "prefix": "team",
                    "headers": {"X-A": "1"},
                    "excluded-models": ["B*", "a"],
                    "models": [{"name": "claude-x", "alias": "cx"}],
                    "disable-cooling": True,
                    "request-retry": 3,
                    "request-scoped-errors": [{"status": 400, "match": ["bad"], "action": "stop"}],
                }
            ],
            "gemini-api-key": [{"api-key": "g-1"}],
            "openai-compatibility": [
                {
                    "name": "OpenRouter",
                    "base-url": "https://or/v1",
                    "priority": 1,
                    "api-key-entries": [{"api-key": "k1", "weight": 0}, {"api-key": "k2"}],
                }
            ],
            "vertex-api-key": [{"api-key": "v-1", "base-url": "https://v"}],
        }
    )
    creds = from_config(cfg)
    assert [c.provider for c in creds] == [
        "gemini",
        "claude",
        "openai-compatible-openrouter",
        "openai-compatible-openrouter",
        "vertex",
    ]
    gemini, claude, or1, or2, vertex = creds
    assert gemini.label == "gemini-apikey" and gemini.source.startswith("config:gemini[")
    token = hashlib.sha256(b"claude:apikey\x00sk-1\x00\x00\x00team\x00X-A\x001\x00").hexdigest()[:12]
    assert claude.id == f"claude:apikey:{token}" and claude.source == f"config:claude[{token}]"
    assert claude.kind == KIND_APIKEY and claude.label == "claude-apikey"
    assert (claude.priority, claude.weight, claude.prefix) == (2, 5, "team")
    assert claude.headers == {"X-A": "1"} and claude.attributes["header:X-A"] == "1"
    assert claude.excluded_models == ("a", "b*")
    assert claude.models == (ModelAlias("claude-x", "cx"),)
    assert claude.disable_cooling is True and claude.request_retry == 3
    assert claude.request_scoped_errors == (ScopedErrorRule(400, ("bad",), (), "stop"),)
    assert claude.index == hashlib.sha256(b"claude-api-key:+sk-1").hexdigest()[:16]
    assert (or1.weight, or2.weight) == (0, 1)
    assert or1.compat_name == "OpenRouter" and or1.label == "OpenRouter" and or1.priority == 1
    assert or1.index == hashlib.sha256(b"openai-compatibility:https://or/v1+k1").hexdigest()[:16]
    assert vertex.index == hashlib.sha256(f"id:{vertex.id}".encode()).hexdigest()[:16]
    assert gemini.disable_cooling is None and gemini.request_retry is None


def test_compat_without_keys_and_disabled_compat():
    cfg = _cfg(
        {
            "openai-compatibility": [
                {"name": "local", "base-url": "http://l"},
                {
                    "name": "off",
                    "base-url": "http://o",
                    "disabled": True,
                    "api-key-entries": [{"api-key": "x"}],
                },
            ]
        }
    )
    creds = from_config(cfg)
    assert len(creds) == 1
    assert (
        creds[0].id
        == "openai-compatibility:local:"
        + hashlib.sha256(b"openai-compatibility:local\x00http://l").hexdigest()[:12]
    )


def _write(path, data) -> None:
    path.write_bytes(data if isinstance(data, bytes) else orjson.dumps(data))


def test_auth_file_with_every_override(tmp_path):
    """CPA: TestFileTokenStoreNormalizesLegacyCredentialMetadata (the list half: legacy
    kebab-case keys are read as their snake_case names; what cliproxy writes back is that
    normalized metadata)."""
    _write(
        tmp_path / "claude-a.json",
        {
            "type": "claude",
            "email": "a@x.io",
            "access_token": "at",
            "refresh_token": "rt",
            "expired": "2030-01-01T00:00:00Z",
            "priority": 3,
            "weight": "7",
            "prefix": "/team/",
            "proxy_url": "socks5://p",
            "disabled": True,
            "disable-cooling": "true",
            "request-retry": 2,
            "excluded-models": ["Opus*"],
            "model-aliases": [{"name": "claude-x", "alias": "cx"}],
            "headers": {"X-H": " v "},
            "note": " hi ",
            "request_scoped_errors": [{"status": 403, "match-regexr": ["^ban"], "action": "continue"}],
        },
    )
    cred = load_auth_file(tmp_path / "claude-a.json", tmp_path)
    assert cred is not None
    assert cred.id == "claude-a.json" and cred.provider == "claude" and cred.kind == KIND_OAUTH
    assert cred.label == "a@x.io" and cred.access_token == "at" and cred.refresh_token == "rt"
    assert cred.expires_at() is not None and cred.expires_at().year == 2030
    assert (cred.priority, cred.weight, cred.prefix, cred.proxy_url) == (3, 7, "team", "socks5://p")
    assert cred.disabled is True and cred.disable_cooling is True and cred.request_retry == 2
    assert cred.excluded_models == ("opus*",)
    assert cred.model_aliases[0]["alias"] == "cx"
    assert cred.headers == {"X-H": "v"} and cred.attributes["note"] == "hi"
    assert cred.request_scoped_errors == (ScopedErrorRule(403, (), ("^ban",), "continue"),)
    assert cred.path == tmp_path / "claude-a.json" and cred.source == str(tmp_path / "claude-a.json")
    seed = f"claude:{os.path.abspath(tmp_path / 'claude-a.json')}"
    assert cred.index == hashlib.sha256(seed.encode()).hexdigest()[:16]
    assert "disable-cooling" not in cred.metadata and cred.metadata["disable_cooling"] == "true"


def test_auth_file_request_scoped_errors_under_the_dashed_key(tmp_path):
    """TestExtractRequestScopedErrorRulesSupportsLegacyMetadataKey: an auth file that spells
    the key ``request-scoped-errors`` (with a JSON float status) gives the same rule."""
    rules = [{"status": 429.0, "match": ["legacy-rate-limit"], "action": "stop"}]
    _write(tmp_path / "c.json", {"type": "claude", "access_token": "at", "request-scoped-errors": rules})
    cred = load_auth_file(tmp_path / "c.json", tmp_path)
    assert cred is not None
    assert cred.request_scoped_errors == (ScopedErrorRule(429, ("legacy-rate-limit",), (), "stop"),)


def test_auth_dir_skips_bad_files_and_gemini(tmp_path, caplog):
    _write(tmp_path / "b-codex.json", {"type": "codex", "email": "b@x.io"})
    _write(tmp_path / "a-gemini.json", {"type": "gemini", "email": "g@x.io"})
    _write(tmp_path / "broken.json", b"{not json")
    _write(tmp_path / "noweight.json", {"type": "claude", "weight": 2_000_000})
    _write(tmp_path / "notype.json", {"email": "x"})
    _write(tmp_path / "list.json", b"[1, 2]")
    _write(tmp_path / "c-kimi.json", {"type": "kimi"})
    _write(tmp_path / "readme.txt", b"hello")
    (tmp_path / "sub").mkdir()
    _write(tmp_path / "sub" / "nested.json", {"type": "claude"})
    with caplog.at_level(logging.WARNING):
        creds = load_auth_dir(tmp_path)
    assert [c.id for c in creds] == ["b-codex.json", "c-kimi.json"]
    assert creds[1].label == "kimi"  # no email: the provider
    assert any("broken.json" in r.getMessage() for r in caplog.records)
    assert any("noweight.json" in r.getMessage() for r in caplog.records)
    assert load_auth_dir(tmp_path / "missing") == []


def test_auth_file_uses_config_oauth_maps(tmp_path):
    cfg = _cfg(
        {
            "oauth-excluded-models": {"codex": ["gpt-5-mini"]},
            "oauth-request-scoped-errors": {"codex": [{"status": 400, "match": ["x"], "action": "continue"}]},
        }
    )
    _write(tmp_path / "c.json", {"type": "codex", "excluded_models": ["a"]})
    cred = load_auth_file(tmp_path / "c.json", tmp_path, cfg)
    assert cred is not None
    assert cred.excluded_models == ("a", "gpt-5-mini")
    assert cred.request_scoped_errors == (ScopedErrorRule(400, ("x",), (), "continue"),)


def test_weight_rules(tmp_path):
    _write(tmp_path / "z.json", {"type": "xai", "weight": -3})
    _write(tmp_path / "f.json", {"type": "xai", "weight": 2.5})
    assert load_auth_file(tmp_path / "z.json", tmp_path).weight == 0
    assert load_auth_file(tmp_path / "f.json", tmp_path) is None


def _jwt(claims: dict) -> str:
    def part(obj: dict) -> str:
        return base64.urlsafe_b64encode(orjson.dumps(obj)).rstrip(b"=").decode()

    return f"{part({'alg': 'none'})}.{part(claims)}.sig"


def test_codex_file_takes_its_plan_from_the_id_token(tmp_path):
    # CPA reads a Codex file's plan from its id_token (the file itself has no plan_type),
    # so a plus account gets the plus catalog, not the pro default
    auth = {"https://api.openai.com/auth": {"chatgpt_plan_type": "plus", "chatgpt_account_id": "acc"}}
    (tmp_path / "codex-a.json").write_bytes(
        orjson.dumps({"type": "codex", "email": "a@x", "id_token": _jwt(auth), "access_token": "at"})
    )
    (tmp_path / "codex-b.json").write_bytes(
        orjson.dumps({"type": "codex", "email": "b@x", "id_token": "not a jwt", "access_token": "at"})
    )
    by = {c.label: c for c in load_auth_dir(tmp_path)}
    assert by["a@x"].attributes["plan_type"] == "plus"
    assert "plan_type" not in by["b@x"].attributes

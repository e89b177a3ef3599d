from __future__ import annotations

import os

import pytest

import cliproxy.config as config_pkg
from cliproxy.config import (
    ConfigDocument,
    default_config,
    hash_secret_in_place,
    load_config,
    load_dotenv_file,
    load_or_default,
    looks_like_bcrypt,
    verify_secret,
)
from cliproxy.errors import ConfigError


def test_plaintext_secret_is_hashed_and_written_back(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(
        '# mgmt\nremote-management:\n  secret-key: "s3cret"  # change me\n  allow-remote: false\n'
    )
    config = load_config(path)
    stored = config.remote_management.secret_key
    assert looks_like_bcrypt(stored) and verify_secret("s3cret", stored)
    assert not verify_secret("wrong", stored)
    text = path.read_text()
    assert f'  secret-key: "{stored}" # change me\n' in text
    assert text.startswith("# mgmt\n") and "allow-remote: false" in text
    # A hash is left alone: the file is not rewritten again.
    before = path.read_bytes()
    assert load_config(path).remote_management.secret_key == stored
    assert path.read_bytes() == before


def test_hash_secret_in_place_reports_change():
    doc = ConfigDocument.from_text("remote-management:\n  secret-key: $2y$10$abcdefghijklmnopqrstuv\n")
    assert hash_secret_in_place(doc) is False
    doc = ConfigDocument.from_text("remote-management:\n  secret-key: ''\n")
    assert hash_secret_in_place(doc) is False
    doc = ConfigDocument.from_text("remote-management:\n  secret-key: plain\n")
    assert hash_secret_in_place(doc) is True
    assert doc.get("remote-management.secret-key").startswith("$2b$")


def test_load_or_default(tmp_path):
    config, existed = load_or_default(tmp_path / "missing.yaml")
    assert existed is False and config == default_config()
    path = tmp_path / "config.yaml"
    path.write_text("port: 9001\n")
    config, existed = load_or_default(path)
    assert existed is True and config.port == 9001
    with pytest.raises(ConfigError, match="directory"):
        load_or_default(tmp_path)


def test_empty_file_gives_defaults(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("")
    assert load_config(path) == default_config()


def test_dotenv_does_not_override(tmp_path, monkeypatch):
    monkeypatch.setenv("CLIPROXY_TEST_KEEP", "original")
    monkeypatch.delenv("CLIPROXY_TEST_NEW", raising=False)
    monkeypatch.delenv("CLIPROXY_TEST_QUOTED", raising=False)
    (tmp_path / ".env").write_text(
        'CLIPROXY_TEST_KEEP=fromfile\nCLIPROXY_TEST_NEW=value\n# c\nCLIPROXY_TEST_QUOTED="a b"\n'
    )
    try:
        loaded = load_dotenv_file(tmp_path)
        assert sorted(loaded) == ["CLIPROXY_TEST_NEW", "CLIPROXY_TEST_QUOTED"]
        assert os.environ["CLIPROXY_TEST_KEEP"] == "original"
        assert os.environ["CLIPROXY_TEST_NEW"] == "value"
        assert os.environ["CLIPROXY_TEST_QUOTED"] == "a b"
    finally:
        os.environ.pop("CLIPROXY_TEST_NEW", None)
        os.environ.pop("CLIPROXY_TEST_QUOTED", None)


def test_dotenv_missing_file(tmp_path):
    assert load_dotenv_file(tmp_path) == []


def test_public_face():
    assert sorted(config_pkg.__all__) == sorted(
        [
            "DEFAULT_AUTH_DIR",
            "DEFAULT_PORT",
            "AuthChanges",
            "Config",
            "ConfigDocument",
            "ConfigWatcher",
            "ImageGenerationMode",
            "command_config",
            "default_config",
            "hash_secret",
            "hash_secret_in_place",
            "load_config",
            "load_document",
            "load_dotenv_file",
            "load_or_default",
            "looks_like_bcrypt",
            "parse_duration",
            "read_env",
            "verify_secret",
            "from_validation",
            "normalize_excluded_models",
            "normalize_headers",
        ]
    )
    for name in config_pkg.__all__:
        assert hasattr(config_pkg, name)

from __future__ import annotations

import pytest

from cliproxy.config import ConfigDocument
from cliproxy.errors import ConfigError

SMALL = """\
# top comment
port: 8317  # listen here

# client keys
api-keys:
  - "a"   # first
  - b
# routing block
routing:
  strategy: "round-robin" # rr

# codex heading
codex:
  identity-confuse: false
"""


def test_unchanged_load_save_is_byte_identical(full_file, full_yaml):
    doc = ConfigDocument.load(full_file)
    doc.save()
    assert full_file.read_bytes() == full_yaml.encode("utf-8")


def test_render_of_full_fixture_is_identical(full_yaml):
    # Edits re-render the tree: it must reproduce the untouched parts exactly.
    assert ConfigDocument.from_text(full_yaml).render() == full_yaml


def test_edit_changes_only_the_edited_line(full_yaml):
    doc = ConfigDocument.from_text(full_yaml)
    doc.set("routing.strategy", "round-robin")
    before, after = full_yaml.splitlines(), doc.text().splitlines()
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert changed == [
        ('  strategy: "ff" # alias of fill-first', '  strategy: "round-robin" # alias of fill-first')
    ]
    assert doc.config.routing.strategy == "round-robin"


@pytest.mark.parametrize(
    "text",
    [
        "a: 1\r\nb:\r\n  - x\r\n# c\r\n",
        "---\nport: 1\n",
        "api-keys:\n- x\n- y\nrouting:\n    strategy: ff\n",
        "\ufeffport: 1\n",
        "",
        "# only a comment\n",
    ],
)
def test_other_styles_round_trip(tmp_path, text):
    path = tmp_path / "c.yaml"
    path.write_bytes(text.encode("utf-8"))
    ConfigDocument.load(path).save()
    assert path.read_bytes() == text.encode("utf-8")
    assert ConfigDocument.from_text(text).render() == text


def test_crlf_kept_on_edit():
    doc = ConfigDocument.from_text("port: 1\r\n# keep\r\ndebug: false\r\n")
    doc.set("debug", True)
    assert doc.text() == "port: 1\r\n# keep\r\ndebug: true\r\n"


def test_set_keeps_comments_and_quoting():
    doc = ConfigDocument.from_text(SMALL)
    doc.set("routing.strategy", "fill-first")
    doc.set("port", 9000)
    text = doc.text()
    assert '  strategy: "fill-first"  # rr\n' in text
    assert "port: 9000  # listen here\n" in text
    assert text.startswith("# top comment\n")
    assert doc.config.port == 9000


def test_set_new_keys_are_appended_before_following_comments():
    doc = ConfigDocument.from_text(SMALL)
    doc.set("api-keys[2]", "c")
    doc.set("routing.session-affinity", True)
    doc.set("remote-management.allow-remote", True)
    assert (
        doc.text()
        == SMALL.replace("  - b\n", "  - b\n  - c\n").replace("# rr\n", "# rr\n  session-affinity: true\n")
        + "remote-management:\n  allow-remote: true\n"
    )
    assert doc.config.api_keys == ["a", "b", "c"]
    assert doc.get("remote-management") == {"allow-remote": True}


def test_set_structured_value_and_list_paths():
    doc = ConfigDocument.from_text("claude-api-key:\n  - api-key: k1\n")
    doc.set("claude-api-key[0].models", [{"name": "n", "alias": "a"}])
    doc.set(["claude-api-key", 0, "headers"], {"X-A": "1"})
    assert doc.config.claude_api_key[0].models[0].alias == "a"
    assert doc.text() == (
        "claude-api-key:\n  - api-key: k1\n    models:\n      - name: n\n        alias: a\n"
        "    headers:\n      X-A: '1'\n"
    )


def test_set_into_empty_document():
    doc = ConfigDocument.from_text("")
    doc.set("routing.strategy", "wrr")
    assert doc.text() == "routing:\n  strategy: wrr\n"
    assert doc.config.routing.strategy == "weighted-round-robin"


def test_invalid_set_is_rejected_and_document_untouched():
    doc = ConfigDocument.from_text(SMALL)
    with pytest.raises(ConfigError) as info:
        doc.set("routing.session-affinity", "bogus")
    assert info.value.path == "routing.session-affinity"
    assert doc.text() == SMALL and not doc.modified


def test_delete_keeps_comments_of_following_keys():
    doc = ConfigDocument.from_text(SMALL)
    assert doc.delete("routing") is True
    assert doc.text() == SMALL.replace('# routing block\nrouting:\n  strategy: "round-robin" # rr\n', "")
    assert doc.delete("nope") is False
    assert doc.delete("api-keys[0]") is True
    assert doc.get("api-keys") == ["b"]
    assert "# codex heading\ncodex:" in doc.text()


def test_get_paths():
    doc = ConfigDocument.from_text(SMALL)
    assert doc.get("api-keys[1]") == "b"
    assert doc.get("api-keys.0") == "a"
    assert doc.get("routing.missing", "d") == "d"
    assert doc.get("routing") == {"strategy": "round-robin"}


def test_invalid_yaml_reports_line_and_column(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("port: 1\nrouting:\n  strategy: [a\n")
    with pytest.raises(ConfigError) as info:
        ConfigDocument.load(path)
    message = str(info.value)
    assert "invalid YAML at line 4, column 1" in message and "bad.yaml" in message


def test_duplicate_keys_are_invalid_yaml():
    with pytest.raises(ConfigError, match="line 2, column 1"):
        ConfigDocument.from_text("port: 1\nport: 2\n")


def test_top_level_must_be_mapping():
    with pytest.raises(ConfigError, match="mapping"):
        ConfigDocument.from_text("- a\n- b\n")


def test_save_is_atomic_and_keeps_mode(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("port: 1\n")
    path.chmod(0o600)
    doc = ConfigDocument.load(path)
    doc.set("port", 2)
    doc.save()
    assert path.read_text() == "port: 2\n"
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["config.yaml"]
    assert not doc.modified


def test_unknown_keys_survive_edit_and_save(full_file):
    doc = ConfigDocument.load(full_file)
    doc.set("debug", False)
    doc.save()
    again = ConfigDocument.load(full_file)
    assert again.config.model_extra["future-feature"] == {"enabled": "yes", "nested": [1, "two"]}
    assert "  enabled: yes\n" in full_file.read_text()

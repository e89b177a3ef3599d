"""Keys that are parsed but have no effect yet are named at start-up, and the table stays true."""

from __future__ import annotations

import ast
import asyncio
import functools
import logging
import typing
from pathlib import Path

import pytest
import yaml

from cliproxy.config import Config, load_config
from cliproxy.config._base import ConfigModel
from cliproxy.config.effective import NOT_EFFECTIVE, not_effective_keys, unknown_keys
from tests.e2e.conftest import matrix_config
from tests.logcheck import warnings_starting as _warnings

SRC = Path(__file__).resolve().parents[2] / "src" / "cliproxy"
DATA = Path(__file__).parent / "data"

# Sets every key of NOT_EFFECTIVE (in table order). A row added to the table must be added
# here too: the test compares the warning with the whole table.
EVERY_PENDING_KEY = """
pprof:
  enable: true
  addr: 127.0.0.1:9999
plugins:
  store-sources: [https://example.com/plugins.json]
  store-auth: [{host: example.com, token: t}]
  auth-revision: 3
credential-concurrency:
  max-limit: 10
credential-in-flight:
  snapshot-interval: 2s
disable-image-generation: chat
gpt-image-2-base-model: gpt-5.4
auth-auto-refresh-workers: 4
quota-exceeded:
  switch-project: true
  switch-preview-model: true
  antigravity-credits: true
codex:
  stream-bootstrap-buffering: true
  optimize-multi-agent-v2: true
  live-media-relay:
    enabled: false
nonstream-keepalive-interval: 5
streaming:
  keepalive-seconds: 15
  bootstrap-retries: 2
antigravity-signature-cache-enabled: false
antigravity-signature-bypass-strict: true
gemini-api-key:
  - api-key: g1
    models: [{name: gemini-2.5-pro, alias: g, is-compat: true}]
interactions-api-key:
  - api-key: i1
    models: [{name: gemini-2.5-pro, alias: i, is-compat: true}]
codex-api-key:
  - api-key: c1
    base-url: https://codex.example.com
    websockets: true
    alpha-search: true
    models: [{name: gpt-5.4, alias: c, is-compat: true}]
xai-api-key:
  - api-key: x1
    base-url: https://xai.example.com
    websockets: true
    alpha-search: true
    models: [{name: grok-4, alias: x, is-compat: true}]
claude-api-key:
  - api-key: a1
    models: [{name: claude-sonnet-4-6, alias: a, is-compat: true}]
    rebuild-mid-system-message: true
vertex-api-key:
  - api-key: v1
    base-url: https://vertex.example.com
    models: [{name: gemini-2.5-pro, alias: v, is-compat: true}]
openai-compatibility:
  - name: compat
    base-url: https://compat.example.com/v1
    support-prompt-cache-key: true
    api-key-entries: [{api-key: o1}]
    models: [{name: m, alias: o, is-compat: true}]
codex-header-defaults:
  beta-features: x
"""

WARNING = "config keys set but not implemented in cliproxy yet (they have no effect): "
UNKNOWN = "unknown config keys (kept in the file, ignored): "


# -- (a) a config that sets every key of the table: one warning names them all


async def test_every_pending_key_is_named_in_one_warning(start_proxy, caplog):
    caplog.set_level(logging.INFO, "cliproxy")
    await start_proxy(EVERY_PENDING_KEY)
    lines = _warnings(caplog, WARNING)
    assert len(lines) == 1, lines
    named = lines[0].removeprefix(WARNING).split(", ")
    assert named == [row.path for row in NOT_EFFECTIVE]
    assert not _warnings(caplog, UNKNOWN)


async def test_a_reload_warns_again_only_when_the_set_changes(start_proxy, caplog):
    caplog.set_level(logging.INFO, "cliproxy")
    proxy = await start_proxy("api-keys: [k]\ncredential-in-flight: {stale-after: 10s}\n", watch=True)
    assert _warnings(caplog, WARNING) == [WARNING + "credential-in-flight"]

    async def reload(text: str) -> None:
        count = proxy.service.reloads
        proxy.config_path.write_text(f"auth-dir: {proxy.service.auth_dir}\n" + text)
        for _ in range(200):
            if proxy.service.reloads > count:
                return
            await asyncio.sleep(0.02)
        raise AssertionError("no reload")

    caplog.clear()
    await reload("api-keys: [k2]\ncredential-in-flight: {stale-after: 10s}\n")  # same set: no second warning
    assert not _warnings(caplog, WARNING)
    await reload(
        "api-keys: [k2]\ncredential-in-flight: {stale-after: 10s}\npprof:\n  enable: true\nbogus-key: 1\n"
    )
    assert _warnings(caplog, WARNING) == [WARNING + "pprof.enable, credential-in-flight"]  # table order
    assert _warnings(caplog, UNKNOWN) == [UNKNOWN + "bogus-key"]


# -- (c) only effective keys: no such warning


async def test_only_effective_keys_log_no_warning(start_proxy, fakes, caplog):
    caplog.set_level(logging.INFO, "cliproxy")
    extra = """
routing:
  strategy: fill-first
  session-affinity: true
  session-affinity-ttl: 30m
timeouts:
  upstream-connect: 5s
limits:
  max-body-mb: 8
request-retry: 2
disable-cooling: true
debug: false
remote-management:
  allow-remote: false
claude-code:
  disable-cloaking-model-list: true
oauth-excluded-models:
  claude: [claude-3-*]
payload:
  default:
    - models: [{name: "*"}]
      params: {temperature: 0.5}
"""
    await start_proxy(matrix_config(fakes, extra))
    assert not _warnings(caplog, WARNING)
    assert not _warnings(caplog, UNKNOWN)


def test_null_and_absent_keys_are_not_set():
    config = Config.model_validate({"ws-auth": None, "streaming": {"keepalive-seconds": None}, "tls": {}})
    assert not_effective_keys(config) == []


def test_unknown_keys_are_named_with_their_path_but_plugin_settings_are_not():
    config = Config.model_validate(
        {
            "future-feature": 1,
            "routing": {"strategy": "rr", "zigzag": True},
            "claude-api-key": [{"api-key": "a"}, {"api-key": "b", "colour": "red"}],
            "plugins": {"configs": {"p": {"enabled": True, "own-setting": 1}}},
        }
    )
    assert unknown_keys(config) == ["future-feature", "routing.zigzag", "claude-api-key[1].colour"]


def test_every_key_of_a_full_cpa_config_is_known():
    # the fixture holds every CPA key (config.example.yaml and the Go structs), plus two
    # keys no version of CPA has
    config = load_config(DATA / "cpa-full.yaml")
    assert unknown_keys(config) == ["x-shared-headers", "future-feature"]


# -- (b) the table is true: nothing outside cliproxy.config reads a key it names

# Rows read outside config/ that still change nothing: they are copied into a credential's
# attributes, which plugins and the management API show. ``attribute`` -> (the files that
# may read it, the credential attribute it is copied to, the files that may read that).
COPIED_ONLY: dict[str, tuple[str, set[str]]] = {}
# Rows whose field the config model forces off on load, whatever the YAML says (code that
# reads the field, for another section that shares it, always reads it off here).
FORCED_OFF = {
    "xai-api-key[].alpha-search": "xai-api-key:\n  - {api-key: x, base-url: https://x.example, alpha-search: true}\n"
}
_SHOWN_BY = ("management/",)  # the management API lists attributes as they are


@functools.cache
def _reads() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Outside config/: attribute names read (``x.name`` and ``getattr(x, "name")``), and
    string constants, each with the files they occur in."""
    attrs: dict[str, set[str]] = {}
    strings: dict[str, set[str]] = {}
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC).as_posix()
        if rel.startswith("config/"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
                attrs.setdefault(node.attr, set()).add(rel)
            elif (name := _getattr_name(node)) is not None:
                attrs.setdefault(name, set()).add(rel)
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                strings.setdefault(node.value, set()).add(rel)
    return attrs, strings


def _getattr_name(node: ast.AST) -> str | None:
    """``"name"`` of ``getattr(x, "name", ...)``."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr"):
        return None
    if len(node.args) >= 2 and isinstance(node.args[1], ast.Constant):
        return str(node.args[1].value)
    return None


def _field_of(model: type[ConfigModel], yaml_name: str) -> tuple[str, type[ConfigModel] | None]:
    for name, field in model.model_fields.items():
        if (field.alias or name) == yaml_name:
            return name, _model_in(field.annotation)
    raise AssertionError(f"{model.__name__} has no key {yaml_name!r}")


def _model_in(annotation: object) -> type[ConfigModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, ConfigModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


@pytest.mark.parametrize("row", NOT_EFFECTIVE, ids=[row.path for row in NOT_EFFECTIVE])
def test_no_code_outside_config_reads_a_pending_key(row):
    # the path exists in the model, and ``attr`` is one of its fields (the key or a section)
    model: type[ConfigModel] | None = Config
    names = []
    for segment in row.path.split("."):
        assert model is not None, row.path
        name, model = _field_of(model, segment.removesuffix("[]"))
        names.append(name)
    assert row.attr in names, f"{row.attr} is not on the path {row.path}"

    if row.path in FORCED_OFF:  # codex-api-key[].alpha-search acts; xAI's is cleared (CPA)
        loaded = Config.model_validate(yaml.safe_load(FORCED_OFF[row.path]))
        assert getattr(loaded.xai_api_key[0], row.attr) is False
        return
    attrs, strings = _reads()
    readers = attrs.get(row.attr, set())
    if row.attr not in COPIED_ONLY:
        assert not readers, f"{row.path} is read in {sorted(readers)}: remove it from NOT_EFFECTIVE"
        return
    copied_to, allowed = COPIED_ONLY[row.attr]
    assert readers <= allowed, f"{row.path} is read in {sorted(readers - allowed)}: is it effective now?"
    users = {f for f in strings.get(copied_to, set()) if f not in allowed and not f.startswith(_SHOWN_BY)}
    users |= {f for f in attrs.get(copied_to, set()) if f not in allowed and not f.startswith(_SHOWN_BY)}
    assert not users, f"credential attribute {copied_to!r} ({row.path}) is used in {sorted(users)}"


def test_the_warning_names_keys_the_proxy_does_act_on_never():
    # tls is served now (tests/server/test_tls.py): it must not be called "not implemented"
    assert not any(row.path.startswith("tls") for row in NOT_EFFECTIVE)

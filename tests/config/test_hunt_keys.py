"""Config files CPA loads load here too, and what they set acts (or is named at start).

CPA decodes config.yaml with yaml.v3 into typed Go structs: a scalar where a string goes
is read as its text (``true`` -> "true"), a fraction where an integer goes as its whole
part, a null list item or map value as the empty value, and an unknown
``routing.strategy`` runs round-robin (sdk/cliproxy/service_config.go). Each test starts a
proxy from such a file and shows the value acting through it.
"""

from __future__ import annotations

import logging
from typing import Any

import openai
import pytest

from cliproxy.config import Config, load_or_default
from tests.e2e.clients import KEY
from tests.logcheck import warnings_starting as _warnings

MODEL = "compat-model"


def _compat(fakes: Any, extra: str = "", entry: str = "", keys: str = '[{api-key: "sk-1"}]') -> str:
    return f"""
api-keys: ["{KEY}"]
openai-compatibility:
  - name: up
    base-url: "{fakes.openai.base_url}/v1"
    api-key-entries: {keys}
    models: [{{name: "gpt-4o-mini", alias: "{MODEL}"}}]
{entry}{extra}"""


async def _ask(proxy: Any, model: str = MODEL) -> None:
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        await client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])


async def test_a_boolean_header_value_is_sent_as_its_text(start_proxy, fakes):
    # ``headers: {X-Flag: true}`` (unquoted, as Anthropic's own
    # anthropic-dangerous-direct-browser-access: true is often written) stopped the proxy
    # from starting: "Input should be a valid string"; CPA sends "true"
    entry = "    headers: {X-Flag: true, X-Off: false, X-Num: 12}\n"
    proxy = await start_proxy(_compat(fakes, entry=entry))
    await _ask(proxy)
    sent = fakes.openai.last.headers
    assert (sent["X-Flag"], sent["X-Off"], sent["X-Num"]) == ("true", "false", "12")


async def test_a_null_under_a_provider_map_is_an_empty_list(start_proxy, fakes):
    # the example config's commented blocks, uncommented down to the provider only:
    #   oauth-excluded-models:
    #     vertex:
    #   #   - "gemini-3-pro-preview"
    extra = "oauth-excluded-models:\n  vertex:\n  claude: [claude-3-*]\noauth-model-alias:\n  vertex:\n"
    proxy = await start_proxy(_compat(fakes, extra))
    config = proxy.service.config
    assert config.oauth_excluded_models == {"claude": ["claude-3-*"]}
    assert config.oauth_model_alias == {}
    await _ask(proxy)


async def test_a_null_list_item_is_skipped(start_proxy, fakes):
    # ``- `` with nothing after it (an entry emptied by hand): CPA decodes a zero entry,
    # which its sanitizer drops
    extra = "gemini-api-key:\n  -\n  - api-key: g1\n    base-url: http://127.0.0.1:9\n"
    proxy = await start_proxy(_compat(fakes, extra))
    assert [k.api_key for k in proxy.service.config.gemini_api_key] == ["g1"]
    await _ask(proxy)


async def test_a_fraction_where_a_whole_number_goes_is_its_whole_part(start_proxy, fakes):
    # yaml.v3 converts 1.9 to 1 for an int field (toward zero); the config did not load
    extra = "max-retry-credentials: 1.9\nstreaming:\n  keepalive-seconds: 2.5\n"
    keys = '[{api-key: "sk-1"}, {api-key: "sk-2"}]'
    proxy = await start_proxy(_compat(fakes, extra, keys=keys))
    config = proxy.service.config
    assert (config.max_retry_credentials, config.streaming.keepalive_seconds) == (1, 2)
    # one credential only: its 500 goes to the client, the other key is not tried
    fakes.openai.fail_next(500)
    with pytest.raises(openai.InternalServerError):
        await _ask(proxy)
    assert len([r for r in fakes.openai.requests if r.path.endswith("/chat/completions")]) == 1


def test_weight_still_takes_integers_only():
    # CPA's own check (validateCredentialWeightYAML) refuses 2.5: the rule above leaves it alone
    with pytest.raises(ValueError, match="must be an integer"):
        Config.model_validate({"claude-api-key": [{"api-key": "a", "weight": 2.5}]})


async def test_an_unknown_strategy_runs_round_robin_and_is_named(start_proxy, fakes, caplog):
    # CPA: normalizedRoutingRuntimeState keeps round-robin for a strategy it does not know;
    # the proxy refused to start ("must be one of round-robin, ...")
    caplog.set_level(logging.INFO, "cliproxy")
    keys = '[{api-key: "sk-1"}, {api-key: "sk-2"}]'
    proxy = await start_proxy(_compat(fakes, "routing:\n  strategy: least-busy\n", keys=keys))
    assert proxy.service.config.routing.strategy == "round-robin"
    for _ in range(4):
        await _ask(proxy)
    used = [r.key for r in fakes.openai.requests if r.path.endswith("/chat/completions")]
    assert sorted(used) == ["sk-1", "sk-1", "sk-2", "sk-2"] and used[0] != used[1]
    assert _warnings(caplog, "config values not understood") == [
        "config values not understood (as in CPA, the default runs instead): "
        "routing.strategy: 'least-busy' (round-robin is used)"
    ]


async def test_a_known_strategy_spelling_is_not_named(start_proxy, fakes, caplog):
    caplog.set_level(logging.INFO, "cliproxy")
    keys = '[{api-key: "sk-1"}, {api-key: "sk-2"}]'
    proxy = await start_proxy(_compat(fakes, "routing:\n  strategy: FF\n", keys=keys))
    for _ in range(3):
        await _ask(proxy)
    used = {r.key for r in fakes.openai.requests if r.path.endswith("/chat/completions")}
    assert len(used) == 1  # fill-first
    assert not _warnings(caplog, "config values not understood")


async def test_vertex_request_scoped_errors_act(start_proxy, fakes):
    # cliproxy: the config model gives vertex-api-key the request-scoped-errors of every other
    # key list, and read them nowhere (CPA's vertex entry has no such key at all): a rule
    # written there changed nothing. ``continue`` on the first key's 400 goes to the second.
    base = fakes.gemini.base_url
    rule = "[{status: 400, match: [vertex_marker], action: continue}]"
    text = f"""
api-keys: ["{KEY}"]
vertex-api-key:
  - api-key: "vk-a"
    base-url: "{base}"
    priority: 10
    request-scoped-errors: {rule}
    models: [{{name: "gemini-2.5-flash", alias: "vx"}}]
  - api-key: "vk-b"
    base-url: "{base}"
    models: [{{name: "gemini-2.5-flash", alias: "vx"}}]
"""
    proxy = await start_proxy(text)
    body = {"error": {"code": 400, "message": "vertex_marker here", "status": "INVALID_ARGUMENT"}}
    fakes.gemini.fail_key("vk-a", 400, body=body)
    await _ask(proxy, "vx")
    assert [r.key for r in fakes.gemini.requests if ":generateContent" in r.path] == ["vk-a", "vk-b"]


async def test_a_reload_says_auth_auto_refresh_workers_needs_a_restart(start_proxy, caplog):
    # the refresher's pool is sized when it starts (CPA: StartAutoRefresh, once): a reload
    # that changed the key left it as it was without a word
    proxy = await start_proxy("api-keys: [k]\nauth-auto-refresh-workers: 4\n")
    assert proxy.service.refresher.workers == 4
    proxy.config_path.write_text(proxy.config_path.read_text().replace("workers: 4", "workers: 9"))
    config, _ = load_or_default(proxy.config_path)
    with caplog.at_level(logging.WARNING, logger="cliproxy"):
        proxy.service.apply(config)
    assert proxy.service.config.auth_auto_refresh_workers == 9
    assert proxy.service.refresher.workers == 4
    warned = [r.getMessage() for r in caplog.records if "after a restart" in r.getMessage()]
    assert warned == ["auth-auto-refresh-workers changed in the config; that takes effect after a restart"]

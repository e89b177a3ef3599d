"""/v0/management config endpoints: /config, /config.yaml, /latest-version and the switches."""

from __future__ import annotations

import asyncio
import logging
import re

import pytest

from tests.management.conftest import mcall

COMMENTED = """\
# my proxy config
port: 8317  # the listen port
remote-management:
  allow-remote: false
api-keys:
  - "client-1"  # first client
# retries
request-retry: 1
routing:
  strategy: round-robin  # pick in turn
"""


async def test_get_config_uses_cpa_names_and_hides_private_keys(mproxy):
    proxy = await mproxy(
        COMMENTED + "debug: true\ncodex:\n  live-media-relay:\n    ice-servers:\n"
        "      - urls: [turn:x]\n        username: u\n        credential: c\n"
    )
    status, body = await mcall(proxy, "GET", "/config")
    assert status == 200
    assert body["debug"] is True and body["api-keys"] == ["client-1"] and body["request-retry"] == 1
    assert body["routing"]["strategy"] == "round-robin" and body["ws-auth"] is True
    for hidden in ("host", "port", "auth-dir", "remote-management", "home"):
        assert hidden not in body
    assert body["codex"]["live-media-relay"]["ice-servers"] == [{"urls": ["turn:x"]}]


async def test_get_config_yaml_is_the_raw_file(mproxy):
    proxy = await mproxy(COMMENTED)
    status, text = await mcall(proxy, "GET", "/config.yaml")
    assert status == 200 and text == proxy.config_path.read_text()
    assert "# first client" in text
    import aiohttp

    async with (
        aiohttp.ClientSession() as s,
        s.get(proxy.url + "/v0/management/config.yaml", headers={"X-Management-Key": "m-test-secret"}) as r,
    ):
        assert r.headers["Content-Type"] == "application/yaml; charset=utf-8"
        assert r.headers["Cache-Control"] == "no-store"


async def test_get_config_yaml_missing_file(mproxy):
    proxy = await mproxy(COMMENTED)
    proxy.config_path.unlink()
    assert await mcall(proxy, "GET", "/config.yaml") == (
        404,
        {"error": "not_found", "message": "config file not found"},
    )


async def test_put_config_yaml_replaces_file_and_applies_live(mproxy):
    proxy = await mproxy(COMMENTED)
    new = proxy.config_path.read_text().replace('"client-1"  # first client', '"client-2"  # swapped')
    new += "# tail comment\n"
    status, body = await mcall(proxy, "PUT", "/config.yaml", data=new.encode())
    assert (status, body) == (200, {"ok": True, "changed": ["config"]})
    assert proxy.config_path.read_text() == new  # byte for byte, comments included
    assert proxy.service.config.api_keys == ["client-2"]
    assert proxy.service.access.keys and "client-2" in proxy.service.access.keys


@pytest.mark.parametrize(
    ("text", "want", "code", "fragment"),
    [
        ("routing:\n  session-affinity: sideways\n", 422, "invalid_config", "routing.session-affinity"),
        (
            "claude-api-key:\n  - api-key: k\n    weight: 2000000\n",
            422,
            "invalid_config",
            "claude-api-key[0].weight",
        ),
        ("port: [1, 2\n", 400, "invalid_yaml", "line"),
    ],
)
async def test_put_config_yaml_rejects_bad_file_untouched(mproxy, text, want, code, fragment):
    """CPA's PutConfigYAML: YAML that does not parse is 400 ``invalid_yaml``; a parsed
    config its loader refuses (a weight out of range...) is 422 ``invalid_config``. Before,
    both were 400. The file and the running config stay as they were."""
    proxy = await mproxy(COMMENTED)
    before = proxy.config_path.read_bytes()
    status, body = await mcall(proxy, "PUT", "/config.yaml", data=text.encode())
    assert status == want and body["error"] == code and fragment in body["message"]
    assert proxy.config_path.read_bytes() == before
    assert proxy.service.config.api_keys == ["client-1"]


async def test_put_config_yaml_hashes_a_plain_secret(mproxy):
    proxy = await mproxy(COMMENTED)
    text = "remote-management:\n  secret-key: plain-secret\n"
    assert (await mcall(proxy, "PUT", "/config.yaml", data=text.encode()))[0] == 200
    stored = proxy.service.config.remote_management.secret_key
    assert stored.startswith("$2") and "plain-secret" not in proxy.config_path.read_text()


async def test_latest_version_answers_cpa_failure_shape(mproxy, monkeypatch):
    monkeypatch.setenv("CLIPROXY_PACKAGE_INDEX", "http://127.0.0.1:9/pypi/cliproxy/json")  # offline
    proxy = await mproxy("")
    status, body = await mcall(proxy, "GET", "/latest-version")
    assert status == 502 and body["error"] == "request_failed" and "could not be reached" in body["message"]


SWITCHES = [
    ("/debug", "debug", True, True),
    ("/logging-to-file", "logging-to-file", True, True),
    ("/usage-statistics-enabled", "usage-statistics-enabled", True, True),
    ("/request-log", "request-log", True, True),
    ("/ws-auth", "ws-auth", False, False),
    ("/force-model-prefix", "force-model-prefix", True, True),
    ("/quota-exceeded/switch-project", "switch-project", True, True),
    ("/quota-exceeded/switch-preview-model", "switch-preview-model", True, True),
    ("/request-retry", "request-retry", 3, 3),
    ("/max-retry-credentials", "max-retry-credentials", 2, 2),
    ("/max-retry-interval", "max-retry-interval", 30, 30),
    ("/logs-max-total-size-mb", "logs-max-total-size-mb", -5, 0),
    ("/error-logs-max-files", "error-logs-max-files", -1, 10),
    ("/proxy-url", "proxy-url", "socks5://127.0.0.1:1080", "socks5://127.0.0.1:1080"),
    ("/routing/strategy", "strategy", "FF", "fill-first"),
]


@pytest.mark.parametrize(("path", "key", "sent", "stored"), SWITCHES)
async def test_scalar_put_patch_get(mproxy, path, key, sent, stored):
    proxy = await mproxy(COMMENTED)
    status, body = await mcall(proxy, "GET", path)
    assert status == 200 and set(body) == {key}
    assert await mcall(proxy, "PUT", path, {"value": sent}) == (200, {"status": "ok"})
    assert await mcall(proxy, "GET", path) == (200, {key: stored})
    assert await mcall(proxy, "PATCH", path, {"value": sent}) == (200, {"status": "ok"})
    text = proxy.config_path.read_text()
    assert "# first client" in text and "# the listen port" in text  # comments survive
    bad = "yes" if not isinstance(sent, str) else 5
    assert await mcall(proxy, "PUT", path, {"value": bad}) == (400, {"error": "invalid body"})
    assert await mcall(proxy, "PUT", path, {}) == (400, {"error": "invalid body"})


async def test_routing_strategy_rejects_unknown(mproxy):
    proxy = await mproxy("")
    assert await mcall(proxy, "PUT", "/routing/strategy", {"value": "random"}) == (
        400,
        {"error": "invalid strategy"},
    )


async def test_proxy_url_delete(mproxy):
    proxy = await mproxy("proxy-url: http://127.0.0.1:3128  # corporate\ndebug: false\n")
    assert await mcall(proxy, "DELETE", "/proxy-url") == (200, {"status": "ok"})
    assert await mcall(proxy, "GET", "/proxy-url") == (200, {"proxy-url": ""})
    assert "proxy-url" not in proxy.config_path.read_text()
    assert proxy.service.refresher is None or proxy.service.refresher.global_proxy == ""


async def test_debug_toggle_is_live(mproxy):
    proxy = await mproxy("debug: false\n")
    log = logging.getLogger("cliproxy")
    level = log.level
    try:
        await mcall(proxy, "PUT", "/debug", {"value": True})
        assert proxy.service.config.debug is True and log.level == logging.DEBUG
        await mcall(proxy, "PUT", "/debug", {"value": False})
        assert log.level == logging.INFO
    finally:
        log.setLevel(level)


async def test_request_retry_reaches_the_pipeline(mproxy):
    proxy = await mproxy("")
    await mcall(proxy, "PUT", "/request-retry", {"value": 4})
    assert proxy.service.pipeline.config.request_retry == 4


async def test_comments_and_key_order_survive_writes(mproxy):
    proxy = await mproxy(COMMENTED)
    await mcall(proxy, "PUT", "/request-retry", {"value": 5})
    await mcall(proxy, "PUT", "/routing/strategy", {"value": "fill-first"})
    await mcall(proxy, "PUT", "/debug", {"value": True})
    expected = COMMENTED.replace("request-retry: 1", "request-retry: 5").replace(
        "strategy: round-robin  # pick in turn", "strategy: fill-first  # pick in turn"
    )
    text = proxy.config_path.read_text().split("\n", 1)[1]  # below the fixture's auth-dir line
    assert re.sub(r" +#", " #", text) == re.sub(r" +#", " #", expected) + "debug: true\n"


async def test_concurrent_scalar_writers_lose_nothing(mproxy):
    proxy = await mproxy(COMMENTED)
    writes = [
        ("/request-retry", 7),
        ("/max-retry-credentials", 3),
        ("/max-retry-interval", 9),
        ("/debug", True),
        ("/ws-auth", False),
        ("/request-log", True),
        ("/force-model-prefix", True),
        ("/logging-to-file", True),
        ("/usage-statistics-enabled", True),
        ("/logs-max-total-size-mb", 100),
        ("/error-logs-max-files", 4),
        ("/proxy-url", "http://127.0.0.1:9"),
        ("/routing/strategy", "fill-first"),
        ("/quota-exceeded/switch-project", True),
        ("/quota-exceeded/switch-preview-model", True),
    ]
    try:
        results = await asyncio.gather(*(mcall(proxy, "PUT", p, {"value": v}) for p, v in writes))
    finally:
        logging.getLogger("cliproxy").setLevel(logging.INFO)
    assert all(r == (200, {"status": "ok"}) for r in results)
    cfg = proxy.service.config
    assert (cfg.request_retry, cfg.max_retry_credentials, cfg.max_retry_interval) == (7, 3, 9)
    assert (
        cfg.debug and not cfg.ws_auth and cfg.request_log and cfg.force_model_prefix and cfg.logging_to_file
    )
    assert (
        cfg.usage_statistics_enabled and cfg.logs_max_total_size_mb == 100 and cfg.error_logs_max_files == 4
    )
    assert cfg.proxy_url == "http://127.0.0.1:9" and cfg.routing.strategy == "fill-first"
    assert cfg.quota_exceeded.switch_project and cfg.quota_exceeded.switch_preview_model
    assert "# first client" in proxy.config_path.read_text()


async def test_management_needs_the_key(mproxy):
    proxy = await mproxy("")
    status, body = await mcall(proxy, "GET", "/config", headers={"Authorization": "Bearer wrong"})
    assert status == 401 and "error" in body


async def test_get_config_leaves_out_empty_key_fields(mproxy):
    proxy = await mproxy("claude-api-key:\n  - api-key: sk-a\n    weight: 0\n")
    _, body = await mcall(proxy, "GET", "/config")
    [entry] = body["claude-api-key"]
    assert entry["api-key"] == "sk-a" and entry["weight"] == 0 and entry["base-url"] == ""
    assert "prefix" not in entry and "disable-cooling" not in entry and "cloak" not in entry

"""The reload change list through a running proxy: config.yaml rewritten, the log read back."""

from __future__ import annotations

import asyncio
import logging

import pytest

OLD = """\
api-keys: [sk-client-old-secret]
remote-management:
  secret-key: mgmt-old-secret
state:
  url: redis://:redis-old-pass@127.0.0.1:6379/0
gemini-api-key:
  - api-key: AIza-old-secret
    base-url: http://127.0.0.1:9/v1beta?key=url-old-secret
    proxy-url: http://puser:proxy-old-pass@127.0.0.1:3128
    headers: {X-Goog-Api-Key: header-old-secret}
"""

NEW = """\
# reloaded
api-keys: [sk-client-new-secret]
request-retry: 2
remote-management:
  secret-key: mgmt-new-secret
state:
  url: redis://:redis-new-pass@127.0.0.1:6380/0
routing:
  explain-keys: [sk-explain-new-secret]
gemini-api-key:
  - api-key: AIza-new-secret
    base-url: http://127.0.0.1:9/v1beta?key=url-new-secret
    proxy-url: http://puser:proxy-new-pass@127.0.0.1:3129
    headers: {X-Goog-Api-Key: header-new-secret}
"""

SECRETS = ("-secret", "-pass", "puser", "$2a$", "$2b$", "$2y$")


async def _reloaded(proxy, before: int, timeout: float = 15.0) -> None:
    async with asyncio.timeout(timeout):
        while proxy.service.reloads == before:
            await asyncio.sleep(0.02)


async def test_a_reload_logs_each_change_and_no_secret(start_proxy, caplog: pytest.LogCaptureFixture) -> None:
    """CPA's watcher logs ``config changes detected:`` and then one INFO line per change
    (``internal/watcher/config_reload.go``, the lines of ``BuildConfigChangeDetails``). A
    rewrite of config.yaml that changes keys, proxy passwords, header values, the
    management key (stored hashed) and a Redis URL's password logs every change by its
    YAML name, and no secret (nor the management key's hash) appears in any log line.
    A rewrite that changes nothing but a comment logs no change list.
    CPA: TestReloadClientsLogsConfigDiffs."""
    caplog.set_level(logging.INFO, logger="cliproxy")
    proxy = await start_proxy(OLD, watch=True)
    caplog.clear()

    before = proxy.service.reloads
    proxy.config_path.write_text(proxy.config_path.read_text().split("\n", 1)[0] + "\n" + NEW)
    await _reloaded(proxy, before)

    messages = [r.getMessage() for r in caplog.records]
    heading = messages.index("config changes detected:")
    record = caplog.records[heading]
    assert record.levelno == logging.INFO
    lines = []
    for message in messages[heading + 1 :]:
        if not message.startswith("  "):
            break
        lines.append(message[2:])
    assert sorted(lines) == sorted(
        [
            "remote-management.secret-key: updated",
            "api-keys: values updated (count unchanged, redacted)",
            "state.url: redis://127.0.0.1:6379 -> redis://127.0.0.1:6380",
            "request-retry: 0 -> 2",
            "routing.explain-keys count: 0 -> 1",
            "gemini[0].api-key: updated",
            "gemini[0].proxy-url: http://127.0.0.1:3128 -> http://127.0.0.1:3129",
            "gemini[0].headers: updated",
            "gemini[0].base-url: updated (http://127.0.0.1:9, details redacted)",
        ]
    )
    leaked = [m for m in messages if any(s in m for s in SECRETS)]
    assert not leaked

    caplog.clear()
    before = proxy.service.reloads
    proxy.config_path.write_text(proxy.config_path.read_text().replace("# reloaded", "# reloaded again"))
    await _reloaded(proxy, before)
    assert "config changes detected:" not in [r.getMessage() for r in caplog.records]

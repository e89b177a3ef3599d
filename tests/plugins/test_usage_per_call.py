"""A usage plugin gets one record per upstream call, as CPA's executors publish them: a
request that failed over from one key to another makes two records, the failed call's
(its key, status, error body, the answer's headers) and the answer's (its tokens)."""

from __future__ import annotations

import asyncio
import sys

import anthropic

from tests.e2e.clients import KEY
from tests.plugins.plugin_dir import plugins_yaml, write_python

COLLECT = """
from cliproxy.plugins.api import Plugin, UsagePlugin, UsageRecord

class Collect(Plugin, UsagePlugin):
    name = "collect"; version = "1.0.0"; author = "t"; github_repository = "https://example.com/c"
    records: list[UsageRecord] = []

    async def handle_usage(self, record: UsageRecord) -> None:
        self.records.append(record)

plugin = Collect()
"""


async def test_a_failover_makes_a_record_per_upstream_call(start_proxy, tmp_path, fake_claude):
    pdir = write_python(tmp_path, {"collect": COLLECT})
    keys = "".join(f'  - api-key: "{k}"\n    base-url: "{fake_claude.base_url}"\n' for k in ("sk-a", "sk-b"))
    proxy = await start_proxy(
        f'api-keys: ["{KEY}"]\nclaude-api-key:\n{keys}' + plugins_yaml(pdir, {"collect": {}})
    )
    fake_claude.fail_next(529, headers={"x-should-retry": "true"})
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        reply = await client.messages.create(
            model="claude-sonnet-4-6", max_tokens=8, messages=[{"role": "user", "content": "hi"}]
        )
    plugin = next(m for n, m in sys.modules.items() if n.startswith("cliproxy_plugin_collect")).plugin
    for _ in range(200):  # usage plugins run in the background, after the answer
        if len(plugin.records) >= 2:
            break
        await asyncio.sleep(0.01)
    failed, answered = plugin.records
    first, second = (r.key for r in fake_claude.requests)
    creds = {c.api_key: c for c in proxy.service.pool.credentials()}
    assert (failed.auth_index, failed.failed, failed.failure.status_code) == (creds[first].index, True, 529)
    assert "overloaded" in failed.failure.body and failed.response_headers.get("X-Should-Retry") == ["true"]
    assert failed.detail.input_tokens == 0 and failed.provider == "claude"
    assert (answered.auth_index, answered.failed) == (creds[second].index, False)
    assert answered.detail.output_tokens == reply.usage.output_tokens > 0

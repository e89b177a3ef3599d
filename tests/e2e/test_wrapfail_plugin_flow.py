"""What the usage ledger says of a stream that failed after its first byte, through a
running proxy with a plugin loaded: the row must say failed, with the error's status, as it
does with no plugin (CPA publishes a failed stream's record as a failure).

Found broken: with any plugin loaded the plugin flow wraps every stream (its lifecycle and
usage records go out at the stream's end; a stream-chunk interceptor sees each chunk), and
that wrapper hid the stream's failure from the request's record: a Codex ``response.failed``
mid-answer was recorded as a 200 success. The plugins' own records said so too: the
lifecycle's outcome ``succeeded`` with status 200, the usage record not failed (CPA's stream
handler completes a stream whose executor sent an error as failed, with that error's status)."""

from __future__ import annotations

import sys
from typing import Any

import openai
import pytest

from tests.e2e.clients import KEY
from tests.e2e.test_codexws_usage_rows import _config, _rows, _rows_after
from tests.fakes.server import Behavior
from tests.plugins.plugin_dir import plugins_yaml, write_python

# a response.failed after the answer's output began (before it, the request fails over instead)
FAILED_LATE = Behavior(stream_error="server_error", error_after=6)

WATCH = """
from cliproxy.plugins.api import *
class Watch(Plugin, RequestLifecycle, UsagePlugin{chunks}):
    name = "{name}"; version = "1"; author = "t"; github_repository = "https://example.com/w"
    completions = []
    usage = []
    async def complete(self, done):
        Watch.completions.append((done.outcome, done.status_code))
    async def handle_usage(self, rec):
        Watch.usage.append((rec.failed, rec.failure.status_code if rec.failed else 0))
{intercept}
plugin = Watch()
"""
INTERCEPT = """
    async def intercept_chunk(self, req):
        return None  # every chunk as it is
"""


def _watch(tmp_path: Any, name: str, intercept: bool) -> str:
    source = WATCH.format(
        name=name,
        chunks=", StreamChunkInterceptor" if intercept else "",
        intercept=INTERCEPT if intercept else "",
    )
    return plugins_yaml(write_python(tmp_path, {name: source}), {name: {}})


def _plugin(name: str) -> Any:
    return next(m for n, m in sys.modules.items() if n.endswith(name) and hasattr(m, "Watch")).Watch


@pytest.mark.parametrize("intercept", [False, True], ids=["lifecycle-plugin", "chunk-interceptor"])
async def test_a_stream_that_fails_late_is_a_failed_request_with_a_plugin_loaded(
    start_proxy, fakes, tmp_path, intercept
):
    """The openai SDK streaming ``POST /v1/responses`` from a Codex key whose answer ends in
    ``response.failed`` after its output began: the client gets the failure and the row says
    502, failed (before: 200, success), whether the plugin only watches (lifecycle, usage) or
    also intercepts the chunks; the plugin's lifecycle and usage records say failed, 502."""
    name = f"watch_{'chunks' if intercept else 'life'}"
    proxy = await start_proxy(_config(fakes, tmp_path) + _watch(tmp_path, name, intercept))
    fakes.responses.script(FAILED_LATE)
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        kinds = [
            e.type async for e in await client.responses.create(model="codex-model", input="x", stream=True)
        ]
    assert kinds[-1] == "response.failed"
    assert "response.output_text.delta" in kinds  # (it failed late)
    assert await _rows_after(proxy, 1) == [(502, 1)]
    watch = _plugin(name)
    assert watch.completions == [("failed", 502)]
    assert watch.usage == [(True, 502)]


async def test_a_stream_that_completes_with_a_plugin_loaded_is_a_success(start_proxy, fakes, tmp_path):
    """The same stream whole: the row, the lifecycle and the usage record say success, 200
    (the failure read at the end is the stream's own, not any stream's)."""
    proxy = await start_proxy(_config(fakes, tmp_path) + _watch(tmp_path, "watch_ok", True))
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        kinds = [
            e.type async for e in await client.responses.create(model="codex-model", input="x", stream=True)
        ]
    assert kinds[-1] == "response.completed"
    assert await _rows_after(proxy, 1) == [(200, 0)]
    watch = _plugin("watch_ok")
    assert watch.completions == [("succeeded", 200)]
    assert watch.usage == [(False, 0)]
    assert _rows(proxy) == [(200, 0)]


async def test_a_plugin_executors_stream_that_breaks_late_is_a_failed_request(start_proxy, fakes, tmp_path):
    """A router plugin's own executor whose stream breaks after its first chunk (a
    ``PluginError``): the client's stream ends in an error event and the row says 502,
    failed, as the plugin's lifecycle record already did (before: 200, success)."""
    from tests.plugins.test_executor_usage_records_cpa import EXECUTOR
    from tests.plugins.test_flow_python import _proxy

    ledger = f'usage-statistics-enabled: true\nusage-ledger: {{path: "{tmp_path / "usage.sqlite"}"}}\n'
    proxy = await _proxy(start_proxy, fakes, tmp_path, {"metered": EXECUTOR}, {"metered": {}}, extra=ledger)
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        stream = await client.chat.completions.create(
            model="meter-break", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        with pytest.raises(openai.APIError, match="upstream stream broke"):
            async for _ in stream:
                pass
    assert await _rows_after(proxy, 1) == [(502, 1)]

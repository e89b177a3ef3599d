"""A client that leaves while the proxy still holds a Codex stream's bootstrap (its first
events, read before the 200 is committed so an early failure can fail over) ends the
upstream call at once, on both server engines.

Go's server (CPA's) cancels the request's context when its client goes, which aborts the
upstream request whatever the proxy was waiting for. Here the server found the client gone
(presence.watch's probe) and cancelled the request, but the cancel reached the bootstrap
read (replies_stream.open_stream), which let go of the upstream answer only on a read
failure or a refused rewrite: the upstream connection stayed open, Codex generating for
nobody, until the garbage collector found it. With the official openai SDK as the client.
"""

from __future__ import annotations

import openai
import pytest

from tests.e2e.clients import KEY
from tests.e2e.conftest import matrix_config
from tests.e2e.gone import ended_promptly, leave_once_held
from tests.fakes.server import Behavior

SILENCE = 5.0  # seconds Codex waits after response.created: far past the test's bound


@pytest.mark.engine_pinned
@pytest.mark.parametrize("client", ["chat", "responses"])
@pytest.mark.parametrize("engine", ["fast", "aiohttp"])
async def test_a_client_that_leaves_during_codex_bootstrap_ends_the_upstream_call(
    start_proxy, fakes, tmp_path, engine: str, client: str
) -> None:
    """Codex sends response.created, then is silent for ``SILENCE``: the proxy holds the
    stream (no status line yet). The client gives up once the proxy holds it and
    closes its connection; the upstream's connection is closed within a second, the request is
    recorded as a 499 and nothing cools."""
    ledger = f'usage-statistics-enabled: true\nusage-ledger: {{path: "{tmp_path / "usage.sqlite"}"}}\n'
    proxy = await start_proxy(matrix_config(fakes, ledger), engine=engine)
    fakes.responses.script(Behavior(stream_delay=SILENCE, delay_from=1))
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as oai:
        if client == "chat":
            call = oai.chat.completions.create(
                model="codex-model", messages=[{"role": "user", "content": "hi"}], stream=True
            )
        else:
            call = oai.responses.create(model="codex-model", input="hi", stream=True)
        left = await leave_once_held(call, fakes.responses, 0.3)  # response.created is out by then
    await ended_promptly(proxy, fakes.responses, left)

"""Claude Code's ``diagnostics`` member on cloaked requests of a Claude Code credential to
api.anthropic.com (CPA's ``claude_executor_diagnostics_test.go``), through a running proxy
into the Anthropic fake behind a CONNECT redirect of ``api.anthropic.com`` (as
``test_claude_cpa_payload_order``): ``previous_message_id`` is null on a conversation's
first turn and the id of its last completed answer after, with the
``cache-diagnosis-2026-04-07`` beta after the extended-TTL one."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import anthropic
import orjson
import pytest

from cliproxy.providers.impersonate import OriginRouter
from tests.e2e.clients import KEY
from tests.fakes.claude import ClaudeFake
from tests.fakes.tls import Cert
from tests.providers import test_impersonate as tls
from tests.providers.test_impersonate import Redirect

pytestmark = tls.pytestmark
cert, tls_claude = tls.cert, tls.tls_claude

MODEL = "claude-opus-4-8"
TRAILER = "extended-cache-ttl-2025-04-11,cache-diagnosis-2026-04-07"


async def proxy_of(
    start_proxy: Any, tls: tuple[ClaudeFake, Any, Redirect], cert: Cert, key: str, extra: str = ""
) -> Any:
    _, _, redirect = tls
    proxy = await start_proxy(
        f'api-keys: ["{KEY}"]\nclaude-api-key:\n  - api-key: "{key}"\n'
        f'    base-url: "https://api.anthropic.com"\n    proxy-url: "{redirect.url}"\n' + extra
    )
    router = proxy.service.providers.get("claude").transport
    assert isinstance(router, OriginRouter)
    router.impersonating.verify = str(cert.cert)
    return proxy


async def turn(proxy: Any, stream: bool, session: str) -> str:
    """One turn of conversation ``session`` from the official SDK: the answer's id."""
    async with anthropic.AsyncAnthropic(
        base_url=proxy.url, api_key=KEY, max_retries=0, default_headers={"X-Session-Id": session}
    ) as client:
        ask: Any = {"model": MODEL, "max_tokens": 2048, "messages": [{"role": "user", "content": "hi"}]}
        ask["thinking"] = {"type": "enabled", "budget_tokens": 1024}  # (context_management stays)
        if stream:
            async with client.messages.stream(**ask) as s:
                return (await s.get_final_message()).id
        return (await client.messages.create(**ask)).id


@pytest.mark.parametrize("stream", [False, True], ids=["execute", "execute stream"])
async def test_diagnostics_name_the_last_completed_answer(start_proxy, tls_claude, cert, stream) -> None:
    """The first turn sends ``"diagnostics": {"previous_message_id": null}`` right after
    ``context_management`` (Claude Code's field order), the next turn the first answer's
    id; another conversation starts at null again; every turn ends its betas with the
    extended-TTL and cache-diagnosis pair. Before, no ``diagnostics`` was sent.

    CPA: TestApplyClaudeHeaders_DiagnosticsBetaFollowsBodyInNativeOrder (both stream
    modes), TestClaudeExecutorDiagnosticsAdvancesAfterSuccessfulResponse (its key rotation
    under one credential id is not ported: a claude-api-key entry's id follows its key)."""
    fake = tls_claude[0]
    proxy = await proxy_of(start_proxy, tls_claude, cert, "sk-ant-oat01-diagnostics")
    # conversations of their own: the last ids are kept per process, across proxies
    conversation_a, conversation_b = f"a-{uuid.uuid4()}", f"b-{uuid.uuid4()}"
    first = await turn(proxy, stream, conversation_a)
    sent = fake.last
    assert sent.json["diagnostics"] == {"previous_message_id": None}
    assert list(sent.json).index("diagnostics") == list(sent.json).index("context_management") + 1
    assert sent.headers["anthropic-beta"].endswith(TRAILER)
    await turn(proxy, stream, conversation_a)
    assert fake.last.json["diagnostics"] == {"previous_message_id": first}
    assert fake.last.headers["anthropic-beta"].endswith(TRAILER)
    await turn(proxy, stream, conversation_b)
    assert fake.last.json["diagnostics"] == {"previous_message_id": None}


async def test_an_api_key_without_the_claude_code_profile_sends_none(start_proxy, tls_claude, cert) -> None:
    """A cloaked Anthropic API key (not a Claude Code credential) gets Claude Code's
    ``context_management`` but no ``diagnostics`` and no cache-diagnosis beta (CPA:
    ``InjectDiagnostics`` is the Claude Code profile's)."""
    fake = tls_claude[0]
    proxy = await proxy_of(start_proxy, tls_claude, cert, "sk-ant-api03-plain")
    await turn(proxy, False, "conversation-a")
    await turn(proxy, False, "conversation-a")
    sent = fake.last
    assert "diagnostics" not in sent.json
    assert "cache-diagnosis" not in sent.headers.get("anthropic-beta", "")
    assert orjson.dumps(sent.json).find(b"previous_message_id") < 0


async def test_workers_sharing_a_state_backend_name_each_others_answers(
    start_proxy, tls_claude, cert, redis_server
) -> None:
    """Two proxies on one Redis state backend (``workers: 2``): the second turn, served by
    the other proxy, names the first turn's answer, and the third, back on the first
    proxy, the second's. Before, each process kept its own last ids, so a turn landing on
    another worker sent a null (or stale) ``previous_message_id``."""
    fake = tls_claude[0]
    state = f'state: {{backend: redis, url: "{redis_server.url}", prefix: "diag:"}}\n'
    key = "sk-ant-oat01-shared-diagnostics"
    one = await proxy_of(start_proxy, tls_claude, cert, key, state)
    two = await proxy_of(start_proxy, tls_claude, cert, key, state)
    conversation = f"shared-{uuid.uuid4()}"

    async def told(proxy: Any, message_id: str) -> None:  # the notice crosses Redis (bounded)
        table = proxy.service.providers.get("claude").diagnostics
        for _ in range(200):
            if any(e.previous == message_id for e in table.entries.values()):
                return
            await asyncio.sleep(0.01)
        raise AssertionError("the other worker never heard of " + message_id)

    first = await turn(one, False, conversation)
    assert fake.last.json["diagnostics"] == {"previous_message_id": None}
    await told(two, first)
    second = await turn(two, True, conversation)
    assert fake.last.json["diagnostics"] == {"previous_message_id": first}
    await told(one, second)
    await turn(one, False, conversation)
    assert fake.last.json["diagnostics"] == {"previous_message_id": second}

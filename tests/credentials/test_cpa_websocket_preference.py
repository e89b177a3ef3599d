"""CPA's websocket-preference scheduler cases (sdk/cliproxy/auth/scheduler_test.go) on the
credential pool: a client on the Responses WebSocket asking Codex or xAI is steered to the
credentials with ``websockets`` on, across priority tiers, with a rotation of its own. The
pipeline passes ``prefer`` (``providers.codex_ws_wire.websocket_preference``) only for such
a request; the end-to-end cases are in tests/e2e/test_websocket_preference_cpa.py."""

from __future__ import annotations

from collections import Counter

from cliproxy.credentials.pool import Pool
from cliproxy.providers.codex_ws_wire import SESSION_HEADER, websocket_preference, websockets_enabled
from cliproxy.state.memory import MemoryState

from .conftest import cred

WS = {"websockets": "true"}


def make_pool(clock, creds, **kw) -> Pool:
    pool = Pool(state=MemoryState(clock=clock), clock=clock, **kw)
    pool.replace(creds)
    return pool


async def picks(pool: Pool, provider: str, n: int) -> list[str]:
    return [(await pool.pick("m", [provider], prefer=websockets_enabled)).id for _ in range(n)]


async def test_codex_websocket_prefers_websocket_enabled_subset(clock):
    """TestSchedulerPick_CodexWebsocketPrefersWebsocketEnabledSubset: the HTTP-only
    credential is passed over; the two websocket ones alternate."""
    creds = [cred("codex-http", "codex"), cred("codex-ws-a", "codex", attributes=WS)]
    pool = make_pool(clock, [*creds, cred("codex-ws-b", "codex", attributes=WS)])
    assert await picks(pool, "codex", 3) == ["codex-ws-a", "codex-ws-b", "codex-ws-a"]


async def test_xai_websocket_prefers_websocket_enabled_subset(clock):
    """TestSchedulerPick_XAIWebsocketPrefersWebsocketEnabledSubset: the same for xAI."""
    creds = [cred("xai-http", "xai"), cred("xai-ws-a", "xai", attributes=WS)]
    pool = make_pool(clock, [*creds, cred("xai-ws-b", "xai", attributes=WS)])
    assert await picks(pool, "xai", 3) == ["xai-ws-a", "xai-ws-b", "xai-ws-a"]


async def test_codex_websocket_prefers_websocket_enabled_across_priorities(clock):
    """TestSchedulerPick_CodexWebsocketPrefersWebsocketEnabledAcrossPriorities: the HTTP-only
    credential at priority 10 loses to websocket ones at priority 0; an HTTP client (no
    preference) still gets the priority-10 one."""
    creds = [
        cred("codex-http", "codex", priority=10),
        cred("codex-ws-a", "codex", attributes=WS),
        cred("codex-ws-b", "codex", attributes=WS),
    ]
    pool = make_pool(clock, creds)
    assert await picks(pool, "codex", 3) == ["codex-ws-a", "codex-ws-b", "codex-ws-a"]
    assert (await pool.pick("m", ["codex"])).id == "codex-http"


async def test_weighted_websocket_resets_credits_when_weights_change(clock):
    """TestSchedulerPick_WeightedWebsocketResetsCreditsWhenWeightsChange: after 1000 websocket
    picks at weights 1000000:1, a reload to 1:1 splits the next 20 picks 10:10."""
    heavy = cred("a", "codex", weight=1_000_000, attributes=WS)
    pool = make_pool(clock, [heavy, cred("b", "codex", weight=1, attributes=WS)], strategy="wrr")
    await picks(pool, "codex", 1000)
    pool.replace([cred("a", "codex", weight=1, attributes=WS), cred("b", "codex", weight=1, attributes=WS)])
    assert Counter(await picks(pool, "codex", 20)) == {"a": 10, "b": 10}


async def test_without_a_websocket_credential_the_pick_is_unchanged(clock):
    """No available credential allows the WebSocket (or the only one is cooling): the pick
    is the ordinary one, as CPA falls back to its whole bucket."""
    pool = make_pool(clock, [cred("codex-a", "codex"), cred("codex-b", "codex")])
    assert await picks(pool, "codex", 2) == ["codex-a", "codex-b"]
    mixed = make_pool(clock, [cred("http", "codex"), cred("ws", "codex", attributes=WS)])
    await mixed.mark_failure((await mixed.pick("m", ["codex"], prefer=websockets_enabled)), "m", 429)
    assert (await mixed.pick("m", ["codex"], prefer=websockets_enabled)).id == "http"


def test_only_a_websocket_client_asking_codex_or_xai_alone_has_a_preference():
    """CPA's providerPrefersWebsocketTransport (codex, xai) and DownstreamWebsocket: the
    downstream socket's session header marks the request; a mixed-provider pick, another
    provider and an HTTP request get none (CPA prefers in single-provider picks only)."""
    ws = {SESSION_HEADER: "s1"}
    assert websocket_preference(ws, ["codex"]) is websockets_enabled
    assert websocket_preference(ws, ["xai"]) is websockets_enabled
    assert websocket_preference(ws, ["claude"]) is None
    assert websocket_preference(ws, ["codex", "xai"]) is None
    assert websocket_preference({}, ["codex"]) is None

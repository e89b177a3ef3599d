"""CPA's retry-round cases (sdk/cliproxy/auth/conductor_retry_round_test.go), through a
running proxy: a credential's own ``request-retry`` decides how many retry rounds it
takes part in, for whole answers, streams and token counts alike."""

from __future__ import annotations

import asyncio
from collections import Counter

import aiohttp
import pytest

from cliproxy.config import load_or_default
from tests.e2e.clients import KEY

pytestmark = pytest.mark.usefixtures("anthropic_api")  # Anthropic's API counts upstream; a gateway, locally

MSG = {"model": "claude-model", "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]}


def claude_keys(fakes, retries: dict[str, int], extra: str = "") -> str:
    entries = "".join(
        f"""
  - api-key: "{key}"
    base-url: "{fakes.claude.base_url}"
    request-retry: {limit}
    models: [{{name: "claude-sonnet-4-6", alias: "claude-model"}}]"""
        for key, limit in retries.items()
    )
    return f"""
api-keys: ["{KEY}"]
disable-cooling: true
{extra}
claude-api-key:{entries}
"""


def used_keys(fake, path: str) -> list[str]:
    return [r.key for r in fake.requests if r.path == path]


async def post(proxy, path: str, body: dict) -> int:
    async with (
        aiohttp.ClientSession() as s,
        s.post(proxy.url + path, json=body, headers={"x-api-key": KEY}) as r,
    ):
        await r.read()
        return r.status


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/messages", MSG),
        ("/v1/messages", {**MSG, "stream": True}),
        ("/v1/messages/count_tokens", {k: v for k, v in MSG.items() if k != "max_tokens"}),
    ],
    ids=["whole", "stream", "count"],
)
async def test_retry_round_credential_windows(start_proxy, fakes, path, body):
    """TestExecuteRetryRoundCredentialWindows: request-retry 3 globally, the credentials'
    own 3, 2 and 2; every attempt fails with 500 (cooling off, so no round waits). Each
    credential is tried once per round it takes part in: 4, 3 and 3 times. Also CPA:
    TestManager_RequestRetryRunsAdditionalLocalRoundWithoutCooldown (the extra rounds run,
    for whole answers, streams and counts, with nothing cooling)."""
    proxy = await start_proxy(claude_keys(fakes, {"sk-a": 3, "sk-b": 2, "sk-c": 2}, "request-retry: 3"))
    fakes.claude.fail_next(500, times=None)
    assert await post(proxy, path, body) == 500
    assert Counter(used_keys(fakes.claude, path)) == {"sk-a": 4, "sk-b": 3, "sk-c": 3}


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/messages", MSG),
        ("/v1/messages", {**MSG, "stream": True}),
        ("/v1/messages/count_tokens", {k: v for k, v in MSG.items() if k != "max_tokens"}),
    ],
    ids=["whole", "stream", "count"],
)
@pytest.mark.parametrize(("limit", "calls"), [(1, 1), (0, 2)], ids=["one", "unlimited"])
async def test_max_retry_credentials_limits_cross_credential_retries(
    start_proxy, fakes, path, body, limit, calls
):
    """TestManager_MaxRetryCredentials_LimitsCrossCredentialRetries: two keys that both fail
    with 500 and no retry rounds; max-retry-credentials 1 stops after the first key, 0 (no
    limit) tries both, for a whole answer, a stream and a token count."""
    yaml = claude_keys(fakes, {"sk-a": 0, "sk-b": 0}, f"max-retry-credentials: {limit}")
    proxy = await start_proxy(yaml)
    fakes.claude.fail_next(500, times=None)
    assert await post(proxy, path, body) == 500
    assert len(used_keys(fakes.claude, path)) == calls


async def test_own_request_retry_outlasts_a_lower_global_one(start_proxy, fakes):
    """The same windows when the global request-retry is 0: a credential's own number
    still gives it its rounds (CPA takes the largest window of the candidates); also
    TestManager_ShouldRetryAfterError_RespectsAuthRequestRetryOverride (a credential's
    request-retry 0 means no retry, 1 one more round)."""
    proxy = await start_proxy(claude_keys(fakes, {"sk-a": 2, "sk-b": 0}))
    fakes.claude.fail_next(500, times=None)
    assert await post(proxy, "/v1/messages", MSG) == 500
    assert Counter(used_keys(fakes.claude, "/v1/messages")) == {"sk-a": 3, "sk-b": 1}


@pytest.mark.parametrize("why", ["cooling", "other-model"])
async def test_a_retry_override_of_a_credential_outside_the_round_adds_no_round(start_proxy, fakes, why):
    """TestManager_ShouldRetryAfterError_IgnoresNonRoundCooldownOverrides (its unauthorized
    case) and TestManager_ShouldRetryAfterError_IgnoresUnrelatedModelOverride: sk-b has
    request-retry 2 but cannot serve this request, being under a 401's 30-minute cooldown
    or serving another model only; sk-a (request-retry 0) fails with 502, and the client
    gets that 502 at once after one attempt, without a round waiting for sk-b."""
    alias = "other-model" if why == "other-model" else "claude-model"
    entries = "".join(
        f"""
  - api-key: "{key}"
    base-url: "{fakes.claude.base_url}"
    request-retry: {limit}
    models: [{{name: "claude-sonnet-4-6", alias: "{name}"}}]"""
        for key, limit, name in (("sk-a", 0, "claude-model"), ("sk-b", 2, alias))
    )
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\nclaude-api-key:{entries}\n')
    if why == "cooling":
        fakes.claude.fail_key("sk-b", 401)
        assert [await post(proxy, "/v1/messages", MSG) for _ in range(2)] == [200, 200]
        # sk-b's 401 (first or second in the rotation) cools it; sk-a answers both
        assert Counter(used_keys(fakes.claude, "/v1/messages")) == {"sk-a": 2, "sk-b": 1}
    before = len(fakes.claude.requests)
    fakes.claude.fail_next(502, key="sk-a", times=None)
    assert await asyncio.wait_for(post(proxy, "/v1/messages", MSG), 5) == 502
    assert [r.key for r in fakes.claude.requests[before:]] == ["sk-a"]


async def test_retry_round_max_credentials_ages_skipped_auths(start_proxy, fakes):
    """TestExecuteRetryRoundMaxCredentialsAgesSkippedAuths: request-retry 2 and
    max-retry-credentials 3 over four credentials whose own request-retry is 1, 1, 1 and 2.
    Rounds 0 and 1 try three each, the last round only the one with a window left: seven
    attempts, none more than its rounds allow, and the last one is that credential."""
    retries = {"sk-a": 1, "sk-b": 1, "sk-c": 1, "sk-d": 2}
    yaml = claude_keys(fakes, retries, "request-retry: 2\nmax-retry-credentials: 3")
    proxy = await start_proxy(yaml)
    fakes.claude.fail_next(500, times=None)
    assert await post(proxy, "/v1/messages", MSG) == 500
    calls = used_keys(fakes.claude, "/v1/messages")
    assert len(calls) == 7
    counts = Counter(calls)
    assert all(counts[k] <= 2 for k in ("sk-a", "sk-b", "sk-c")) and counts["sk-d"] <= 3
    assert calls[-1] == "sk-d"


async def test_a_credential_free_now_is_retried_without_max_retry_interval(start_proxy, fakes):
    """CPA's closestCooldownWait: when a credential is free at once (no cooldown), another
    round starts even with max-retry-interval 0; the limit only bounds real waits. The
    second round succeeds here."""
    proxy = await start_proxy(claude_keys(fakes, {"sk-a": 1}))
    fakes.claude.fail_next(500, times=1)
    assert await post(proxy, "/v1/messages", MSG) == 200
    assert used_keys(fakes.claude, "/v1/messages") == ["sk-a", "sk-a"]


PATHS = [
    ("/v1/messages", MSG),
    ("/v1/messages", {**MSG, "stream": True}),
    ("/v1/messages/count_tokens", {k: v for k, v in MSG.items() if k != "max_tokens"}),
]


async def _reloaded_mid_request(
    start_proxy, fakes, path: str, body: dict, before: str, after: str, keys: tuple[str, ...], failing: bool
) -> int:
    """The request's status when the config changed from ``before`` to ``after`` while
    its first upstream attempt (a slow 500) was under way; ``failing``: every later
    attempt fails too."""
    entries = "".join(
        f'\n  - api-key: "{k}"\n    base-url: "{fakes.claude.base_url}"\n'
        '    models: [{name: "claude-sonnet-4-6", alias: "claude-model"}]'
        for k in keys
    )
    proxy = await start_proxy(
        f'api-keys: ["{KEY}"]\ndisable-cooling: true\n{before}\nclaude-api-key:{entries}\n'
    )
    fakes.claude.fail_next(500, delay=0.3, path=path)
    if failing:
        fakes.claude.fail_next(500, times=None)
    request = asyncio.ensure_future(post(proxy, path, body))
    async with asyncio.timeout(5):
        while not used_keys(fakes.claude, path):
            await asyncio.sleep(0.01)
    proxy.config_path.write_text(proxy.config_path.read_text().replace(before, after))
    config, _ = load_or_default(proxy.config_path)
    proxy.service.apply(config)
    async with asyncio.timeout(10):
        return await request


@pytest.mark.parametrize(("path", "body"), PATHS, ids=["whole", "stream", "count"])
@pytest.mark.parametrize(
    ("before", "after", "calls", "status"),
    [("request-retry: 1", "request-retry: 0", 2, 200), ("request-retry: 0", "request-retry: 1", 1, 500)],
    ids=["decrease", "increase"],
)
async def test_a_request_keeps_the_request_retry_it_started_with(
    start_proxy, fakes, path, body, before, after, calls, status
):
    """TestExecuteSnapshotsDefaultRequestRetry: a reload while a request runs does not
    change that request's request-retry; its one credential fails once, then serves."""
    got = await _reloaded_mid_request(start_proxy, fakes, path, body, before, after, ("sk-a",), False)
    assert (got, len(used_keys(fakes.claude, path))) == (status, calls)


async def test_a_request_keeps_the_max_retry_credentials_it_started_with(start_proxy, fakes):
    """The same for max-retry-credentials, which CPA reads with request-retry, once per
    request: 1 when the request started, lifted by a reload during its first attempt;
    its second round still tries one credential. Before, a later round read the new value."""
    before = "request-retry: 1\nmax-retry-credentials: 1"
    after = "request-retry: 1\nmax-retry-credentials: 0"
    got = await _reloaded_mid_request(
        start_proxy, fakes, "/v1/messages", MSG, before, after, ("sk-a", "sk-b"), True
    )
    assert got == 500
    assert len(used_keys(fakes.claude, "/v1/messages")) == 2

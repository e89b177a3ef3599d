"""What the hot path remembers between requests, and that a config reload forgets it: the
callers a key policy already let in (by their ``Authorization`` value), and the per-request
shortcut past the open-proxy / safe-mode screen."""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
from collections.abc import Awaitable, Callable

import aiohttp
import pytest

from cliproxy.access import KEY_POLICY, AccessPolicy, Principal
from cliproxy.errors import AccessError
from tests.policies.conftest import policy_config


async def _status(url: str, key: str, model: str) -> int:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    async with (
        aiohttp.ClientSession() as s,
        s.post(url + "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}) as r,
    ):
        return r.status


async def _until(predicate: Callable[[], Awaitable[bool]], timeout: float = 15.0) -> bool:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if await predicate():
            return True
        await asyncio.sleep(0.05)
    return False


async def test_a_reload_forgets_the_callers_let_in_and_the_screen_shortcut(start_proxy, fakes):
    keys = '  - {key: "sk-a", models: ["compat-*"]}'
    proxy = await start_proxy(policy_config(fakes, keys), watch=True)
    for _ in range(2):  # the second is served from what the first left behind
        assert await _status(proxy.url, "sk-a", "compat-model") == 200
    assert await _status(proxy.url, "sk-a", "claude-model") == 403

    # the same key, the same Authorization value: its new policy applies at once
    proxy.config_path.write_text(policy_config(fakes, '  - {key: "sk-a", models: ["claude-*"]}'))

    async def swapped() -> bool:
        return await _status(proxy.url, "sk-a", "compat-model") == 403

    assert await _until(swapped)
    assert await _status(proxy.url, "sk-a", "claude-model") == 200

    # template keys from CPA's example config: safe mode, every proxy route answers 403
    proxy.config_path.write_text(policy_config(fakes, '  - "your-api-key-1"'))

    async def safe_mode() -> bool:
        async with (
            aiohttp.ClientSession() as s,
            s.post(
                proxy.url + "/v1/chat/completions", json={}, headers={"Authorization": "Bearer sk-a"}
            ) as r,
        ):
            return r.status == 403 and r.headers.get("X-CPA-SAFE-MODE") == "example-api-key"

    assert await _until(safe_mode)


def _check(policy: AccessPolicy, headers: dict[str, str]) -> tuple[Principal, object]:
    """The caller, and the key policy the request's context holds after the check."""

    def run() -> tuple[Principal, object]:
        return policy.check(headers, {}), KEY_POLICY.get()

    return contextvars.copy_context().run(run)


def test_a_known_caller_is_the_same_principal_with_its_policy_each_time():
    secret = "sk-hashed"
    sha = hashlib.sha256(secret.encode()).hexdigest()
    policy = AccessPolicy(["sk-a", "sk-b"], policies={"sk-a": "P-a"}, hashed=[(f"sha256:{sha}", "P-h")])
    first, seen = _check(policy, {"Authorization": "Bearer sk-a"})
    again, seen_again = _check(policy, {"Authorization": "Bearer sk-a"})
    assert again is first and (first.key, first.source, first.policy) == ("sk-a", "authorization", "P-a")
    assert seen == seen_again == "P-a"  # set in every request's context, not only the first
    plain, none = _check(policy, {"Authorization": "Bearer sk-b"})
    assert (plain.key, plain.policy, none) == ("sk-b", None, None)
    for _ in range(2):
        hashed, seen = _check(policy, {"Authorization": f"Bearer {secret}"})
        assert (hashed.key, hashed.policy, seen) == (secret, "P-h", "P-h")
    by_header, _ = _check(policy, {"X-Api-Key": "sk-a"})
    assert (by_header.key, by_header.source) == ("sk-a", "x-api-key")
    # a known key elsewhere does not let a bad Authorization value in (Authorization wins)
    with pytest.raises(AccessError):
        _check(policy, {"Authorization": "Bearer sk-wrong", "X-Api-Key": "sk-a"})
    with pytest.raises(AccessError):
        _check(policy, {"Authorization": "Bearer sk-wrong"})

"""Client key policies (``api-keys`` entries with limits) on the Realtime WebSocket relayed
through a Codex sign-in: the socket is admitted like any request (disabled, model
allowlist, in-flight limit, budget), holds one in-flight slot while it is open, and each
response's usage (tests/fakes/codex_realtime.py's: 253 tokens) is charged to the key. A
client secret acts under the policy of the key that minted it. Before, a Realtime socket
went around every policy. CPA has no key policies: this is ours."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest

from cliproxy.config import load_or_default
from tests.e2e.test_codex_alpha_search import write_codex
from tests.e2e.test_realtime import TIMEOUT, refused, sdk, ws_url
from tests.fakes.codex_realtime import RealtimeFake

KEYS = """api-keys:
  - {key: "sk-off", disabled: true}
  - {key: "sk-compat", name: compat-only, models: ["compat-*"]}
  - {key: "sk-budget", name: voice, max-concurrency: 1, budget: {tokens: 300, period: day}}
"""


@pytest.fixture
async def realtime(monkeypatch: pytest.MonkeyPatch) -> Any:
    async with RealtimeFake() as fake:
        monkeypatch.setenv("CLIPROXY_OAUTH_CODEX_REALTIME", fake.ws_base)
        yield fake


async def _one_response(proxy: Any, key: str) -> None:
    async with sdk(proxy, key) as client, client.realtime.connect(model="gpt-realtime") as conn:
        assert (await conn.recv()).type == "session.created"
        await conn.response.create()
        kinds = [(await conn.recv()).type for _ in range(3 if key.startswith("ek_") else 2)]
        assert kinds[-2:] == ["response.created", "response.done"]  # (a secret's session.updated first)


async def _mint(proxy: Any, key: str) -> str:
    async with (
        aiohttp.ClientSession(timeout=TIMEOUT) as s,
        s.post(
            proxy.url + "/v1/realtime/client_secrets",
            json={"session": {"type": "realtime", "model": "gpt-realtime"}},
            headers={"Authorization": f"Bearer {key}"},
        ) as r,
    ):
        assert r.status == 200, await r.text()
        return str((await r.json())["value"])


async def test_a_key_policy_admits_and_charges_the_socket(
    start_proxy: Any, realtime: RealtimeFake, tmp_path: Path
) -> None:
    """A disabled key and a key whose allowlist lacks the model are refused (403, OpenAI's
    permission_error, the policy's code) before any upstream dial; an open socket holds the
    key's one in-flight slot (429 for a second one, Retry-After 1) and gives it back when
    it closes; two responses' usage spends the budget, and then neither the key nor a
    secret it minted opens a socket (403 budget_exceeded)."""
    write_codex(tmp_path, realtime, "solo")
    proxy = await start_proxy(KEYS)
    status, body, _ = await refused(proxy, "sk-off")
    assert (status, body["error"]["code"], body["error"]["type"]) == (403, "key_disabled", "permission_error")
    status, body, _ = await refused(proxy, "sk-compat")
    assert (status, body["error"]["code"]) == (403, "model_not_allowed")
    assert "gpt-realtime" in body["error"]["message"]
    assert realtime.sockets == []  # refused before any upstream dial

    secret = await _mint(proxy, "sk-budget")  # minted before the budget is spent
    async with (
        aiohttp.ClientSession(timeout=TIMEOUT) as s,
        s.ws_connect(ws_url(proxy), headers={"Authorization": "Bearer sk-budget"}) as ws,
    ):
        assert (await ws.receive_json())["type"] == "session.created"
        status, body, headers = await refused(proxy, "sk-budget")  # the open socket holds the slot
        assert (status, body["error"]["code"], headers["Retry-After"]) == (429, "rate_limit_exceeded", "1")
        assert "max-concurrency 1" in body["error"]["message"]
        await ws.send_json({"type": "response.create"})
        assert (await ws.receive_json())["type"] == "response.created"
        assert (await ws.receive_json())["type"] == "response.done"
    await _one_response(proxy, "sk-budget")  # the slot came back; 253 + 253 tokens > 300
    status, body, _ = await refused(proxy, "sk-budget")
    assert (status, body["error"]["code"]) == (403, "budget_exceeded")
    status, body, _ = await refused(proxy, secret)  # the secret acts under its key's policy
    assert (status, body["error"]["code"]) == (403, "budget_exceeded")
    assert len(realtime.sockets) == 2


async def test_a_secret_whose_key_was_removed_opens_nothing(
    start_proxy: Any, realtime: RealtimeFake, tmp_path: Path
) -> None:
    """A client secret stands for the key that minted it as ``api-keys`` has it now: once
    that key is removed from the config, the secret is refused with 401 (before, it went
    on opening sockets until it expired)."""
    write_codex(tmp_path, realtime, "solo")
    proxy = await start_proxy('api-keys: ["sk-temp", "sk-stays"]\n')
    secret = await _mint(proxy, "sk-temp")
    await _one_response(proxy, secret)
    proxy.config_path.write_text(proxy.config_path.read_text().replace('"sk-temp", ', ""))
    config, _ = load_or_default(proxy.config_path)
    proxy.service.apply(config)
    status, body, _ = await refused(proxy, secret)
    assert (status, body["error"]["code"]) == (401, "invalid_realtime_client_secret")
    assert len(realtime.sockets) == 1


@pytest.mark.parametrize("path", ["/v1/realtime/client_secrets", "/v1/realtime/sessions"])
async def test_a_key_its_policy_refuses_mints_no_secret(
    start_proxy: Any, realtime: RealtimeFake, tmp_path: Path, path: str
) -> None:
    """A disabled key, or one whose allowlist lacks the session's model, is refused at the
    mint (403, the policy's code, OpenAI's error shape) as it is at the socket; before, it
    got a secret that only failed when used. A mint counts against no limit: a key at its
    max-concurrency still mints (the socket is what holds the slot)."""
    write_codex(tmp_path, realtime, "solo")
    proxy = await start_proxy(KEYS)
    session = {"type": "realtime", "model": "gpt-realtime"}
    body = {"session": session} if path.endswith("client_secrets") else session
    for key, code in (("sk-off", "key_disabled"), ("sk-compat", "model_not_allowed")):
        async with (
            aiohttp.ClientSession(timeout=TIMEOUT) as s,
            s.post(proxy.url + path, json=body, headers={"Authorization": f"Bearer {key}"}) as r,
        ):
            answer = await r.json()
            assert (r.status, answer["error"]["code"], answer["error"]["type"]) == (
                403,
                code,
                "permission_error",
            ), answer
    async with (
        aiohttp.ClientSession(timeout=TIMEOUT) as s,
        s.ws_connect(ws_url(proxy), headers={"Authorization": "Bearer sk-budget"}) as ws,
    ):
        assert (await ws.receive_json())["type"] == "session.created"  # holds sk-budget's one slot
        async with s.post(proxy.url + path, json=body, headers={"Authorization": "Bearer sk-budget"}) as r:
            assert r.status == 200, await r.text()
    assert len(realtime.sockets) == 1

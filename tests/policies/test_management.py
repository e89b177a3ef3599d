"""Management of policy keys (/v0/management/api-keys/policies) next to CPA's /api-keys list."""

from __future__ import annotations

import hashlib

import openai
import pytest

from tests.management.conftest import mcall, mproxy  # noqa: F401 - fixture
from tests.policies.conftest import PLAIN, policy_config


def _id(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:16]


async def _ask(proxy, key: str) -> int:
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=key, max_retries=0) as client:
        try:
            await client.chat.completions.create(
                model="compat-model", messages=[{"role": "user", "content": "x"}]
            )
        except openai.APIStatusError as exc:
            return exc.status_code
    return 200


async def test_views_crud_and_reset(mproxy, fakes):  # noqa: F811
    keys = '  - {key: "sk-team-a-123456789", name: team-a, rpm: 1, budget: {tokens: 1000, period: week}}'
    proxy = await mproxy(policy_config(fakes, keys))
    # CPA's list still works: plain strings, the policy key as its plain key
    status, body = await mcall(proxy, "GET", "/api-keys")
    assert status == 200 and body["api-keys"] == [PLAIN, "sk-team-a-123456789"]

    assert await _ask(proxy, "sk-team-a-123456789") == 200
    status, body = await mcall(proxy, "GET", "/api-keys/policies")
    assert status == 200 and body["plain-keys"] == 1
    (view,) = body["keys"]
    assert view["id"] == _id("sk-team-a-123456789") and view["name"] == "team-a"
    assert "sk-team-a-123456789" not in str(view) and view["key"].startswith("sk")
    assert view["rpm"] == 1 and view["budget"] == {"tokens": 1000, "cost": 0.0, "period": "week"}
    usage = view["usage"]
    assert usage["requests"] == 1 and usage["rpm-remaining"] == 0 and usage["tokens"] > 0
    assert usage["period"].startswith("w:") and usage["tokens-left"] == 1000 - usage["tokens"]

    assert await _ask(proxy, "sk-team-a-123456789") == 429
    status, _ = await mcall(proxy, "POST", f"/api-keys/policies/{view['id']}/reset")
    assert status == 200
    assert await _ask(proxy, "sk-team-a-123456789") == 200

    # PATCH: raise the limit; the panel's PUT of strings keeps the policy
    status, _ = await mcall(proxy, "PATCH", f"/api-keys/policies/{view['id']}", {"rpm": 100, "name": None})
    assert status == 200
    rule = proxy.service.config.client_keys[0]
    assert rule.rpm == 100 and rule.name == ""
    status, _ = await mcall(proxy, "PUT", "/api-keys", [PLAIN, "sk-team-a-123456789", "sk-new"])
    assert status == 200
    assert proxy.service.config.client_keys[0].rpm == 100
    assert proxy.service.config.api_keys == [PLAIN, "sk-team-a-123456789", "sk-new"]

    # a plain key becomes a policy key by its id
    status, _ = await mcall(proxy, "PATCH", f"/api-keys/policies/{_id('sk-new')}", {"disabled": True})
    assert status == 200
    assert await _ask(proxy, "sk-new") == 403

    status, _ = await mcall(proxy, "DELETE", f"/api-keys/policies/{view['id']}")
    assert status == 200
    assert await _ask(proxy, "sk-team-a-123456789") == 401


async def test_create_generates_and_hashes(mproxy, fakes):  # noqa: F811
    proxy = await mproxy(policy_config(fakes, ""))
    status, body = await mcall(
        proxy, "POST", "/api-keys/policies", {"name": "ci", "models": ["compat-*"], "hash": True}
    )
    assert status == 200 and body["key"].startswith("sk-")
    key = body["key"]
    text = proxy.config_path.read_text()
    assert key not in text and "key-hash: $2b$" in text.replace('"', "")
    assert await _ask(proxy, key) == 200
    status, body = await mcall(proxy, "GET", f"/api-keys/policies/{body['id']}")
    assert status == 200 and body["hashed"] is True and body["key"] == "(hashed)"
    assert (await mcall(proxy, "GET", "/api-keys"))[1]["api-keys"] == [PLAIN]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"key": "k1", "rpm": -1}, "rpm"),
        ({"key": "k1", "budget": {"period": "hour"}}, "period"),
        ({"key": "k1", "expires-at": "someday"}, "expires-at"),
        ({"key": "k1", "color": "red"}, "unknown field"),
    ],
)
async def test_bad_entries_are_400(mproxy, fakes, entry, message):  # noqa: F811
    proxy = await mproxy(policy_config(fakes, ""))
    status, body = await mcall(proxy, "POST", "/api-keys/policies", entry)
    assert status == 400 and message in body["error"]


async def test_unknown_id_is_404(mproxy, fakes):  # noqa: F811
    proxy = await mproxy(policy_config(fakes, ""))
    assert (await mcall(proxy, "GET", "/api-keys/policies/0123456789abcdef"))[0] == 404
    assert (await mcall(proxy, "PATCH", "/api-keys/policies/0123456789abcdef", {"rpm": 1}))[0] == 404

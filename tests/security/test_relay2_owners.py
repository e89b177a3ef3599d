"""Who owns an AI Studio relay (``/v1/ws``) when a frontend-auth plugin admits the caller,
and what becomes of a relay whose client key a reload removes.

A request a frontend-auth plugin admits is known by the principal the plugin names (a key
from ``api-keys`` is a different caller even when its text is the same); a plugin that
admits a request without naming a principal gives it no identity: such a caller cannot
attach a relay under ``ws-relay-serves: own-key`` (403 before the upgrade) and is served
by no owned relay. A relay whose client key leaves ``api-keys`` (the file reloaded, or the
management API) is closed with 1008 and a reason, and leaves the pool at once."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator
from types import SimpleNamespace

import aiohttp
import bcrypt
import openai
import orjson
import pytest

from cliproxy.access import AccessPolicy
from cliproxy.config import load_or_default
from cliproxy.credentials.owners import CALLER, Owners, plugin_caller
from cliproxy.usage.mask import hide_key
from tests.e2e.clients import KEY
from tests.e2e.test_aistudio_relay import RelayClient
from tests.plugins.test_flow_python import HEADER, _proxy

OTHER = "sk-other-tenant"
MODEL = "gemini-2.5-flash"
USER = "X-User"

# admits X-User: <name> as principal <name>; X-User: anon without a principal
DOOR = (
    HEADER
    + """
class Door(Plugin, FrontendAuthProvider):
    name = "door"; version = "1"; author = "t"; github_repository = "https://example.com/d"
    identifier = "door"; exclusive = {exclusive}
    async def authenticate(self, req):
        user = next((v[0] for k, v in req.headers.items() if k.lower() == "x-user" and v), "")
        if user == "anon":
            return FrontendAuthResponse(authenticated=True)
        if user:
            return FrontendAuthResponse(authenticated=True, principal=user)
        return None
plugin = Door()
"""
)


class Client(RelayClient):
    """:class:`RelayClient` that also keeps the reason the proxy closed the socket with."""

    reason = ""

    async def _serve(self) -> None:
        while True:
            msg = await self.ws.receive()
            if msg.type == aiohttp.WSMsgType.CLOSE:
                self.reason = str(msg.extra or "")
            if msg.type not in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                return
            message = orjson.loads(msg.data)
            if message["type"] == "http_request":
                self.requests.append(message)
                await self._answer(message["id"], message["payload"])


@contextlib.asynccontextmanager
async def attach(proxy, query: str = "", **headers: str) -> AsyncIterator[Client]:
    """A relay client on ``/v1/ws`` (``tests.e2e.test_aistudio_relay.relay``, with headers)."""
    before = len(proxy.service.relay)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        ws = await session.ws_connect(proxy.url.replace("http", "ws", 1) + "/v1/ws" + query, headers=headers)
        client = Client(ws)
        task = asyncio.create_task(client.serve())
        for _ in range(200):  # the channel is a credential once the upgrade is through
            if len(proxy.service.relay) > before:
                break
            await asyncio.sleep(0.01)
        try:
            yield client
        finally:
            await ws.close()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _chat(proxy, key: str = "none", **headers: str) -> str:
    async with openai.AsyncOpenAI(
        base_url=proxy.url + "/v1", api_key=key, max_retries=0, default_headers=headers
    ) as sdk:
        done = await sdk.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    return done.choices[0].message.content or ""


async def _refused(proxy, key: str = "none", **headers: str) -> None:
    """No credential serves this caller the model: 503 "no auth available" (400
    model_not_found once no relay at all is left to list it)."""
    with pytest.raises(openai.APIStatusError) as err:
        await _chat(proxy, key, **headers)
    assert err.value.status_code in (503, 400), err.value.body


async def _bare(proxy, **headers: str) -> int:
    """A Chat request that carries no key at all (the plugin's header alone): its status."""
    body = {"model": MODEL, "messages": [{"role": "user", "content": "bob's secret"}]}
    async with (
        aiohttp.ClientSession() as s,
        s.post(proxy.url + "/v1/chat/completions", json=body, headers=headers) as r,
    ):
        return r.status


async def _door(start_proxy, fakes, tmp_path, *, exclusive: bool, extra: str = ""):
    plugins = {"door": DOOR.format(exclusive=str(exclusive))}
    return await _proxy(start_proxy, fakes, tmp_path, plugins, {"door": {}}, extra=extra, base=False)


# -- frontend-auth plugins


async def test_plugin_users_do_not_share_each_other_s_relays(start_proxy, fakes, tmp_path):
    """Before, both plugin users presented no key, so both were caller "": bob's prompts
    went to alice's relay. Now the relay is alice's principal's."""
    proxy = await _door(start_proxy, fakes, tmp_path, exclusive=True)
    async with attach(proxy, **{USER: "alice"}) as alices:
        assert await _bare(proxy, **{USER: "bob"}) == 503
        assert await _chat(proxy, **{USER: "alice"}) == "hello from the relay"
        await _refused(proxy, **{USER: "bob"})
        await _refused(proxy, **{USER: "anon"})  # no identity: no owned relay serves it
        assert await _bare(proxy, **{USER: "anon"}) == 503
        assert len(alices.requests) == 1
        assert all("bob" not in str(r["payload"]) for r in alices.requests)
        (cred,) = proxy.service.relay.credentials()  # its listing names the principal masked
        assert cred.attributes["note"] == f"attached by frontend-auth principal {hide_key('alice')}"


async def test_a_plugin_principal_is_not_the_api_key_of_the_same_text(start_proxy, fakes, tmp_path):
    """A shared (non-exclusive) plugin beside ``api-keys``: a plugin user whose principal
    reads like a client key gets neither that key's relay nor gives it theirs."""
    proxy = await _door(start_proxy, fakes, tmp_path, exclusive=False)
    async with attach(proxy, f"?key={KEY}") as keyed:
        assert await _chat(proxy, KEY) == "hello from the relay"
        await _refused(proxy, **{USER: KEY})
        assert len(keyed.requests) == 1
    async with attach(proxy, **{USER: KEY}) as plugged:
        await _refused(proxy, KEY)
        assert await _chat(proxy, **{USER: KEY}) == "hello from the relay"
        assert len(plugged.requests) == 1


async def test_a_caller_without_identity_cannot_attach_an_owned_relay(start_proxy, fakes, tmp_path):
    """A plugin that admits a caller without a principal gives the relay no owner to
    serve: the upgrade is refused (403, the reason in the body) rather than the relay
    being shared by every such caller, as before (owner "")."""
    proxy = await _door(start_proxy, fakes, tmp_path, exclusive=True)
    async with aiohttp.ClientSession() as session:
        async with session.get(
            proxy.url + "/v1/ws",
            headers={
                USER: "anon",
                "Connection": "Upgrade",
                "Upgrade": "websocket",
                "Sec-WebSocket-Version": "13",
                "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
            },
        ) as resp:
            assert resp.status == 403
            assert "principal" in await resp.text()
    assert len(proxy.service.relay) == 0


async def test_all_keys_lets_a_caller_without_identity_attach(start_proxy, fakes, tmp_path):
    """``ws-relay-serves: all-keys`` (CPA's sharing) needs no owner: the anonymous relay
    attaches and serves every caller, as in CPA."""
    proxy = await _door(start_proxy, fakes, tmp_path, exclusive=True, extra="ws-relay-serves: all-keys\n")
    async with attach(proxy, **{USER: "anon"}) as client:
        assert await _chat(proxy, **{USER: "bob"}) == "hello from the relay"
        assert len(client.requests) == 1


# -- a client key removed by a reload


def _keys(*keys: str, serves: str = "all-keys", extra: str = "") -> str:
    listed = ", ".join(f'"{k}"' for k in keys)
    return f"api-keys: [{listed}]\nws-auth: true\nws-relay-serves: {serves}\n" + extra


async def _closed(client: Client) -> tuple[int | None, str]:
    await asyncio.wait_for(client.ended.wait(), 5)
    return client.ws.close_code, client.reason


@pytest.mark.parametrize("serves", ["all-keys", "own-key"])
async def test_a_relay_whose_key_a_reload_removes_is_closed(start_proxy, serves):
    """Before, a relay attached with a key the reload removed stayed attached and, with
    all-keys, kept being sent the remaining keys' prompts."""
    proxy = await start_proxy(_keys(KEY, OTHER, serves=serves), watch=True)
    async with attach(proxy, f"?key={OTHER}") as revoked, attach(proxy, f"?key={KEY}") as kept:
        assert len(proxy.service.relay) == 2
        proxy.config_path.write_text(_keys(KEY, serves=serves))
        code, _ = await _closed(revoked)
        assert code == 1008
        assert len(proxy.service.relay) == 1
        left = [c.id for c in proxy.service.pool.credentials() if c.provider == "aistudio"]
        assert left == [c.id for c in proxy.service.relay.credentials()]
        for _ in range(4):
            assert await _chat(proxy, KEY) == "hello from the relay"
        assert len(revoked.requests) == 0 and len(kept.requests) == 4
        assert not kept.ended.is_set()


async def test_a_relay_whose_key_the_management_api_removes_is_closed(start_proxy, monkeypatch):
    monkeypatch.setenv("MANAGEMENT_PASSWORD", "m-secret")
    proxy = await start_proxy(_keys(KEY, OTHER))
    async with attach(proxy, f"?key={OTHER}") as revoked:
        async with (
            aiohttp.ClientSession() as s,
            s.delete(
                proxy.url + "/v0/management/api-keys",
                params={"value": OTHER},
                headers={"X-Management-Key": "m-secret"},
            ) as r,
        ):
            assert r.status == 200, await r.text()
        code, reason = await _closed(revoked)
        assert code == 1008 and "api-keys" in reason
        assert len(proxy.service.relay) == 0
        await _refused(proxy, KEY)


async def test_a_hashed_key_that_stays_keeps_its_relay(start_proxy):
    """A key kept only as a bcrypt hash is checked off the loop; one still listed keeps
    its relay, a relay of a key no longer listed is closed."""
    stored = bcrypt.hashpw(OTHER.encode(), bcrypt.gensalt(rounds=4)).decode()
    extra = f'api-keys:\n  - "{KEY}"\n  - key-hash: "{stored}"\n'
    base = "ws-auth: true\nws-relay-serves: all-keys\n"
    proxy = await start_proxy(base + extra)
    async with attach(proxy, f"?key={OTHER}") as hashed, attach(proxy, f"?key={KEY}") as plain:
        assert len(proxy.service.relay) == 2
        proxy.config_path.write_text(base + f'api-keys:\n  - key-hash: "{stored}"\n')
        proxy.service.apply(load_or_default(proxy.config_path)[0])
        await _closed(plain)
        await asyncio.sleep(0.3)  # the bcrypt check of the kept key, in its thread
        assert not hashed.ended.is_set() and len(proxy.service.relay) == 1


async def test_ws_auth_switched_on_closes_the_relays_attached_without_it(start_proxy):
    """CPA (sdk/cliproxy/service_lifecycle.go): ws-auth false -> true ends the open relay
    sessions, so none attached without a key keeps serving."""
    proxy = await start_proxy(_keys(KEY, serves="own-key").replace("ws-auth: true", "ws-auth: false"))
    async with attach(proxy) as bare:
        assert await _chat(proxy, KEY) == "hello from the relay"
        proxy.config_path.write_text(_keys(KEY, serves="own-key"))
        proxy.service.apply(load_or_default(proxy.config_path)[0])
        code, _ = await _closed(bare)
        assert code == 1001
        assert len(proxy.service.relay) == 0
        await _refused(proxy, KEY)


# -- the parts


def test_plugin_callers_never_match_keys_and_no_identity_matches_nothing() -> None:
    owners = Owners()
    owners.set({"r-key": "alice", "r-plugin": plugin_caller("alice"), "r-anon": plugin_caller("")})

    def serves(key: str | None = None, plugin: str | None = "-") -> set[str]:
        token = CALLER.set(None if plugin == "-" else plugin_caller(plugin))
        try:
            headers = {"Authorization": f"Bearer {key}"} if key else {}
            route = SimpleNamespace(supports=lambda _c, _m: True)
            scoped = owners.scope(route, headers, {})
            return {
                c for c in ("r-key", "r-plugin", "r-anon") if scoped.supports(SimpleNamespace(id=c), MODEL)
            }
        finally:
            CALLER.reset(token)

    assert serves("alice") == {"r-key"}  # the key "alice"
    assert serves("alice", "alice") == {"r-plugin"}  # the plugin's principal "alice", whatever key it shows
    assert serves(plugin=None) == set()  # admitted without a principal: no owned relay
    assert serves() == set()


def test_which_keys_a_reloaded_api_keys_still_holds() -> None:
    stored = bcrypt.hashpw(b"hashed-key", bcrypt.gensalt(rounds=4)).decode()
    sha = "sha256:" + hashlib.sha256(b"sha-key").hexdigest()
    access = AccessPolicy(["plain"], hashed=[(sha, object()), (stored, object())])
    assert access.holds("plain") is True and access.holds("sha-key") is True
    assert access.holds("hashed-key") is None  # a bcrypt check must tell
    assert asyncio.run(access.confirm("hashed-key")) is True
    assert asyncio.run(access.confirm("gone")) is False and access.holds("gone") is False
    assert AccessPolicy([]).holds("plain") is False  # no api-keys: no key owns a relay

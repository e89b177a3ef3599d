"""A relay whose client key a reload removes is closed (``RelayHub.revoke``, ce14047), but
only the relays already attached were looked at: one whose key was being checked when the
reload came (a bcrypt-hashed key takes its check in a thread, then the upgrade) attached
after it, with the key gone, and stayed, in the pool and served, until its socket closed."""

from __future__ import annotations

import asyncio

import aiohttp
import bcrypt

from cliproxy.config import load_or_default
from tests.e2e.clients import KEY
from tests.security.test_relay2_owners import Client


async def test_a_relay_attaching_while_a_reload_removes_its_key_does_not_stay(start_proxy):
    slow = "sk-slow-hashed-key"
    stored = bcrypt.hashpw(slow.encode(), bcrypt.gensalt(rounds=13)).decode()  # ~0.5 s to check
    base = "ws-auth: true\nws-relay-serves: all-keys\n"
    proxy = await start_proxy(base + f'api-keys:\n  - "{KEY}"\n  - key-hash: "{stored}"\n')
    url = proxy.url.replace("http", "ws", 1) + "/v1/ws?key=" + slow
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        attaching = asyncio.create_task(session.ws_connect(url))
        await asyncio.sleep(0.2)  # the key is in its bcrypt check now
        proxy.config_path.write_text(base + f'api-keys: ["{KEY}"]\n')  # the hashed key removed
        proxy.service.apply(load_or_default(proxy.config_path)[0])
        try:
            ws = await attaching
        except aiohttp.WSServerHandshakeError:  # (the check came after the reload: refused)
            assert len(proxy.service.relay) == 0
            return
        client = Client(ws)
        serving = asyncio.create_task(client.serve())
        try:
            await asyncio.wait_for(client.ended.wait(), 5)  # before: never closed
            assert ws.close_code == 1008
            assert len(proxy.service.relay) == 0
        finally:
            await ws.close()
            serving.cancel()

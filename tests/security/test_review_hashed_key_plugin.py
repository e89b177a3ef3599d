"""A client key kept in ``api-keys`` only as a bcrypt hash (``key-hash``) beside a shared
(non-exclusive) frontend-auth plugin: the key is still a key. Before, the key check under
a frontend-auth plugin took "this key needs its bcrypt check" for "invalid key", so such a
key got 401 "Invalid API key" whenever the plugin did not admit the caller itself (and,
when it did, the caller was the plugin's principal, not the key: its own relays served it
nothing)."""

from __future__ import annotations

import bcrypt
import openai

from tests.e2e.clients import KEY
from tests.e2e.conftest import matrix_config
from tests.plugins.test_flow_python import HEADER, _plugin_cfg, write_python

HASHED = "sk-hashed-ci-key"

# admits X-User: <name> as principal <name>; any other request is not its to decide
DOOR = (
    HEADER
    + """
class Door(Plugin, FrontendAuthProvider):
    name = "door"; version = "1"; author = "t"; github_repository = "https://example.com/d"
    identifier = "door"; exclusive = False
    async def authenticate(self, req):
        user = next((v[0] for k, v in req.headers.items() if k.lower() == "x-user" and v), "")
        return FrontendAuthResponse(authenticated=True, principal=user) if user else None
plugin = Door()
"""
)


async def _chat(proxy, key: str) -> int:
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=key, max_retries=0) as sdk:
        try:
            await sdk.chat.completions.create(
                model="claude-model", messages=[{"role": "user", "content": "hi"}]
            )
        except openai.APIStatusError as exc:
            return exc.status_code
    return 200


async def test_a_hashed_key_is_let_in_beside_a_shared_frontend_plugin(start_proxy, fakes, tmp_path):
    stored = bcrypt.hashpw(HASHED.encode(), bcrypt.gensalt(rounds=4)).decode()
    pdir = write_python(tmp_path, {"door": DOOR})
    text = matrix_config(fakes, _plugin_cfg(pdir, {"door": {}})).replace(
        f'api-keys: ["{KEY}"]', f'api-keys:\n  - "{KEY}"\n  - key-hash: "{stored}"'
    )
    proxy = await start_proxy(text)
    assert await _chat(proxy, KEY) == 200  # a plain key: the sync check
    assert await _chat(proxy, HASHED) == 200  # a hashed key: its bcrypt check
    assert await _chat(proxy, "sk-made-up") == 401
    assert len(fakes.claude.requests) == 2

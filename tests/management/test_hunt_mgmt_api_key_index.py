"""``PATCH`` and ``DELETE /api-keys?index=`` act on the key ``GET /api-keys`` lists at that index.

The panel (Cli-Proxy-API-Management-Center, ``src/services/api/apiKeys.ts``) shows the list
GET answers and sends the row's position: ``DELETE /api-keys?index=<row>``. CPA's list is
the config's slice as written, so its index and the file's agree
(``deleteFromStringList`` / ``patchStringList`` in ``management/config_lists.go``). Ours
leaves out hashed keys (a ``key-hash`` entry has no key to show), blank entries and
repeats; the index used to count the file's entries, so a hashed key (or a blank line
or a repeat) before the row moved the delete onto another key: the key meant to be
revoked kept working and another client, or the hashed key, lost access.
"""

from __future__ import annotations

from typing import Any

import aiohttp
from ruamel.yaml import YAML

from tests.management.conftest import mcall


def keys_in_file(proxy: Any) -> list[Any]:
    return list(YAML(typ="safe").load(proxy.config_path.read_text())["api-keys"])


async def client_status(proxy: Any, key: str) -> int:
    async with (
        aiohttp.ClientSession() as s,
        s.get(proxy.url + "/v1/models", headers={"Authorization": f"Bearer {key}"}) as r,
    ):
        return r.status


async def test_deleting_a_row_after_a_hashed_key_deletes_that_row(mproxy: Any) -> None:
    proxy = await mproxy('api-keys: ["alice"]\n')
    status, made = await mcall(proxy, "POST", "/api-keys/policies", {"name": "ci", "hash": True})
    assert status == 200
    ci_key = made["key"]
    assert (await mcall(proxy, "PATCH", "/api-keys", {"old": "bob", "new": "bob"}))[
        0
    ] == 200  # the panel's add
    assert await mcall(proxy, "GET", "/api-keys") == (200, {"api-keys": ["alice", "bob"]})
    assert len(keys_in_file(proxy)) == 3  # alice, the hashed ci key, bob

    assert await mcall(proxy, "DELETE", "/api-keys?index=1") == (200, {"status": "ok"})  # bob's row
    assert await mcall(proxy, "GET", "/api-keys") == (200, {"api-keys": ["alice"]})
    assert await client_status(proxy, "bob") == 401  # revoked
    assert await client_status(proxy, ci_key) == 200  # before: the hashed key was deleted instead
    assert await client_status(proxy, "alice") == 200


async def test_rows_count_what_get_lists_not_blank_or_repeated_entries(mproxy: Any) -> None:
    """A CPA config with a blank entry and a key written twice (once with spaces)."""
    proxy = await mproxy('api-keys:\n  - ""\n  - "k1"\n  - " k1 "\n  - "k2"\n  - "k3"\n')
    assert await mcall(proxy, "GET", "/api-keys") == (200, {"api-keys": ["k1", "k2", "k3"]})

    assert await mcall(proxy, "PATCH", "/api-keys", {"index": 1, "value": "k2-new"}) == (
        200,
        {"status": "ok"},
    )
    assert await mcall(proxy, "GET", "/api-keys") == (200, {"api-keys": ["k1", "k2-new", "k3"]})

    assert await mcall(proxy, "DELETE", "/api-keys?index=0") == (200, {"status": "ok"})  # k1, both entries
    assert await mcall(proxy, "GET", "/api-keys") == (200, {"api-keys": ["k2-new", "k3"]})
    assert await client_status(proxy, "k1") == 401
    assert keys_in_file(proxy) == ["", "k2-new", "k3"]


async def test_old_new_renames_the_listed_key_everywhere_it_is_written(mproxy: Any) -> None:
    """Before, ``old`` was compared with the entries as written: ``"a"`` missed ``" a "``,
    and ``new`` was appended with the old key still valid."""
    proxy = await mproxy('api-keys: [" a ", "a", "b"]\n')
    assert await mcall(proxy, "PATCH", "/api-keys", {"old": "a", "new": "z"}) == (200, {"status": "ok"})
    assert await mcall(proxy, "GET", "/api-keys") == (200, {"api-keys": ["z", "b"]})
    assert await client_status(proxy, "a") == 401
    assert await mcall(proxy, "DELETE", "/api-keys?index=2") == (400, {"error": "missing index or value"})

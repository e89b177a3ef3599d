"""A disabled account in ``GET /auth-files`` is ``status: disabled``, ``disabled: true`` and
``unavailable: false``, as CPA lists it.

CPA's facts (``sdk/cliproxy/auth``): disabling an account through the panel
(``applyAuthDisabledState`` in ``auth_files_fields.go``, then ``Manager.Update``) runs
``clearCooldownStateForAuth`` on it, which sets ``Unavailable`` false and clears
``NextRetryAfter``; an account read disabled from its file is made with ``Unavailable``
false too (``watcher/synthesizer/file.go``), and the restore of cooldown records skips a
disabled account. The panel tells a disabled account apart by ``disabled`` alone: its
spectrum bar turns red for any ``unavailable: true``, disabled or not. Re-enabled, the
account carries none of its old model states (``Update`` inherits them only from active
to active). Before, cliproxy listed every disabled account ``unavailable: true``.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from tests.management.conftest import mcall
from tests.management.test_unavailable_model_states import (
    OPUS,
    SONNET,
    TOKEN,
    account_proxy,
    ask,
    listed,
    retry_at,
    spend_opus_week,
)

NAME = "claude-max.json"


async def set_disabled(proxy: Any, disabled: bool) -> None:
    body = {"name": NAME, "disabled": disabled}
    assert (await mcall(proxy, "PATCH", "/auth-files/status", body))[0] == 200


async def test_a_disabled_account_is_not_listed_unavailable(mproxy, fake_claude, tmp_path):
    """CPA: TestManager_Update_ActiveToDisabledDoesNotInheritModelStates and
    ``clearCooldownStateForAuth`` (``Unavailable`` false, ``NextRetryAfter`` zero for a
    disabled auth). The account is out as a whole (Opus and then Sonnet cooling, the only
    models it used) and is disabled through the panel: listed ``disabled``, not
    unavailable, with no time to wait for. Re-enabled (TestManager_Update_DisabledToActive
    DoesNotInheritStaleModelStates): ``active``, available, no message. Before, cliproxy
    listed every disabled account ``unavailable: true``."""
    proxy = await account_proxy(mproxy, fake_claude, tmp_path)
    spend_opus_week(fake_claude, retry_after=600)
    assert await ask(proxy, OPUS) == 429
    fake_claude.fail_key(TOKEN, 429, model=SONNET, message="Sonnet rate limited.", retry_after=300)
    assert await ask(proxy, SONNET) == 429
    entry = await listed(proxy)
    assert (entry["status"], entry["unavailable"], entry["disabled"]) == ("error", True, False)
    assert retry_at(entry) > time.time()

    await set_disabled(proxy, True)
    entry = await listed(proxy)
    assert (entry["status"], entry["disabled"], entry["unavailable"]) == ("disabled", True, False)
    assert "next_retry_after" not in entry

    await set_disabled(proxy, False)
    entry = await listed(proxy)
    assert (entry["status"], entry["status_message"]) == ("active", "")
    assert (entry["disabled"], entry["unavailable"]) == (False, False)
    assert "next_retry_after" not in entry


async def test_an_account_disabled_in_its_file_is_not_listed_unavailable(mproxy, tmp_path):
    """CPA: the file synthesizer makes an account whose file says ``disabled: true`` with
    ``Status`` disabled, ``Disabled`` true and ``Unavailable`` false; it is listed as such."""
    auth_dir = tmp_path / "auths"
    auth_dir.mkdir()
    account = {"type": "claude", "access_token": "at-x", "email": "off@example.com", "disabled": True}
    (auth_dir / "claude-off.json").write_bytes(orjson.dumps(account))
    proxy = await mproxy("usage-ledger: {enabled: false}\n")
    status, body = await mcall(proxy, "GET", "/auth-files")
    assert status == 200
    (entry,) = body["files"]
    assert (entry["status"], entry["status_message"]) == ("disabled", "")
    assert (entry["disabled"], entry["unavailable"]) == (True, False)
    assert "next_retry_after" not in entry

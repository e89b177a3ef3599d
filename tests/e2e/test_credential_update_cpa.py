"""What a credential keeps when its auth file is rewritten, as CPA's ``Manager.Update``
(sdk/cliproxy/auth/conductor_lifecycle.go, conductor_update_test.go): its cooldowns carry
over only from active to active. A file that is disabled, or re-enabled, starts with
none; before, a re-enabled account still refused requests for the rest of the cooldown
it had earned before it was disabled.
"""

from __future__ import annotations

from typing import Any

from tests.e2e.test_oauth_files import HEAD, claude_file, claude_status, wait_for, write_auth

NAME = "claude-a.json"


async def cooling(proxy: Any) -> list[Any]:
    pool = proxy.service.pool
    cred = pool.get(NAME)
    return [] if cred is None else await pool.cooldowns(cred)


async def cooled_proxy(start_proxy: Any, fake_claude: Any, tmp_path: Any) -> Any:
    """A proxy whose one Claude account has just been refused with an hour-long 429."""
    write_auth(tmp_path, NAME, claude_file(fake_claude.base_url, "at-a"))
    proxy = await start_proxy(HEAD + "request-retry: 0\n", watch=True)
    fake_claude.fail_next(429, message="rate limited", retry_after=3600)
    status, _ = await claude_status(proxy)
    assert status == 429
    assert await cooling(proxy)
    return proxy


async def test_disabling_and_re_enabling_starts_afresh(start_proxy, fake_claude, tmp_path) -> None:
    """TestManager_Update_ActiveToDisabledDoesNotInheritModelStates,
    TestManager_Update_DisabledToActiveDoesNotInheritStaleModelStates and
    TestManager_Update_DisabledExistingDoesNotInheritModelStates: the file rewritten with
    ``disabled: true`` drops the account's cooldowns, and once it is enabled again the
    next request is served at once.
    CPA: TestManager_SchedulerTracksRegisterAndUpdate."""
    proxy = await cooled_proxy(start_proxy, fake_claude, tmp_path)
    write_auth(tmp_path, NAME, claude_file(fake_claude.base_url, "at-a", disabled=True))

    async def disabled_and_clear() -> bool:
        cred = proxy.service.pool.get(NAME)
        return cred is not None and cred.disabled and not await cooling(proxy)

    await wait_for(disabled_and_clear)
    write_auth(tmp_path, NAME, claude_file(fake_claude.base_url, "at-a", disabled=False))

    async def enabled() -> bool:
        cred = proxy.service.pool.get(NAME)
        return cred is not None and not cred.disabled

    await wait_for(enabled)
    status, body = await claude_status(proxy)
    assert status == 200, body
    assert await cooling(proxy) == []


async def test_an_active_rewrite_keeps_the_cooldown(start_proxy, fake_claude, tmp_path) -> None:
    """TestManager_Update_ActiveInheritsModelStates and TestManager_Update_PreservesModelStates:
    rewriting an active file (another e-mail, the same tokens) keeps its cooldown; the
    account still refuses requests until it ends."""
    proxy = await cooled_proxy(start_proxy, fake_claude, tmp_path)
    write_auth(tmp_path, NAME, claude_file(fake_claude.base_url, "at-a", email="other@example.com"))

    async def rewritten() -> bool:
        cred = proxy.service.pool.get(NAME)
        return cred is not None and cred.metadata.get("email") == "other@example.com"

    await wait_for(rewritten)
    assert await cooling(proxy)
    fake_claude.clear()
    status, _ = await claude_status(proxy)
    assert status == 429
    assert fake_claude.requests == []  # refused by the proxy: the account is still cooling

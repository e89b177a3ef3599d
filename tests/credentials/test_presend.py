"""Which tokens are renewed before a request goes out (``credentials.presend``); the whole
path through the proxy is in tests/e2e/test_presend_refresh.py."""

from __future__ import annotations

from cliproxy.credentials.pool import Pool
from cliproxy.credentials.presend import PRESEND_LEAD
from cliproxy.credentials.record import KIND_APIKEY, Credential
from cliproxy.credentials.refresh import RefreshError
from tests.credentials.conftest import Clock
from tests.credentials.test_refresh import DAY, HOUR, oauth, refresher, write


def test_only_an_expired_or_expiring_token_is_renewed_before_sending(tmp_path, clock: Clock) -> None:
    """CPA's Antigravity ensureAccessToken refreshes a token that is missing or about to
    expire and sends a warm one as it is; here for every type with a token endpoint, and
    with the refresh loop's own 5 minutes as the lead (CPA: 50 minutes, see the module)."""
    r = refresher(Pool(clock=clock), None, clock)
    warm = write(tmp_path, "warm.json", oauth("claude", clock, expires_in=HOUR))  # loop's lead: 4 h
    assert not r.presend.stale(warm)  # due for the loop, still good to send
    expiring = write(tmp_path, "soon.json", oauth("antigravity", clock, expires_in=PRESEND_LEAD - 1))
    assert r.presend.stale(expiring)
    expired = write(tmp_path, "old.json", oauth("codex", clock, expires_in=-60))
    assert r.presend.stale(expired)
    no_token = write(tmp_path, "none.json", oauth("xai", clock, expires_in=DAY, access_token=""))
    assert r.presend.stale(no_token)
    unknown = write(tmp_path, "kimi.json", oauth("kimi", clock, expires_in=None))
    assert not r.presend.stale(unknown)  # no expiry: the upstream judges the token
    no_refresh = write(tmp_path, "nort.json", oauth("codex", clock, expires_in=-60, refresh_token=""))
    assert not r.presend.stale(no_refresh)
    key = Credential(id="k", provider="claude", kind=KIND_APIKEY, api_key="sk-1")
    assert not r.presend.stale(key)


async def test_a_failed_refresh_holds_back_a_valid_token_only(tmp_path, clock: Clock) -> None:
    """While a failed refresh backs off, a token that is still valid is sent as it is; an
    expired one still goes to the refresher, which fails at once when its refresh token
    was refused (the request then fails over instead of meeting a 401)."""
    r = refresher(Pool(clock=clock), None, clock)
    expiring = write(tmp_path, "soon.json", oauth("antigravity", clock, expires_in=60))
    await r._failed(expiring, RefreshError("down", status=502, credential_id=expiring.id))
    assert not r.presend.stale(expiring)
    clock.advance(61)
    assert r.presend.stale(expiring)

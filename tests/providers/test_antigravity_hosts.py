"""Antigravity's two Cloud Code hosts (CPA ``antigravityBaseURLFallbackOrder``): a request for
the daily host goes again to production when daily is unreachable, answers 429, or has no
capacity; any other answer is the client's. Two fake Cloud Code servers stand in for the
hosts."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from cliproxy.credentials.login import endpoints
from cliproxy.credentials.record import KIND_OAUTH, Credential
from cliproxy.providers.antigravity import AntigravityProvider
from cliproxy.providers.antigravity_hosts import HostFallback, install
from cliproxy.providers.http import HttpClient
from cliproxy.providers.registry import Providers
from cliproxy.providers.transport import UpstreamNetworkError, read_body
from tests.fakes.gemini import GeminiFake
from tests.fakes.server import Behavior

PATH = "/v1internal:generateContent"
ENVELOPE = orjson.dumps(
    {
        "model": "gemini-2.5-flash",
        "project": "p",
        "request": {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
    }
)
HEADERS = {"Content-Type": "application/json", "Authorization": "Bearer t"}


@pytest.fixture
def daily() -> Iterator[GeminiFake]:
    with GeminiFake() as fake:
        yield fake


class Inner:
    async def request(self, method: str, url: str, **kw: Any) -> Any:
        raise AssertionError("not called")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def send(fallback: HostFallback, url: str) -> tuple[int, bytes]:
    resp = await fallback.request("POST", url, headers=HEADERS, body=ENVELOPE)
    return resp.status, await read_body(resp)


async def through(daily: GeminiFake, prod: GeminiFake) -> tuple[int, bytes]:
    """A request for ``daily`` through a fallback to ``prod``."""
    http = HttpClient()
    try:
        return await send(HostFallback(daily.base_url, prod.base_url, http), daily.base_url + PATH)
    finally:
        await http.close()


def hits(fake: GeminiFake) -> int:
    return len([r for r in fake.requests if r.path == PATH])


@pytest.mark.parametrize(
    "behavior",
    [
        Behavior(status=429, retry_delay="2s"),
        Behavior(status=503, message="No capacity available for model gemini-2.5-flash on the server"),
    ],
    ids=["429", "no-capacity"],
)
async def test_a_busy_daily_host_sends_the_request_to_production(
    daily: GeminiFake, fake_gemini: GeminiFake, behavior: Behavior
) -> None:
    daily.script(behavior)
    http = HttpClient()
    try:
        fallback = HostFallback(daily.base_url, fake_gemini.base_url, http)
        status, body = await send(fallback, daily.base_url + PATH)
    finally:
        await http.close()
    assert status == 200 and orjson.loads(body)["response"]["candidates"]
    assert hits(daily) == 1 and hits(fake_gemini) == 1
    assert fake_gemini.last.body == ENVELOPE and fake_gemini.last.headers["Authorization"] == "Bearer t"


async def test_an_unreachable_daily_host_sends_the_request_to_production(fake_gemini: GeminiFake) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    http = HttpClient()
    try:
        status, _ = await send(HostFallback(dead, fake_gemini.base_url, http), dead + PATH)
    finally:
        await http.close()
    assert status == 200 and hits(fake_gemini) == 1


@pytest.mark.parametrize("status", [400, 401, 500, 503])
async def test_other_answers_are_the_clients(daily: GeminiFake, fake_gemini: GeminiFake, status: int) -> None:
    daily.fail_next(status, message="backend says no")
    got, body = await through(daily, fake_gemini)
    assert got == status and b"backend says no" in body  # a 503 read to look at it is still whole
    assert hits(fake_gemini) == 0


async def test_production_answers_whatever_it_answers(daily: GeminiFake, fake_gemini: GeminiFake) -> None:
    daily.fail_next(429)
    fake_gemini.fail_next(429, message="prod is busy too")
    status, body = await through(daily, fake_gemini)
    assert status == 429 and b"prod is busy too" in body and hits(fake_gemini) == 1


async def test_a_header_timeout_is_final(fake_gemini: GeminiFake) -> None:
    class Silent:
        async def request(self, method: str, url: str, **kw: Any) -> Any:
            raise UpstreamNetworkError("upstream did not answer", status=504)

    with pytest.raises(UpstreamNetworkError):
        await HostFallback("http://daily.test", fake_gemini.base_url, Silent()).request(  # type: ignore[arg-type]
            "POST", "http://daily.test" + PATH, headers=HEADERS, body=ENVELOPE
        )
    assert hits(fake_gemini) == 0


async def test_other_urls_and_streams_pass_through(daily: GeminiFake, fake_gemini: GeminiFake) -> None:
    http = HttpClient()
    try:
        fallback = HostFallback(daily.base_url, fake_gemini.base_url, http)
        status, _ = await send(fallback, fake_gemini.base_url + PATH)  # a credential's own base_url
        assert status == 200 and hits(daily) == 0
        daily.fail_next(429)
        resp = await fallback.request(
            "POST",
            daily.base_url + "/v1internal:streamGenerateContent?alt=sse",
            headers=HEADERS,
            body=ENVELOPE,
        )
        chunks = [c async for c in resp.chunks()]
        resp.release()
        assert resp.status == 200 and b"data: " in b"".join(chunks)
        assert fake_gemini.paths[-1] == "/v1internal:streamGenerateContent"
    finally:
        await http.close()


def test_a_new_credential_goes_to_the_daily_host_and_its_own_base_url_wins() -> None:
    provider = AntigravityProvider()
    assert provider.generation_base_url == "https://daily-cloudcode-pa.googleapis.com"
    cred = Credential(id="a", provider="antigravity", kind=KIND_OAUTH, metadata={"access_token": "t"})
    assert provider.base_url(cred) == "https://cloudcode-pa.googleapis.com"  # sign-in, project, models list
    url = provider.build(cred, {"contents": []}, model="m", stream=False, client_headers={}).url
    assert url == "https://daily-cloudcode-pa.googleapis.com" + PATH
    cred.base_url = "https://gw.example/"
    assert provider.build(cred, {"contents": []}, model="m", stream=False, client_headers={}).url == (
        "https://gw.example" + PATH
    )
    providers = Providers()
    fallback = install(providers, Inner())
    transport = providers.get("antigravity").transport  # type: ignore[union-attr]
    assert fallback is not None and transport.inner is fallback  # behind the rate-limit waits
    assert (fallback.first, fallback.then) == (
        "https://daily-cloudcode-pa.googleapis.com",
        "https://cloudcode-pa.googleapis.com",
    )


def test_an_environment_override_makes_one_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLIPROXY_OAUTH_ANTIGRAVITY_API", "http://127.0.0.1:9000/gw")  # production moved alone
    providers = Providers()
    assert providers.get("antigravity").generation_base_url == "http://127.0.0.1:9000/gw"  # type: ignore[union-attr]
    one = install(providers, Inner())  # (installed for the web search's links: no second host)
    assert one is not None and one.first == one.then == "http://127.0.0.1:9000/gw"
    monkeypatch.delenv("CLIPROXY_OAUTH_ANTIGRAVITY_API")
    monkeypatch.setenv("CLIPROXY_OAUTH_ANTIGRAVITY_BASE", "http://127.0.0.1:9000")  # both hosts moved
    providers = Providers()
    one = install(providers, Inner())
    assert one is not None and one.first == one.then == "http://127.0.0.1:9000"
    assert endpoints.url("antigravity", "api-daily") == "http://127.0.0.1:9000"
    taken = Providers()
    taken.get("antigravity").transport = Inner()  # type: ignore[union-attr]  # a test's, a plugin's
    assert install(taken, Inner()) is None

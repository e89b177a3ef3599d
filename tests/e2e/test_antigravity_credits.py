"""Antigravity through a running proxy: the Google One AI credits fallback
(``quota-exceeded.antigravity-credits``) and the first-use Cloud Code project lookup, against
a fake Cloud Code server written here (it refuses free quota per token, and credits per
token, as the real one answers)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web

from cliproxy.credentials.record import Credential
from cliproxy.formats import Format
from cliproxy.providers.antigravity_credits import Hints, candidates, credits_exhausted
from tests.e2e.clients import KEY, ask

FAR = "2099-01-01T00:00:00Z"
QUOTA_429 = {
    "error": {
        "code": 429,
        "status": "RESOURCE_EXHAUSTED",
        "message": "Resource has been exhausted",
        "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "QUOTA_EXHAUSTED"}],
    }
}
NO_CREDITS_429 = {
    "error": {
        "code": 429,
        "status": "RESOURCE_EXHAUSTED",
        "message": "Insufficient credits",
        "details": [
            {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "INSUFFICIENT_G1_CREDITS_BALANCE"}
        ],
    }
}


class CloudCode:
    """``exhausted``: tokens whose free quota is gone; ``broke``: tokens without credits.
    ``project``: what loadCodeAssist names (empty: onboard); ``load_status``: its status."""

    def __init__(self) -> None:
        self.exhausted: set[str] = set()
        self.broke: set[str] = set()
        self.project = ""
        self.load_status = 200
        self.generate: list[tuple[str, dict[str, Any]]] = []  # (token, envelope)
        self.control: list[tuple[str, dict[str, Any]]] = []  # (path, body) of loadCodeAssist / onboardUser
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def _load(self, request: web.Request) -> web.Response:
        """The project (or the tier to onboard to) and a paid tier whose list of credits
        names no Google One entry, as in CPA's refresh test: the credits balance lookup
        learns nothing, and the fallback finds out by trying (the lookup's own cases are
        in tests/providers/test_antigravity_balance.py)."""
        self.control.append((request.path, await request.json()))
        if self.load_status != 200:
            return web.json_response({"error": {"message": "backend error"}}, status=self.load_status)
        paid = {"paidTier": {"id": "g1-pro-tier", "availableCredits": []}}
        if self.project:
            return web.json_response({"cloudaicompanionProject": self.project, **paid})
        return web.json_response({"allowedTiers": [{"id": "standard-tier", "isDefault": True}], **paid})

    async def _onboard(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.control.append((request.path, body))
        project = {"cloudaicompanionProject": {"id": f"onboarded-{body['tier_id']}"}}
        return web.json_response({"done": True, "response": project})

    async def _generate(self, request: web.Request) -> web.StreamResponse:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        envelope = await request.json()
        self.generate.append((token, envelope))
        if "enabledCreditTypes" in envelope:
            if token in self.broke:
                return web.json_response(NO_CREDITS_429, status=429)
        elif token in self.exhausted:
            return web.json_response(QUOTA_429, status=429)
        answer = {
            "candidates": [
                {
                    "content": {"role": "model", "parts": [{"text": f"paid by {token}"}]},
                    "finishReason": "STOP",
                }
            ],
            "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 2, "totalTokenCount": 5},
        }
        if not request.path.endswith(":streamGenerateContent"):
            return web.json_response({"response": answer})
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        await resp.write(b"data: " + orjson.dumps({"response": answer}) + b"\n\n")
        await resp.write_eof()
        return resp

    async def start(self) -> CloudCode:
        app = web.Application()
        app.router.add_post("/v1internal:loadCodeAssist", self._load)
        app.router.add_post("/v1internal:onboardUser", self._onboard)
        app.router.add_post("/v1internal:generateContent", self._generate)
        app.router.add_post("/v1internal:streamGenerateContent", self._generate)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self.runner.addresses[0][1]}"
        return self


@pytest.fixture
async def cloud() -> AsyncIterator[CloudCode]:
    server = await CloudCode().start()
    yield server
    assert server.runner is not None
    await server.runner.cleanup()


def _auth(tmp_path: Path, name: str, token: str, base: str, project: str | None = "proj") -> Path:
    auth_dir = tmp_path / "auths"
    auth_dir.mkdir(exist_ok=True)
    data: dict[str, Any] = {
        "type": "antigravity",
        "access_token": token,
        "refresh_token": "r-" + token,
        "expired": FAR,
        "email": f"{token}@example.com",
        "base_url": base,
    }
    if project is not None:
        data["project_id"] = project
    staging = tmp_path / (name + ".staging")
    staging.write_bytes(orjson.dumps(data))
    os.replace(staging, auth_dir / name)
    return auth_dir / name


def _config(on: bool) -> str:
    return f"""
api-keys: ["{KEY}"]
request-retry: 0
quota-exceeded:
  antigravity-credits: {"true" if on else "false"}
"""


async def _status(base: str, model: str) -> int:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as http,
        http.post(base + "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {KEY}"}) as r,
    ):
        await r.read()
        return r.status


# ------------------------------------------------------------------ credits fallback


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_claude_falls_back_to_credits_when_every_free_quota_is_gone(
    start_proxy, cloud: CloudCode, tmp_path: Path, stream: bool
) -> None:
    """CPA conductor_home.go tryAntigravityCreditsExecute(+Stream) and
    antigravity_executor_credits_test.go TestAntigravityExecute_CreditsInjectedWhenConductorRequests:
    both accounts refuse on free quota (429), then each is tried with
    ``enabledCreditTypes: ["GOOGLE_ONE_AI"]``; the first has no credits
    (INSUFFICIENT_G1_CREDITS_BALANCE) and is skipped from then on, the second answers.
    CPA TestFindAllAntigravityCreditsCandidateAuths_PrefersKnownCreditsThenUnknown: the next
    request goes straight to the account known to have credits.
    CPA: TestManagerExecuteStream_AntigravityCreditsFallbackAfterBootstrap429,
    TestStatusCodeFromError_UnwrapsStreamBootstrap429 (the stream case: a 429 before the
    first byte counts as the 429 that opens the fallback)."""
    cloud.exhausted = {"tok-a", "tok-b"}
    cloud.broke = {"tok-a"}
    _auth(tmp_path, "antigravity-a.json", "tok-a", cloud.url)
    _auth(tmp_path, "antigravity-b.json", "tok-b", cloud.url)
    proxy = await start_proxy(_config(True))
    answer = await ask(Format.OPENAI, proxy.url, "claude-sonnet-4-6", "hi", stream=stream)
    assert answer.text == "paid by tok-b"
    sent = [(token, "enabledCreditTypes" in env) for token, env in cloud.generate]
    assert sorted(sent[:2]) == [("tok-a", False), ("tok-b", False)]  # the free attempts first
    assert sent[2:] == [("tok-a", True), ("tok-b", True)]
    assert cloud.generate[-1][1]["enabledCreditTypes"] == ["GOOGLE_ONE_AI"]
    assert cloud.generate[-1][1]["request"]["contents"][0]["parts"][0]["text"] == "hi"
    # tok-a cools down and has no credits: never asked again. tok-b's success ended its
    # cooldown (as CPA's MarkResult does), so it is asked on free quota first, then with credits
    cloud.generate.clear()
    answer = await ask(Format.OPENAI, proxy.url, "claude-sonnet-4-6", "again", stream=stream)
    assert answer.text == "paid by tok-b"
    sent = [(token, "enabledCreditTypes" in env) for token, env in cloud.generate]
    assert sent == [("tok-b", False), ("tok-b", True)]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_a_force_mapped_alias_keeps_its_name_on_the_credits_attempt(
    start_proxy, cloud: CloudCode, tmp_path: Path, stream: bool
) -> None:
    """TestManagerExecute_AntigravityCreditsFallbackForceMappingRewritesResponse and
    TestManagerExecuteStream_AntigravityCreditsFallbackForceMappingRewritesResponse: a Claude
    alias force-mapped to a Gemini model is eligible by the name the client asked for; the
    free attempt and the credits attempt both send the upstream name, and the answer names
    the alias, never the upstream model."""
    cloud.exhausted = {"tok-a"}
    _auth(tmp_path, "antigravity-a.json", "tok-a", cloud.url)
    alias, upstream = "claude-haiku-4-5-20251001", "gemini-3-flash"
    rules = f'[{{name: "{upstream}", alias: "{alias}", fork: true, force-mapping: true}}]'
    proxy = await start_proxy(_config(True) + f"oauth-model-alias:\n  antigravity: {rules}\n")
    answer = await ask(Format.OPENAI, proxy.url, alias, "hi", stream=stream)
    assert answer.text == "paid by tok-a" and answer.model == alias
    assert [("enabledCreditTypes" in env, env["model"]) for _, env in cloud.generate] == [
        (False, upstream),
        (True, upstream),
    ]
    assert upstream not in orjson.dumps(answer.raw, default=str).decode()


async def test_no_credits_when_off_or_for_a_model_that_is_not_claude(
    start_proxy, cloud: CloudCode, tmp_path: Path
) -> None:
    """CPA antigravity_executor_credits_test.go TestAntigravityExecute_NoCreditsWithoutConductorFlag
    and conductor_home.go (the fallback is for Claude models only): the 429 reaches the
    client and no request asks for credits. CPA:
    TestManagerExecuteStream_CodexOnlyDoesNotEnterAntigravityCreditsFallback: the gate is
    the model (a Claude name that Antigravity serves), so a Codex model never reaches it."""
    cloud.exhausted = {"tok-a"}
    _auth(tmp_path, "antigravity-a.json", "tok-a", cloud.url)
    proxy = await start_proxy(_config(False))
    assert await _status(proxy.url, "claude-sonnet-4-6") == 429
    assert all("enabledCreditTypes" not in env for _, env in cloud.generate)
    await proxy.close()
    cloud.generate.clear()
    proxy = await start_proxy(_config(True))
    assert await _status(proxy.url, "gemini-3-flash") == 429
    assert [("enabledCreditTypes" in env) for _, env in cloud.generate] == [False]


def test_credits_exhausted_reason() -> None:
    """CPA antigravityHasExplicitCreditsBalanceExhaustedReason: only the ErrorInfo reason counts."""
    assert credits_exhausted(orjson.dumps(NO_CREDITS_429))
    assert not credits_exhausted(orjson.dumps(QUOTA_429))
    assert not credits_exhausted(b'{"error":{"message":"INSUFFICIENT_G1_CREDITS_BALANCE"}}')
    assert not credits_exhausted(b"not json INSUFFICIENT_G1_CREDITS_BALANCE")
    assert not credits_exhausted(None)


def test_candidates_prefer_known_credits_then_unknown() -> None:
    """CPA conductor_credits_candidates_test.go
    TestFindAllAntigravityCreditsCandidateAuths_PrefersKnownCreditsThenUnknown: known-with-
    credits first, then unknown, each by id; known-without left out; other providers and
    disabled credentials never; a mark is forgotten after its TTL."""
    now = [0.0]
    hints = Hints(ttl=60, clock=lambda: now[0])
    creds = [
        Credential(id="z-known", provider="antigravity"),
        Credential(id="b-unknown", provider="antigravity"),
        Credential(id="a-unknown", provider="antigravity"),
        Credential(id="c-empty", provider="antigravity"),
        Credential(id="d-off", provider="antigravity", disabled=True),
        Credential(id="e-claude", provider="claude"),
    ]
    hints.mark("z-known", True)
    hints.mark("c-empty", False)
    assert [c.id for c in candidates(creds, hints)] == ["z-known", "a-unknown", "b-unknown"]
    now[0] = 61
    assert [c.id for c in candidates(creds, hints)] == ["a-unknown", "b-unknown", "c-empty", "z-known"]


# ------------------------------------------------------------------ first-use project


@pytest.mark.parametrize("named", [True, False], ids=["loadCodeAssist names it", "onboarded"])
async def test_a_credential_without_project_gets_one_on_first_use(
    start_proxy, cloud: CloudCode, tmp_path: Path, named: bool
) -> None:
    """CPA antigravity_executor_auth.go PrepareRequestAuth: no ``project_id`` -> the
    project from loadCodeAssist, or onboardUser with the default tier; the envelope carries
    it, the auth file keeps it, and the lookup is not repeated.
    CPA: TestAntigravityPrepareRequestAuth_FetchesMissingProjectID,
    TestManagerExecute_PreparesAndPersistsMissingRequestAuthMetadata."""
    cloud.project = "proj-found" if named else ""
    path = _auth(tmp_path, "antigravity-a.json", "tok-a", cloud.url, project=None)
    proxy = await start_proxy(_config(False))
    for _ in range(2):
        answer = await ask(Format.OPENAI, proxy.url, "gemini-3-flash", "hi", stream=False)
        assert answer.text == "paid by tok-a"
    want = "proj-found" if named else "onboarded-standard-tier"
    assert [env["project"] for _, env in cloud.generate] == [want, want]
    paths = [p for p, _ in cloud.control]
    assert paths == (
        ["/v1internal:loadCodeAssist"] if named else ["/v1internal:loadCodeAssist", "/v1internal:onboardUser"]
    )
    assert cloud.control[0][1] == {"metadata": {"ideType": "ANTIGRAVITY"}}
    saved = orjson.loads(path.read_bytes())
    assert saved["project_id"] == want and saved["access_token"] == "tok-a"


async def test_a_failed_project_lookup_is_the_credentials_failure(
    start_proxy, cloud: CloudCode, tmp_path: Path
) -> None:
    """The lookup failing is not the client's fault: 503 (CPA answers 400 there), and
    nothing is generated without a project."""
    cloud.load_status = 500
    _auth(tmp_path, "antigravity-a.json", "tok-a", cloud.url, project=None)
    proxy = await start_proxy(_config(False))
    assert await _status(proxy.url, "gemini-3-flash") == 503
    assert cloud.generate == []


STOP_AFTER_AUTH = """
from cliproxy.plugins.api import *

class Stop(Plugin, RequestInterceptor):
    name = "stop"; version = "1.0.0"; author = "t"; github_repository = "https://example.com/stop"
    async def intercept_after(self, req):
        with open(__LOG__, "a") as f:
            f.write(req.model + "\\n")
        return InterceptResult.terminate_with(429, b'{"error":"busy"}', {})

plugin = Stop()
"""


async def test_a_plugins_429_answer_opens_no_credits_fallback(
    start_proxy, cloud: CloudCode, tmp_path: Path
) -> None:
    """CPA: TestRequestTerminatedErrorSkipsCreditsFallback: an after-auth interceptor that
    answers the client with a 429 ends the request there, with credits fallback on: the
    interceptor is asked once, no attempt with credits follows and the upstream is never
    called."""
    log = tmp_path / "stop.log"
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "stop.py").write_text(STOP_AFTER_AUTH.replace("__LOG__", repr(str(log))))
    _auth(tmp_path, "antigravity-a.json", "tok-a", cloud.url)
    section = f'plugins:\n  enabled: true\n  dir: "{plugins}"\n  configs:\n    stop:\n      enabled: true\n'
    proxy = await start_proxy(_config(True) + section)
    assert await _status(proxy.url, "claude-sonnet-4-6") == 429
    assert log.read_text().splitlines() == ["claude-sonnet-4-6"]
    assert cloud.generate == []

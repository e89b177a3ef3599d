"""Plugins a newcomer writes from docs/plugins.md alone, loaded into a running proxy: a
router choosing the cheapest provider (examples/plugins/cheapest-router), a scheduler
preferring the key with the most requests left, an interceptor redacting e-mail
addresses, an executor for an API the proxy does not know; and what the host says when
a plugin is written wrong (a method it cannot call, a value of the wrong type, a config
entry with no plugin behind it, a decision it cannot follow)."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import anthropic
import openai
import pytest
from aiohttp import web

from tests.e2e.clients import KEY
from tests.plugins.plugin_dir import plugins_yaml, write_python
from tests.plugins.test_examples_web_search import install

PRICES = {"openai-compatible-cheapco": 0.1, "openai-compatible-pricyco": 1.0}


def _compat(cheap: Any, pricy: Any) -> str:
    """Two openai-compatibility upstreams serving gpt-4o-mini: cheapco and pricyco."""
    return "openai-compatibility:\n" + "".join(
        f'  - name: {name}\n    base-url: "{fake.base_url}/v1"\n    api-key-entries: [{{api-key: "k-{name}"}}]\n'
        "    models: [{name: gpt-4o-mini}]\n"
        for name, fake in (("cheapco", cheap), ("pricyco", pricy))
    )


async def _chat(client: openai.AsyncOpenAI, model: str, content: str = "hi") -> str:
    r = await client.chat.completions.create(model=model, messages=[{"role": "user", "content": content}])
    return r.choices[0].message.content or ""


async def _until(check: Any, timeout: float = 2.0) -> None:
    """Wait for ``check()`` (usage plugins run in the background, after the answer)."""
    for _ in range(int(timeout / 0.01)):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition never held")


def _router() -> Any:
    return next(m for n, m in sys.modules.items() if n.startswith("cliproxy_plugin_cheapest")).plugin


# ---------------------------------------------------------------- 1. cheapest-router (example)


async def test_cheapest_router_moves_on_while_the_cheapest_is_rate_limited(
    start_proxy, tmp_path, fake_openai, fake_responses
):
    pdir = install(tmp_path, "cheapest-router")
    settings = {"model": "gpt-4o-mini", "prices": PRICES}
    proxy = await start_proxy(
        f'api-keys: ["{KEY}"]\n'
        + _compat(fake_openai, fake_responses)
        + plugins_yaml(pdir, {"cheapest-router": settings})
    )
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        await _chat(client, "cheap")
        assert (fake_openai.last.key, len(fake_responses.requests)) == ("k-cheapco", 0)  # the cheapest
        fake_openai.fail_key("k-cheapco", 429, retry_after=60)
        with pytest.raises(openai.RateLimitError):  # the request the router sent there
            await _chat(client, "cheap")
        # the failed call's usage record carries the upstream's Retry-After (it was {} before)
        await _until(lambda: "openai-compatible-cheapco" in _router().out_until)
        left = _router().out_until["openai-compatible-cheapco"] - asyncio.get_running_loop().time()
        assert 55 < left <= 60
        assert "Hello from fake-openai" in await _chat(client, "cheap")
        assert fake_responses.last.key == "k-pricyco" and fake_responses.last.json["model"] == "gpt-4o-mini"
        assert await _chat(client, "gpt-4o-mini")  # other models: not the router's business


async def test_cheapest_router_refuses_a_config_without_prices(start_proxy, tmp_path, caplog):
    pdir = install(tmp_path, "cheapest-router")
    with caplog.at_level(logging.ERROR, logger="cliproxy.plugins.host"):
        proxy = await start_proxy(
            f'api-keys: ["{KEY}"]\n' + plugins_yaml(pdir, {"cheapest-router": {"model": "m"}})
        )
    assert "cheapest-router" not in proxy.service.plugins.records
    assert any("needs `model` and a `prices` mapping" in r.getMessage() for r in caplog.records)


# ---------------------------------------------------------------- 2. a scheduler fed by usage records

QUOTA = """
from cliproxy.plugins.api import PickDecision, PickRequest, Plugin, Scheduler, UsagePlugin, UsageRecord

class MostLeft(Plugin, Scheduler, UsagePlugin):
    name = "most-left"; version = "1.0.0"; author = "t"; github_repository = "https://example.com/m"
    left: dict[str, int] = {}

    async def handle_usage(self, record: UsageRecord) -> None:
        for name, values in record.response_headers.items():
            if name.lower() == "x-ratelimit-remaining-requests":
                self.left[record.auth_id] = int(values[0])

    async def pick(self, request: PickRequest) -> PickDecision | None:
        if not any(c.id in self.left for c in request.candidates):
            return None  # nothing learnt yet: the built-in strategy
        return PickDecision.auth(max(request.candidates, key=lambda c: self.left.get(c.id, 1 << 30)).id)

plugin = MostLeft()
"""


async def test_a_scheduler_learns_the_requests_left_from_usage_records(start_proxy, tmp_path, fake_claude):
    """UsageRecord.response_headers are the upstream's answer headers, as in CPA (the
    host sent {} before): a scheduler can prefer the key with the most requests left."""
    pdir = write_python(tmp_path, {"most-left": QUOTA})
    keys = "".join(f'  - api-key: "{k}"\n    base-url: "{fake_claude.base_url}"\n' for k in ("sk-a", "sk-b"))
    proxy = await start_proxy(
        f'api-keys: ["{KEY}"]\nclaude-api-key:\n{keys}' + plugins_yaml(pdir, {"most-left": {}})
    )
    fake_claude.answer_headers["sk-a"] = {"x-ratelimit-remaining-requests": "5"}
    fake_claude.answer_headers["sk-b"] = {"x-ratelimit-remaining-requests": "50"}
    plugin = next(m for n, m in sys.modules.items() if n.startswith("cliproxy_plugin_most_left")).plugin
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        for n in range(1, 5):
            await client.messages.create(
                model="claude-sonnet-4-6", max_tokens=8, messages=[{"role": "user", "content": "hi"}]
            )
            await _until(lambda n=n: len(plugin.left) >= min(n, 2))
    assert [r.key for r in fake_claude.requests][2:] == ["sk-b", "sk-b"]  # both known: the one with 50


# ---------------------------------------------------------------- 3. a request interceptor

REDACT = r"""
import json, re
from cliproxy.plugins.api import InterceptRequest, InterceptResult, Plugin, RequestInterceptor

EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")

def redact(v):
    if isinstance(v, str):
        return EMAIL.sub("[email]", v)
    if isinstance(v, list):
        return [redact(x) for x in v]
    if isinstance(v, dict):
        return {k: redact(x) for k, x in v.items()}
    return v

class Redact(Plugin, RequestInterceptor):
    name = "redact"; version = "1.0.0"; author = "t"; github_repository = "https://example.com/r"
    async def intercept_before(self, request: InterceptRequest) -> InterceptResult | None:
        body = json.dumps(redact(json.loads(request.body))).encode()
        return InterceptResult(body=body, headers={"X-Redacted": ["yes"]})

plugin = Redact()
"""


async def test_an_interceptor_redacts_before_the_upstream_sees_it(start_proxy, tmp_path, fake_claude):
    """The body an interceptor returns is what goes upstream, in any client format; the
    header it sets is a client request header for the later stages and plugins, which a
    built-in provider does not forward (as in CPA; docs/plugins.md says so)."""
    pdir = write_python(tmp_path, {"redact": REDACT})
    upstream = f'claude-api-key:\n  - api-key: "sk-a"\n    base-url: "{fake_claude.base_url}"\n'
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\n' + upstream + plugins_yaml(pdir, {"redact": {}}))
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        await client.messages.create(
            model="claude-sonnet-4-6",
            max_tokens=8,
            system="reply to ops@example.org",
            messages=[{"role": "user", "content": "mail bob.smith+x@mail.example.com now"}],
        )
    sent = json.dumps(fake_claude.last.json)
    assert "example" not in sent and sent.count("[email]") == 2
    assert "x-redacted" not in {k.lower() for k in fake_claude.last.headers}
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        await _chat(client, "claude-sonnet-4-6", "a@b.co")
    assert fake_claude.last.json["messages"][0]["content"][0]["text"] == "[email]"


# ---------------------------------------------------------------- 4. an executor for an unknown API

ACME = """
import json, time
from cliproxy.plugins.api import *

class Acme(Plugin, ModelRouter, Executor, ModelRegistrar):
    name = "acme"; version = "1.0.0"; author = "t"; github_repository = "https://example.com/a"
    identifier = "acme"; input_formats = ["openai"]; output_formats = ["openai"]; model_scope = "static"

    async def register_models(self, request):  # listed in /v1/models
        return ModelList(provider="acme", models=[ModelInfo(id="acme-1")])

    async def configure(self, config, host):
        self.url, self.key = config["base_url"] + "/generate", config["api_key"]

    async def route(self, request):
        return RouteDecision.self_() if request.requested_model.startswith("acme-") else None

    def _ask(self, request, stream):
        prompt = " ".join(m["content"] for m in json.loads(request.payload)["messages"])
        return ("POST", self.url, {"X-Acme-Key": [self.key]}, {"prompt": prompt, "stream": stream})

    @staticmethod
    def _usage(event):
        i, o = event["tokens_in"], event["tokens_out"]
        return {"prompt_tokens": i, "completion_tokens": o, "total_tokens": i + o}

    async def execute(self, request):
        resp = await self.host.http.do(*self._ask(request, False))
        if resp.status_code != 200:
            raise PluginError(f"acme answered {resp.status_code}", http_status=502)
        out = json.loads(resp.body)
        return ExecutorResponse(payload=json.dumps({
            "id": "acme-1", "object": "chat.completion", "created": int(time.time()), "model": request.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": out["text"]},
                         "finish_reason": "stop"}],
            "usage": self._usage(out)}).encode())

    async def execute_stream(self, request):
        head = {"id": "acme-1", "object": "chat.completion.chunk", "created": int(time.time()), "model": request.model}
        buf = b""
        async with self.host.http.stream(*self._ask(request, True)) as s:
            async for piece in s:
                buf += piece
                while b"\\n" in buf:
                    line, buf = buf.split(b"\\n", 1)
                    event = json.loads(line)
                    if event.get("done"):
                        frame = {**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                                 "usage": self._usage(event)}
                    else:
                        frame = {**head, "choices": [{"index": 0, "delta": {"content": event["delta"]}}]}
                    yield b"data: " + json.dumps(frame).encode() + b"\\n\\n"
        yield b"data: [DONE]\\n\\n"

plugin = Acme()
"""


@pytest.fixture
async def acme_api() -> AsyncIterator[str]:
    """A made-up LLM API: POST /generate {prompt, stream} -> JSON, or NDJSON lines."""

    async def generate(request: web.Request) -> web.StreamResponse:
        if request.headers.get("X-Acme-Key") != "acme-secret":
            return web.json_response({"error": "bad key"}, status=401)
        body = await request.json()
        words = ["Acme", "heard:", body["prompt"]]
        if not body["stream"]:
            return web.json_response({"text": " ".join(words), "tokens_in": 7, "tokens_out": 3})
        resp = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        await resp.prepare(request)
        for w in words:
            await resp.write(json.dumps({"delta": w + " "}).encode() + b"\n")
        await resp.write(json.dumps({"done": True, "tokens_in": 7, "tokens_out": 3}).encode() + b"\n")
        return resp

    app = web.Application()
    app.router.add_post("/generate", generate)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def test_an_executor_for_an_unknown_api_streams_and_counts(start_proxy, tmp_path, acme_api):
    pdir = write_python(tmp_path, {"acme": ACME})
    settings = {"base_url": acme_api, "api_key": "acme-secret"}
    proxy = await start_proxy(
        f'api-keys: ["{KEY}"]\nremote-management:\n  secret-key: "mgmt"\n'
        + plugins_yaml(pdir, {"acme": settings})
    )
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        assert [m.id async for m in client.models.list()] == ["acme-1"]
        assert await _chat(client, "acme-1", "hello") == "Acme heard: hello"
        stream = await client.chat.completions.create(
            model="acme-1",
            messages=[{"role": "user", "content": "hello"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [c async for c in stream]
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Acme heard: hello "
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 10
    auth = {"Authorization": "Bearer mgmt"}
    async with aiohttp.ClientSession() as s:
        for _ in range(100):  # the ledger's rows are written after the answers
            async with s.get(proxy.url + "/v0/management/usage", headers=auth) as r:
                usage = (await r.json())["usage"]
            if usage["total_requests"] == 2:
                break
            await asyncio.sleep(0.02)
        async with s.get(proxy.url + "/v0/management/usage/summary?group=model", headers=auth) as r:
            rows = (await r.json())["rows"]
        async with s.get(proxy.url + "/v0/management/usage/summary?group=provider", headers=auth) as r:
            providers = (await r.json())["rows"]
    assert (usage["total_requests"], usage["success_count"], usage["total_tokens"]) == (2, 2, 20)
    assert [(row["key"], row["requests"], row["total_tokens"]) for row in rows] == [("acme-1", 2, 20)]
    # the provider column names the plugin, as its usage records do (before: "")
    assert [(row["key"], row["requests"]) for row in providers] == [("acme", 2)]


# ---------------------------------------------------------------- what a mistake looks like

WRONG = """
from cliproxy.plugins.api import *

class Wrong(Plugin, ModelRouter):
    name = "{id}"; version = "1"; author = "t"; github_repository = "https://example.com/w"
    {body}

plugin = Wrong()
"""


def _wrong(pid: str, body: str) -> str:
    return WRONG.format(id=pid, body=body)


async def test_mistakes_are_named_at_load(start_proxy, tmp_path, fake_claude, caplog):
    """A hook the host cannot call is refused at load, naming it and the signature it
    needs (before: it loaded, then crashed on the first request with a TypeError); an
    enabled config entry with no plugin behind it is said (before: nothing at all)."""
    pdir = write_python(
        tmp_path,
        {
            "no-request": _wrong("no-request", "async def route(self): return None"),
            "two-args": _wrong(
                "two-args",
                "async def configure(self, config): pass\n    async def route(self, request): return None",
            ),
        },
    )
    upstream = f'claude-api-key:\n  - api-key: "sk-a"\n    base-url: "{fake_claude.base_url}"\n'
    ids = {"no-request": {}, "two-args": {}, "typo-router": {}}
    with caplog.at_level(logging.INFO, logger="cliproxy.plugins"):
        proxy = await start_proxy(f'api-keys: ["{KEY}"]\n' + upstream + plugins_yaml(pdir, ids))
    lines = [r.getMessage() for r in caplog.records]
    assert not set(ids) & set(proxy.service.plugins.records)
    assert any("ModelRouter.route(self) cannot be called as route(self, request)" in m for m in lines)
    assert any(
        "configure(self, config) cannot be called as configure(self, config, host)" in m for m in lines
    )
    assert any(
        "plugins.configs.typo-router is enabled but there is no plugin typo-router" in m and str(pdir) in m
        for m in lines
    )
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        assert await _chat(client, "claude-sonnet-4-6")  # the proxy serves on without them


async def test_a_wrong_answer_is_named(start_proxy, tmp_path, fake_claude, caplog):
    """A router returning a str, a normalizer returning a str, a router naming a provider
    with no credential: each log line names the plugin, the method and the value (before:
    "'str' object has no attribute 'to_wire'", "a bytes-like object is required", and
    nothing for the passed-over decision); the request takes the normal path."""
    pdir = write_python(
        tmp_path,
        {
            "says-str": _wrong("says-str", 'async def route(self, r): return "claude"'),
            "says-nosuch": _wrong(
                "says-nosuch", 'async def route(self, r): return RouteDecision.provider("nosuch")'
            ),
            "norm-str": """
from cliproxy.plugins.api import *
class N(Plugin, ResponseNormalizer):
    name = "norm-str"; version = "1"; author = "t"; github_repository = "https://example.com/n"
    async def normalize_after(self, request):
        return "not bytes"
plugin = N()
""",
        },
    )
    upstream = f'claude-api-key:\n  - api-key: "sk-a"\n    base-url: "{fake_claude.base_url}"\n'
    ids = {"says-nosuch": {"priority": 3}, "says-str": {"priority": 2}, "norm-str": {}}
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\n' + upstream + plugins_yaml(pdir, ids))
    with caplog.at_level(logging.INFO, logger="cliproxy.plugins"):
        async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
            assert "fake-claude" in await _chat(client, "claude-sonnet-4-6")
    lines = [r.getMessage() for r in caplog.records]
    assert any(
        "model router says-nosuch chose provider 'nosuch' for claude-sonnet-4-6, which has no enabled"
        " credential (available: claude): passed over" in m
        for m in lines
    )
    assert any(
        "plugin says-str crashed in model.route" in m
        and "Wrong.route returned str 'claude'; expected RouteDecision or None" in m
        for m in lines
    )
    assert any("N.normalize_after returned str 'not bytes'; expected bytes or None" in m for m in lines)
    assert any("left out until the proxy restarts or loads it from another file" in m for m in lines)

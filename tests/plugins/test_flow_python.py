"""Python plugins through a running proxy: model router targets, direct executors (whole
and streamed, with format translation), ordering, fall-through, interceptors, the
scheduler, nested host.model calls, stream-chunk interceptors, lifecycle."""

from __future__ import annotations

import asyncio

import aiohttp
import anthropic
import openai

from cliproxy.formats import Format
from cliproxy.usage import recorder_of
from tests.e2e.clients import KEY, ask
from tests.e2e.test_providers_more import antigravity_auth
from tests.plugins.plugin_dir import write_python

HEADER = """
from cliproxy.plugins.api import *
import json
META = dict(version="1.0.0", author="tests", github_repository="https://example.com/x")
"""

ROUTER = (
    HEADER
    + """
class Router(Plugin, ModelRouter):
    name = "{name}"; version = "1.0.0"; author = "t"; github_repository = "https://example.com/r"
    async def route(self, req):
        if req.requested_model == "{match}":
            return RouteDecision.provider("{provider}", "{model}")
        return None
plugin = Router()
"""
)

ECHO = (
    HEADER
    + """
CHAT = {"id": "chatcmpl-p", "object": "chat.completion", "created": 1, "model": "echo",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "PLUGIN-ANSWER"},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}}

def chunk(delta, finish=None):
    c = {"id": "chatcmpl-p", "object": "chat.completion.chunk", "created": 1, "model": "echo",
         "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return ("data: " + json.dumps(c) + "\\n\\n").encode()

class Echo(Plugin, ModelRouter, Executor):
    name = "echo"; version = "1.0.0"; author = "t"; github_repository = "https://example.com/e"
    identifier = "echo"; input_formats = ["openai"]; output_formats = ["openai"]; model_scope = "static"
    async def route(self, req):
        return RouteDecision.self_() if req.requested_model.startswith("echo") else None
    async def execute(self, req):
        body = json.loads(req.payload)
        if req.model == "echo-nested":  # call the host for a model this very plugin routes
            inner = await self.host.model.execute("openai", "openai", "echo-nested",
                                                  {"model": "echo-nested", "messages": body["messages"]})
            text = json.loads(inner.body)["choices"][0]["message"]["content"]
            out = dict(CHAT); out["choices"] = [dict(CHAT["choices"][0], message={"role": "assistant", "content": "NESTED:" + text})]
            return ExecutorResponse(payload=json.dumps(out).encode())
        return ExecutorResponse(payload=json.dumps(CHAT).encode())
    async def execute_stream(self, req):
        yield chunk({"role": "assistant", "content": ""})
        for word in ["PLUGIN", "-", "STREAM"]:
            yield chunk({"content": word})
        yield chunk({}, "stop")
        yield b"data: [DONE]\\n\\n"
plugin = Echo()
"""
)


def _plugin_cfg(dir_, entries: dict[str, dict]) -> str:
    lines = [f'plugins:\n  enabled: true\n  dir: "{dir_}"\n  configs:']
    for pid, cfg in entries.items():
        lines.append(f"    {pid}:\n      enabled: true\n      priority: {cfg.get('priority', 0)}")
        for k, v in cfg.items():
            if k != "priority":
                lines.append(f"      {k}: {v}")
    return "\n".join(lines) + "\n"


async def _proxy(
    start_proxy,
    fakes,
    tmp_path,
    plugins: dict[str, str],
    cfg: dict[str, dict],
    extra: str = "",
    base: bool = True,
):
    pdir = write_python(tmp_path, plugins)
    from tests.e2e.conftest import matrix_config

    if not base:
        return await start_proxy(f'api-keys: ["{KEY}"]\n' + _plugin_cfg(pdir, cfg) + extra)
    return await start_proxy(matrix_config(fakes, _plugin_cfg(pdir, cfg) + extra))


async def test_router_sends_a_model_to_a_provider(start_proxy, fakes, tmp_path):
    proxy = await _proxy(
        start_proxy,
        fakes,
        tmp_path,
        {"r1": ROUTER.format(name="r1", match="fast", provider="claude", model="claude-opus-4-6")},
        {"r1": {}},
    )
    answer = await ask(Format.OPENAI, proxy.url, "fast", "hi", stream=False)
    assert "Hello from fake-claude" in answer.text
    assert fakes.claude.last.json["model"] == "claude-opus-4-6"
    answer = await ask(Format.OPENAI, proxy.url, "claude-model", "hi", stream=False)  # unrouted: default flow
    assert fakes.claude.last.json["model"] == "claude-sonnet-4-6"


async def test_higher_priority_router_wins_and_ties_go_by_id(start_proxy, fakes, tmp_path):
    plugins = {
        "a-low": ROUTER.format(name="a-low", match="fast", provider="claude", model="claude-opus-4-6"),
        "b-high": ROUTER.format(name="b-high", match="fast", provider="gemini", model="gemini-2.5-pro"),
        "c-high": ROUTER.format(name="c-high", match="fast", provider="claude", model="claude-haiku-4-5"),
    }
    proxy = await _proxy(
        start_proxy,
        fakes,
        tmp_path,
        plugins,
        {"a-low": {"priority": 1}, "b-high": {"priority": 5}, "c-high": {"priority": 5}},
    )
    await ask(Format.OPENAI, proxy.url, "fast", "hi", stream=False)
    assert fakes.gemini.requests and fakes.gemini.last.model == "gemini-2.5-pro"
    assert not fakes.claude.requests


async def test_router_errors_and_invalid_targets_fall_through(start_proxy, fakes, tmp_path):
    crashing = (
        HEADER
        + """
class Boom(Plugin, ModelRouter):
    name = "boom"; version = "1"; author = "t"; github_repository = "https://example.com/b"
    async def route(self, req):
        raise RuntimeError("kaboom")
plugin = Boom()
"""
    )
    invalid = ROUTER.format(name="bad", match="fast", provider="no-such-provider", model="x")
    good = ROUTER.format(name="good", match="fast", provider="claude", model="claude-opus-4-6")
    proxy = await _proxy(
        start_proxy,
        fakes,
        tmp_path,
        {"boom": crashing, "bad": invalid, "good": good},
        {"boom": {"priority": 9}, "bad": {"priority": 8}, "good": {"priority": 1}},
    )
    for _ in range(2):
        answer = await ask(Format.OPENAI, proxy.url, "fast", "hi", stream=False)
        assert "Hello from fake-claude" in answer.text
    host = proxy.service.plugins
    assert host.records["boom"].fused
    assert [r.id for r in host.snapshot] == ["bad", "good"]


async def test_self_executor_whole_and_stream_in_every_client_format(start_proxy, fakes, tmp_path):
    proxy = await _proxy(start_proxy, fakes, tmp_path, {"echo": ECHO}, {"echo": {}})
    answer = await ask(Format.OPENAI, proxy.url, "echo", "hi", stream=False)
    assert answer.text == "PLUGIN-ANSWER"
    answer = await ask(Format.CLAUDE, proxy.url, "echo", "hi", stream=False)  # translated from openai
    assert answer.text == "PLUGIN-ANSWER"
    answer = await ask(Format.OPENAI, proxy.url, "echo", "hi", stream=True)
    assert answer.text == "PLUGIN-STREAM"
    answer = await ask(Format.CLAUDE, proxy.url, "echo", "hi", stream=True)
    assert answer.text == "PLUGIN-STREAM"
    answer = await ask(Format.GEMINI, proxy.url, "echo", "hi", stream=True)
    assert answer.text == "PLUGIN-STREAM"
    for fake in (fakes.openai, fakes.claude, fakes.gemini, fakes.responses):
        assert not fake.requests


async def test_nested_host_model_call_skips_the_calling_router(start_proxy, fakes, tmp_path):
    """CPA: TestExecuteModelPropagatesRouterSkipPluginID and
    TestExecuteModelStreamDoesNotReusePreparedRouteWhenRouterPluginSkipped: a plugin's
    nested call is routed without that plugin, so it does not re-enter its own executor."""
    # "echo-nested" is routed to the echo executor; inside it, host.model.execute asks for
    # "echo-nested" again: the caller is skipped, so the default flow (unknown model) answers.
    proxy = await _proxy(start_proxy, fakes, tmp_path, {"echo": ECHO}, {"echo": {}})
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        try:
            await client.chat.completions.create(
                model="echo-nested", messages=[{"role": "user", "content": "x"}]
            )
            raise AssertionError("the nested call should fail: no recursion into the same router")
        except openai.APIStatusError as exc:
            assert "echo-nested" in str(exc)  # unknown provider for model echo-nested


async def test_interceptors_rewrite_and_terminate(start_proxy, fakes, tmp_path):
    src = (
        HEADER
        + """
class Gate(Plugin, RequestInterceptor, RequestLifecycle):
    name = "gate"; version = "1"; author = "t"; github_repository = "https://example.com/g"
    completions = []
    async def intercept_before(self, req):
        body = json.loads(req.body)
        if "blocked" in json.dumps(body):
            return InterceptResult.terminate_with(403, b'{"error":{"type":"plugin_request_rejected","message":"no"}}',
                                                  {"Content-Type": ["application/json"], "X-Gate": ["closed"]})
        if "rewrite" in json.dumps(body):
            body["messages"] = [{"role": "user", "content": "REWRITTEN by the plugin"}]
            return InterceptResult(body=json.dumps(body).encode(), headers={"X-From-Plugin": ["yes"]})
        return None
    async def intercept_after(self, req):
        return InterceptResult(headers={"X-After": [req.to_format]})
    async def complete(self, done):
        Gate.completions.append((done.outcome, done.status_code))
plugin = Gate()
"""
    )
    proxy = await _proxy(start_proxy, fakes, tmp_path, {"gate": src}, {"gate": {}})
    answer = await ask(Format.OPENAI, proxy.url, "compat-model", "please rewrite", stream=False)
    assert "Hello from fake" in answer.text
    assert fakes.openai.last.json["messages"] == [{"role": "user", "content": "REWRITTEN by the plugin"}]
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            proxy.url + "/v1/chat/completions",
            json={"model": "compat-model", "messages": [{"role": "user", "content": "blocked"}]},
            headers={"Authorization": f"Bearer {KEY}"},
        ) as r,
    ):
        assert r.status == 403
        assert r.headers["X-Gate"] == "closed"
        assert (await r.json())["error"]["type"] == "plugin_request_rejected"
    await asyncio.sleep(0.1)
    import sys

    mod = next(m for n, m in sys.modules.items() if n.endswith("gate") and hasattr(m, "Gate"))
    assert ("succeeded", 200) in mod.Gate.completions and ("rejected", 403) in mod.Gate.completions


async def test_scheduler_picks_delegates_and_denies(start_proxy, fakes, tmp_path):
    """TestManagerPluginSchedulerSelectsAuthID and TestManagerPluginSchedulerErrorStopsPick:
    the scheduler's named credential serves every request (no rotation), and its error
    reaches the client with the plugin's status instead of a pick.
    CPA: TestBuilderBuildInjectsPluginHostScheduler and
    TestServiceSyncPluginRuntimeConfigInjectsPluginHostScheduler (a loaded scheduler plugin
    is asked by the proxy's picks)."""
    src = (
        HEADER
        + """
class Sched(Plugin, Scheduler):
    name = "sched"; version = "1"; author = "t"; github_repository = "https://example.com/s"
    async def configure(self, config, host):
        self.mode = config.get("mode", "")
    async def pick(self, req):
        if "deny" in req.model:
            raise PluginError("scheduler says no", http_status=451, code="scheduler_denied")
        last = sorted(c.id for c in req.candidates)[-1]
        return PickDecision.auth(last)
plugin = Sched()
"""
    )
    keys = f"""
claude-api-key:
  - api-key: "sk-x"
    base-url: "{fakes.claude.base_url}"
    models: [{{name: "claude-sonnet-4-6", alias: "pair"}}, {{name: "claude-sonnet-4-6", alias: "deny-me"}}]
  - api-key: "sk-y"
    base-url: "{fakes.claude.base_url}"
    models: [{{name: "claude-sonnet-4-6", alias: "pair"}}]
"""
    proxy = await _proxy(start_proxy, fakes, tmp_path, {"sched": src}, {"sched": {}}, extra=keys, base=False)
    for _ in range(3):
        await ask(Format.CLAUDE, proxy.url, "pair", "hi", stream=False)
    used = {r.key for r in fakes.claude.requests}
    assert len(used) == 1  # always the same (the last id), never rotated
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        try:
            await client.messages.create(
                model="deny-me", max_tokens=5, messages=[{"role": "user", "content": "x"}]
            )
            raise AssertionError("denied")
        except anthropic.APIStatusError as exc:
            assert exc.status_code == 451 and "scheduler says no" in str(exc)


async def test_stream_chunk_interceptor_drops_chunks(start_proxy, fakes, tmp_path):
    src = (
        HEADER
        + """
class Drop(Plugin, StreamChunkInterceptor):
    name = "drop"; version = "1"; author = "t"; github_repository = "https://example.com/d"
    async def intercept_chunk(self, req):
        if req.body and b'"-"' in req.body:
            return ChunkInterceptResult.drop()
        return None
plugin = Drop()
"""
    )
    proxy = await _proxy(start_proxy, fakes, tmp_path, {"echo": ECHO, "drop": src}, {"echo": {}, "drop": {}})
    answer = await ask(Format.OPENAI, proxy.url, "echo", "hi", stream=True)
    assert answer.text == "PLUGINSTREAM"


async def test_no_plugin_loaded_means_no_plugin_path(start_proxy, fakes, tmp_path):
    """CPA: TestNewServerWithoutPluginHostLeavesHandlerInterceptorsDisabled (and, by the
    other tests here, TestNewServerWithPluginHostInjectsHandlerInterceptors)."""
    proxy = await _proxy(start_proxy, fakes, tmp_path, {"echo": ECHO}, {})
    assert proxy.service.pipeline.plugins is None  # enabled globally, none configured
    answer = await ask(Format.OPENAI, proxy.url, "compat-model", "hi", stream=False)
    assert "Hello from fake" in answer.text


REGISTRAR = (
    HEADER
    + """
import json
class Mine(Plugin, ModelRegistrar, Executor):
    name = "mine"; version = "1"; author = "t"; github_repository = "https://example.com/m"
    identifier = "mine"; input_formats = ["claude"]; output_formats = ["claude"]
    calls = 0
    async def register_models(self, req):
        return ModelList(provider="mine", models=[ModelInfo(id="plug-model"), ModelInfo(id="plug-other")])
    async def execute(self, req):
        Mine.calls += 1
        if Mine.calls == 1:
            raise PluginError("busy, try later", http_status=503)
        msg = {"id": "msg_p", "type": "message", "role": "assistant", "model": req.model,
               "content": [{"type": "text", "text": "FROM-REGISTRAR " + req.source_format}],
               "stop_reason": "end_turn", "stop_sequence": None, "usage": {"input_tokens": 1, "output_tokens": 2}}
        return ExecutorResponse(payload=json.dumps(msg).encode())
plugin = Mine()
"""
)


async def test_registered_models_run_on_the_plugin_executor(start_proxy, fakes, tmp_path):
    """CPA: TestRegisterExecutorsExposesExecutorModelsForUserAuthBinding: the models a
    plugin executor registers are listed and served by that executor."""
    proxy = await _proxy(
        start_proxy,
        fakes,
        tmp_path,
        {"mine": REGISTRAR},
        {"mine": {}},
        extra="request-retry: 1\nmax-retry-interval: 5\ntransient-error-cooldown-seconds: 1\n",
    )
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        ids = {m.id async for m in client.models.list()}
        assert {"plug-model", "plug-other"} <= ids
        # the first call fails with 503: the credential cools for 1 s, the next round serves it
        reply = await client.chat.completions.create(
            model="plug-model", messages=[{"role": "user", "content": "x"}]
        )
    assert reply.choices[0].message.content == "FROM-REGISTRAR claude"


USAGE = (
    HEADER
    + """
class Meter(Plugin, UsagePlugin):
    name = "meter"; version = "1"; author = "t"; github_repository = "https://example.com/u"
    records = []
    async def handle_usage(self, rec):
        Meter.records.append(rec)
plugin = Meter()
"""
)


async def test_usage_plugin_gets_a_record_per_request(start_proxy, fakes, tmp_path):
    """CPA: TestUsageAdapterPreservesExplicitGenerateFalse (with the handlers'
    setGenerateMetadata): ``Generate`` is true unless the request says ``"generate":
    false`` (before, always true)."""
    import sys

    proxy = await _proxy(start_proxy, fakes, tmp_path, {"meter": USAGE}, {"meter": {}})
    await ask(Format.OPENAI, proxy.url, "claude-model", "hi", stream=False)
    await ask(Format.CLAUDE, proxy.url, "claude-model", "hi", stream=True)
    # a Chat stream that asks no usage chunk: the record has the upstream's usage all the same
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        stream = await client.chat.completions.create(
            model="claude-model",
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
            extra_body={"generate": False},
        )
        assert all([c.usage is None async for c in stream])
    await asyncio.sleep(0.2)
    mod = next(m for n, m in sys.modules.items() if n.endswith("meter") and hasattr(m, "Meter"))
    recs = mod.Meter.records
    assert len(recs) == 3
    assert sorted(rec.generate for rec in recs) == [False, True, True]
    for rec in recs:
        assert rec.provider == "claude" and rec.alias == "claude-model"
        assert rec.detail.input_tokens > 0 and rec.detail.output_tokens > 0
        assert not rec.failed


async def test_a_stream_keeps_its_credential_under_plugins(start_proxy, fakes, tmp_path):
    """Wrapped for the plugins' stream stages, a stream still names the credential that
    answered it, so that its usage record names the account (an OAuth account's e-mail),
    as it does without plugins."""
    antigravity_auth(tmp_path, fakes.gemini.base_url)
    proxy = await _proxy(start_proxy, fakes, tmp_path, {"meter": USAGE}, {"meter": {}})
    rec = recorder_of(proxy.service)
    finished, seen = rec.finished, []

    def watched(t):
        seen.append(t)
        finished(t)

    rec.finished = watched
    answer = await ask(Format.CLAUDE, proxy.url, "gemini-3-flash", "Say hello", stream=True)
    assert "Hello from fake" in answer.text
    for _ in range(100):
        if seen:
            break
        await asyncio.sleep(0.01)
    [trace] = seen
    assert trace.credential is not None and trace.credential.email == "ag@example.com"
    assert trace.usage is not None and trace.usage.input_tokens > 0


THINKER = (
    HEADER
    + """
import json
class Thinker(Plugin, ThinkingApplier, ModelRouter, Executor):
    name = "thinker"; version = "1"; author = "t"; github_repository = "https://example.com/th"
    identifier = "deep"; thinking_identifier = "deep"
    input_formats = ["openai"]; output_formats = ["openai"]; model_scope = "static"
    async def route(self, req):
        return RouteDecision.self_() if req.requested_model.startswith("deep") else None
    async def apply_thinking(self, req):
        body = json.loads(req.body)
        body["x_thinking"] = {"mode": req.config.mode, "level": req.config.level, "budget": req.config.budget}
        return json.dumps(body).encode()
    async def execute(self, req):
        seen = json.loads(req.payload).get("x_thinking")
        out = {"id": "c", "object": "chat.completion", "created": 1, "model": req.model,
               "choices": [{"index": 0, "message": {"role": "assistant", "content": json.dumps(seen)},
                            "finish_reason": "stop"}], "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}
        return ExecutorResponse(payload=json.dumps(out).encode())
plugin = Thinker()
"""
)


async def test_thinking_applier_for_a_plugin_provider(start_proxy, fakes, tmp_path):
    import json

    proxy = await _proxy(start_proxy, fakes, tmp_path, {"thinker": THINKER}, {"thinker": {}})
    answer = await ask(Format.OPENAI, proxy.url, "deep(high)", "hi", stream=False)
    assert json.loads(answer.text) == {"mode": "level", "level": "high", "budget": 0}


OAUTH_EXEC = (
    HEADER
    + """
import json
class Acct(Plugin, ModelProvider, Executor):
    name = "acct"; version = "1"; author = "t"; github_repository = "https://example.com/a"
    identifier = "acme"; input_formats = ["openai"]; output_formats = ["openai"]; model_scope = "oauth"
    async def models_for_auth(self, req):
        meta = json.loads(req.storage_json)
        return ModelList(provider="acme", models=[ModelInfo(id="acme-" + meta["tier"])])
    async def execute(self, req):
        token = json.loads(req.storage_json)["token"]
        out = {"id": "c", "object": "chat.completion", "created": 1, "model": req.model,
               "choices": [{"index": 0, "message": {"role": "assistant", "content": "acct " + req.auth_id + " " + token},
                            "finish_reason": "stop"}], "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}
        return ExecutorResponse(payload=json.dumps(out).encode())
plugin = Acct()
"""
)


async def test_auth_files_of_a_plugin_provider_serve_through_its_executor(start_proxy, fakes, tmp_path):
    auths = tmp_path / "auths"
    auths.mkdir(exist_ok=True)
    (auths / "acme-1.json").write_text('{"type": "acme", "tier": "gold", "token": "t-1"}')
    proxy = await _proxy(start_proxy, fakes, tmp_path, {"acct": OAUTH_EXEC}, {"acct": {}})
    answer = await ask(Format.OPENAI, proxy.url, "acme-gold", "hi", stream=False)
    assert answer.text == "acct acme-1.json t-1"


AUTH_PLUGIN = (
    HEADER
    + """
import json
class Acme(Plugin, AuthProvider, ModelProvider, Executor):
    name = "acme"; version = "1"; author = "t"; github_repository = "https://example.com/acme"
    identifier = "acme"; input_formats = ["openai"]; output_formats = ["openai"]; model_scope = "oauth"
    async def parse(self, req):
        raw = json.loads(req.raw_json)
        return AuthParseResponse(handled=True, auth=AuthData(provider="acme", label="acme:" + raw["user"]))
    async def refresh(self, req):
        data = json.loads(req.storage_json)
        data["token"] = "new-token"
        return AuthRefreshResponse(auth=AuthData(provider="acme", storage_json=json.dumps(data).encode()))
    async def models_for_auth(self, req):
        return ModelList(provider="acme", models=[ModelInfo(id="acme-model")])
    async def execute(self, req):
        token = json.loads(req.storage_json)["token"]
        if token != "new-token":
            raise PluginError("token expired", http_status=401)
        out = {"id": "c", "object": "chat.completion", "created": 1, "model": req.model,
               "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok with " + token},
                            "finish_reason": "stop"}], "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}
        return ExecutorResponse(payload=json.dumps(out).encode())
plugin = Acme()
"""
)


async def test_auth_provider_parses_and_refreshes_its_credentials(start_proxy, fakes, tmp_path):
    import json

    auths = tmp_path / "auths"
    auths.mkdir(exist_ok=True)
    (auths / "acme-bob.json").write_text('{"type": "acme", "user": "bob", "token": "old-token"}')
    proxy = await _proxy(start_proxy, fakes, tmp_path, {"acme": AUTH_PLUGIN}, {"acme": {}})
    cred = proxy.service.pool.get("acme-bob.json")
    assert cred is not None and cred.label == "acme:bob"  # auth.parse
    answer = await ask(Format.OPENAI, proxy.url, "acme-model", "hi", stream=False)
    assert answer.text == "ok with new-token"  # 401 -> auth.refresh -> retried once
    saved = json.loads((auths / "acme-bob.json").read_text())
    assert saved["token"] == "new-token" and saved["type"] == "acme" and saved["user"] == "bob"


async def test_scheduler_sees_the_routes_providers_in_cpas_order(start_proxy, fakes, tmp_path):
    """CPA's schedulerProviders (conductor_selection.go): a model served by two providers
    reaches the scheduler with its providers in the registry's order, the provider with
    more credentials first (CPA's GetModelProviders), not sorted by name. The plugin
    refuses the pick, naming what it was shown."""
    src = (
        HEADER
        + """
class Sched(Plugin, Scheduler):
    name = "sched"; version = "1"; author = "t"; github_repository = "https://example.com/s"
    async def pick(self, req):
        raise PluginError("shown " + ",".join(req.providers), http_status=409, code="shown")
plugin = Sched()
"""
    )
    gemini = "".join(
        f'  - api-key: "{k}"\n    base-url: "{fakes.gemini.base_url}"\n'
        '    models: [{name: "gemini-2.5-pro", alias: "mix"}]\n'
        for k in ("g-1", "g-2")
    )
    keys = f"""
claude-api-key:
  - api-key: "sk-x"
    base-url: "{fakes.claude.base_url}"
    models: [{{name: "claude-sonnet-4-6", alias: "mix"}}]
gemini-api-key:
{gemini}"""
    proxy = await _proxy(start_proxy, fakes, tmp_path, {"sched": src}, {"sched": {}}, extra=keys, base=False)
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        try:
            await client.messages.create(
                model="mix", max_tokens=5, messages=[{"role": "user", "content": "x"}]
            )
            raise AssertionError("refused")
        except anthropic.APIStatusError as exc:
            assert exc.status_code == 409 and "shown gemini,claude" in str(exc)

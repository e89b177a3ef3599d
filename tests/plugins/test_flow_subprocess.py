"""Subprocess plugins (JSON lines over stdio, tests/plugins/subproc/router_plugin.py)
through a running proxy: router + executor streaming through host.stream.emit/close,
nested host.model calls, an interceptor that terminates, crash containment when the
plugin process is SIGKILLed mid-request, a scheduler, and a garbling router."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiohttp
import anthropic
import openai
import pytest

from cliproxy.formats import Format
from tests.e2e.clients import KEY, ask
from tests.e2e.conftest import matrix_config
from tests.plugins.plugin_dir import plugins_yaml, py_router, seen, write_python

SCRIPT = Path(__file__).parent / "subproc" / "router_plugin.py"
INNER = "Hello from fake-openai (model gpt-4o-mini)"  # the fake's answer to compat-model


def command(pid: str, mode: str = "main") -> list[str]:
    return [sys.executable, str(SCRIPT), "--mode", mode, "--name", pid]


async def start(
    start_proxy, tmp_path: Path, cfg: dict[str, dict], *, base: str, python: dict[str, str] | None = None
):
    pdir = write_python(tmp_path, python or {})
    return await start_proxy(base + plugins_yaml(pdir, cfg))


def _openai(proxy) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0)


def _anthropic(proxy) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0)


async def test_router_executor_whole_streamed_and_nested(start_proxy, fakes, tmp_path):
    """CPA: TestHostStreamCallbacksEmitAndClose (the stream arrives through
    host.stream.emit and ends with host.stream.close),
    TestRPCExecuteStreamKeepsHostCallbackScopeUntilStreamCloses (the plugin's nested
    host.model calls while streaming run in the stream's scope),
    TestHostModelExecuteCallbackCarriesCallerPluginSkipID (the nested calls skip the
    calling router)."""
    proxy = await start(start_proxy, tmp_path, {"sp": {"command": command("sp")}}, base=matrix_config(fakes))
    assert proxy.service.plugins.records["sp"].transport == "subprocess"

    answer = await ask(Format.OPENAI, proxy.url, "sp-one", "hi", stream=False)
    assert answer.text == "SUBPROC-ANSWER"
    # async stream: execute_stream answers no chunks, then host.stream.emit / close
    answer = await ask(Format.OPENAI, proxy.url, "sp-one", "hi", stream=True)
    assert answer.text == "SUBPROC-STREAM"
    answer = await ask(Format.CLAUDE, proxy.url, "sp-one", "hi", stream=True)  # translated from openai
    assert answer.text == "SUBPROC-STREAM"
    async with (
        _anthropic(proxy) as client,
        client.messages.stream(
            model="sp-two", max_tokens=50, messages=[{"role": "user", "content": "hi"}]
        ) as s,
    ):
        events = [e.type async for e in s]
        final = await s.get_final_message()
    assert "".join(b.text for b in final.content) == "SUBPROC-STREAM"
    assert events[0] == "message_start" and events[-1] == "message_stop"
    assert not fakes.openai.requests and not fakes.claude.requests

    # host.model.execute from inside executor.execute (the plugin waits for the answer)
    answer = await ask(Format.OPENAI, proxy.url, "sp-nested", "hi", stream=False)
    assert answer.text == f"SP-NESTED[{INNER}]"
    # host.model.execute_stream read piece by piece and re-emitted, to an Anthropic client
    answer = await ask(Format.CLAUDE, proxy.url, "sp-nested", "hi", stream=True)
    assert answer.text == INNER
    assert [r.model for r in fakes.openai.requests] == ["gpt-4o-mini", "gpt-4o-mini"]
    assert fakes.openai.requests[1].json["stream"] is True

    counts = await seen(proxy, "sp")
    assert counts["executes"] == ["sp-one", "sp-nested"]
    assert counts["streams"] == ["sp-one", "sp-one", "sp-two", "sp-nested"]
    assert "compat-model" not in counts["routes"]  # the nested calls skipped the calling router


async def test_interceptor_terminates_forbidden_requests(start_proxy, fakes, tmp_path):
    proxy = await start(start_proxy, tmp_path, {"sp": {"command": command("sp")}}, base=matrix_config(fakes))
    async with _openai(proxy) as client:
        with pytest.raises(openai.PermissionDeniedError) as caught:
            await client.chat.completions.create(
                model="compat-model", messages=[{"role": "user", "content": "something forbidden"}]
            )
        assert caught.value.response.headers["X-Rejected-By"] == "sp"
        assert "forbidden by the subprocess plugin" in str(caught.value)
        with pytest.raises(openai.PermissionDeniedError):  # routed to the plugin: stopped first
            await client.chat.completions.create(
                model="sp-one", messages=[{"role": "user", "content": "forbidden"}]
            )
        done = await client.chat.completions.create(
            model="compat-model", messages=[{"role": "user", "content": "ok"}]
        )
    assert done.choices[0].message.content == INNER
    async with _anthropic(proxy) as client:
        with pytest.raises(anthropic.PermissionDeniedError):
            await client.messages.create(
                model="claude-model", max_tokens=5, messages=[{"role": "user", "content": "forbidden"}]
            )
    assert len(fakes.openai.requests) == 1 and not fakes.claude.requests
    counts = await seen(proxy, "sp")
    assert counts["executes"] == [] and counts["intercepts"] == 4


def crash_config(fakes) -> str:
    # "slow-model" is also a Claude alias: the default flow serves it once the plugin is gone
    return matrix_config(fakes).replace(
        'alias: "claude-model"',
        'alias: "claude-model"\n      - name: "claude-sonnet-4-6"\n        alias: "slow-model"',
    )


async def _routed(proxy, n: int) -> BaseException | None:
    try:
        if n % 2:
            async with _anthropic(proxy) as client:
                await client.messages.create(
                    model="slow-model", max_tokens=5, messages=[{"role": "user", "content": "x"}]
                )
        else:
            async with _openai(proxy) as client:
                await client.chat.completions.create(
                    model="slow-model", messages=[{"role": "user", "content": "x"}]
                )
    except (openai.APIStatusError, anthropic.APIStatusError) as exc:
        return exc
    return None


async def _normal(proxy) -> str:
    async with _openai(proxy) as client:
        done = await client.chat.completions.create(
            model="compat-model", messages=[{"role": "user", "content": "x"}]
        )
    return done.choices[0].message.content or ""


async def _wait_for(predicate, timeout: float = 3.0) -> None:
    async with asyncio.timeout(timeout):
        while not await predicate():
            await asyncio.sleep(0.02)


async def test_sigkill_mid_request_is_contained(start_proxy, fakes, tmp_path):
    """A plugin executor that dies mid-request: each of its requests gets an error, the
    plugin is fused and not asked again (CPA: TestExecutorAdapterPanicFusesAndReturnsError),
    other requests are served."""
    proxy = await start(start_proxy, tmp_path, {"sp": {"command": command("sp")}}, base=crash_config(fakes))
    host = proxy.service.plugins
    rec = host.records["sp"]
    routed = [asyncio.create_task(_routed(proxy, n)) for n in range(10)]

    async def all_in_plugin() -> bool:
        return len((await seen(proxy, "sp"))["executes"]) == 10

    await _wait_for(all_in_plugin)  # every routed request sleeps inside executor.execute
    fakes.openai.delay_next(0.3, times=10)
    normal = [asyncio.create_task(_normal(proxy)) for _ in range(10)]
    await asyncio.sleep(0.1)  # the normal requests are in flight too
    os.kill(rec.client.pid, signal.SIGKILL)

    errors = await asyncio.wait_for(asyncio.gather(*routed), 5)  # fail fast, no hang
    for n, exc in enumerate(errors):
        assert exc is not None and exc.status_code >= 500, exc
        body = exc.response.json()
        if n % 2:
            assert body["type"] == "error" and body["error"]["message"]  # Anthropic's error shape
        else:
            assert body["error"]["message"]  # OpenAI's error shape
    assert await asyncio.wait_for(asyncio.gather(*normal), 5) == [INNER] * 10
    assert rec.fused
    assert host.snapshot == ()
    assert rec.client.returncode is not None

    # the plugin's model now falls through to the default flow; the proxy keeps serving
    answer = await ask(Format.OPENAI, proxy.url, "slow-model", "hi", stream=False)
    assert "Hello from fake-claude" in answer.text
    assert await _normal(proxy) == INNER


async def test_sigkill_mid_stream_ends_the_stream(start_proxy, fakes, tmp_path):
    proxy = await start(start_proxy, tmp_path, {"sp": {"command": command("sp")}}, base=matrix_config(fakes))
    rec = proxy.service.plugins.records["sp"]
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            proxy.url + "/v1/chat/completions",
            headers={"Authorization": f"Bearer {KEY}"},
            json={"model": "sp-stall", "stream": True, "messages": [{"role": "user", "content": "x"}]},
        ) as r,
    ):
        assert r.status == 200
        first = await asyncio.wait_for(r.content.readuntil(b"STALL"), 5)
        assert b"STALL" in first
        os.kill(rec.client.pid, signal.SIGKILL)
        rest = await asyncio.wait_for(r.content.read(), 3)  # the stream must end, not hang
    assert b"SUB" not in rest
    assert rec.fused


SCHED_KEYS = """
claude-api-key:
  - api-key: "sk-a"
    base-url: "{base}"
    models: [{{name: "claude-sonnet-4-6", alias: "pair"}}, {{name: "claude-sonnet-4-6", alias: "deny-me"}},
             {{name: "claude-sonnet-4-6", alias: "rotate-me"}}]
  - api-key: "sk-b"
    base-url: "{base}"
    models: [{{name: "claude-sonnet-4-6", alias: "pair"}}, {{name: "claude-sonnet-4-6", alias: "rotate-me"}}]
"""


@pytest.mark.parametrize("which", ["first", "last"])
async def test_subprocess_scheduler_picks_by_auth_id(start_proxy, fakes, tmp_path, which):
    base = f'api-keys: ["{KEY}"]\n' + SCHED_KEYS.format(base=fakes.claude.base_url)
    proxy = await start(
        start_proxy, tmp_path, {"sched": {"command": command("sched", "scheduler"), "pick": which}}, base=base
    )
    keys = {c.id: c.api_key for c in proxy.service.pool.credentials()}
    for _ in range(3):
        await ask(Format.CLAUDE, proxy.url, "pair", "hi", stream=False)
    counts = await seen(proxy, "sched")
    assert counts["config"]["pick"] == which  # the plugin's config subtree reached it
    ids = sorted(keys)
    assert [p["candidates"] for p in counts["picks"]] == [ids] * 3
    assert counts["picks"][0]["providers"] == ["claude"]
    chosen = ids[0] if which == "first" else ids[-1]
    assert [r.key for r in fakes.claude.requests] == [keys[chosen]] * 3

    fakes.claude.clear()
    for _ in range(4):  # DelegateBuiltin round-robin: the built-in rotation
        await ask(Format.CLAUDE, proxy.url, "rotate-me", "hi", stream=False)
    assert {r.key for r in fakes.claude.requests} == {"sk-a", "sk-b"}

    async with _anthropic(proxy) as client:  # an error envelope denies the pick with its status
        with pytest.raises(anthropic.APIStatusError) as caught:
            await client.messages.create(
                model="deny-me", max_tokens=5, messages=[{"role": "user", "content": "x"}]
            )
    assert caught.value.status_code == 451 and "scheduler says no" in str(caught.value)


async def test_subprocess_router_failures_fall_through(start_proxy, fakes, tmp_path):
    models = ("fall-error", "fall-invalid", "fall-nokind", "fall-list", "fall-none", "fall-rc")
    good = py_router("good", models, "claude", "claude-opus-4-6")
    proxy = await start(
        start_proxy,
        tmp_path,
        {"garble": {"command": command("garble", "garble"), "priority": 9}, "good": {"priority": 1}},
        base=matrix_config(fakes),
        python={"good": good},
    )
    host = proxy.service.plugins
    rec = host.records["garble"]
    for model in models[:-1]:
        answer = await ask(Format.OPENAI, proxy.url, model, "hi", stream=False)
        assert "Hello from fake-claude" in answer.text, model
        assert not rec.fused, model
    assert (await seen(proxy, "garble"))["routes"] == list(models[:-1])  # asked first, every time

    # a line that is not JSON: a protocol error; the process is killed, the plugin fused,
    # and the request still falls through
    answer = await asyncio.wait_for(ask(Format.OPENAI, proxy.url, "fall-rc", "hi", stream=False), 5)
    assert "Hello from fake-claude" in answer.text
    assert rec.fused and [r.id for r in host.snapshot] == ["good"]
    answer = await ask(Format.OPENAI, proxy.url, "fall-error", "hi", stream=False)
    assert "Hello from fake-claude" in answer.text
    assert [r.json["model"] for r in fakes.claude.requests] == ["claude-opus-4-6"] * (len(models) + 1)

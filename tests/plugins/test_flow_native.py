"""Native (C ABI) plugins through a running proxy: a router + executor + interceptor that
re-enters the host from inside its own call, ordering against Python routers, and a
misbehaving router whose every failure falls through to the next one.

The C sources live in tests/plugins/native/ and are compiled with ``cc`` at test time
into the proxy's plugins dir as ``<id>.so``."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import aiohttp
import pytest

from cliproxy.formats import Format
from tests.e2e.clients import KEY, ask
from tests.e2e.conftest import matrix_config
from tests.plugins.native import CC, compile_command
from tests.plugins.plugin_dir import plugins_yaml, py_router, seen, write_python

pytestmark = [pytest.mark.skipif(CC is None, reason="no C compiler (cc)")]

SOURCES = ("router_exec", "garble_router")
INNER = "Hello from fake-openai (model gpt-4o-mini)"  # the fake's answer to compat-model

# the compat upstream copies two client headers, so a test can see what reached it
COPY_HEADERS = '''- name: fakeopenai
    headers:
      X-Seen-C-Plugin: "$X-C-Plugin"
      X-Seen-Tag: "$x-client-tag"'''


@pytest.fixture(scope="session")
def native_libs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("flow-native")
    jobs = {
        name: subprocess.Popen(
            compile_command(name, out / f"{name}.so"), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        for name in SOURCES
    }
    for name, proc in jobs.items():
        output, _ = proc.communicate()
        assert proc.returncode == 0, f"compiling {name} failed:\n{output.decode()}"
    return {name: out / f"{name}.so" for name in SOURCES}


async def start(
    start_proxy,
    fakes,
    tmp_path: Path,
    libs: dict[str, Path],
    *,
    native: dict[str, str],
    python: dict[str, str],
    cfg: dict[str, dict],
):
    """A proxy on the four fakes with native plugins (id -> compiled source) and Python ones."""
    pdir = write_python(tmp_path, python)
    for pid, source in native.items():
        shutil.copy(libs[source], pdir / f"{pid}.so")
    text = matrix_config(fakes, plugins_yaml(pdir, cfg)).replace("- name: fakeopenai", COPY_HEADERS)
    return await start_proxy(text)


async def test_native_executor_reenters_the_host_and_routes_in_priority_order(
    start_proxy, fakes, tmp_path, native_libs
):
    """CPA: TestHostModelExecuteCallbackCarriesCallerPluginSkipID (the nested calls skip
    the calling plugin's router and interceptor)."""
    proxy = await start(
        start_proxy,
        fakes,
        tmp_path,
        native_libs,
        native={"c-echo": "router_exec"},
        python={
            "py-high": py_router("py-high", ("c-shared",), "gemini", "gemini-2.5-pro"),
            "py-low": py_router("py-low", ("c-echo",), "gemini", "gemini-2.5-pro"),
        },
        cfg={"c-echo": {"priority": 5}, "py-high": {"priority": 10}, "py-low": {"priority": 1}},
    )
    host = proxy.service.plugins
    assert [r.id for r in host.snapshot] == ["py-high", "c-echo", "py-low"]
    assert host.records["c-echo"].transport == "native"

    # c-echo: the native router (priority 5) beats py-low (1); its executor calls
    # host.model.execute("compat-model") synchronously from inside executor.execute
    answer = await ask(Format.OPENAI, proxy.url, "c-echo", "outer question", stream=False)
    assert answer.text == f"C-ECHO[{INNER}]"
    assert answer.model == "c-echo"  # the executor got the client's model
    assert [r.model for r in fakes.openai.requests] == ["gpt-4o-mini"]
    nested = fakes.openai.last
    assert nested.json["messages"] == [{"role": "user", "content": "inner"}]
    # the nested call skips the caller's own interceptor (no recursion into itself)
    assert "X-Seen-C-Plugin" not in nested.headers
    assert not fakes.gemini.requests

    # the same through a Claude client: the host translates to and from the plugin's openai
    answer = await ask(Format.CLAUDE, proxy.url, "c-echo", "outer question", stream=False)
    assert answer.text == f"C-ECHO[{INNER}]"

    # c-provider: a provider target ("CLAUDE", " claude-opus-4-6 " normalised by the host)
    answer = await ask(Format.OPENAI, proxy.url, "c-provider", "hi", stream=False)
    assert "Hello from fake-claude" in answer.text
    assert fakes.claude.last.json["model"] == "claude-opus-4-6"

    # c-shared: both py-high (10) and c-echo (5) route it; the higher priority wins and the
    # native router is never asked
    before = (await seen(proxy, "c-echo"))["routes"]
    await ask(Format.OPENAI, proxy.url, "c-shared", "hi", stream=False)
    assert fakes.gemini.last.model == "gemini-2.5-pro"
    assert (await seen(proxy, "c-echo"))["routes"] == before
    assert len(fakes.claude.requests) == 1

    counts = await seen(proxy, "c-echo")
    assert counts["executes"] == 2 and counts["intercepts"] == 4  # the nested calls skipped it


async def _compat_past_c_echo(start_proxy, fakes, tmp_path, native_libs, headers: dict[str, str]):
    """A proxy with the native c-echo plugin alone, and one Chat request for compat-model
    (a model c-echo does not route) with ``headers``: the proxy and the answer's JSON."""
    proxy = await start(
        start_proxy,
        fakes,
        tmp_path,
        native_libs,
        native={"c-echo": "router_exec"},
        python={},
        cfg={"c-echo": {}},
    )
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            proxy.url + "/v1/chat/completions",
            headers={"Authorization": f"Bearer {KEY}", **headers},
            json={"model": "compat-model", "messages": [{"role": "user", "content": "hi"}]},
        ) as r,
    ):
        assert r.status == 200, await r.text()
        return proxy, await r.json()


async def test_native_interceptor_header_reaches_the_upstream(start_proxy, fakes, tmp_path, native_libs):
    proxy, answer = await _compat_past_c_echo(start_proxy, fakes, tmp_path, native_libs, {})
    assert INNER in answer["choices"][0]["message"]["content"]
    assert fakes.openai.last.headers["X-Seen-C-Plugin"] == "native"
    assert (await seen(proxy, "c-echo"))["executes"] == 0  # unrouted: the default flow


async def test_interceptor_keeps_client_headers_case_insensitive(start_proxy, fakes, tmp_path, native_libs):
    await _compat_past_c_echo(start_proxy, fakes, tmp_path, native_libs, {"X-Client-Tag": "t1"})
    assert fakes.openai.last.headers["X-Seen-C-Plugin"] == "native"
    assert fakes.openai.last.headers.get("X-Seen-Tag") == "t1"  # config asks for "$x-client-tag"


async def test_native_router_failures_fall_through(start_proxy, fakes, tmp_path, native_libs):
    models = ("fall-error", "fall-invalid", "fall-nokind", "fall-list", "fall-none", "fall-rc")
    proxy = await start(
        start_proxy,
        fakes,
        tmp_path,
        native_libs,
        native={"garble": "garble_router"},
        python={"good": py_router("good", models, "claude", "claude-opus-4-6")},
        cfg={"garble": {"priority": 9}, "good": {"priority": 1}},
    )
    host = proxy.service.plugins
    for n, model in enumerate(models[:-1], start=1):
        answer = await ask(Format.OPENAI, proxy.url, model, "hi", stream=False)
        assert "Hello from fake-claude" in answer.text, model
        assert (await seen(proxy, "garble"))["routes"] == n  # asked first, every time
        assert not host.records["garble"].fused, model

    # a non-zero return code with garbage instead of an envelope: falls through, and this
    # host treats it as a crash (fused); CPA would only log the error
    answer = await ask(Format.OPENAI, proxy.url, "fall-rc", "hi", stream=False)
    assert "Hello from fake-claude" in answer.text
    assert host.records["garble"].fused
    assert [r.id for r in host.snapshot] == ["good"]
    answer = await ask(Format.OPENAI, proxy.url, "fall-error", "hi", stream=False)
    assert "Hello from fake-claude" in answer.text
    assert (await seen(proxy, "garble"))["routes"] == len(models)  # a fused plugin is not asked
    assert [r.json["model"] for r in fakes.claude.requests] == ["claude-opus-4-6"] * (len(models) + 1)

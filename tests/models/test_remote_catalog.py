"""The remote model catalog (CPA's ``models.json``, ``internal/registry/model_updater.go``):
parsed and validated as CPA does, fetched from the first source that answers (a local HTTP
server here), applied to a running proxy's model list, and the embedded catalog kept with
one WARNING line when every source fails. ``-local-model`` turns the fetch off."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web

from cliproxy.config import load_or_default
from cliproxy.models.catalog import Catalog
from cliproxy.models.remote import (
    URLS_ENV,
    CatalogUpdater,
    changed_families,
    parse_models_json,
    with_builtins,
)
from cliproxy.server.app import listen
from cliproxy.service import Service

KEY = "sk-client-remote"


def _doc(**sections: list[Any]) -> dict[str, Any]:
    """A models.json in CPA's shape: every section, Claude's with a model of its own."""
    doc: dict[str, Any] = {
        "claude": [
            {
                "id": "claude-remote-9",
                "object": "model",
                "created": 1800000000,
                "owned_by": "anthropic",
                "type": "claude",
                "display_name": "Claude Remote 9",
                "context_length": 400000,
                "max_completion_tokens": 128000,
                "thinking": {"min": 1024, "max": 128000, "zero_allowed": True, "levels": ["low", "high"]},
                "supportedInputModalities": ["text", "image"],
                "supportedOutputModalities": ["text"],
            }
        ],
        "gemini": [
            {
                "id": "gemini-remote",
                "name": "models/gemini-remote",
                "inputTokenLimit": 1048576,
                "outputTokenLimit": 65536,
                "supportedGenerationMethods": ["generateContent"],
                "thinking": {"min": 128, "max": 32768, "dynamic_allowed": True},
            }
        ],
        "codex-pro": [
            {
                "id": "gpt-remote",
                "config": {"override_header": {"User-Agent": "codex-tui/9", "originator": "codex-tui"}},
            }
        ],
        "xai": [{"id": "grok-remote"}],
    }
    doc.update(sections)
    return doc


# ------------------------------------------------------------------ parsing


def test_cpa_model_info_fields_map_onto_the_catalog() -> None:
    """CPA ``ModelInfo`` JSON: ``context_length``/``inputTokenLimit``,
    ``max_completion_tokens``/``outputTokenLimit``, thinking, modalities and
    ``config.override_header`` (CPA model_definitions_test.go
    TestModelOverrideHeadersFromEmbeddedModels: the header reaches the model's entry)."""
    families = parse_models_json(orjson.dumps(_doc()))
    claude = families["claude"][0]
    assert (claude.id, claude.display_name, claude.context_window, claude.max_output) == (
        "claude-remote-9",
        "Claude Remote 9",
        400000,
        128000,
    )
    assert claude.thinking is not None and claude.thinking.levels == ("low", "high")
    assert claude.thinking.zero_allowed and claude.input_modalities == ("text", "image")
    gemini = families["gemini"][0]
    assert (gemini.context_window, gemini.max_output, gemini.methods) == (
        1048576,
        65536,
        ("generateContent",),
    )
    assert gemini.owned_by == "google" and gemini.type == "gemini"  # the section's defaults
    assert families["codex-pro"][0].upstream_headers == {
        "user-agent": "codex-tui/9",
        "originator": "codex-tui",
    }


@pytest.mark.parametrize(
    ("claude", "why"),
    [
        ([None], "is not an object"),
        ([{"id": "  "}], "empty id"),
        ([{"id": "a"}, {"id": "a"}], "twice"),
        ({"id": "a"}, "not an array"),
    ],
    ids=["null entry", "empty id", "duplicate id", "not an array"],
)
def test_invalid_sections_reject_the_document(claude: Any, why: str) -> None:
    """CPA model_updater.go validateModelSection: a null entry, an empty id or a duplicate
    id make the document invalid."""
    with pytest.raises(ValueError, match=why):
        parse_models_json(orjson.dumps(_doc(claude=claude)))


def test_not_json_and_no_sections_are_invalid() -> None:
    with pytest.raises(ValueError, match="not JSON"):
        parse_models_json(b"<html>rate limited</html>")
    with pytest.raises(ValueError, match="no known model section"):
        parse_models_json(b'{"models": []}')


def test_empty_section_is_a_warning_not_an_error(caplog: pytest.LogCaptureFixture) -> None:
    """CPA validateModelSection: an empty section logs and the document stays valid."""
    with caplog.at_level(logging.WARNING, logger="cliproxy"):
        families = parse_models_json(orjson.dumps(_doc(kimi=[])))
    assert families["kimi"] == []
    assert any("kimi section is empty" in r.getMessage() for r in caplog.records)


def test_changed_providers_group_codex_plans_and_gemini_protocols() -> None:
    """CPA detectChangedProviders: the Codex plans are one ``codex``; a Gemini change is
    ``gemini`` and ``gemini-interactions``; unchanged sections are not named."""
    packaged = Catalog.load()
    same = packaged.replaced({"kimi": list(packaged.family("kimi"))})
    assert changed_families(packaged, same) == []
    fams = parse_models_json(orjson.dumps(_doc()))
    changed = changed_families(packaged, packaged.replaced(fams))
    assert changed == ["claude", "gemini", "gemini-interactions", "codex", "xai"]


def test_builtin_image_and_video_models_survive_a_fetch() -> None:
    """CPA WithCodexBuiltins / WithXAIBuiltins: the Codex image models and xAI's image and
    video models do not depend on models.json."""
    packaged = Catalog.load()
    fams = with_builtins(parse_models_json(orjson.dumps(_doc())), packaged)
    assert [m.id for m in fams["codex-pro"]] == ["gpt-remote", "gpt-image-1.5", "gpt-image-2"]
    xai = [m.id for m in fams["xai"]]
    assert xai[0] == "grok-remote" and "grok-imagine-video-1.5" in xai and "grok-imagine-image" in xai


# ------------------------------------------------------------------ through a running proxy


class Source:
    """A models.json server: ``/bad`` answers 503, ``/broken`` an invalid document,
    ``/models.json`` the current ``doc``; ``hits`` counts requests per path."""

    def __init__(self) -> None:
        self.doc: dict[str, Any] = _doc()
        self.hits: dict[str, int] = {}
        self.runner: web.AppRunner | None = None
        self.base = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.hits[request.path] = self.hits.get(request.path, 0) + 1
        if request.path == "/bad":
            return web.Response(status=503, text="busy")
        if request.path == "/broken":
            return web.json_response(_doc(claude=[{"id": "x"}, {"id": "x"}]))
        return web.Response(body=orjson.dumps(self.doc), content_type="application/json")

    async def start(self) -> Source:
        app = web.Application()
        app.router.add_get("/{name}", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.base = f"http://127.0.0.1:{self.runner.addresses[0][1]}"
        return self


@pytest.fixture
async def source() -> AsyncIterator[Source]:
    server = await Source().start()
    yield server
    assert server.runner is not None
    await server.runner.cleanup()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _start(tmp_path: Path) -> tuple[Service, Any]:
    path = tmp_path / "config.yaml"
    path.write_text(
        f"""
auth-dir: {tmp_path / "auths"}
api-keys: ["{KEY}"]
claude-api-key:
  - api-key: "sk-ant-1"
    base-url: "http://127.0.0.1:{_closed_port()}"
"""
    )
    config, _ = load_or_default(path)
    service = Service(config, path, watch=False, model_updates=True)
    return service, await listen(service, "127.0.0.1", 0)


async def _model_ids(port: int) -> set[str]:
    headers = {"Authorization": f"Bearer {KEY}"}
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http,
        http.get(f"http://127.0.0.1:{port}/v1/models", headers=headers) as resp,
    ):
        return {m["id"] for m in (await resp.json())["data"]}


async def _until(check: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_a_fetched_catalog_reaches_the_model_list(
    tmp_path: Path, source: Source, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """CPA fetchModelsFromRemote: the sources are tried in order (a 503 and an invalid
    document are skipped), the first valid one replaces the catalog, and the credentials
    whose provider changed serve the new models; the periodic refresh sees the next one."""
    urls = [f"{source.base}/bad", f"{source.base}/broken", f"{source.base}/models.json"]
    monkeypatch.setenv(URLS_ENV, ",".join(urls))
    with caplog.at_level(logging.INFO, logger="cliproxy"):
        service, listener = await _start(tmp_path)
        try:
            updater = service.catalog_updater
            assert updater is not None
            await _until(lambda: updater.refreshes >= 1)
            ids = await _model_ids(listener.port)
            assert "claude-remote-9" in ids and "claude-sonnet-4-6" not in ids
            models_hits = {k: v for k, v in source.hits.items() if k != "/codex_client_models.json"}
            assert models_hits == {"/bad": 1, "/broken": 1, "/models.json": 1}
            # the next refresh: a new model, applied again
            source.doc = _doc(claude=[{"id": "claude-remote-10"}])
            assert await updater.refresh("periodic model refresh") is True
            assert "claude-remote-10" in await _model_ids(listener.port)
            assert await updater.refresh("periodic model refresh") is False  # nothing changed
        finally:
            await listener.stop()
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert f"startup model refresh completed from {source.base}/models.json" in text
    assert "changes detected for providers: claude" in text
    assert "models.json from " + f"{source.base}/broken is invalid" in text


async def test_offline_keeps_the_embedded_catalog_with_one_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """CPA tryRefreshModels: every source failing keeps the current (embedded) catalog;
    here one WARNING names each source and why."""
    dead = f"http://127.0.0.1:{_closed_port()}/models.json"
    monkeypatch.setenv(URLS_ENV, dead)
    with caplog.at_level(logging.INFO, logger="cliproxy"):
        service, listener = await _start(tmp_path)
        try:
            updater = service.catalog_updater
            assert updater is not None
            await _until(lambda: any("unreachable" in r.getMessage() for r in caplog.records))
            assert "claude-sonnet-4-6" in await _model_ids(listener.port)
            assert updater.refreshes == 0
        finally:
            await listener.stop()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "unreachable" in r.getMessage()]
    assert len(warnings) == 1
    assert "offline?" in warnings[0].getMessage() and dead in warnings[0].getMessage()


async def test_the_updater_stops_with_the_service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(URLS_ENV, f"http://127.0.0.1:{_closed_port()}/models.json")
    service, listener = await _start(tmp_path)
    updater = service.catalog_updater
    assert isinstance(updater, CatalogUpdater) and updater._task is not None
    task = updater._task
    await listener.stop()
    assert task.done()


# ------------------------------------------------------------------ the command


def _serve(tmp_path: Path, urls: str, *flags: str) -> tuple[subprocess.Popen[str], int]:
    port = _closed_port()
    (tmp_path / "config.yaml").write_text(f"host: 127.0.0.1\nport: {port}\nauth-dir: {tmp_path / 'auths'}\n")
    env = {**os.environ, URLS_ENV: urls}
    proc = subprocess.Popen(
        [sys.executable, "-m", "cliproxy", "serve", *flags],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    return proc, port


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return err


async def _wait_line(proc: subprocess.Popen[str], pattern: str, timeout: float = 20.0) -> list[str]:
    """Read stderr lines until one matches ``pattern`` (in a thread: the loop serves the source)."""
    assert proc.stderr is not None
    lines: list[str] = []

    def read() -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = proc.stderr.readline() if proc.stderr else ""
            if not line:
                return
            lines.append(line)
            if re.search(pattern, line):
                return

    await asyncio.to_thread(read)
    return lines


@pytest.mark.parametrize("local", [False, True], ids=["remote", "local-model"])
async def test_serve_fetches_unless_local_model(tmp_path: Path, source: Source, local: bool) -> None:
    """CPA cmd/server main.go ``-local-model`` (TestModelCatalogUpdaterPlan: it disables the
    remote catalog): ``cliproxy serve`` fetches models.json at start; with ``-local-model``
    it says so and never asks."""
    flags = ("-local-model",) if local else ()
    proc, _ = _serve(tmp_path, f"{source.base}/models.json", *flags)
    try:
        wanted = r"cliproxy \S+ listening on" if local else r"startup model refresh completed"
        lines = await _wait_line(proc, wanted)
        assert any(re.search(wanted, line) for line in lines), "".join(lines)
    finally:
        err = "".join(lines) + _stop(proc)
    if local:
        assert "local model mode: using the embedded model catalog" in err
        assert source.hits == {}
    else:  # (and the Codex client catalog beside it, once the models are in)
        assert source.hits.get("/models.json") == 1

"""CPA's access-log cases (internal/logging/gin_logger_test.go) through a running proxy:
the one line a finished model request leaves on the ``cliproxy.access`` channel."""

from __future__ import annotations

import logging
import re

import aiohttp

from tests.e2e.clients import KEY
from tests.e2e.conftest import matrix_config


async def test_a_codex_backend_request_gets_its_own_request_id(start_proxy, fakes, caplog):
    """CPA: TestGinLogrusLoggerAddsRequestIDForCodexBackend, TestIsAIAPIPathIncludesCodexBackend,
    TestIsAIAPIPathIncludesPublicAPIGroups and TestIsAIAPIPathIncludesImages. A request on
    /backend-api/codex/responses (and one on /v1) is an API request: its access line
    carries a request id of its own (8 hex digits), the same id as the request's other log
    lines. Our difference: the access line is written for model requests only (a model
    list, a management call or a path that is no route leave none, where CPA writes a line
    with the id ``--------``), and every request, whatever its path, gets an id for its log
    lines, so CPA's list of API path prefixes has no counterpart."""
    caplog.set_level(logging.INFO, logger="cliproxy")
    proxy = await start_proxy(matrix_config(fakes, "logging-to-file: true\n"))
    headers = {"Authorization": f"Bearer {KEY}"}
    calls = [
        ("POST", "/backend-api/codex/responses", {"model": "codex-model", "input": "hi"}),
        (
            "POST",
            "/v1/chat/completions",
            {"model": "compat-model", "messages": [{"role": "user", "content": "hi"}]},
        ),
        ("GET", "/v1/models", None),
        ("GET", "/backend-api/codex-status", None),
    ]
    async with aiohttp.ClientSession() as s:
        for method, path, body in calls:
            async with s.request(method, proxy.url + path, json=body, headers=headers) as r:
                await r.read()
    lines = [r for r in caplog.records if r.name == "cliproxy.access"]
    assert [re.search(r'"(\S+)"', r.getMessage()).group(1) for r in lines] == [  # type: ignore[union-attr]
        "/backend-api/codex/responses",
        "/v1/chat/completions",
    ]
    ids = [getattr(r, "request_id", "") for r in lines]
    assert all(re.fullmatch(r"[0-9a-f]{8}", i) for i in ids) and ids[0] != ids[1]


async def test_an_images_request_is_an_api_request(start_proxy, fakes, caplog):
    """CPA: TestIsAIAPIPathIncludesImages: an Images request leaves an access line with its
    id. (A media request refused before it reaches a model route, an unknown model or a
    Videos request without a video credential, leaves none: see the difference above.)"""
    path = "/v1/images/generations"
    caplog.set_level(logging.INFO, logger="cliproxy")
    proxy = await start_proxy(matrix_config(fakes, "logging-to-file: true\n"))
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            proxy.url + path,
            json={"model": "gpt-image-2", "prompt": "x"},
            headers={"Authorization": f"Bearer {KEY}"},
        ) as r,
    ):
        await r.read()
    lines = [r for r in caplog.records if r.name == "cliproxy.access"]
    assert len(lines) == 1 and path in lines[0].getMessage()
    assert re.fullmatch(r"[0-9a-f]{8}", getattr(lines[0], "request_id", ""))

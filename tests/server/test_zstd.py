"""Compressed request bodies: ``Content-Encoding: zstd`` (current Codex CLI sends it), gzip
and deflate, on every generation route; a bad compressed body is the client's 400 in its
own error shape; the decompressed size is capped by ``limits.max-body-mb``.

aiohttp decodes request bodies itself; zstd needs ``backports.zstd`` (a dependency on
Python < 3.14), without which every zstd request was a 400 "Please install backports.zstd".
"""

from __future__ import annotations

import gzip
import zlib
from typing import Any

import aiohttp
import orjson
import pytest

try:  # Python 3.14+
    from compression import zstd  # type: ignore[import-not-found]
except ImportError:
    from backports import zstd

from tests.e2e.clients import KEY
from tests.e2e.conftest import matrix_config

ENCODERS = {"zstd": zstd.compress, "gzip": gzip.compress, "deflate": zlib.compress}

# route, body, a key every successful answer of that route's format has
ROUTES: list[tuple[str, dict[str, Any], str]] = [
    (
        "/v1/chat/completions",
        {"model": "compat-model", "messages": [{"role": "user", "content": "hi"}]},
        "choices",
    ),
    ("/v1/responses", {"model": "codex-model", "input": "hi"}, "output"),
    ("/backend-api/codex/responses", {"model": "codex-model", "input": "hi"}, "output"),
    ("/v1/responses/compact", {"model": "codex-model", "input": "hi"}, "output"),
    ("/backend-api/codex/responses/compact", {"model": "codex-model", "input": "hi"}, "output"),
    (
        "/v1/messages",
        {"model": "claude-model", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]},
        "content",
    ),
    (
        "/v1beta/models/gemini-model:generateContent",
        {"contents": [{"parts": [{"text": "hi"}]}]},
        "candidates",
    ),
]


async def _post(url: str, data: bytes, encoding: str) -> tuple[int, dict[str, Any]]:
    headers = {
        "Authorization": f"Bearer {KEY}",
        "Content-Type": "application/json",
        "Content-Encoding": encoding,
    }
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        async with session.post(url, data=data, headers=headers) as resp:
            return resp.status, orjson.loads(await resp.read())


@pytest.fixture
async def proxy(start_proxy, fakes):
    return await start_proxy(matrix_config(fakes, "limits:\n  max-body-mb: 1\n"))


@pytest.mark.parametrize(("path", "body", "key"), ROUTES, ids=[r[0] for r in ROUTES])
async def test_zstd_body_on_every_generation_route(proxy, path, body, key) -> None:
    """CPA's openai_responses_compact_test.go TestOpenAIResponsesCompactDecodesZstdRequestBody,
    widened to every generation route: the zstd body is decoded and the request served."""
    status, answer = await _post(proxy.url + path, zstd.compress(orjson.dumps(body)), "zstd")
    assert status == 200, answer
    assert key in answer


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
async def test_gzip_and_deflate_bodies(proxy, encoding) -> None:
    body = orjson.dumps({"model": "codex-model", "input": "hi"})
    status, answer = await _post(proxy.url + "/v1/responses", ENCODERS[encoding](body), encoding)
    assert status == 200, answer
    assert answer["output"]


@pytest.mark.parametrize("encoding", ["zstd", "gzip", "deflate"])
async def test_bad_compressed_body_is_a_400_in_the_openai_shape(proxy, encoding) -> None:
    status, answer = await _post(
        proxy.url + "/v1/responses", b"\x28\xb5\x2f\xfd not really compressed", encoding
    )
    assert status == 400
    assert answer["error"]["type"] == "invalid_request_error"
    assert encoding in answer["error"]["message"]


async def test_bad_zstd_body_is_a_400_in_the_claude_shape(proxy) -> None:
    status, answer = await _post(proxy.url + "/v1/messages", b"\x28\xb5\x2f\xfdjunk", "zstd")
    assert status == 400
    assert answer["type"] == "error"
    assert answer["error"]["type"] == "invalid_request_error"


async def test_bad_zstd_body_is_a_400_in_the_gemini_shape(proxy) -> None:
    status, answer = await _post(proxy.url + "/v1beta/models/gemini-model:generateContent", b"junk", "zstd")
    assert status == 400
    assert answer["error"]["status"] == "INVALID_ARGUMENT"


async def test_zstd_bomb_is_capped_by_max_body_mb(proxy, fakes) -> None:
    """60 MB of JSON whitespace compresses to a few KB; decompressed it passes the 1 MB cap:
    413 in the client's format, and nothing reaches the upstream."""
    bomb = zstd.compress(b'{"model":"codex-model","input":"' + b" " * (60 * 1024 * 1024) + b'"}')
    assert len(bomb) < 64 * 1024
    before = len(fakes.responses.requests)
    status, answer = await _post(proxy.url + "/v1/responses", bomb, "zstd")
    assert status == 413
    assert "max-body-mb" in answer["error"]["message"]
    assert len(fakes.responses.requests) == before

"""Log lines on the request path carry the id of the request they belong to."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest

from cliproxy.requestid import NO_REQUEST, RequestIdFilter, begin_request, current_request_id
from cliproxy.usage import recorder_of
from tests.fakes.gemini import GeminiFake

# [2025-12-23 20:14:04] [a1b2c3d4] [info ] [pipeline.py:120] message
LINE = re.compile(r"^\[[^\]]+\] \[(?P<rid>[^\]]+)\] \[[^\]]+\] \[[^\]]+\] (?P<text>.*)$")
MODELS = ("model-one", "model-two")


def _config(fake: GeminiFake) -> str:
    return f"""
logging-to-file: true
request-retry: 0
gemini-api-key:
  - api-key: "gem-key-1"
    base-url: "{fake.base_url}"
    models:
      - {{name: "gemini-2.5-flash", alias: "{MODELS[0]}"}}
      - {{name: "gemini-2.5-pro", alias: "{MODELS[1]}"}}
"""


@pytest.fixture
async def proxy(
    start_proxy: Any, fake_gemini: GeminiFake, caplog: pytest.LogCaptureFixture
) -> AsyncIterator[Any]:
    caplog.set_level(logging.INFO, logger="cliproxy")
    proxy = await start_proxy(_config(fake_gemini))
    recorder_of(proxy.service)  # main.log from the start, not from the first request
    yield proxy
    proxy.service.recorder.close()


async def _ask(session: aiohttp.ClientSession, proxy: Any, model: str) -> int:
    url = f"{proxy.url}/v1beta/models/{model}:generateContent"
    async with session.post(url, json={"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}) as r:
        await r.read()
        return r.status


def _lines(proxy: Any) -> list[tuple[str, str]]:
    text = (proxy.service.recorder.log_dir / "main.log").read_text()
    return [(m["rid"], m["text"]) for m in map(LINE.match, text.splitlines()) if m]


async def test_concurrent_failing_requests_log_their_own_ids(proxy, fake_gemini):
    # both requests are held by the upstream at the same time, then both fail
    for upstream in ("gemini-2.5-flash", "gemini-2.5-pro"):
        fake_gemini.fail_next(503, model=upstream, delay=0.2, message="overloaded")
    async with aiohttp.ClientSession() as s:
        statuses = await asyncio.gather(*(_ask(s, proxy, m) for m in MODELS))
    assert all(status >= 500 for status in statuses), statuses
    lines = _lines(proxy)
    ids = {}
    for model in MODELS:
        mine = [(rid, text) for rid, text in lines if model in text]
        failure = [text for _, text in mine if text.startswith("upstream ")]
        access = [text for _, text in mine if f"/v1beta/models/{model}:generateContent" in text]
        assert failure and access, lines  # the pipeline's failure line and the access line
        found = {rid for rid, _ in mine}
        assert len(found) == 1, mine  # every line of this request: one id
        ids[model] = found.pop()
        assert re.fullmatch(r"[0-9a-f]{8}", ids[model]), mine
    assert ids[MODELS[0]] != ids[MODELS[1]]


# ---- the contextvar and the filter, without a server


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.addFilter(RequestIdFilter())
        self.seen: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append((record.getMessage(), record.request_id))  # type: ignore[attr-defined]


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, _Lines]]:
    logger = logging.getLogger("cliproxy.test-requestid")
    handler = _Lines()
    logger.addHandler(handler)
    old = logger.level
    logger.setLevel(logging.INFO)
    yield logger, handler
    logger.removeHandler(handler)
    logger.setLevel(old)


async def test_interleaved_requests_and_their_tasks_keep_their_ids(captured):
    logger, lines = captured
    both = asyncio.Barrier(2)

    async def request(name: str) -> str:
        rid = begin_request()
        logger.info("%s starts", name)
        await both.wait()  # the other request has started too: they interleave from here

        async def side_job() -> None:
            await asyncio.sleep(0)
            logger.info("%s side job", name)

        await asyncio.gather(asyncio.create_task(side_job()), both.wait())
        logger.info("%s ends", name)
        return rid

    ids = dict(zip("ab", await asyncio.gather(request("a"), request("b")), strict=True))
    assert ids["a"] != ids["b"]
    assert all(re.fullmatch(r"[0-9a-f]{8}", rid) for rid in ids.values())
    assert len(lines.seen) == 6
    for text, rid in lines.seen:
        assert rid == ids[text[0]], lines.seen
    logger.info("outside")
    assert lines.seen[-1] == ("outside", NO_REQUEST) == ("outside", current_request_id())


def test_an_explicit_id_wins(captured):
    logger, lines = captured
    logger.info("access line", extra={"request_id": "0badc0de"})
    assert lines.seen == [("access line", "0badc0de")]

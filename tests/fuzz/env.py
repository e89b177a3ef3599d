"""The running proxy under fuzz, and what must hold after every example.

After each hostile request: the answer passes ``oracle.check``; no traceback or error
line was logged and no log line holds an upstream key; no credential is cooling down
(a client's bad request is never the credential's fault). ``healthy`` then proves the
next valid request still succeeds.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import orjson

from cliproxy.formats import Format
from tests.conftest import Proxy
from tests.fakes.fixtures import Fakes
from tests.fuzz.oracle import SECRETS, Finding, Route, check
from tests.fuzz.strategies import encode
from tests.fuzz.wire import Answer, Header, send

__all__ = ["ROUTES", "UPSTREAMS", "Env", "LogTrap", "valid_body"]

ROUTES = (
    Route("chat", Format.OPENAI, "/v1/chat/completions"),
    Route("responses", Format.RESPONSES, "/v1/responses"),
    Route("codex", Format.RESPONSES, "/backend-api/codex/responses"),
    Route("messages", Format.CLAUDE, "/v1/messages"),
    Route("count_tokens", Format.CLAUDE, "/v1/messages/count_tokens", "count"),
    Route("generateContent", Format.GEMINI, "/v1beta/models/{model}:generateContent"),
    Route(
        "streamGenerateContent",
        Format.GEMINI,
        "/v1beta/models/{model}:streamGenerateContent",
        gemini_stream=True,
    ),
    Route("countTokens", Format.GEMINI, "/v1beta/models/{model}:countTokens", "count"),
)
# client-visible model -> upstream family (tests/e2e/conftest.py MODELS)
UPSTREAMS = ("compat-model", "claude-model", "codex-model", "gemini-model")


def valid_body(route: Route, model: str, stream: bool = False) -> dict[str, Any]:
    if route.fmt is Format.GEMINI:
        return {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    if route.fmt is Format.RESPONSES:
        return {"model": model, "input": "hi", "stream": stream or route.name == "codex"}
    body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    if route.fmt is Format.CLAUDE and route.kind == "generate":
        body["max_tokens"] = 64
    if route.kind == "generate":
        body["stream"] = stream
    return body


def _stream_flag(body: Any) -> bool | None:
    """Whether ``body`` validly asks for a stream (raw bytes are parsed as the proxy would)."""
    if isinstance(body, bytes):
        try:
            body = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
    return body.get("stream") is True if isinstance(body, dict) else None


class LogTrap(logging.Handler):
    """Keeps the warning-and-above records logged while an example runs."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def take(self) -> list[logging.LogRecord]:
        records, self.records = self.records, []
        return records


@dataclass
class Env:
    proxy: Proxy
    fakes: Fakes
    key: str
    trap: LogTrap
    sent: int = 0
    statuses: dict[int, int] = field(default_factory=dict)

    @property
    def port(self) -> int:
        port = self.proxy.port
        assert port is not None
        return port

    def auth_headers(self, fmt: Format) -> list[Header]:
        if fmt is Format.CLAUDE:
            return [("x-api-key", self.key), ("anthropic-version", "2023-06-01")]
        if fmt is Format.GEMINI:
            return [("x-goog-api-key", self.key)]
        return [("Authorization", f"Bearer {self.key}")]

    async def send(
        self,
        route: Route,
        target: str,
        body: bytes,
        headers: list[Header] | None = None,
        *,
        auth: bool = True,
        content_length: int | bool | None = True,
        method: str = "POST",
    ) -> Answer:
        base: list[Header] = [("Content-Type", "application/json")] if headers is None else []
        all_headers = (self.auth_headers(route.fmt) if auth else []) + base + (headers or [])
        answer = await send(self.port, method, target, all_headers, body, content_length=content_length)
        self.sent += 1
        self.statuses[answer.status] = self.statuses.get(answer.status, 0) + 1
        return answer

    async def fuzz(
        self, route: Route, model: str, body: Any, *, query: str = "", url_model: str | None = None
    ) -> Answer:
        """Send one hostile body to ``route`` and hold the answer and the proxy to the rules."""
        await self.reset()
        raw = body if isinstance(body, bytes) else encode(body)
        target = route.target(url_model if url_model is not None else model, query)
        answer = await self.send(route, target, raw)
        await self.judge(
            route, answer, streamed=_stream_flag(body), alt="sse" if "alt=sse" in query else None
        )
        return answer

    async def judge(
        self,
        route: Route,
        answer: Answer,
        *,
        streamed: bool | None,
        alt: str | None,
        upstream_fault: bool = False,
    ) -> None:
        """``oracle.check`` plus the proxy's state: raise one ``Finding`` naming every problem.

        With ``upstream_fault`` a cooled credential is the expected outcome, not a finding.
        """
        problems: list[str] = []
        try:
            check(route, answer, streamed=streamed, alt=alt, upstream_fault=upstream_fault)
        except Finding as exc:
            problems.append(str(exc))
        problems.extend(await self.problems(cooldowns=not upstream_fault))
        if problems:
            raise Finding("; ".join(problems))

    async def reset(self) -> None:
        """Start an example from a clean slate: no recorded requests, scripted faults, logs or cooldowns."""
        for fake in (self.fakes.openai, self.fakes.responses, self.fakes.claude, self.fakes.gemini):
            fake.reset()
        self.trap.take()
        await self.proxy.service.pool.reset_quota()

    async def problems(self, *, cooldowns: bool = True) -> list[str]:
        """Errors or secrets logged, credentials cooling: each as one line."""
        problems: list[str] = []
        for record in self.trap.take():
            text = record.getMessage()
            if record.exc_info and record.exc_info[1] is not None:
                exc = record.exc_info[1]
                text += f" | {type(exc).__name__}: {str(exc)[:200]}"
            if any(secret in text for secret in SECRETS):
                problems.append(f"an upstream key in a log line: {record.name}")
            if record.levelno >= logging.ERROR or record.exc_info:
                where = f"{record.pathname}:{record.lineno}"
                problems.append(f"logged {record.levelname} {record.name} at {where}: {text[:400]}")
        pool = self.proxy.service.pool
        for cred in pool.credentials() if cooldowns else ():
            records = await pool.cooldowns(cred)
            if records:
                reasons = ", ".join(f"{r.model or '*'}: {r.reason or r.status_message}" for r in records)
                problems.append(
                    f"credential {cred.provider}/{cred.id[:12]} cooled by a client's request: {reasons}"
                )
        return problems

    async def healthy(self, route: Route, model: str) -> None:
        """The next valid request (whole and streamed) succeeds, and nothing cooled."""
        problems = await self.problems()
        for stream in (False, True):
            body = valid_body(route, model, stream)
            query = "alt=sse" if route.gemini_stream and stream else ""
            answer = await self.send(route, route.target(model, query), encode(body))
            if answer.status != 200:
                problems.append(f"valid request after the batch failed: {answer.describe()}")
                continue
            try:
                check(route, answer, streamed=body.get("stream") is True, alt="sse" if query else None)
            except Finding as exc:
                problems.append(f"valid request after the batch: {exc}")
            problems.extend(await self.problems())
        if problems:
            await self.reset()
            raise Finding("; ".join(problems))

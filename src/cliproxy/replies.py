"""Stage 9 of the lifecycle: an upstream answer into the client's reply.

Whole answers are read, un-enveloped, normalized by plugins and translated (or passed
through, checked cheaply to be one JSON object); upstreams that only stream are
collected into one answer. Streams are :mod:`cliproxy.replies_stream`'s.

Everything here reads the upstream through the transport protocol
(``cliproxy.providers.transport``): ``TimeoutError`` / ``ConnectionError`` from a read
become an ``UpstreamNetworkError`` that says what was being read.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import orjson

from cliproxy.calls import Attempt, Call, Reply
from cliproxy.credentials.record import Credential
from cliproxy.errors import UpstreamError
from cliproxy.formats import Format, claude, gemini, openai_chat, openai_responses
from cliproxy.providers import decoding
from cliproxy.providers.transport import UpstreamResponse, network_error, read_body
from cliproxy.translate import ir
from cliproxy.translate.adapter import unwraps
from cliproxy.translate.collect import Collector
from cliproxy.translate.openai_chat.decode import error_status
from cliproxy.translate.openai_responses.terminal import TerminalResponse
from cliproxy.translate.registry import Registry
from cliproxy.upstream_body import unwrapped

if TYPE_CHECKING:
    from cliproxy.plugins.flow import Flow

# read per request: a global, not ``Format.X`` (on Python 3.11 an ``EnumType.__getattr__`` dispatch)
_GEMINI, _OPENAI, _RESPONSES, _CODEX = Format.GEMINI, Format.OPENAI, Format.RESPONSES, Format.CODEX

__all__ = [
    "compact_reply",
    "count_reply",
    "json_head",
    "json_object",
    "loads_object",
    "local_count",
    "refuse_error_body",
    "whole_reply",
]

log = logging.getLogger(__name__)

_JSON = {"Content-Type": "application/json"}
_MAGIC_FIRST = decoding.MAGIC_FIRST
_READ_FAILURES = (TimeoutError, ConnectionError)
# a client format's top-level usage member and its reader: what usage.tokens.body_usage
# reads of a body, read here of the object the body is made from (``Reply.usage``)
_USAGE_OF: dict[Format, tuple[str, Callable[[dict[str, Any]], ir.Usage]]] = {
    Format.OPENAI: ("usage", openai_chat.parse_usage),
    Format.RESPONSES: ("usage", openai_responses.usage_from_wire),
    Format.CODEX: ("usage", openai_responses.usage_from_wire),
    Format.CLAUDE: ("usage", claude.usage_from_wire),
    Format.GEMINI: ("usageMetadata", gemini.usage_from_metadata),
}


async def whole_reply(
    reg: Registry,
    call: Call,
    attempt: Attempt,
    resp: UpstreamResponse,
    chunks: AsyncIterator[bytes] | None,
    alias: str | None,
    route_model: str,
    flow: Flow | None,
    rewrite: Callable[[bytes], bytes] | None = None,
    *,
    wrapped: bool = False,
) -> Reply:
    """A whole answer in the client's format (``chunks``: the stream of an upstream that
    only streams, collected; ``None``: its whole body is read; ``rewrite``: the attempt's
    change to the upstream body, before translation; ``wrapped``: the payloads of
    ``chunks`` still carry the provider's envelope)."""
    up_fmt = attempt.fmt
    trace = call.trace
    out: dict[str, Any] | None = None  # the answer as an object, when it is built from one
    usage: ir.Usage | None = None  # the usage of the upstream's answer, when a translation read it
    try:
        if chunks is not None:
            if up_fmt is _CODEX and (call.format is _RESPONSES or call.format is _CODEX) and not wrapped:
                model = call.model if call.format is _RESPONSES else None  # (for an answer naming none)
                out = await _terminal(attempt, chunks, alias, model)  # the upstream's own answer (CPA)
            else:
                out, usage = await _collected(reg, call, attempt, resp, chunks, alias, wrapped)
            body = orjson.dumps(out)
        else:
            data = await resp.read()
            if data.startswith(_MAGIC_FIRST) and attempt.provider.sniffs_compression:  # (CPA's Claude)
                data = decoding.undeclared_body(data)  # compressed, though no Content-Encoding said so
            if trace is not None and trace.keep_bodies:  # else it keeps only an error's body
                trace.upstream_body(data)
            if data.find(b"error", 0, _ERROR_HEAD_SPAN) >= 0:
                refuse_error_body(data)
            parsed: dict[str, Any] | None = None  # the body as an object, once unwrapping parsed it
            if attempt.provider.wraps_payloads:
                parsed = attempt.provider.unwrap_body(loads_object(data))
                if (
                    rewrite is not None
                    or flow is not None
                    or (up_fmt == call.format and alias is None)
                    or type(parsed) is not dict
                ):  # what reads bytes gets them unwrapped (and what is no object, its error)
                    data, parsed = orjson.dumps(parsed), None
            if rewrite is not None:
                data = rewrite(data)
            if flow is not None:
                data = await flow.normalize_response(
                    call, up_fmt, route_model, "response_before_translator", data, attempt.body
                )
            if up_fmt == call.format and alias is None:  # pass-through: the upstream's own bytes
                body = data if data[:1] == b"{" and data[-1:] == b"}" else json_object(data)
            else:
                out, usage = _translated(reg, call, attempt, data, alias, parsed)
                body = orjson.dumps(out)
    except _READ_FAILURES as exc:
        raise network_error(exc, "while sending the response") from exc
    finally:
        resp.release()
    # the usage, read now (a plugin may still change the body: then it is read off the body)
    if out is None or flow is not None or trace is None:
        usage = None
    elif usage is None:  # what the body says, read from its object
        usage = _usage_of(call.format, out)
    return Reply(200, body, dict(_JSON), attempt.cred, usage)


def _usage_of(fmt: Format, out: dict[str, Any]) -> ir.Usage | None:
    """What ``usage.tokens.body_usage`` would read of the body ``out`` makes (``None``:
    let it read the body, as it does for a shape this does not know)."""
    found = _USAGE_OF.get(fmt)
    if found is None:
        return None
    value = out.get(found[0])
    if type(value) is not dict:
        return None
    try:
        return found[1](value)
    except (TypeError, ValueError, AttributeError):  # a usage object of the wrong shape
        return None


async def _collected(
    reg: Registry,
    call: Call,
    attempt: Attempt,
    resp: UpstreamResponse,
    chunks: AsyncIterator[bytes],
    alias: str | None,
    wrapped: bool,
) -> tuple[dict[str, Any], ir.Usage | None]:
    collector = Collector()
    decoder = reg.adapter(attempt.fmt).stream_decoder(
        attempt.request(reg, call) if attempt.plain else attempt.ir
    )
    if wrapped and not unwraps(decoder, attempt.provider.unwrap_body):
        chunks = unwrapped(chunks, attempt.provider, resp)
    observe = attempt.replay.record().observe if attempt.replay is not None else None
    head: list[bytes] | None = []  # the body while it is one JSON object (json_head)
    try:
        async for chunk in chunks:
            if head is not None:
                head = json_head(head, chunk)
            events = decoder.decode(chunk)
            if observe is not None:
                for ev in events:
                    observe(ev)
            collector.feed(events)
    except _READ_FAILURES:
        if collector.stop is None or collector.error is not None:
            raise
        # the answer had ended (Codex's response.completed) when the connection broke:
        # it is whole, and nothing is wrong with the account (CPA)
    events = decoder.flush()
    if observe is not None:
        for ev in events:
            observe(ev)
    collector.feed(events)
    if collector.error is not None:
        if head and collector.stop is None:  # no answer: a whole JSON error instead of a stream?
            refuse_error_body(b"".join(head))
        raise inband_error(collector.error, attempt.cred.id)
    request = attempt.request(reg, call)
    answer = collector.response(alias)
    return reg.adapter(call.format).build_response(answer, request), answer.usage


async def _terminal(
    attempt: Attempt, chunks: AsyncIterator[bytes], alias: str | None, model: str | None
) -> dict[str, Any]:
    """A Responses client's whole answer from a Codex or xAI stream: its terminal event's
    ``response``, as the attempt's chunk rewriters left it (CPA's executors answer with it),
    its ``model`` the forced alias's when there is one, else ``model`` (the client's) when
    the upstream named none (as its stream's snapshots get it; CPA leaves it out)."""
    end = TerminalResponse()
    head: list[bytes] | None = []  # the body while it is one JSON object (json_head)
    try:
        async for chunk in chunks:
            if head is not None:
                head = json_head(head, chunk)
            end.feed(chunk)
    except _READ_FAILURES:
        if end.response is None:
            raise  # (after its end, the answer is whole: nothing is wrong with the account)
    found = end.finish()
    if isinstance(found, ir.Error):
        if head:  # a whole JSON error instead of a stream
            refuse_error_body(b"".join(head))
        raise inband_error(found, attempt.cred.id)
    if alias is not None:
        found["model"] = alias
    elif model and not found.get("model"):  # (an empty name is none)
        found["model"] = model
    return found


# an upstream stream that stopped before its end: the connection's fault, not the
# account's (CPA's Codex incomplete-stream error is request-scoped: no cooldown)
_REQUEST_SCOPED_CODES = frozenset(("stream_incomplete",))


def inband_error(err: ir.Error, credential_id: str, *, late: bool = False) -> UpstreamError:
    """An in-band upstream error (before the client got anything) as the ``UpstreamError``
    failover reads: its status, the reset the upstream named, and its scope; its code and
    type as the error body, so the client sees the upstream's own (Codex's
    ``context_length_exceeded``) and cooldown rules read them as on an HTTP error.
    ``late``: one that ended a stream the client already has; its body, for the cooldown
    rules only, always holds the message (CPA matches a stream's error by its text)."""
    body = None
    if err.code or late:
        fields = {"message": err.message, "type": err.type, "code": err.code}
        body = orjson.dumps({"error": {k: v for k, v in fields.items() if v is not None}})
    return UpstreamError(
        err.message,
        status=err.status or 502,
        body=body,
        retry_after=err.retry_after,
        credential_id=credential_id,
        request_scoped=err.code in _REQUEST_SCOPED_CODES,
    )


def _translated(
    reg: Registry,
    call: Call,
    attempt: Attempt,
    data: bytes,
    alias: str | None,
    parsed: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], ir.Usage | None]:
    """An answer another format asked for, or under a forced ``alias`` (``parsed``:
    ``data`` already parsed), and the upstream's usage when the translation read it."""
    up_fmt = attempt.fmt
    if parsed is None:
        parsed = loads_object(data)
    if up_fmt == call.format:  # a Gemini answer names its model in modelVersion only
        parsed["modelVersion" if up_fmt is _GEMINI else "model"] = alias
        return parsed, None
    if attempt.replay is not None:  # a whole Claude message: its reasoning kept for the next turn
        attempt.replay.record().record_message(parsed.get("content"))
    if attempt.ir is None and attempt.plain:  # (translate.plain_requests) no IR made yet
        done = reg.plain_answer(up_fmt, call.format, parsed, call.body, attempt.model, alias)
        if done is not None:
            return done
    return reg.translate_response_usage(up_fmt, call.format, parsed, attempt.request(reg, call), model=alias)


async def count_reply(reg: Registry, call: Call, attempt: Attempt, resp: UpstreamResponse) -> Reply:
    raw = await read_body(resp)
    if raw.startswith(_MAGIC_FIRST) and attempt.provider.sniffs_compression:
        try:
            raw = decoding.undeclared_body(raw)
        except ConnectionError as exc:
            raise network_error(exc, "while sending the body") from exc
    data = loads_object(raw)
    if attempt.fmt == call.format:
        return Reply(200, orjson.dumps(data), dict(_JSON))
    tokens = int(data.get("input_tokens") or data.get("totalTokens") or 0)
    return Reply(200, orjson.dumps(reg.adapter(call.format).count_tokens_response(tokens)), dict(_JSON))


async def compact_reply(
    call: Call, attempt: Attempt, resp: UpstreamResponse, rewrite: Callable[[bytes], bytes] | None
) -> Reply:
    """A ``/responses/compact`` (or Images API) answer: the upstream's JSON object as it
    came (CPA leaves a ``response.compaction`` object untouched), checked cheaply to be one
    object."""
    data = await read_body(resp)
    if call.trace is not None:
        call.trace.upstream_body(data)
    if rewrite is not None:
        data = rewrite(data)
    return Reply(200, json_object(data), dict(_JSON), attempt.cred)


def local_count(reg: Registry, call: Call, cred: Credential, tokens: int) -> Reply:
    """A count made locally (an upstream with no count endpoint), in the client's count
    shape: never a generation sent to count."""
    return Reply(200, orjson.dumps(reg.adapter(call.format).count_tokens_response(tokens)), dict(_JSON), cred)


# ---------------------------------------------------------------------- streams


# a 200 whose body is an error object, not an answer: its first member is ``error``
# (OpenAI's and Google's error shape) or it is typed ``error`` (Anthropic's); looked for
# only when "error" is in the body's first bytes
_ERROR_HEAD = re.compile(rb'\s*\{\s*"(?:error"\s*:|type"\s*:\s*"error")')
_ERROR_HEAD_SPAN = 32
_SAYS_500 = frozenset(("server_error", "api_error"))


def refuse_error_body(data: bytes) -> None:
    """Raise the upstream error a 200 whole answer holds instead of an answer (a gateway's
    or relay's way to fail): its status (the error's numeric ``code``, else its ``type``'s,
    else 502) and its body, as if the upstream had answered with that status, so it fails
    over, cools and reaches the client as that error does. CPA hands such a body on as the
    answer (a client of the same format gets a 200 that is no answer, another format an
    empty answer); the same object as a stream's first event is a failure here and in CPA,
    so the whole one is too. ``"error": null`` beside an answer is no error."""
    if _ERROR_HEAD.match(data) is None:
        return
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError:
        return  # (not JSON: the reader after this says so)
    err = obj.get("error") if type(obj) is dict else None
    if type(err) is str and err:
        err = {"message": err}
    if type(err) is not dict or not err:
        return
    status = error_status(err)  # (500 when neither code nor type names one: then 502)
    if status == 500 and err.get("code") not in (500, "500") and err.get("type") not in _SAYS_500:
        status = 502
    message = err.get("message")
    text = message if isinstance(message, str) and message else "no message"
    raise UpstreamError(f"upstream answered 200 with an error: {text[:200]}", status=status, body=data)


def json_head(kept: list[bytes], chunk: bytes) -> list[bytes] | None:
    """``kept`` and ``chunk`` while a body asked for as a stream is one JSON object so far
    (its first byte ``{``: no SSE field, no Gemini JSON array), read whole by
    :func:`refuse_error_body` when no event came of it (a 200 error instead of a stream);
    None once it is not, or past a few reads (an error object is short)."""
    if len(kept) < 16 and (kept or chunk.lstrip()[:1] == b"{"):
        kept.append(chunk)
        return kept
    return None


def json_object(data: bytes) -> bytes:
    """A pass-through body, checked cheaply (no parse) to be one JSON object: an empty or
    HTML 200 answer is an upstream failure, not a success, and so is an error object
    (:func:`refuse_error_body`)."""
    if data[:1] == b"{" and data[-1:] == b"}":  # the usual answer: no copy, no strip
        if data.find(b"error", 0, _ERROR_HEAD_SPAN) >= 0:
            refuse_error_body(data)
        return data
    if data.lstrip()[:1] != b"{" or data.rstrip()[-1:] != b"}":
        what = "an empty body" if not data.strip() else "a body that is not JSON"
        raise UpstreamError(f"upstream answered 200 with {what}", status=502)
    return data


def loads_object(data: bytes) -> dict[str, Any]:
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise UpstreamError("upstream answered with invalid JSON", status=502, body=None) from exc
    if not isinstance(parsed, dict):
        raise UpstreamError("upstream answered with an unexpected JSON shape", status=502)
    return parsed

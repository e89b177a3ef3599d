"""CPA's translator hooks (``sdk/translator/registry.go`` with its plugin hooks), each
calling rule written once, and the format choice of a plugin executor.

* request normalizers (``request.normalize``): a chain, each sees the previous body;
* request translators (``request.translate``): first success wins;
* response normalizers (``response.normalize_before`` / ``normalize_after``): chains;
* response translators (``response.translate``): first success wins.

An error, a crash or an empty ``Body`` keeps the body ("no change / try the next one").
The host translates every pair of its native formats itself; translators are asked only
where a plugin executor speaks a format the host does not know (a *custom* format).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from cliproxy.plugins import abi
from cliproxy.plugins.abi import PluginCrashed, PluginError, b64decode, b64encode, ci_get
from cliproxy.plugins.host import PluginHost, Record

__all__ = [
    "FORMAT_ALIASES",
    "NATIVE_FORMATS",
    "negotiate",
    "norm_format",
    "normalize_chain",
    "normalize_request",
    "normalize_response",
    "response_params",
    "translate_request",
    "translate_response",
]

log = logging.getLogger(__name__)

# the formats the host translates between itself (an executor may declare these)
NATIVE_FORMATS = frozenset(("openai", "openai-response", "claude", "gemini", "codex"))
FORMAT_ALIASES = {
    "chat-completions": "openai",
    "openai-chat-completions": "openai",
    "responses": "openai-response",
    "openai-responses": "openai-response",
    "anthropic": "claude",
}
_FAILURES = (PluginError, PluginCrashed, asyncio.TimeoutError)


def norm_format(fmt: str) -> str:
    fmt = (fmt or "").strip().lower()
    return FORMAT_ALIASES.get(fmt, fmt)


# ------------------------------------------------------------------ executor formats


def _declared(rec: Record, key: str) -> list[str]:
    found = (norm_format(str(f)) for f in rec.cap(key, []) or [])
    return [f for f in found if f and f != "none"]


def negotiate(host: PluginHost, rec: Record, client: str) -> tuple[str, str] | None:
    """(input, output) formats of executor ``rec`` for a client speaking ``client``, as
    CPA's ``prepareExecutorCall`` picks them; ``None`` when it cannot serve that client.

    Input: the client's format when declared, else the first native one (the host
    translates to it), else the first custom one when a request translator is active.
    Output: the client's format when declared, else the input when it translates back,
    else the first output that does. A native output always translates back; a custom
    one only while a response translator is active ("host response translator enables
    custom output")."""
    ins, outs = _declared(rec, "executor_input_formats"), _declared(rec, "executor_output_formats")
    if not ins or not outs:
        return None
    if client in ins:
        chosen_in = client
    else:
        native = [f for f in ins if f in NATIVE_FORMATS]
        if native:
            chosen_in = native[0]
        elif host.any("request_translator"):
            chosen_in = ins[0]
        else:
            return None
    if client in outs:
        return chosen_in, client
    custom_out = host.any("response_translator")
    for fmt in (chosen_in, *outs) if chosen_in in outs else outs:
        if fmt in NATIVE_FORMATS or custom_out:
            return chosen_in, fmt
    return None


# ------------------------------------------------------------------ requests


async def normalize_request(
    host: PluginHost, *, from_format: str, to_format: str, model: str, stream: bool, body: bytes
) -> bytes:
    """``request.normalize`` chain."""
    for rec in host.active("request_normalizer"):
        new = await _payload(
            host, rec, abi.REQUEST_NORMALIZE, _request(from_format, to_format, model, stream, body)
        )
        if new:
            body = new
    return body


async def translate_request(
    host: PluginHost, *, from_format: str, to_format: str, model: str, stream: bool, body: bytes
) -> bytes | None:
    """``request.translate``: the first translator's non-empty body, else ``None``."""
    for rec in host.active("request_translator"):
        new = await _payload(
            host, rec, abi.REQUEST_TRANSLATE, _request(from_format, to_format, model, stream, body)
        )
        if new:
            return new
    return None


def _request(from_format: str, to_format: str, model: str, stream: bool, body: bytes) -> dict[str, Any]:
    return {
        "FromFormat": from_format,
        "ToFormat": to_format,
        "Model": model,
        "Stream": stream,
        "Body": b64encode(body),
    }


# ------------------------------------------------------------------ responses


async def normalize_response(
    host: PluginHost,
    flag: str,
    method: str,
    *,
    from_format: str,
    to_format: str,
    model: str,
    stream: bool,
    original: bytes,
    translated: bytes,
    body: bytes,
) -> bytes:
    """``response.normalize_before`` / ``normalize_after`` chain."""
    base = response_params(from_format, to_format, model, stream, original, translated)
    return await normalize_chain(host, flag, method, base, body)


async def normalize_chain(
    host: PluginHost, flag: str, method: str, base: dict[str, Any], body: bytes
) -> bytes:
    """The ``flag`` chain on ``body``, every call carrying ``base`` (made once by
    :func:`response_params`, so a stream encodes the two requests once, not per chunk)."""
    for rec in host.active(flag):
        new = await _payload(host, rec, method, {**base, "Body": b64encode(body)})
        if new:
            body = new
    return body


def response_params(
    from_format: str, to_format: str, model: str, stream: bool, original: bytes, translated: bytes
) -> dict[str, Any]:
    """A response hook's fields but its ``Body``."""
    return {
        "FromFormat": from_format,
        "ToFormat": to_format,
        "Model": model,
        "Stream": stream,
        "OriginalRequest": b64encode(original),
        "TranslatedRequest": b64encode(translated),
    }


async def translate_response(
    host: PluginHost,
    *,
    from_format: str,
    to_format: str,
    model: str,
    stream: bool,
    original: bytes,
    translated: bytes,
    body: bytes,
) -> bytes | None:
    """``response.translate``: the first translator's non-empty body, else ``None``."""
    base = response_params(from_format, to_format, model, stream, original, translated)
    for rec in host.active("response_translator"):
        new = await _payload(host, rec, abi.RESPONSE_TRANSLATE, {**base, "Body": b64encode(body)})
        if new:
            return new
    return None


async def _payload(host: PluginHost, rec: Record, method: str, params: dict[str, Any]) -> bytes:
    """One hook's ``Body`` (empty when it failed, crashed or changed nothing)."""
    try:
        result = await host.call(rec, method, params)
    except _FAILURES as exc:
        log.warning("plugin %s failed in %s, skipped: %s", rec.id, method, exc)
        return b""
    return b64decode(ci_get(result, "Body")) if isinstance(result, dict) else b""

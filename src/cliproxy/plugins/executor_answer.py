"""A plugin executor's answer in a format other than the client's, brought back to it.

CPA's ``TranslateNonStream`` / ``TranslateStream`` with plugin hooks: the
``response.normalize_before`` chain, then the host's own translation for a native format
or, for a custom one, the first ``response.translate`` that answers (none: the answer
passes as it is), then the ``response.normalize_after`` chain, on every frame of a stream.

Stream frames cross the hooks as CPA's handlers write them: for Chat Completions and
Gemini clients the bare ``data`` payload (the host adds ``data: `` and the blank line),
for Claude and Responses clients the whole event text.

A Responses client's answer, whole or each stream chunk, translated or the executor's own,
last gets the usage details the SDKs type as always there (:func:`with_details`), as CPA's
executor adapter runs ``EnsureResponsesUsageDetails`` on it.
"""

from __future__ import annotations

from typing import Any

import orjson

from cliproxy.calls import Call
from cliproxy.formats import Format
from cliproxy.formats.openai_responses import with_usage_details
from cliproxy.plugins import abi
from cliproxy.plugins.host import PluginHost
from cliproxy.plugins.translation import NATIVE_FORMATS, normalize_response, translate_response
from cliproxy.translate.registry import Registry
from cliproxy.translate.stream import StreamTranslator

__all__ = ["Answer", "client_frames", "wire_frame", "with_details"]

_BARE_DATA = frozenset((Format.OPENAI, Format.GEMINI))  # CPA writes "data: <frame>\n\n" for these
_SSE_LINE = (b"data:", b"event:", b"id:", b":")


def client_frames(fmt: Format, out: bytes) -> list[bytes]:
    """The events of ``out`` (SSE the host made for a ``fmt`` client) as CPA's frames."""
    events = [e for e in out.split(b"\n\n") if e.strip()]
    if fmt not in _BARE_DATA:
        return [e + b"\n\n" for e in events]
    frames = []
    for event in events:
        if event.startswith(b"data:") and event.find(b"\n") < 0:
            event = event[5:].lstrip(b" ")
        frames.append(event)
    return frames


def wire_frame(fmt: Format, frame: bytes) -> bytes:
    """One of CPA's frames as SSE for a ``fmt`` client: a bare payload gets ``data: ``
    (and, for a Claude or Responses client, ``event: <its type>``); an event keeps its
    text and ends with a blank line."""
    if frame.startswith(_SSE_LINE):
        return frame if frame.endswith(b"\n\n") else frame.rstrip(b"\n") + b"\n\n"
    frame = frame.strip()
    if not frame:
        return b""
    if fmt not in _BARE_DATA:
        kind = _event_type(frame)
        if kind:
            return b"event: " + kind.encode() + b"\ndata: " + frame + b"\n\n"
    return b"data: " + frame + b"\n\n"


def with_details(fmt: Format, out: bytes) -> bytes:
    """``out`` (a whole answer or stream chunk for a ``fmt`` client) with, for a Responses
    client, ``input_tokens_details.cached_tokens`` and ``output_tokens_details.reasoning_tokens``
    in each usage it holds (zeros when missing); other clients' bytes as they are."""
    return with_usage_details(out) if fmt is Format.RESPONSES and out else out


def _event_type(frame: bytes) -> str:
    try:
        data = orjson.loads(frame)
    except orjson.JSONDecodeError:
        return ""
    kind = data.get("type") if isinstance(data, dict) else None
    return kind if isinstance(kind, str) else ""


class Answer:
    """The way back for one executor call's answer in format ``fmt_out``."""

    __slots__ = ("_same", "_tr", "alias", "call", "fmt_out", "host", "model", "original", "reg", "translated")

    def __init__(
        self,
        reg: Registry,
        host: PluginHost,
        call: Call,
        fmt_out: str,
        model: str,
        original: bytes,
        translated: bytes,
        alias: str | None = None,
    ) -> None:
        self.reg = reg
        # a force-mapped alias: the ``model`` the answer reports (the pipeline's own rewrite,
        # the translators' ``model``); it is why an answer already in the client's format
        # is parsed at all
        self.alias = alias
        self.host = host
        self.call = call
        self.fmt_out = fmt_out
        self.model = model
        self.original = original  # the client's request
        self.translated = translated  # what the executor got (CPA's TranslatedRequest)
        self._tr: StreamTranslator | None = None
        # a custom format's answer, in the client's format once the plugin translated it,
        # gets the alias as an answer in the client's own format would (one more pass)
        self._same: StreamTranslator | None = None
        if call.stream and fmt_out in NATIVE_FORMATS:
            self._tr = reg.stream_translator(Format(fmt_out), call.format, call.client_ir(reg), alias)
        elif call.stream and alias is not None:
            self._same = reg.stream_translator(call.format, call.format, call.client_ir(reg), alias)

    async def whole(self, body: bytes) -> bytes:
        body = await self._normalize("response_before_translator", body)
        if self.fmt_out in NATIVE_FORMATS:
            out = self.reg.translate_response(
                Format(self.fmt_out),
                self.call.format,
                orjson.loads(body),
                self.call.client_ir(self.reg),
                self.alias,
            )
            body = orjson.dumps(out)
            return await self._normalize("response_after_translator", body)
        body = await self._normalize("response_after_translator", await self._translate(body) or body)
        if self.alias is None:
            return body
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError:
            return body  # not an answer the host can read: the plugin's bytes as they are
        if not isinstance(parsed, dict):
            return body
        fmt = self.call.format
        return orjson.dumps(
            self.reg.translate_response(fmt, fmt, parsed, self.call.client_ir(self.reg), self.alias)
        )

    async def frame(self, piece: bytes) -> bytes:
        """One chunk of the executor's stream, as the client's SSE (may be empty)."""
        piece = await self._normalize("response_before_translator", piece)
        if self._tr is not None:
            return await self._after(self._tr.feed(piece))
        out = await self._translate(piece) or piece  # none answered: the raw chunk (CPA)
        out = await self._after(wire_frame(self.call.format, out))
        return self._same.feed(out) if self._same is not None and out else out

    async def finish(self) -> bytes:
        """What the host's stream translator still holds (a custom format holds nothing but
        for an alias)."""
        tr, self._tr = self._tr, None
        same, self._same = self._same, None
        return (
            await self._after(tr.finish()) if tr is not None else same.finish() if same is not None else b""
        )

    async def _after(self, out: bytes) -> bytes:
        if not out or not self.host.any("response_after_translator"):
            return out
        fmt = self.call.format
        parts = [
            wire_frame(fmt, await self._normalize("response_after_translator", f))
            for f in client_frames(fmt, out)
        ]
        return b"".join(parts)

    async def _normalize(self, flag: str, body: bytes) -> bytes:
        if not self.host.any(flag):
            return body
        method = (
            abi.RESPONSE_NORMALIZE_BEFORE
            if flag == "response_before_translator"
            else abi.RESPONSE_NORMALIZE_AFTER
        )
        return await normalize_response(self.host, flag, method, **self._params(body))

    async def _translate(self, body: bytes) -> bytes | None:
        if not self.host.any("response_translator"):
            return None
        return await translate_response(self.host, **self._params(body))

    def _params(self, body: bytes) -> dict[str, Any]:
        return {
            "from_format": self.fmt_out,
            "to_format": self.call.format.value,
            "model": self.model,
            "stream": self.call.stream,
            "original": self.original,
            "translated": self.translated,
            "body": body,
        }

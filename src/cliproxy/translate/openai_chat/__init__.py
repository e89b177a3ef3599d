"""OpenAI Chat Completions (format ``openai``) <-> IR.

``request.py``/``messages.py``/``parts.py`` parse client bodies, ``build.py`` and
``build_messages.py`` build upstream bodies, ``response.py`` handles whole responses,
``decode.py``/``encode.py`` streams. Wire constants live in ``cliproxy.formats.openai_chat``.
"""

from __future__ import annotations

from typing import Any

from cliproxy.formats import Format
from cliproxy.formats.openai_chat import ChatUsageSniffer, count_tokens_body
from cliproxy.translate import ir
from cliproxy.translate.adapter import Adapter
from cliproxy.translate.openai_chat.build import build_request
from cliproxy.translate.openai_chat.decode import ChatStreamDecoder
from cliproxy.translate.openai_chat.encode import ChatStreamEncoder
from cliproxy.translate.openai_chat.request import parse_request
from cliproxy.translate.openai_chat.response import build_response, parse_response

__all__ = ["ADAPTER", "OpenAIChatAdapter"]


class OpenAIChatAdapter(Adapter):
    """Chat Completions requests, responses and streams."""

    format = Format.OPENAI

    def parse_request(self, body: dict[str, Any]) -> ir.Request:
        return parse_request(body)

    def build_request(self, req: ir.Request) -> dict[str, Any]:
        return build_request(req)

    def parse_response(self, body: dict[str, Any], request: ir.Request | None = None) -> ir.Response:
        return parse_response(body, request)

    def build_response(self, resp: ir.Response, request: ir.Request | None = None) -> dict[str, Any]:
        return build_response(resp, request)

    def stream_decoder(self, request: ir.Request | None = None) -> ChatStreamDecoder:
        return ChatStreamDecoder(request)

    def stream_encoder(self, request: ir.Request | None = None, model: str | None = None) -> ChatStreamEncoder:
        return ChatStreamEncoder(request, model)

    def usage_sniffer(self) -> ChatUsageSniffer:
        return ChatUsageSniffer()

    def count_tokens_response(self, tokens: int) -> dict[str, Any]:
        return count_tokens_body(tokens)


ADAPTER = OpenAIChatAdapter()

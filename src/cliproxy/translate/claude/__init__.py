"""Anthropic Claude Messages <-> IR (``Format.CLAUDE``).

Modules: ``request`` (body -> IR) with ``blocks``; ``build`` (IR -> body) with
``wire``, ``ids`` and ``thinking``; ``response`` (whole responses); ``decode`` and
``encode`` (streams). Wire constants live in ``cliproxy.formats.claude``.
"""

from __future__ import annotations

from typing import Any

from cliproxy.formats import Format
from cliproxy.formats.claude import ClaudeUsageSniffer, count_tokens_body
from cliproxy.translate import ir
from cliproxy.translate.adapter import Adapter
from cliproxy.translate.claude.build import build_request
from cliproxy.translate.claude.decode import ClaudeStreamDecoder
from cliproxy.translate.claude.encode import ClaudeStreamEncoder
from cliproxy.translate.claude.request import parse_request
from cliproxy.translate.claude.response import build_response, parse_response

__all__ = ["ADAPTER", "ClaudeAdapter"]


class ClaudeAdapter(Adapter):
    """The Claude Messages format."""

    format = Format.CLAUDE

    def parse_request(self, body: dict[str, Any]) -> ir.Request:
        return parse_request(body)

    def build_request(self, req: ir.Request) -> dict[str, Any]:
        return build_request(req)

    def parse_response(self, body: dict[str, Any], request: ir.Request | None = None) -> ir.Response:
        return parse_response(body, request)

    def build_response(self, resp: ir.Response, request: ir.Request | None = None) -> dict[str, Any]:
        return build_response(resp, request)

    def stream_decoder(self, request: ir.Request | None = None) -> ClaudeStreamDecoder:
        return ClaudeStreamDecoder(request)

    def stream_encoder(self, request: ir.Request | None = None, model: str | None = None) -> ClaudeStreamEncoder:
        return ClaudeStreamEncoder(request, model)

    def usage_sniffer(self) -> ClaudeUsageSniffer:
        return ClaudeUsageSniffer()

    def count_tokens_response(self, tokens: int) -> dict[str, Any]:
        return count_tokens_body(tokens)


ADAPTER = ClaudeAdapter()

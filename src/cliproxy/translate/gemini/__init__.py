"""Google Gemini generateContent <-> IR (format id ``gemini``)."""

from __future__ import annotations

from typing import Any

from cliproxy.formats import Format
from cliproxy.formats.gemini import GeminiUsageSniffer, count_tokens_response
from cliproxy.translate import ir
from cliproxy.translate.adapter import Adapter, StreamDecoder, StreamEncoder, UsageSniffer
from cliproxy.translate.gemini.build import build_request
from cliproxy.translate.gemini.decode import GeminiStreamDecoder
from cliproxy.translate.gemini.encode import GeminiStreamEncoder
from cliproxy.translate.gemini.parse import parse_request
from cliproxy.translate.gemini.response import build_response, parse_response

__all__ = ["ADAPTER", "GeminiAdapter"]


class GeminiAdapter(Adapter):
    format = Format.GEMINI

    def parse_request(self, body: dict[str, Any]) -> ir.Request:
        return parse_request(body)

    def build_request(self, req: ir.Request) -> dict[str, Any]:
        return build_request(req)

    def parse_response(self, body: dict[str, Any], request: ir.Request | None = None) -> ir.Response:
        return parse_response(body, request)

    def build_response(self, resp: ir.Response, request: ir.Request | None = None) -> dict[str, Any]:
        return build_response(resp, request)

    def stream_decoder(self, request: ir.Request | None = None) -> StreamDecoder:
        return GeminiStreamDecoder(request)

    def stream_encoder(self, request: ir.Request | None = None, model: str | None = None) -> StreamEncoder:
        return GeminiStreamEncoder(request, model)

    def usage_sniffer(self) -> UsageSniffer:
        return GeminiUsageSniffer()

    def count_tokens_response(self, tokens: int) -> dict[str, Any]:
        return count_tokens_response(tokens)


ADAPTER = GeminiAdapter()

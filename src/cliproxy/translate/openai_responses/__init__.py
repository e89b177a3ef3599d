"""OpenAI Responses <-> IR, and its Codex (ChatGPT backend) dialect.

``ADAPTER`` speaks the public Responses API; ``CODEX_ADAPTER`` is the same code with
the dialect flag on: its ``build_request`` shapes the body the ChatGPT backend accepts
(see ``codex.to_codex``). Parsing, responses and streams are the same for both.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from cliproxy.formats import Format
from cliproxy.formats.openai_responses import ResponsesUsageSniffer, count_tokens_response
from cliproxy.translate import ir
from cliproxy.translate.adapter import Adapter, StreamDecoder, StreamEncoder, UsageSniffer
from cliproxy.translate.openai_responses.build import build_request, is_own
from cliproxy.translate.openai_responses.codex import to_codex
from cliproxy.translate.openai_responses.codex_tools import clean_codex_tool_schemas
from cliproxy.translate.openai_responses.decode import ResponsesDecoder
from cliproxy.translate.openai_responses.encode import ResponsesEncoder
from cliproxy.translate.openai_responses.parse import parse_request
from cliproxy.translate.openai_responses.response import build_response, parse_response

__all__ = ["ADAPTER", "CODEX_ADAPTER", "ResponsesAdapter"]


class ResponsesAdapter(Adapter):
    """The Responses format; ``codex=True`` builds requests in the Codex dialect."""

    def __init__(self, codex: bool = False) -> None:
        self.codex = codex
        self.format = Format.CODEX if codex else Format.RESPONSES
        self._source: str = self.format.value
        # the per-request steps that need no adapter state are the functions themselves,
        # bound on the instance (they shadow the delegating methods): no extra call
        self.__dict__.update(
            parse_request=partial(parse_request, source=self._source),
            build_response=build_response,
        )
        if not codex:
            self.__dict__["build_request"] = build_request

    def parse_request(self, body: dict[str, Any]) -> ir.Request:
        return parse_request(body, self._source)

    def build_request(self, req: ir.Request) -> dict[str, Any]:
        body = build_request(req, self.codex)
        if not self.codex:
            return body
        clean_codex_tool_schemas(body, req.source)
        return to_codex(body, is_own(req.source))

    def parse_response(self, body: dict[str, Any], request: ir.Request | None = None) -> ir.Response:
        return parse_response(body, self._source, request)

    def build_response(self, resp: ir.Response, request: ir.Request | None = None) -> dict[str, Any]:
        return build_response(resp, request)

    def stream_decoder(self, request: ir.Request | None = None) -> StreamDecoder:
        return ResponsesDecoder(request)

    def stream_encoder(self, request: ir.Request | None = None, model: str | None = None) -> StreamEncoder:
        return ResponsesEncoder(request, model)

    def usage_sniffer(self) -> UsageSniffer:
        return ResponsesUsageSniffer()

    def count_tokens_response(self, tokens: int) -> dict[str, Any]:
        return count_tokens_response(tokens)


ADAPTER = ResponsesAdapter()
CODEX_ADAPTER = ResponsesAdapter(codex=True)

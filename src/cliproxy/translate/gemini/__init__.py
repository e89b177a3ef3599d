"""Google Gemini generateContent <-> IR (format id ``gemini``)."""

from __future__ import annotations

from cliproxy.formats import Format
from cliproxy.formats.gemini import GeminiUsageSniffer, count_tokens_response
from cliproxy.translate.adapter import PartsAdapter
from cliproxy.translate.gemini.build import build_request
from cliproxy.translate.gemini.config import owns_body
from cliproxy.translate.gemini.decode import stream_decoder
from cliproxy.translate.gemini.encode import GeminiStreamEncoder
from cliproxy.translate.gemini.parse import parse_request
from cliproxy.translate.gemini.response import build_response, parse_response

__all__ = ["ADAPTER"]


ADAPTER = PartsAdapter(
    Format.GEMINI,
    parse_request=parse_request,
    build_request=build_request,
    parse_response=parse_response,
    build_response=build_response,
    decoder=stream_decoder,
    encoder=GeminiStreamEncoder,
    sniffer=GeminiUsageSniffer,
    count_tokens=count_tokens_response,
    owns_body=owns_body,
)

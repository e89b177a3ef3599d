"""Gemini Interactions API <-> IR (format id ``interactions``)."""

from __future__ import annotations

from cliproxy.formats import Format
from cliproxy.formats.interactions import InteractionsUsageSniffer, count_tokens_response
from cliproxy.translate.adapter import PartsAdapter
from cliproxy.translate.interactions.build import build_request
from cliproxy.translate.interactions.decode import InteractionsStreamDecoder
from cliproxy.translate.interactions.encode import InteractionsStreamEncoder
from cliproxy.translate.interactions.parse import parse_request
from cliproxy.translate.interactions.response import build_response, parse_response

__all__ = ["ADAPTER"]


ADAPTER = PartsAdapter(
    Format.INTERACTIONS,
    parse_request=parse_request,
    build_request=build_request,
    parse_response=parse_response,
    build_response=build_response,
    decoder=InteractionsStreamDecoder,
    encoder=InteractionsStreamEncoder,
    sniffer=InteractionsUsageSniffer,
    count_tokens=count_tokens_response,
)

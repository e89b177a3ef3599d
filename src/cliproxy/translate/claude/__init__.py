"""Anthropic Claude Messages <-> IR (``Format.CLAUDE``).

Modules: ``request`` (body -> IR) with ``blocks``; ``build`` (IR -> body) with
``wire``, ``ids`` and ``thinking``; ``response`` (whole responses); ``decode`` and
``encode`` (streams). Wire constants live in ``cliproxy.formats.claude``.
"""

from __future__ import annotations

from cliproxy.formats import Format
from cliproxy.formats.claude import ClaudeUsageSniffer, count_tokens_body
from cliproxy.translate.adapter import PartsAdapter
from cliproxy.translate.claude.build import build_request
from cliproxy.translate.claude.decode import ClaudeStreamDecoder
from cliproxy.translate.claude.encode import ClaudeStreamEncoder
from cliproxy.translate.claude.request import parse_request
from cliproxy.translate.claude.response import build_response, parse_response

__all__ = ["ADAPTER"]


ADAPTER = PartsAdapter(
    Format.CLAUDE,
    parse_request=parse_request,
    build_request=build_request,
    parse_response=parse_response,
    build_response=build_response,
    decoder=ClaudeStreamDecoder,
    encoder=ClaudeStreamEncoder,
    sniffer=ClaudeUsageSniffer,
    count_tokens=count_tokens_body,
)

"""OpenAI Chat Completions (format ``openai``) <-> IR.

``request.py``/``messages.py``/``parts.py`` parse client bodies, ``build.py`` and
``build_messages.py`` build upstream bodies, ``response.py`` handles whole responses,
``decode.py``/``encode.py`` streams. Wire constants live in ``cliproxy.formats.openai_chat``.
"""

from __future__ import annotations

from cliproxy.formats import Format
from cliproxy.formats.openai_chat import ChatUsageSniffer, count_tokens_body
from cliproxy.translate.adapter import PartsAdapter
from cliproxy.translate.openai_chat.build import build_request, owns_body
from cliproxy.translate.openai_chat.decode import ChatStreamDecoder
from cliproxy.translate.openai_chat.encode import ChatStreamEncoder
from cliproxy.translate.openai_chat.request import parse_request
from cliproxy.translate.openai_chat.response import build_response, parse_response

__all__ = ["ADAPTER"]


ADAPTER = PartsAdapter(
    Format.OPENAI,
    parse_request=parse_request,
    build_request=build_request,
    parse_response=parse_response,
    build_response=build_response,
    decoder=ChatStreamDecoder,
    encoder=ChatStreamEncoder,
    sniffer=ChatUsageSniffer,
    count_tokens=count_tokens_body,
    owns_body=owns_body,
)

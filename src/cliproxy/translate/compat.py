"""``is-compat``: CPA's compatibility translation for API-key models that set it.

A third-party endpoint that speaks another vendor's protocol (DeepSeek behind a Claude
or Responses API, a Chat server taking ``reasoning_content``...) accepts reasoning that
carries no signature, or its own opaque one, which the vendor itself would refuse. For a
model whose ``models[].is-compat`` is true CPA keeps such reasoning instead of dropping
it (``helps.TranslateRequestWithAPIKeyModelCompatibility`` and the ``*WithCompat``
translators), pair by pair:

- Claude -> Codex / Responses: an assistant thinking block with a blank signature becomes
  a ``reasoning`` item whose ``encrypted_content`` is that blank value;
- Claude -> Chat: every assistant thinking block with text becomes ``reasoning_content``,
  whatever its signature;
- Chat -> Claude: an assistant ``reasoning_content`` becomes a thinking block with an
  empty signature (before the text and tool uses, in one turn);
- Responses -> Claude: a ``reasoning`` item whose ``encrypted_content`` is not a Claude
  signature becomes a thinking block carrying that value (empty or opaque) as signature;
- Claude -> Gemini: every assistant thinking block becomes a thought part carrying its
  Gemini signature, or the bypass sentinel for a blank or foreign one;
- Claude -> Interactions: every assistant thinking block becomes a ``thought`` step, an
  empty one too (a Gemini signature goes with it, no other).

:func:`prepare` marks those blocks in the IR (``Thinking.compat``) so the target's
builder keeps them; other pairs pass through unchanged. The request is copied only along
the messages it changes. A Claude client to a Claude-protocol upstream is not translated:
there ``is-compat`` tells the signature sanitizer to keep empty and opaque signatures
(``signature_bodies.sanitize_for_claude_upstream``). One difference: CPA's Vertex executor
never reads the flag; here a ``vertex-api-key`` model with it acts as a Gemini key does.

Codex-dialect keys (Codex, xAI): with ``is-compat`` and ``codex.optimize-multi-agent-v2``
both on, an official Codex client's ``agent_message`` input items become portable
``message`` / ``user`` items (:func:`rewrite_agent_messages`), their ``encrypted_content``
parts plain ``input_text``, as CPA's ``RewriteCodexMultiAgentV2Input`` does (the pipeline
checks the switch and the client).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from cliproxy.formats import Format
from cliproxy.translate import ir
from cliproxy.translate.signatures import compatible_signature

__all__ = ["prepare", "rewrite_agent_messages"]

_RESPONSES = frozenset({Format.RESPONSES.value, Format.CODEX.value})
_CLAUDE = Format.CLAUDE.value
_CHAT = Format.OPENAI.value


def prepare(req: ir.Request, target: Format) -> ir.Request:
    """``req`` with the reasoning CPA's compat translator for ``req.source`` -> ``target``
    keeps marked to be kept (``req`` itself when nothing changes)."""
    keep = _rule(req.source, target)
    if keep is None:
        return req
    messages: list[ir.Message] | None = None
    for i, msg in enumerate(req.messages):
        if msg.role != "assistant":
            continue
        content: list[ir.Block] | None = None
        for j, block in enumerate(msg.content):
            if not isinstance(block, ir.Thinking) or block.redacted or block.compat or not keep(block):
                continue
            if content is None:
                content = list(msg.content)
            content[j] = replace(block, compat=True, signature=block.signature or "")
        if content is not None:
            if messages is None:
                messages = list(req.messages)
            messages[i] = replace(msg, content=content)
    return req if messages is None else replace(req, messages=messages)


def _rule(source: str, target: Format) -> Any:
    if source == _CLAUDE and target in (Format.CODEX, Format.RESPONSES):
        return _blank_signature
    if source == _CLAUDE and target in (Format.GEMINI, Format.INTERACTIONS):
        return _any
    if source == _CLAUDE and target is Format.OPENAI:
        return _has_text
    if target is Format.CLAUDE and source == _CHAT:
        return _has_text
    if target is Format.CLAUDE and source in _RESPONSES:
        return _not_claude_signed
    return None


def _any(block: ir.Thinking) -> bool:
    return True


def _blank_signature(block: ir.Thinking) -> bool:
    return not (block.signature or "").strip()


def _has_text(block: ir.Thinking) -> bool:
    return bool(block.text.strip())


def _not_claude_signed(block: ir.Thinking) -> bool:
    return compatible_signature("claude", block.signature) is None


# ---------------------------------------------------------------------- Codex agent messages


def rewrite_agent_messages(body: dict[str, Any]) -> bool:
    """Turn ``agent_message`` input items into ``message`` items from the ``user``, their
    ``encrypted_content`` parts into ``input_text`` (other fields stay). Copies the input
    list and each item it changes; returns whether anything changed."""
    items = body.get("input")
    if not isinstance(items, list):
        return False
    out: list[Any] | None = None
    for i, item in enumerate(items):
        if not isinstance(item, dict) or str(item.get("type") or "").strip() != "agent_message":
            continue
        new = dict(item)
        content = item.get("content")
        if isinstance(content, list):
            new["content"] = [_plain_part(part) for part in content]
        new["role"] = "user"
        new["type"] = "message"
        if out is None:
            out = list(items)
        out[i] = new
    if out is None:
        return False
    body["input"] = out
    return True


def _plain_part(part: Any) -> Any:
    if not isinstance(part, dict) or str(part.get("type") or "").strip() != "encrypted_content":
        return part
    secret = part.get("encrypted_content")
    if not isinstance(secret, str):
        return part
    new = {k: v for k, v in part.items() if k != "encrypted_content"}
    new["type"] = "input_text"
    new["text"] = secret
    return new

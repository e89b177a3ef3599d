"""Claude thinking signatures through Antigravity (a Claude model behind Google's
Gemini-shaped API), in CPA's two modes (``internal/cache/signature_cache.go``,
``translator/antigravity/claude``):

* cache mode (``antigravity-signature-cache-enabled: true``, the default): a signature
  Antigravity returns is kept in the signature cache under the model group and the
  thinking text, and the Claude client gets it as ``claude#<signature>``. On the next
  turn a thinking block is signed from the cache by its text, else from a
  ``claude#``-prefixed value the client sent back; a raw signature is not trusted and
  the block is dropped (so another backend's signature never reaches Antigravity).
* bypass mode (``false``): nothing is cached; the client gets the single-layer Claude
  signature (``E...``, what Anthropic's API hands out) and the one it sends back is
  used when it is a Claude signature, in Antigravity's double-layer ``R`` form.
  ``antigravity-signature-bypass-strict: true`` checks it against the full protobuf
  tree instead of the basic ``R``/``E`` + ``0x12`` check.

A thinking block whose signature cannot be resolved is dropped (Antigravity's Claude
rejects unsigned or foreign thinking); redacted thinking is never sent.

A Responses client's reasoning items take neither mode (CPA's Responses translator): an
``encrypted_content`` that is a Claude signature (native ``E`` or Antigravity's ``R``) goes
in the ``R`` form with the item's summary text; any other value, or an item without text,
is left out.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from cliproxy.formats import Format
from cliproxy.translate import ir
from cliproxy.translate.envelopes import SignatureError, normalize_claude, normalize_claude_native
from cliproxy.translate.replay import SignatureCache, has_valid_signature, model_group
from cliproxy.translate.signatures import antigravity_claude_signature, provider_from_model, without_prefix

__all__ = ["SIGNATURE_OUT", "AntigravityClaudeSignatures", "antigravity_claude_signatures"]

# request extras key: the callable that turns an upstream signature into the client's value
SIGNATURE_OUT = "_signature_out"
_CLIENTS = (Format.CLAUDE, Format.RESPONSES)


@dataclass(slots=True)
class AntigravityClaudeSignatures:
    cache: SignatureCache
    model: str
    cache_mode: bool = True
    strict: bool = False
    responses: bool = False  # a Responses client: its own signatures, no cache, no response hook

    # ---- request side

    def resolve(self, text: str, raw: str | None) -> str | None:
        """The ``thoughtSignature`` to send for a thinking block, or None (drop it)."""
        if self.responses:
            return antigravity_claude_signature(raw)
        if self.cache_mode:
            if text:
                cached = self.cache.get(self.model, text)
                if cached:
                    return antigravity_claude_signature(cached)
            group, sep, rest = (raw or "").strip().partition("#")
            if sep and group == model_group(self.model) and has_valid_signature(self.model, rest.strip()):
                return antigravity_claude_signature(rest.strip())
            return None
        try:
            return normalize_claude(without_prefix((raw or "").strip()), strict=self.strict)
        except SignatureError:
            return None

    def prepare(self, req: ir.Request) -> ir.Request:
        """``req`` with every assistant thinking block signed for Antigravity or left out,
        and the response hook set (a shallow copy; the client's IR is not touched)."""
        messages: list[ir.Message] = []
        for msg in req.messages:
            if msg.role != "assistant" or not any(isinstance(b, ir.Thinking) for b in msg.content):
                messages.append(msg)
                continue
            blocks: list[ir.Block] = []
            for b in msg.content:
                if not isinstance(b, ir.Thinking):
                    blocks.append(b)
                    continue
                # redacted or empty thinking is never sent (CPA drops it in both modes)
                sig = None if b.redacted or not b.text.strip() else self.resolve(b.text, b.signature)
                if sig is not None:
                    blocks.append(ir.Thinking(b.text, sig, "gemini", extras=b.extras))
            messages.append(ir.Message(msg.role, blocks, msg.name, msg.extras))
        if self.responses:
            return replace(req, messages=messages)
        return replace(req, messages=messages, extras={**req.extras, SIGNATURE_OUT: self.to_client})

    # ---- response side

    def to_client(self, text: str, signature: str) -> str | None:
        """What a Claude client gets for a signature Antigravity returned with ``text``
        (None: not a Claude signature, nothing to give)."""
        value = signature.strip()
        try:
            native = normalize_claude_native(value)
        except SignatureError:
            return None
        if self.cache_mode:
            self.cache.put(self.model, text, value)
            return f"{model_group(self.model)}#{value}"
        return native


def antigravity_claude_signatures(
    cache: SignatureCache, config: Any, *, provider: str, client: Format, upstream: Format, model: str
) -> AntigravityClaudeSignatures | None:
    """The signature handling of one attempt: a Claude (or Responses) client, a Claude model
    behind Antigravity (its Gemini-shaped upstream), in the mode the config names; else None."""
    if provider != "antigravity" or upstream is not Format.GEMINI or client not in _CLIENTS:
        return None
    if provider_from_model(model) != "claude":
        return None
    if client is Format.RESPONSES:
        return AntigravityClaudeSignatures(cache, model, responses=True)
    return AntigravityClaudeSignatures(
        cache,
        model,
        cache_mode=bool(getattr(config, "antigravity_signature_cache_enabled", True)),
        strict=bool(getattr(config, "antigravity_signature_bypass_strict", False)),
    )

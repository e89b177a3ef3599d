"""Gemini signatures put back on the part they came on (``Thinking.anchor``).

Gemini signs the part that ends a piece of reasoning: a thought, the visible text after
it, a function call, or a part of its own (``{"text": "", "thoughtSignature": ...}``).
A client that cannot hold a signature on a text or a call carries it in a thinking block
next to it (CPA's carriers, :mod:`cliproxy.translate.carriers`), and the block's anchor
says which neighbour it belongs to. A builder writes such a block as an :class:`Anchored`
marker in its parts list and :func:`place` puts each signature where it was:

* ``next:<kind>``: on the part after it when that part is of the kind (``text``: a
  visible or thought text; ``function``: a call; ``any``: either) and unsigned; a part
  of its own when that part has a signature already (CPA keeps both); dropped when the
  next part with content is of another kind, or there is none;
* ``previous:<kind>``: the same, with the last part before it that has content.

A signature is never written over, and never moved past a part with content (CPA).
A thought a client sent unsigned after such a block is written with :data:`UNSIGNED`: it
stays only when the signature before it lands on it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["UNSIGNED", "Anchored", "place"]

_SIG = "thoughtSignature"
UNSIGNED = "_unsigned"  # a part key: a thought kept only when a forward signature lands on it


class Anchored(dict[str, Any]):
    """A signature waiting for its part in a parts list under construction (a dict, so it
    sits in one as a part does; it is never written out)."""

    __slots__ = ("forward", "kind", "signature")

    def __init__(self, signature: str, anchor: str) -> None:
        super().__init__()
        direction, _, kind = anchor.partition(":")
        self.signature = signature
        self.forward = direction == "next"
        self.kind = kind or "any"


def _kind(part: Any) -> str:
    """``text`` or ``function`` for a part with content, ``""`` for a signature-only part or
    anything else (media, a provider's part)."""
    if not isinstance(part, dict):
        return ""
    if "functionCall" in part:
        return "function"
    return "text" if part.get("text") else ""


def _alone(signature: str) -> dict[str, Any]:
    return {"text": "", _SIG: signature}


def place(parts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``parts`` with every :class:`Anchored` resolved (the parts around them were made by
    the caller for this list, so a signature is set on them in place)."""
    out: list[dict[str, Any]] = []
    pending: Anchored | None = None
    for part in parts:
        if type(part) is Anchored:
            if not part.forward:
                _back(out, part)
                continue
            if pending is not None:  # two for one part: the nearer one wins it (CPA)
                out.append(_alone(pending.signature))
            pending = part
            continue
        kind = _kind(part)
        if UNSIGNED in part:
            del part[UNSIGNED]
            if pending is None or pending.kind == "function":
                continue  # nothing signs it: left out, as any unsigned thought (and the pending one stays)
        if pending is not None and kind:
            if pending.kind in ("any", kind):
                if part.get(_SIG):
                    out.append(_alone(pending.signature))
                else:
                    part[_SIG] = pending.signature
            pending = None
        out.append(part)
    return out


def _back(out: list[dict[str, Any]], anchored: Anchored) -> None:
    for part in reversed(out):
        kind = _kind(part)
        if not kind:
            continue
        if anchored.kind not in ("any", kind):
            return
        if part.get(_SIG):
            out.append(_alone(anchored.signature))
        else:
            part[_SIG] = anchored.signature
        return

"""Stage 7 for a request of the plain shape (``pipeline_prepare.start_attempt``): its
upstream body written straight from the client's by ``translate.plain_requests`` (the
body the hub writes, byte for byte), with no IR made. Only the answer side reads an IR
(a stream's translator, an answer that is not plain): ``Attempt.request`` makes it then,
as the hub would have (the thinking step, payload rules and request normalizers work on
the body, and ``Attempt.untouched`` tells them it is a translated one).

What ``start_attempt`` does to a translated body besides writing it does not apply here:
it takes this way only for a generation without ``is-compat`` or
``codex.optimize-multi-agent-v2``'s rewrite, on a provider other than Antigravity (its
signatures and call ids), and the writers take no call, no signature and no assistant turn
a Claude thinking replay restores into (nothing to sanitize, restore or settle). A Claude
upstream's replay scope is still made: it records the answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cliproxy.calls import Attempt, Call
from cliproxy.credentials.record import Credential
from cliproxy.formats import Format
from cliproxy.providers.base import Carry, Provider
from cliproxy.providers.gemini_replay import carry as _GEMINI_CARRY
from cliproxy.translate.replay import scope_for

if TYPE_CHECKING:
    from cliproxy.pipeline_prepare import Preparing

__all__ = ["own", "plain_attempt"]

_CLAUDE, _OPENAI, _GEMINI = Format.CLAUDE, Format.OPENAI, Format.GEMINI


def plain_attempt(
    pipe: Preparing,
    call: Call,
    cred: Credential,
    provider: Provider,
    model: str,
    up_fmt: Format,
    carry: Carry | None,
) -> Attempt | None:
    """The attempt of a request of the plain shape (``Attempt.plain``); ``None``: any other
    request, which the hub translates."""
    write = pipe.translations.plain_request(call.format, up_fmt)
    body = write(call.body, model, call.stream) if write is not None else None
    if body is None:
        return None
    scope = None
    if up_fmt is _CLAUDE:  # (what it restores applies to assistant turns: none here)
        scope = scope_for(
            pipe.thinking_replay,
            pipe.signature_cache,
            credential_id=cred.id,
            model=model,
            headers=call.headers,
            body=call.body,
            chat_client=call.format in (_OPENAI, _GEMINI),
        )
    # what a carrier puts in is the client's: copied, as the hub's is (the Gemini signature
    # replay's puts nothing into a request without tools nor tool results: no writer takes one)
    if carry is not None and carry is not _GEMINI_CARRY:
        members = len(body)
        carry(body, call.format, call.body, call.headers, model, False)
        if len(body) != members:  # (a carrier that put nothing in leaves the writer's own body)
            body = own(body)
    return Attempt(cred, provider, model, up_fmt, call.headers, body, replay=scope, plain=True)


def own(body: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``body`` whose nested objects are copies too, down to (not into) arrays.

    Shaping writes thinking settings and payload rules into objects (``thinking``,
    ``generationConfig.thinkingConfig``, ``metadata``...) in place: they must be this
    attempt's, not the client's request nor the IR a later attempt translates again.
    Arrays (messages, tools) stay shared: copying them would cost a deep copy per request.
    """
    out = body.copy()
    for key, value in body.items():
        if type(value) is dict:
            out[key] = own(value)
    return out

"""Content only the client's own format can carry.

A parser keeps whole what the IR has no block for (a Chat Completions content part of a
type cliproxy does not know, such as ``document``) so that an upstream of the same
format gets it back in place. No other format has a place for it, and leaving it out
would change the conversation without a word (a message made only of such parts would go
up empty), so a builder for another format refuses the request instead.

The parser records what it kept in ``Request.extras[KEY]`` as ``(where, type)`` pairs.
"""

from __future__ import annotations

from cliproxy.errors import RequestError
from cliproxy.translate import ir

__all__ = ["KEY", "refuse"]

KEY = "_source_only"


def refuse(req: ir.Request, target: str) -> None:
    """Raise a 400 naming the first kept part when ``req`` holds any (``target`` names
    the upstream's format for the message); nothing otherwise."""
    kept = req.extras.get(KEY)
    if kept:
        where, kind = kept[0]
        raise RequestError(
            f"{where}: a content part of type {kind!r} cannot be sent to a {target} upstream "
            "(only an OpenAI Chat Completions upstream takes it)",
            param=f"{where}.type",
        )

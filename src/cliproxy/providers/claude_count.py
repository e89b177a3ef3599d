"""Token counts of Claude credentials that Anthropic cannot count (CPA
``claude_executor_tokens.go``): which credentials those are, and the checks a request
passes before it is counted locally.

Only Anthropic's own API has the ``count_tokens`` contract, so a credential on any other
base URL (an Anthropic-compatible gateway: GLM, MiniMax, a relay, which mostly answer 404
there) is counted locally, OAuth or API key alike, and nothing is sent to the gateway
(``shouldUseClaudeUpstreamTokenCount``). The local count reads the request as CPA's
``validateClaudeTokenCountRequest`` does: a request it refuses is the client's 400.
"""

from __future__ import annotations

from typing import Any

from cliproxy.credentials.record import Credential
from cliproxy.errors import RequestError
from cliproxy.providers.claude_plan import anthropic_origin

__all__ = ["check", "estimated"]


def estimated(cred: Credential, default_base: str) -> bool:
    """Whether a count on ``cred`` is made locally: it has no key at all, or a base URL of
    its own that is neither Anthropic's https origin nor ``default_base`` (the endpoint
    table's Anthropic API, which ``CLIPROXY_OAUTH_CLAUDE_API`` may point elsewhere: a
    private deployment's or a test's)."""
    if not (cred.api_key or cred.metadata):
        return True
    base = cred.base_url.rstrip("/")
    return bool(base) and base != default_base.rstrip("/") and not anthropic_origin(base)


def check(body: dict[str, Any]) -> None:
    """Raise the client's ``RequestError`` (400) for a request the local count cannot
    read: no messages, a turn that is not the user's or the assistant's, content that is
    neither a string nor a list of typed blocks."""
    messages = body.get("messages")
    if type(messages) is not list or not messages:
        raise RequestError("messages: a count needs a non-empty array of messages", param="messages")
    for index, message in enumerate(messages):
        if type(message) is not dict:
            raise RequestError(f"messages.{index}: each message must be an object", param="messages")
        if message.get("role") not in ("user", "assistant"):
            raise RequestError(f"messages.{index}.role: must be user or assistant", param="messages")
        content = message.get("content")
        if type(content) is str:
            continue
        if type(content) is not list:
            raise RequestError(
                f"messages.{index}.content: must be a string or an array of blocks", param="messages"
            )
        for block in content:
            if type(block) is not dict or type(kind := block.get("type")) is not str or not kind:
                raise RequestError(
                    f"messages.{index}.content: each block must be an object with a type", param="messages"
                )

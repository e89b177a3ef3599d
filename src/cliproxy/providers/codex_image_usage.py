"""What Codex's built-in ``image_generation`` tool spent on an answer (CPA
``ParseCodexImageToolUsage`` and ``publishCodexImageToolUsage``).

The backend's ``response.completed`` (and ``response.incomplete``) names the image model's
tokens in ``response.tool_usage.image_gen``, OpenAI's usage shape (``input_tokens``,
``output_tokens``, their ``_details``, ``total_tokens`` or not). The backend sends
``tool_usage`` on every answer, all zeros when no image was made. When the stream's
rewriter parses the terminal event anyway (to mend its output: nearly every answer over
HTTP), the parsed object is read (:meth:`ImageToolUsage.take`, a dict lookup); otherwise
(an upstream WebSocket's turn) the object is cut out of the line with a pattern and parsed
alone, only when a digit other than 0 is in it: the terminal event (tens of KB, the
request echoed) is never parsed for it.

The tokens are recorded under the model of the request's first ``image_generation`` tool,
or ``gpt-image-2`` when it names none (CPA ``codexImageGenerationToolModel``), as a second
usage record (``cliproxy.usage.tool_usage``).
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from cliproxy.formats.ir import Usage
from cliproxy.formats.openai_responses import usage_from_wire

__all__ = ["DEFAULT_IMAGE_MODEL", "ImageToolUsage", "image_gen_usage", "image_tool_usage"]

DEFAULT_IMAGE_MODEL = "gpt-image-2"  # CPA codexDefaultImageToolModel

_TOOL_USAGE = b'"tool_usage"'
# ``"tool_usage": {`` then its members up to ``"image_gen": {...}`` (one level of nested
# objects, as the usage details are), the object captured
_NESTED = rb"(?:[^{}]|\{[^{}]*\})"
_IMAGE_GEN = re.compile(
    rb'"tool_usage"\s*:\s*\{' + _NESTED + rb'*?"image_gen"\s*:\s*(\{' + _NESTED + rb"*\})"
)
_NONZERO = re.compile(rb"[1-9]")
_TOKEN_FIELDS = ("total_tokens", "input_tokens", "output_tokens")
_CHAT_NAMES = (
    ("prompt_tokens", "input_tokens"),
    ("completion_tokens", "output_tokens"),
    ("prompt_tokens_details", "input_tokens_details"),
    ("completion_tokens_details", "output_tokens_details"),
)
_DETAILS = (
    ("input_tokens_details", ("cached_tokens", "cache_write_tokens", "cache_creation_tokens")),
    ("output_tokens_details", ("reasoning_tokens",)),
)


def _all_zero(node: dict[str, Any]) -> bool:
    """Whether every count in a usage object (and its details) is 0."""
    for value in node.values():
        if type(value) is dict:
            if any(v for v in value.values() if type(v) is int):
                return False
        elif type(value) is not int or value:
            return False
    return True


def _has_detail(node: dict[str, Any]) -> bool:
    """Whether a usage object without a top-level count names a cache or reasoning count
    (CPA ``hasOpenAIStyleUsageBucketFields``)."""
    for name, counts in _DETAILS:
        details = node.get(name)
        if isinstance(details, dict) and any(k in details for k in counts):
            return True
    return False


def image_tool_usage(line: bytes) -> Usage | None:
    """The image tool's usage a terminal event (a ``data:`` line or its JSON) names, or
    ``None``: none named, no token count in it, or every count zero (CPA records none)."""
    at = line.find(_TOOL_USAGE)
    if at < 0:
        return None
    found = _IMAGE_GEN.match(line, at)
    if found is None or _NONZERO.search(found.group(1)) is None:
        return None
    try:
        node = orjson.loads(found.group(1))
    except orjson.JSONDecodeError:
        return None
    return image_gen_usage(node)


def image_gen_usage(node: Any) -> Usage | None:
    """The usage of a parsed ``tool_usage.image_gen`` object, or ``None`` (as
    :func:`image_tool_usage`)."""
    if not isinstance(node, dict) or _all_zero(node):  # (every answer's, when no image was made)
        return None
    node = dict(node)  # (Chat's names are copied in below: the event itself stays as it came)
    for chat, responses in _CHAT_NAMES:  # Chat's names when the Responses ones are not there (CPA)
        if chat in node and responses not in node:
            node[responses] = node[chat]
    if not any(k in node for k in _TOKEN_FIELDS) and not _has_detail(node):
        return None
    try:
        usage = usage_from_wire(node)
    except (TypeError, ValueError, AttributeError):  # a count of the wrong type
        return None
    if not usage.total_tokens:  # none or 0: input and output (CPA's token breakdown total)
        usage.total_tokens = None
    if not (usage.total or usage.cache_read_tokens or usage.cache_write_tokens or usage.reasoning_tokens):
        return None
    return usage


class ImageToolUsage:
    """One Codex answer's image tool usage (a ``usage.tool_usage.ToolUsage``): ``read``
    by the stream's chunk rewriter (``codex_stream.CompletedOutput``) on each terminal
    event line; ``tools`` is the request body's tool list as sent, read only when there is
    something to record."""

    __slots__ = ("tools", "usage")

    def __init__(self, tools: Any) -> None:
        self.tools = tools
        self.usage: Usage | None = None

    def read(self, line: bytes) -> None:
        """A terminal event's line: its image tool usage kept (the last one read wins: a
        line read twice, held over a chunk boundary, counts once)."""
        usage = image_tool_usage(line)
        if usage is not None:
            self.usage = usage

    def take(self, tool_usage: Any) -> None:
        """A parsed terminal event's ``response.tool_usage`` (as :meth:`read`)."""
        if isinstance(tool_usage, dict):
            usage = image_gen_usage(tool_usage.get("image_gen"))
            if usage is not None:
                self.usage = usage

    @property
    def model(self) -> str:
        """The ``model`` of the request's first ``image_generation`` tool, else
        ``gpt-image-2``."""
        tools = self.tools
        if isinstance(tools, list):
            for tool in tools:
                if isinstance(tool, dict) and tool.get("type") == "image_generation":
                    model = tool.get("model")
                    if isinstance(model, str) and model.strip():
                        return model.strip()
                    break
        return DEFAULT_IMAGE_MODEL

"""Tool results as plain text for a text-only OpenAI-compatible model (CPA
``NormalizeOpenAIToolResultsTextOnly``).

An ``openai-compatibility`` model whose ``input-modalities`` name ``text`` and not
``image`` cannot read an image, and many such servers refuse a ``tool`` message whose
``content`` is an array of parts. For these models every ``tool`` message's content
becomes one string: its text parts joined by a blank line, each image part replaced by
:data:`IMAGE_OMITTED`, any other part kept as its JSON. Other roles are left alone; a
model that lists no modalities, or lists ``image``, is left alone.

:mod:`cliproxy.credentials.sources` writes (with :func:`text_only_names`) the model names (and the aliases all of whose
models are text-only) under :data:`ATTRIBUTE`; ``build`` asks :func:`wants_text` with the
upstream model, so a request to any other model pays one dictionary look-up.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import orjson

from cliproxy.models.suffix import split_suffix

__all__ = ["ATTRIBUTE", "IMAGE_OMITTED", "flatten_tool_results", "text_only_names", "wants_text"]

ATTRIBUTE = "tool_results_text_only"  # comma-separated lower-case model names (sources.py)
IMAGE_OMITTED = "[image omitted: unsupported by upstream]"
_IMAGE_TYPES = frozenset({"image", "image_url", "input_image"})


def wants_text(attributes: Mapping[str, str], model: str) -> bool:
    """Whether ``model`` (its thinking suffix ignored) is a text-only model of the entry
    whose credential has these ``attributes``."""
    names = attributes.get(ATTRIBUTE)
    if not names:
        return False
    return split_suffix(model.strip())[0].strip().lower() in _names(names)


@lru_cache(maxsize=64)
def _names(joined: str) -> frozenset[str]:
    return frozenset(joined.split(","))


def flatten_tool_results(body: dict[str, Any]) -> None:
    """Give every ``tool`` message of ``body["messages"]`` string content. The list and
    the changed messages are new objects: the client's own request is never edited."""
    messages = body.get("messages")
    if type(messages) is not list:
        return
    out: list[Any] | None = None
    for index, message in enumerate(messages):
        if type(message) is not dict or message.get("role") != "tool" or "content" not in message:
            continue
        content = message["content"]
        if type(content) is str:
            continue
        if out is None:
            out = list(messages)
        out[index] = {**message, "content": _flatten(content)}
    if out is not None:
        body["messages"] = out


def _flatten(content: Any) -> str:
    """A tool message's content as one string: its parts' texts joined by a blank line."""
    if type(content) is list:
        return "\n\n".join(_part_text(part) for part in content)
    return _part_text(content)


def _part_text(part: Any) -> str:
    """A part's text; an image's placeholder; anything else as its JSON."""
    if type(part) is str:
        return part
    if type(part) is dict:
        if _is_image(part):
            return IMAGE_OMITTED
        text = part.get("text")
        if type(text) is str:
            return text
    return orjson.dumps(part).decode()


def _is_image(part: dict[str, Any]) -> bool:
    kind = part.get("type")
    if type(kind) is str and kind.strip().lower() in _IMAGE_TYPES:
        return True
    return "image_url" in part or "input_image" in part


def text_only_names(models: list[tuple[str, str, list[str]]]) -> str:
    """The :data:`ATTRIBUTE` value of an entry's ``(name, alias, input-modalities)`` list
    (CPA ``ShouldNormalizeOpenAIToolResultsForModel``): a name counts by its own
    modalities; an alias that is no model's name counts when every model under it is
    text-only. ``""`` when there is none."""
    own: dict[str, bool] = {}
    for name, _, modalities in models:
        key = split_suffix(name.strip())[0].strip().lower()
        if key and key not in own:
            own[key] = _text_only(modalities)
    pooled: dict[str, bool] = {}
    for _, alias, modalities in models:
        key = split_suffix(alias.strip())[0].strip().lower()
        if key and key not in own:
            pooled[key] = pooled.get(key, True) and _text_only(modalities)
    return ",".join(sorted(k for k, v in (own | pooled).items() if v))


def _text_only(modalities: list[str]) -> bool:
    kinds = {m.strip().lower() for m in modalities}
    return "text" in kinds and "image" not in kinds

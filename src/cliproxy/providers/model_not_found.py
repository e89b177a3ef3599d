"""Does a 404 body say the model is missing, or only that the route is?

An Anthropic-compatible gateway without ``/v1/messages/count_tokens`` answers a count
with a 404 of its router ("404 page not found", ``{"detail":"Not Found"}``, an HTML
page...). A gateway that has the route but not the model answers a 404 too, and says
so in a structured body. The first is counted locally and cools nothing; the second is
the upstream's answer, and the model is suspended like after any other 404 (CPA's
``isExplicitModelNotFoundError``).

Only a JSON body can name the model: free text is never trusted, since an upstream may
quote the client's own input, and a route 404 often reads "... not found".
"""

from __future__ import annotations

from typing import Any

import orjson

__all__ = ["says_model_not_found"]

_MODEL_NOT_FOUND_IDS = frozenset(
    {"model_not_found", "model_not_found_error", "unknown_model", "model_does_not_exist", "model_not_exist"}
)
_NOT_FOUND_IDS = frozenset({"not_found", "not_found_error"})
_TEXT_KEYS = frozenset({"error", "message", "detail", "error_description", "title"})
_NAMED_PREFIXES = ("no such model", "unknown model")
_MODEL_PREFIXES = ("the requested model", "requested model", "the model", "model")
_MISSING = frozenset(
    {
        "not found",
        "was not found",
        "could not be found",
        "does not exist",
        "doesn't exist",
        "not exist",
        "is unknown",
    }
)
_TRIM = " .!;\t\r\n"


def says_model_not_found(body: bytes, model: str) -> bool:
    """Whether a JSON error ``body`` says that ``model`` (its thinking suffix removed)
    does not exist: a model-not-found ``code`` or ``type`` (a problem-details type URI
    counts by its last segment), a message such as "model X was not found", or a
    ``not_found_error`` type whose message names exactly the model."""
    text = body.strip()
    if not text or text[:1] not in (b"{", b"["):
        return False
    try:
        parsed: Any = orjson.loads(text)
    except orjson.JSONDecodeError:
        return False
    paren = model.find("(")
    base = model[:paren] if paren > 0 and model.endswith(")") else model
    return _walk(parsed, base.strip().lower())


def _walk(value: Any, model: str) -> bool:
    if isinstance(value, list):
        return any(
            (isinstance(item, str) and _missing_message(item, model)) or _walk(item, model) for item in value
        )
    if not isinstance(value, dict):
        return False
    not_found_type = names_model = False
    for key, item in value.items():
        if isinstance(item, str):
            field = key.strip().lower()
            if field == "code" and _identifier(item) in _MODEL_NOT_FOUND_IDS:
                return True
            if field == "type":
                if _identifier(item) in _MODEL_NOT_FOUND_IDS:
                    return True
                not_found_type = not_found_type or _normal(item) in _NOT_FOUND_IDS
            elif field in _TEXT_KEYS:
                if _missing_message(item, model):
                    return True
                names_model = names_model or _names_exactly(item, model)
        elif isinstance(item, (dict, list)) and _walk(item, model):
            return True
    return not_found_type and names_model


def _normal(value: str) -> str:
    return value.strip().lower().replace("-", "_").replace(" ", "_")


def _identifier(value: str) -> str:
    """The last segment of a code or type: ``https://x/problems/model-not-found`` and
    ``errors#model_not_found`` read as ``model_not_found``."""
    candidate = value.strip().lower()
    hash_at = candidate.rfind("#")
    if 0 <= hash_at < len(candidate) - 1:
        candidate = candidate[hash_at + 1 :]
    else:
        candidate = candidate.split("?", 1)[0].rstrip("/")
        cut = max(candidate.rfind("/"), candidate.rfind(":"))
        candidate = candidate[cut + 1 :]
    return _normal(candidate)


def _after(lower: str, prefix: str) -> str | None:
    """What follows ``prefix`` as a whole word (and an optional colon), or None."""
    if lower != prefix and not lower.startswith((prefix + " ", prefix + ":")):
        return None
    rest = lower[len(prefix) :].strip()
    return rest.removeprefix(":").strip()


def _missing_message(message: str, model: str) -> bool:
    lower = message.strip().lower().strip(_TRIM)
    if not lower:
        return False
    normal = lower.replace("-", "_").replace(" ", "_")
    if "model_not_found" in normal or "unknown_model" in normal:
        return True
    for prefix in _NAMED_PREFIXES:
        rest = _after(lower, prefix)
        if rest is not None:
            if not rest:
                return True
            tail = _strip_model(rest, model)
            return tail == ""
    for prefix in _MODEL_PREFIXES:
        rest = _after(lower, prefix)
        if rest is not None:
            if rest.strip(_TRIM) in _MISSING:
                return True
            tail = _strip_model(rest, model)
            return tail is not None and tail.strip(_TRIM) in _MISSING
    return False


def _names_exactly(message: str, model: str) -> bool:
    """A message that is the model's name and nothing more ("model: claude-x")."""
    lower = message.strip().lower().strip(_TRIM)
    for prefix in _MODEL_PREFIXES:
        rest = _after(lower, prefix)
        if rest is not None:
            return _strip_model(rest, model) == ""
    return False


def _strip_model(text: str, model: str) -> str | None:
    """``text`` after a leading mention of ``model`` (bare or quoted), or None when it
    does not start with the model's name."""
    if not model:
        return None
    for quoted in (model, f"'{model}'", f'"{model}"', f"`{model}`"):
        if text == quoted:
            return ""
        if text.startswith(quoted) and text[len(quoted)] in " :,":
            return text[len(quoted) :].lstrip(" :,")
    return None

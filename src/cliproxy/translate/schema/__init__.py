"""Tool parameter schemas cleaned for one upstream, declared per profile.

``clean_schema(schema, "gemini")`` returns a new schema that the upstream accepts; the
input is never changed. Profiles live in ``PROFILES``; each is a table of allowed keys
and small rewrite rules (see ``_profiles.py``), so a new upstream is a new entry.
"""

from __future__ import annotations

from typing import Any

import orjson

from cliproxy.translate.schema._profile import Profile, Rule
from cliproxy.translate.schema._profiles import PROFILES
from cliproxy.translate.schema._walk import Walk, as_node

__all__ = [
    "PROFILES",
    "Profile",
    "Rule",
    "clean_schema",
    "clean_schema_for_antigravity",
    "clean_schema_for_claude",
    "clean_schema_for_gemini",
]


def clean_schema(schema: dict[str, Any] | None, profile: str | Profile) -> dict[str, Any]:
    """A copy of ``schema`` that ``profile`` (a name in ``PROFILES`` or a ``Profile``)
    accepts. Never raises on malformed input; ``None`` means "no parameters".

    Untouched leaf values (``default``, ``example``) may be shared with the input.
    """
    prof = PROFILES[profile] if isinstance(profile, str) else profile
    walk = Walk(schema, prof)
    out = walk.clean(schema) if prof.walk else as_node(schema)
    for rule in prof.root:
        out = rule(out, walk)
    return out


_CACHE_SIZE = 512
_gemini_cache: dict[bytes, dict[str, Any]] = {}
_antigravity_cache: dict[bytes, dict[str, Any]] = {}


def clean_schema_for_gemini(schema: dict[str, Any] | None) -> dict[str, Any]:
    """Gemini ``FunctionDeclaration.parameters`` (OpenAPI 3.0 subset, upper-case types).

    Agents send the same tool schemas on every turn, so results are cached by the
    schema's JSON text; the result is shared and must be treated as read-only.

    >>> clean_schema_for_gemini({"type": "object", "properties": {"n": {"const": 1}}})
    {'type': 'OBJECT', 'properties': {'n': {'enum': ['1'], 'type': 'STRING'}}}
    """
    return _cached(schema, "gemini", _gemini_cache)


def _cached(
    schema: dict[str, Any] | None, profile: str, cache: dict[bytes, dict[str, Any]]
) -> dict[str, Any]:
    if schema is None:
        return clean_schema(None, profile)
    try:
        key = orjson.dumps(schema)
    except TypeError:  # not JSON-serialisable: clean it without caching
        return clean_schema(schema, profile)
    cached = cache.get(key)
    if cached is None:
        cached = clean_schema(schema, profile)
        if len(cache) >= _CACHE_SIZE:
            cache.pop(next(iter(cache)))
        cache[key] = cached
    return cached


def clean_schema_for_antigravity(schema: dict[str, Any] | None) -> dict[str, Any]:
    """Antigravity (Cloud Code) function parameters: declared types kept, enums and
    unsupported constraints moved into the description (CPA
    ``CleanJSONSchemaForAntigravityTool(schema, false)``). Cached and shared, as
    ``clean_schema_for_gemini``.

    >>> clean_schema_for_antigravity({"type": "object", "properties": {"n": {"type": "integer", "enum": [1, 2]}}})
    {'type': 'object', 'properties': {'n': {'type': 'integer', 'description': 'Allowed: 1, 2'}}}
    """
    return _cached(schema, "antigravity-tool", _antigravity_cache)


def clean_schema_for_claude(schema: dict[str, Any] | None) -> dict[str, Any]:
    """Claude ``input_schema``: an object at the top; everything else kept."""
    return clean_schema(schema, "claude")

"""Tool parameter schemas cleaned for one upstream, declared per profile.

``clean_schema(schema, "gemini")`` returns a new schema that the upstream accepts; the
input is never changed. Profiles live in ``PROFILES``; each is a table of allowed keys
and small rewrite rules (see ``_profiles.py``), so a new upstream is a new entry.
"""

from __future__ import annotations

from typing import Any

from cliproxy.translate.schema._profile import Profile, Rule
from cliproxy.translate.schema._profiles import PROFILES
from cliproxy.translate.schema._walk import Walk, as_node

__all__ = [
    "PROFILES",
    "Profile",
    "Rule",
    "clean_schema",
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


def clean_schema_for_gemini(schema: dict[str, Any] | None) -> dict[str, Any]:
    """Gemini ``FunctionDeclaration.parameters`` (OpenAPI 3.0 subset, upper-case types).

    >>> clean_schema_for_gemini({"type": "object", "properties": {"n": {"const": 1}}})
    {'type': 'OBJECT', 'properties': {'n': {'enum': ['1'], 'type': 'STRING'}}}
    """
    return clean_schema(schema, "gemini")


def clean_schema_for_claude(schema: dict[str, Any] | None) -> dict[str, Any]:
    """Claude ``input_schema``: an object at the top; everything else kept."""
    return clean_schema(schema, "claude")

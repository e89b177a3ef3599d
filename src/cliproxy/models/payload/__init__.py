"""Payload rules (``payload:`` in the config): set, override or delete JSON paths in
upstream request bodies, per model, protocol, client format, header and body content."""

from __future__ import annotations

from .rules import PayloadRules, glob_match

__all__ = ["PayloadRules", "glob_match"]

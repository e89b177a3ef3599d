"""Models: the catalog, the per-credential registry (aliases, exclusions, prefixes,
thinking suffixes, ``auto``) and the model-list response shapes.

Import names from the module that owns them::

    from cliproxy.models.catalog import Catalog, ModelInfo, ThinkingSupport
    from cliproxy.models.registry import ModelRegistry, Route
    from cliproxy.models.listing import openai_models, anthropic_models, gemini_models
    from cliproxy.models.codex_client import codex_client_models
"""

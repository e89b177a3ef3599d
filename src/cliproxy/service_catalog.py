"""What providers read from the model catalog while they build a request, and the model
lists clients read.

Providers do not see the model registry; the service hands each one the lookups it needs
(:meth:`CatalogLookups.wire`): Codex's client catalog for ``codex.optimize-multi-agent-v2``'s
``spawn_agent`` and its models' forced upstream headers, Antigravity's and the Gemini API's
output limits, and the ``max_tokens`` a Claude request without one gets.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from cliproxy.formats import Format
from cliproxy.models.catalog import ModelInfo
from cliproxy.models.codex_client import codex_client_catalog, codex_client_models
from cliproxy.models.codex_templates import CodexTemplates
from cliproxy.models.listing import anthropic_models, gemini_model, gemini_models, openai_models
from cliproxy.models.registry import ModelRegistry
from cliproxy.providers.antigravity import AntigravityProvider
from cliproxy.providers.claude import ClaudeProvider
from cliproxy.providers.codex import CodexProvider
from cliproxy.providers.codex_multi_agent import format_models
from cliproxy.providers.gemini import GeminiProvider

if TYPE_CHECKING:
    from cliproxy.providers.registry import Providers

__all__ = ["CatalogLookups"]

CLAUDE_DEFAULT_MAX_TOKENS = 1024  # CPA's defaultModelMaxTokens


class CatalogLookups:
    """The registry's answers for the providers, remembered per registry generation
    where a request asks them (output limits, spawn_agent's model list)."""

    def __init__(self, models: ModelRegistry) -> None:
        self.models = models
        # (model registry generation, (provider, model) -> output limit)
        self._output_limits: tuple[int, dict[tuple[str, str], int]] = (-1, {})
        # the Codex client template catalog held now (the service hands in the updater's)
        self.codex_templates: Callable[[], CodexTemplates | None] = _no_templates
        # (model registry generation, templates it was built from, spawn_agent's model list)
        self._agent_models: tuple[int, CodexTemplates | None, str] = (-1, None, "")

    def wire(self, providers: Providers) -> None:
        """Hand each provider its lookups."""
        codex = providers.get("codex")
        if isinstance(codex, CodexProvider):
            codex.agent_models = self.agent_models
            codex.model_headers = self.codex_model_headers
        antigravity = providers.get("antigravity")
        if isinstance(antigravity, AntigravityProvider):
            antigravity.output_limit = self.antigravity_output_limit
        gemini = providers.get("gemini")
        if isinstance(gemini, GeminiProvider):
            gemini.output_limit = self.gemini_output_limit
        claude = providers.get("claude")
        if isinstance(claude, ClaudeProvider):
            claude.default_max_tokens = self.claude_max_tokens

    def output_limit(self, provider: str, model: str) -> int:
        """A model's output limit as ``provider`` registered it (0: unknown), remembered
        until the model registry changes: asked on every request that sets one."""
        limits = self._output_limits
        if limits[0] != self.models.generation:
            limits = self._output_limits = (self.models.generation, {})
        key = (provider, model)
        limit = limits[1].get(key)
        if limit is None:
            info = self.models.model_info(model, provider)
            limit = info.max_output if info is not None else 0
            if len(limits[1]) < 4096:
                limits[1][key] = limit
        return limit

    def antigravity_output_limit(self, model: str) -> int:
        """An Antigravity model's output limit (the catalog's ``max_output``; 0: unknown)."""
        return self.output_limit("antigravity", model)

    def gemini_output_limit(self, model: str) -> int:
        """A Gemini API model's output limit (the catalog's ``max_output``; 0: unknown)."""
        return self.output_limit("gemini", model)

    def claude_max_tokens(self, model: str) -> int:
        """``max_tokens`` for a Claude request that has none (Anthropic refuses it): a model
        the Claude provider registered gets its catalog limit, else 1024 (CPA's
        ``ensureModelMaxTokens``); any other model, nothing (0)."""
        if "claude" not in self.models.providers(model):
            return 0
        info = self.models.model_info(model, "claude")
        return info.max_output if info is not None and info.max_output > 0 else CLAUDE_DEFAULT_MAX_TOKENS

    def codex_model_headers(self, model: str) -> Mapping[str, str]:
        """A Codex model's forced upstream headers (the catalog's ``upstream_headers``)."""
        info = self.models.model_info(model, "codex")
        return info.upstream_headers if info is not None else {}

    def agent_models(self) -> str:
        """The models ``spawn_agent`` may name, from the entries the Codex CLI's catalog
        gives them (CPA's ``codexSpawnAgentModelsFromTemplates``): a model's own template's
        description, reasoning efforts and service tiers, or for another model the
        registry's. Built once per model registry generation and template catalog (asked on
        every optimized multi-agent request). Without a template catalog the models are
        still listed, from the registry alone."""
        cached, templates = self._agent_models, self.codex_templates()
        if cached[0] == self.models.generation and cached[1] is templates:
            return cached[2]
        generation = self.models.generation
        entries = codex_client_models(self.models.listable(), self.models.providers, templates)["models"]
        text = format_models(entries)
        self._agent_models = (generation, templates, text)
        return text

    # -- the model lists clients read

    def model_list(
        self, models: list[ModelInfo], fmt: Format, config: Any, client_version: str | None
    ) -> dict[str, Any]:
        """The list a client of ``fmt`` reads; the Codex CLI's catalog when the request
        names its ``client_version``."""
        if client_version is not None:
            multi = config.codex.optimize_multi_agent_v2
            return codex_client_catalog(
                models, self.models.providers, self.codex_templates(), multi_agent_v2=multi
            )
        if fmt is Format.CLAUDE:
            return anthropic_models(models, cloak=not config.claude_code.disable_cloaking_model_list)
        if fmt is Format.GEMINI:
            return gemini_models(models)
        return openai_models(models)

    @staticmethod
    def model_entry(models: list[ModelInfo], fmt: Format, name: str) -> dict[str, Any] | None:
        """One model of the list, as ``GET .../models/<name>`` answers it; ``None``: unknown."""
        if fmt is Format.GEMINI:
            return gemini_model(models, name.removeprefix("models/"))
        found = next((m for m in models if m.id == name), None)
        return None if found is None else openai_models([found])["data"][0]


def _no_templates() -> CodexTemplates | None:
    return None

"""The registry of format adapters and direct pairs.

The built-in adapters are listed once in ``BUILTIN_ADAPTERS`` and loaded by
``load_builtins()``; plugins register theirs the same way. A *pair* override replaces
the hub path (A -> IR -> B) for one direction when a direct translation is better.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cliproxy.formats import Format
from cliproxy.translate import ir
from cliproxy.translate.adapter import Adapter
from cliproxy.translate.stream import StreamTranslator

__all__ = [
    "BUILTIN_ADAPTERS",
    "PairOverride",
    "Registry",
    "default_registry",
]

# module path -> attribute holding the adapter instance
BUILTIN_ADAPTERS: tuple[str, ...] = (
    "cliproxy.translate.openai_chat:ADAPTER",
    "cliproxy.translate.openai_responses:ADAPTER",
    "cliproxy.translate.openai_responses:CODEX_ADAPTER",
    "cliproxy.translate.claude:ADAPTER",
    "cliproxy.translate.gemini:ADAPTER",
    "cliproxy.translate.interactions:ADAPTER",
)


@dataclass(slots=True)
class PairOverride:
    """A direct translation for one (source, target) pair; any field left ``None``
    falls back to the hub."""

    request: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    response: Callable[[dict[str, Any]], dict[str, Any]] | None = None


class Registry:
    def __init__(self) -> None:
        self._adapters: dict[Format, Adapter] = {}
        self._pairs: dict[tuple[Format, Format], PairOverride] = {}

    def register(self, adapter: Adapter) -> None:
        self._adapters[adapter.format] = adapter

    def register_pair(self, source: Format, target: Format, override: PairOverride) -> None:
        self._pairs[(source, target)] = override

    def adapter(self, fmt: Format | str) -> Adapter:
        found = self._adapters.get(fmt)  # type: ignore[arg-type]  # a str hashes as its Format
        return found if found is not None else self._adapters[Format(fmt)]

    def formats(self) -> list[Format]:
        return list(self._adapters)

    # -- requests

    def translate_request(
        self, source: Format, target: Format, body: dict[str, Any], model: str | None = None
    ) -> tuple[dict[str, Any], ir.Request]:
        """Client body in ``source`` -> upstream body in ``target``, plus the IR the
        upstream body was built from (decoders need it to restore names). ``model`` is
        the upstream model name (Gemini bodies carry none: it is in the URL)."""
        req = self.adapter(source).parse_request(body)
        if model:
            req.model = model
        override = self._pairs.get((source, target))
        if override is not None and override.request is not None:
            return override.request(body), req
        return self.adapter(target).build_request(req), req

    # -- responses

    def translate_response(
        self,
        upstream: Format,
        client: Format,
        body: dict[str, Any],
        request: ir.Request | None = None,
        model: str | None = None,
    ) -> dict[str, Any]:
        override = self._pairs.get((client, upstream))
        if override is not None and override.response is not None:
            return override.response(body)
        resp = self.adapter(upstream).parse_response(body, request)
        if model:
            resp.model = model
        return self.adapter(client).build_response(resp, request)

    def stream_translator(
        self, upstream: Format, client: Format, request: ir.Request | None = None, model: str | None = None
    ) -> StreamTranslator:
        return StreamTranslator(
            self.adapter(upstream).stream_decoder(request),
            self.adapter(client).stream_encoder(request, model),
        )


def _load(spec: str) -> Adapter:
    module, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module), attr)


_default: Registry | None = None


def default_registry() -> Registry:
    """The registry with the built-in adapters, built once."""
    global _default
    if _default is None:
        reg = Registry()
        for spec in BUILTIN_ADAPTERS:
            reg.register(_load(spec))
        _default = reg
    return _default

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
from cliproxy.translate.plain_answers import PLAIN_ANSWERS, UNPARSED
from cliproxy.translate.plain_requests import PLAIN_REQUESTS, PlainRequest
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


class _Adapters(dict[Format, Adapter]):
    """Adapters by format. A ``str`` finds its ``Format``'s entry (a StrEnum hashes and
    compares as its value); a name that is no format raises ``ValueError``, as
    ``Format(name)`` does, and a format with no adapter ``KeyError``."""

    def __missing__(self, key: Format | str) -> Adapter:
        Format(key)
        raise KeyError(key)


class Registry:
    # ``adapter(fmt)``: the adapter of a format (a bound ``dict.__getitem__``: no Python
    # call per lookup, several lookups per translated request)
    adapter: Callable[[Format | str], Adapter]

    def __init__(self) -> None:
        self._adapters = _Adapters()
        self._pairs: dict[tuple[Format, Format], PairOverride] = {}
        self._plain: dict[tuple[Format, Format], PlainRequest] = dict(PLAIN_REQUESTS)
        self.adapter = self._adapters.__getitem__  # type: ignore[assignment]

    def register(self, adapter: Adapter) -> None:
        self._adapters[adapter.format] = adapter
        if not type(adapter).__module__.startswith("cliproxy.translate."):  # not the hub's own:
            self._plain = {pair: w for pair, w in self._plain.items() if adapter.format not in pair}

    def plain_request(self, client: Format, upstream: Format) -> PlainRequest | None:
        """The direct writer of a plain request of this pair (``translate.plain_requests``),
        when both formats have the built-in adapters it stands for."""
        return self._plain.get((client, upstream))

    def register_pair(self, source: Format, target: Format, override: PairOverride) -> None:
        self._pairs[(source, target)] = override

    def formats(self) -> list[Format]:
        return list(self._adapters)

    # -- requests

    def translate_request(
        self, source: Format, target: Format, body: dict[str, Any], model: str | None = None
    ) -> tuple[dict[str, Any], ir.Request]:
        """Client body in ``source`` -> upstream body in ``target``, plus the IR the
        upstream body was built from (decoders need it to restore names). ``model`` is
        the upstream model name (Gemini bodies carry none: it is in the URL)."""
        adapters = self._adapters
        req = adapters[source].parse_request(body)
        if model:
            req.model = model
        override = self._pairs.get((source, target)) if self._pairs else None
        if override is not None and override.request is not None:
            return override.request(body), req
        return adapters[target].build_request(req), req

    # -- responses

    def translate_response(
        self,
        upstream: Format,
        client: Format,
        body: dict[str, Any],
        request: ir.Request | None = None,
        model: str | None = None,
    ) -> dict[str, Any]:
        return self.translate_response_usage(upstream, client, body, request, model)[0]

    def translate_response_usage(
        self,
        upstream: Format,
        client: Format,
        body: dict[str, Any],
        request: ir.Request | None = None,
        model: str | None = None,
    ) -> tuple[dict[str, Any], ir.Usage | None]:
        """:meth:`translate_response`, and the usage the upstream's answer gave (``None``
        when a plugin's pair translator built the answer, or the answer had none)."""
        if self._pairs:
            override = self._pairs.get((client, upstream))
            if override is not None and override.response is not None:
                return override.response(body), None
        plain = PLAIN_ANSWERS.get((upstream, client))
        if plain is not None and (done := plain(body, request, model)) is not None:
            return done
        adapters = self._adapters
        resp = adapters[upstream].parse_response(body, request)
        if model:
            resp.model = model
        return adapters[client].build_response(resp, request), resp.usage

    def plain_answer(
        self,
        upstream: Format,
        client: Format,
        body: dict[str, Any],
        client_body: dict[str, Any],
        model_name: str,
        model: str | None,
    ) -> tuple[dict[str, Any], ir.Usage] | None:
        """The plain answer to a request whose IR was never made (a body
        ``plain_requests`` wrote, for the upstream name ``model_name``), read off the
        client's body (``plain_answers.UNPARSED``); ``None``: any other answer (the IR is
        needed: :meth:`translate_response_usage`)."""
        unparsed = UNPARSED.get((upstream, client))
        if unparsed is None or self._pairs.get((client, upstream)) is not None:
            return None
        return unparsed(body, client_body, model_name, model)

    def stream_translator(
        self,
        upstream: Format,
        client: Format,
        request: ir.Request | None = None,
        model: str | None = None,
        *,
        unnamed: str | None = None,
    ) -> StreamTranslator:
        """``model``: the name the client sees whatever the upstream says (a forced alias);
        ``unnamed``: the one it sees when the upstream names none (``StreamEncoder.unnamed``)."""
        encoder = self._adapters[client].stream_encoder(request, model)
        if unnamed:
            encoder.unnamed = unnamed
        return StreamTranslator(self._adapters[upstream].stream_decoder(request), encoder)


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

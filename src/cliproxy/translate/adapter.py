"""What a format adapter offers the translation hub.

One adapter per wire format lives in ``cliproxy.translate.<format>`` and is registered
in ``cliproxy.translate.registry``. It converts that format to and from the IR
(``cliproxy.translate.ir``) in both directions, for requests, whole responses and
streams. Stream decoders and encoders are small state machines fed piece by piece;
they never hold a whole response.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from cliproxy.formats import Format
from cliproxy.formats.sniffer import UsageSniffer
from cliproxy.translate import ir

__all__ = ["Adapter", "PartsAdapter", "StreamDecoder", "StreamEncoder", "UsageSniffer", "unwraps"]


class StreamDecoder(ABC):
    """Upstream stream bytes -> IR events.

    ``request`` is the IR request the upstream call was built from (to restore tool
    names, namespaces and ids the builder changed); it may be ``None``.
    """

    def __init__(self, request: ir.Request | None = None) -> None:
        self.request = request

    @abstractmethod
    def decode(self, chunk: bytes) -> list[ir.Event]:
        """Events completed by ``chunk`` (bytes split anywhere)."""

    @abstractmethod
    def flush(self) -> list[ir.Event]:
        """Events still pending at the end of the upstream stream. A stream that ended
        without its format's terminal event ends with a ``StreamEnd`` anyway (or an
        ``Error`` when the format says it was cut)."""

    def unwrapping(self, unwrap: Callable[[Any], Any]) -> bool:
        """From now on read each payload through ``unwrap`` once it is parsed (a
        provider's envelope around every answer, ``Provider.unwrap_body``), so that the
        bytes need not be unwrapped and serialised again before this decoder parses them.
        False: this decoder cannot, and its chunks must come unwrapped."""
        return False

    def decode_delta(self, chunk: bytes) -> tuple[int, str] | list[ir.Event]:
        """:meth:`decode`, except that a chunk that is exactly one text delta of an open
        block, and changes nothing else, comes back as ``(block index, text)`` with no
        event made: the common chunk of a long answer (``StreamTranslator.feed`` hands it
        to ``StreamEncoder.text``). A decoder that has no such shortcut decodes."""
        return self.decode(chunk)


def unwraps(decoder: Any, unwrap: Callable[[Any], Any]) -> bool:
    """``decoder.unwrapping(unwrap)`` (False for a plugin's duck-typed decoder that has no
    such method): whether ``decoder`` now takes the envelope off each payload itself."""
    own = getattr(decoder, "unwrapping", None)
    return own is not None and own(unwrap) is True


class StreamEncoder(ABC):
    """IR events -> client stream bytes, in the client's exact framing.

    Events arrive block-sequential (see ``translate.stream.Sequencer``): one block open
    at a time, indices 0, 1, 2... ``model`` is the model name the client should see.
    ``unnamed`` (set by the registry when asked): the name shown when the upstream's
    stream names no model (the client's own; an encoder that reads it says so).
    """

    unnamed: str | None = None

    def __init__(self, request: ir.Request | None = None, model: str | None = None) -> None:
        self.request = request
        self.model = model

    @abstractmethod
    def encode(self, event: ir.Event) -> bytes:
        """Frames for one event (may be empty)."""

    @abstractmethod
    def flush(self) -> bytes:
        """Frames owed at the end (a terminator such as ``data: [DONE]``); called once."""

    def text(self, index: int, text: str) -> bytes:
        """``encode(ir.TextDelta(index, text))``, for an encoder that writes one without
        the event (``StreamDecoder.decode_delta``)."""
        return self.encode(ir.TextDelta(index, text))

    def resume(self) -> None:
        """Continue a stream whose opening bytes the client already has (a pass-through
        stream that must end with this encoder's error event). Most framings need nothing."""
        return None


class Adapter(ABC):
    """A wire format's translation to and from the IR."""

    format: Format

    @abstractmethod
    def parse_request(self, body: dict[str, Any]) -> ir.Request:
        """Client request body -> IR. Raises ``RequestError`` (400) on bad input."""

    @abstractmethod
    def build_request(self, req: ir.Request) -> dict[str, Any]:
        """IR -> upstream request body in this format."""

    def owns_body(self, req: ir.Request) -> bool:
        """Whether ``build_request(req)`` gives a body none of whose objects (arrays and
        what they hold aside) is shared with ``req`` or any other value, so that shaping
        may write into it without copying it first. False unless the format says so."""
        return False

    @abstractmethod
    def parse_response(self, body: dict[str, Any], request: ir.Request | None = None) -> ir.Response:
        """Upstream whole response -> IR."""

    @abstractmethod
    def build_response(self, resp: ir.Response, request: ir.Request | None = None) -> dict[str, Any]:
        """IR -> client whole response in this format."""

    @abstractmethod
    def stream_decoder(self, request: ir.Request | None = None) -> StreamDecoder: ...

    @abstractmethod
    def stream_encoder(
        self, request: ir.Request | None = None, model: str | None = None
    ) -> StreamEncoder: ...

    @abstractmethod
    def usage_sniffer(self) -> UsageSniffer: ...

    @abstractmethod
    def count_tokens_response(self, tokens: int) -> dict[str, Any]:
        """The count-tokens answer shape of this format."""


class PartsAdapter(Adapter):
    """An adapter assembled from a format package's functions and classes, so a
    package declares what it has instead of writing the same delegations again."""

    def __init__(
        self,
        fmt: Format,
        *,
        parse_request: Callable[[dict[str, Any]], ir.Request],
        build_request: Callable[[ir.Request], dict[str, Any]],
        parse_response: Callable[[dict[str, Any], ir.Request | None], ir.Response],
        build_response: Callable[[ir.Response, ir.Request | None], dict[str, Any]],
        decoder: Callable[[ir.Request | None], StreamDecoder],
        encoder: Callable[[ir.Request | None, str | None], StreamEncoder],
        sniffer: Callable[[], UsageSniffer],
        count_tokens: Callable[[int], dict[str, Any]],
        owns_body: Callable[[ir.Request], bool] | None = None,
    ) -> None:
        self.format = fmt
        if owns_body is not None:
            self.__dict__["owns_body"] = owns_body
        # the four per-request steps are the package's functions themselves, bound on the
        # instance (they shadow the delegating methods below): no extra call per request
        self.__dict__.update(
            parse_request=parse_request,
            build_request=build_request,
            parse_response=parse_response,
            build_response=build_response,
        )
        self._parse_request, self._build_request = parse_request, build_request
        self._parse_response, self._build_response = parse_response, build_response
        self._decoder, self._encoder, self._sniffer, self._count = decoder, encoder, sniffer, count_tokens

    def parse_request(self, body: dict[str, Any]) -> ir.Request:
        return self._parse_request(body)

    def build_request(self, req: ir.Request) -> dict[str, Any]:
        return self._build_request(req)

    def parse_response(self, body: dict[str, Any], request: ir.Request | None = None) -> ir.Response:
        return self._parse_response(body, request)

    def build_response(self, resp: ir.Response, request: ir.Request | None = None) -> dict[str, Any]:
        return self._build_response(resp, request)

    def stream_decoder(self, request: ir.Request | None = None) -> StreamDecoder:
        return self._decoder(request)

    def stream_encoder(self, request: ir.Request | None = None, model: str | None = None) -> StreamEncoder:
        return self._encoder(request, model)

    def usage_sniffer(self) -> UsageSniffer:
        return self._sniffer()

    def count_tokens_response(self, tokens: int) -> dict[str, Any]:
        return self._count(tokens)

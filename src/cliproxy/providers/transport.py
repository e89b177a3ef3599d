"""The transport seam: what the pipeline needs from an upstream client and its answers.

The pipeline sends a prepared request through an ``UpstreamClient`` and reads the
``UpstreamResponse`` it gets back; it never names the library underneath. The default
client is aiohttp (``cliproxy.providers.http.HttpClient``); a WebSocket upstream, an
impersonating TLS client or an in-memory test transport plugs in by implementing these
two protocols and being set as a provider's ``transport``.

The error contract every transport keeps (so the pipeline needs no library's types):

- ``request`` raises ``UpstreamNetworkError`` when the upstream cannot be reached or
  sends no headers in time (502, 504 on a timeout);
- ``read`` and ``chunks`` raise ``TimeoutError`` when the upstream went silent and
  ``ConnectionError`` when the connection broke (``ConnectionEnded`` when the upstream
  ended it: an EOF, a WebSocket closed; ``UndecodableBody`` when the body does not
  decode under the compression it named); ``network_error`` turns either into an
  ``UpstreamNetworkError`` that says what was being read.

Every ``UpstreamNetworkError`` is raised ``from`` the failure underneath, so that
``UpstreamNetworkError.cools`` can tell, in this one place, a connection that could not be
made or broke (cools the credential) from one that timed out or ended (does not, as in CPA).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Mapping
from typing import Protocol

import orjson

from cliproxy.errors import RequestError, UpstreamError

__all__ = [
    "HEADER_BYTES",
    "MAX_ANSWER_BYTES",
    "AnswerTooLarge",
    "ConnectionEnded",
    "ReadAnswer",
    "UndecodableBody",
    "UpstreamClient",
    "UpstreamNetworkError",
    "UpstreamResponse",
    "header_line_break",
    "line_break_in",
    "network_error",
    "read_body",
]


class UpstreamResponse(Protocol):
    """An upstream answer whose headers are in; the body is read once, whole or in chunks."""

    @property
    def status(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    async def read(self) -> bytes:
        """The whole body."""
        ...

    def chunks(self) -> AsyncIterator[bytes]:
        """The body as it arrives."""
        ...

    def release(self) -> None:
        """Give the connection back (or close it); safe to call more than once."""
        ...


class UpstreamClient(Protocol):
    """Sends one prepared upstream request; the caller awaits it at once, then reads and
    releases the answer. An ``async def`` does; so does a plain method that returns another
    client's awaitable (no coroutine layer of its own) and may raise before it returns."""

    def request(
        self, method: str, url: str, *, headers: Mapping[str, str], body: bytes | None, proxy: str = ""
    ) -> Awaitable[UpstreamResponse]: ...


MAX_ANSWER_BYTES = 256 << 20
"""The most of an upstream answer read whole (a reply that is not streamed, an error's
body): four times the largest request body (``limits.max-body-mb``' 64), far above any
real answer (a few images in base64), so an upstream that sends without end cannot take
the memory. Streams are bounded per event (``formats.sse.MAX_EVENT_BYTES``)."""


class AnswerTooLarge(ConnectionError):
    """An upstream answer read whole grew past :data:`MAX_ANSWER_BYTES`: a broken read
    (502, as any upstream connection that broke while sending its body)."""

    def __init__(self, size: int) -> None:
        super().__init__(f"the upstream answer passed {size} bytes (at most {MAX_ANSWER_BYTES} are read)")


def bounded(total: int, chunk: bytes) -> int:
    """``total`` bytes of an answer read so far and ``chunk``: the new total, or
    :class:`AnswerTooLarge` past :data:`MAX_ANSWER_BYTES`."""
    total += len(chunk)
    if total > MAX_ANSWER_BYTES:
        raise AnswerTooLarge(total)
    return total


class ConnectionEnded(ConnectionError):
    """The upstream ended the connection before its answer was whole: it closed the
    connection (an EOF, before the headers or inside the body), or closed its WebSocket
    normally (1000), going away (1001) or without a close frame (1006)."""


class UndecodableBody(ConnectionError):
    """The body does not decode under the compression its ``Content-Encoding`` named (or
    its magic bytes showed). A success answer's is a broken read like any other (the
    credential cools, the request goes on: CPA's executor error without a status); an
    error answer's keeps the upstream's status (:func:`read_body`)."""


class UpstreamNetworkError(UpstreamError):
    """The upstream could not be reached, timed out, or broke off.

    ``message`` goes to the client ("upstream unreachable"); ``detail`` names the origin
    and the cause, for the log (never the path or query, which may hold a key)."""

    def __init__(
        self, message: str, *, status: int = 502, detail: str = "", credential_id: str | None = None
    ) -> None:
        super().__init__(message, status=status, credential_id=credential_id)
        self.detail = detail or message

    @property
    def cools(self) -> bool:
        """Whether this failure cools the credential, by CPA's connection-lifecycle rule.

        A connection that could not be made or that broke (refused, no such host, a TLS
        failure, a reset, a proxy's refusal) cools it for the transient time. One that timed
        out or that the upstream ended (:class:`ConnectionEnded`) does not: that says nothing
        against the account, and one dropped connection must not shut a one-account setup
        for a minute. The request goes on to the next credential either way. Read from the
        failure this error was raised from, only when an attempt failed."""
        cause = self.__cause__
        for _ in range(8):  # a chain of wrappers is short; a cycle must not loop
            if cause is None:
                return True
            if isinstance(cause, (TimeoutError, EOFError, ConnectionEnded)):
                return False
            cause = cause.__cause__ or cause.__context__
        return True


def header_line_break() -> RequestError:
    """A header of the upstream request holds a line break or another control character
    (any below 0x20 but a tab, and DEL: what Go's net/http and aiohttp refuse): the
    client's 400, never sent. Such a value comes from the request (a body field some
    upstreams get as a header, such as ``prompt_cache_key``), so it must not cool the
    credential for everyone."""
    return RequestError(
        "the request cannot be sent upstream: a value the proxy sends as a header holds"
        " a line break or another control character"
    )


# every byte a header may hold (RFC 9110 5.5: not the controls but a tab, nor DEL; Go's
# net/http and aiohttp refuse the same): deleted from a header, nothing may be left
HEADER_BYTES = bytes([9, *range(32, 127), *range(128, 256)])


def line_break_in(headers: Mapping[str, str]) -> bool:
    """Whether a header name or value holds a line break or another control character
    (aiohttp refuses it with a ValueError that does not say so apart from a bad URL).
    One C pass over the names and values (the curl client asks this for every request)."""
    try:
        text = "".join(headers) + "".join(headers.values())
    except TypeError:  # a value that is not a string: as it is written
        text = "".join(f"{k}{v}" for k, v in headers.items())
    return bool(text.encode("utf-8", "surrogatepass").translate(None, HEADER_BYTES))


def network_error(exc: BaseException, while_: str) -> UpstreamNetworkError:
    """A failure reading an upstream body (``while_`` says what was read) as ours:
    504 when the idle limit ran out, else 502."""
    if isinstance(exc, TimeoutError):
        return UpstreamNetworkError(
            f"upstream went silent {while_}",
            status=504,
            detail=f"no bytes from upstream {while_} within the idle timeout",
        )
    cause = exc.__cause__ if isinstance(exc, ConnectionError) and exc.__cause__ is not None else exc
    return UpstreamNetworkError(f"upstream connection broke {while_}", detail=f"{while_}: {cause!r}")


async def read_body(resp: UpstreamResponse) -> bytes:
    """The whole body of ``resp``, released after; network failures as ``UpstreamNetworkError``.
    An error answer whose body does not decode (:class:`UndecodableBody`) is read as an
    error object that says so (``{"error": {"message": ...}}``, which every client format
    renders): the answer keeps its status, as CPA's ``failed to decode error response
    body`` does, instead of becoming a network failure of ours."""
    try:
        return await resp.read()
    except (TimeoutError, ConnectionError) as exc:
        if isinstance(exc, UndecodableBody) and resp.status >= 400:
            return orjson.dumps({"error": {"message": f"failed to decode error response body: {exc}"}})
        raise network_error(exc, "while sending the body") from exc
    finally:
        resp.release()


class ReadAnswer:
    """An ``UpstreamResponse`` whose body was read already (a layer looked at it to decide
    what to do, then handed it on): ``read`` and ``chunks`` give that body."""

    def __init__(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self._body = body

    async def read(self) -> bytes:
        return self._body

    async def chunks(self) -> AsyncIterator[bytes]:
        if self._body:
            yield self._body

    def release(self) -> None:
        return None

"""What an upstream provider is: one class with declared traits and two jobs.

A provider builds the upstream HTTP request for a credential (URL, auth headers, body
tweaks of its dialect) and classifies the upstream's error answers (status, retry
hint, whether it is the client's fault). Translation between formats happens before
``build`` (the body is already in ``format``) and after the response (the pipeline).

Every hook the pipeline calls is declared here with a no-op default: ``configure`` (the
config snapshot, when the service starts and reloads), ``prepare`` (extra
headers per attempt, e.g. a fresh token), ``forget`` (after a 401), ``unwrap_body`` /
``unwrap_chunk`` (an envelope around each answer, when ``wraps_payloads``), and
``transport`` (the ``UpstreamClient`` to send with; ``None`` = the shared HTTP client).
The ``UpstreamRequest`` that ``build`` returns may carry ``rewrite_body`` /
``rewrite_chunk``: this call's answer changed before it is translated (Claude's tool aliases).

A subscription provider (``endpoints_key`` set) takes its default base URL from the
endpoint table, :mod:`cliproxy.credentials.login.endpoints`, once, when it is built: the
``CLIPROXY_OAUTH_<PROVIDER>_API`` and ``_BASE`` overrides move its requests too.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import orjson

from cliproxy.credentials.login import endpoints
from cliproxy.credentials.record import Credential
from cliproxy.errors import UpstreamError
from cliproxy.formats import Format
from cliproxy.providers.retry import retry_after_header

if TYPE_CHECKING:
    from cliproxy.providers.http import HttpClient
    from cliproxy.providers.transport import UpstreamClient
    from cliproxy.usage.tool_usage import ToolUsage

__all__ = [
    "REQUEST_FAULTS",
    "Carry",
    "HeaderPlan",
    "PayloadStep",
    "Provider",
    "RewriteError",
    "UpstreamRequest",
    "copy_client_headers",
    "error_message",
    "split_headers",
    "with_fixed_values",
]

# statuses that are the request's fault: answered at once, never cooled, never retried
REQUEST_FAULTS = frozenset({400, 409, 413, 422})


# (attempt body, client format, client body, client headers, upstream model, whether the
# body is the client's own, not translated): see ``Provider.carrier``
Carry = Callable[[dict[str, Any], Format, Mapping[str, Any], Mapping[str, str], str, bool], None]


class PayloadStep(Protocol):
    """The config's ``payload:`` rules for one attempt, handed to a provider whose
    ``build`` runs them itself (``Provider.payload_in_build``)."""

    def __call__(self, body: dict[str, Any], *, tracked: tuple[str, ...] = ()) -> bool:
        """Apply the rules to ``body`` in place; whether one set or removed ``tracked`` (a
        parsed path: a member the provider adds itself) or a path inside it."""
        ...


@dataclass(slots=True)
class UpstreamRequest:
    """One upstream call. ``rewrite_body`` / ``rewrite_chunk`` change the answer to this
    call before it is translated: the whole body, or each run of complete SSE lines of
    the stream (a chunk cut after its last line end); ``None``: the answer as it came.
    Either may raise ``RewriteError``. A provider that wraps its payloads
    (``Provider.wraps_payloads``) has them unwrapped before ``rewrite_chunk`` reads them,
    unless ``chunk_reads_wrapped`` says the hook takes them either way and changes nothing
    (an observer): then the reader unwraps them as it parses them, once."""

    url: str
    headers: dict[str, str]
    body: bytes
    stream: bool
    method: str = "POST"
    rewrite_body: Callable[[bytes], bytes] | None = None
    rewrite_chunk: Callable[[bytes], bytes] | None = None
    chunk_reads_wrapped: bool = False
    # what the upstream's own tool spends on the answer, recorded under the tool's model as
    # the answer streams by (``cliproxy.usage.tool_usage``: Codex's image_generation tool)
    tool_usage: ToolUsage | None = None


class RewriteError(UpstreamError):
    """An answer that a ``rewrite_body`` / ``rewrite_chunk`` hook cannot hand to the client
    (a tool name that maps to no tool of the request). The request's fault, not the
    credential's: it is not cooled and the request is not retried elsewhere."""


def copy_client_headers(cred: Credential, client_headers: Mapping[str, str]) -> dict[str, str]:
    """The credential's ``headers:``; a value ``$NAME`` copies header NAME from the client
    request and is left out when the client did not send it (CPA)."""
    out: dict[str, str] = {}
    if not cred.headers:
        return out
    for name, value in cred.headers.items():
        if value.startswith("$"):
            copied = client_headers.get(value[1:])
            if copied:
                out[name] = copied
        else:
            out[name] = value
    return out


# a credential's ``headers:`` split once: (fixed values, (upstream name, client header) copies)
HeaderPlan = tuple[dict[str, str], tuple[tuple[str, str], ...]]


def split_headers(headers: Mapping[str, str]) -> HeaderPlan | None:
    """A credential's ``headers:`` as its fixed values and its copies, for a provider that
    keeps the fixed ones with its own per-credential headers and applies only the copies
    per request (``client_headers.get(source)``, set when not empty): the result is what
    :func:`copy_client_headers` gives, in the same order. None when a fixed value follows a
    copy (the order would differ): use :func:`copy_client_headers` then."""
    fixed: dict[str, str] = {}
    copies: list[tuple[str, str]] = []
    for name, value in headers.items():
        if value.startswith("$"):
            copies.append((name, value[1:]))
        elif copies:
            return None
        else:
            fixed[name] = value
    return fixed, tuple(copies)


def request_headers(
    fixed: dict[str, str],
    copies: tuple[tuple[str, str], ...] | None,
    cred: Credential,
    client_headers: Mapping[str, str],
) -> dict[str, str]:
    """A request's headers from a kept plan: a copy of ``fixed`` with the client headers
    the ``copies`` name (:func:`split_headers`); ``copies`` None (a fixed value after a
    copy): every ``headers:`` entry the general way, in the configured order."""
    headers = fixed.copy()
    if copies:
        for name, source in copies:
            if value := client_headers.get(source):
                headers[name] = value
    elif copies is None:
        headers.update(copy_client_headers(cred, client_headers))
    return headers


def with_fixed_values(
    own: dict[str, str], extra: Mapping[str, str] | None
) -> tuple[dict[str, str], tuple[tuple[str, str], ...] | None]:
    """A credential's request headers worked out once: ``own`` (the provider's, updated in
    place) with the fixed values of its ``headers:``, and the client headers to copy per
    request (``client_headers.get(source)``, set when not empty). The copies are None when
    :func:`split_headers` cannot keep the configured order: apply :func:`copy_client_headers`
    per request then."""
    if not extra:
        return own, ()
    split = split_headers(extra)
    if split is None:
        return own, None
    own.update(split[0])
    return own, split[1]


def error_message(body: bytes, status: int) -> str:
    """A short human message from an upstream error body, safe to show a client.

    A body that is not JSON (a load balancer's HTML page, a proxy's text) is never
    quoted: it may name internal hosts. The caller logs it."""
    if not body.strip():
        return f"upstream answered {status} with an empty body"
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return f"upstream returned a non-JSON error page (HTTP {status})"
    if isinstance(data, list) and data and isinstance(data[0], dict):
        data = data[0]
    if isinstance(data, dict):
        err = data.get("error", data)
        if isinstance(err, dict):
            msg = err.get("message") or err.get("detail") or err.get("type")
            if isinstance(msg, str) and msg:
                return msg
        elif isinstance(err, str):
            return err
    return f"upstream answered {status}"


class Provider(ABC):
    """An upstream API family. Subclasses set the class attributes and ``build``."""

    key: ClassVar[str]
    format: ClassVar[Format]
    # where a credential without its own base URL goes; subscription providers read it
    # from the endpoint table when built (``endpoints_key``) instead of setting it here
    default_base_url: str
    # the provider's row in the endpoint table (its ``api`` URL is the default base)
    endpoints_key: ClassVar[str | None] = None
    always_stream: ClassVar[bool] = False  # e.g. Codex: upstream always streams
    # a Claude client's own signed thinking on an is-compat key (``KimiReplayCache``, Claude
    # only): put back when the client left it out (CPA; ``pipeline_prepare.start_attempt``)
    compat_replay: Any = None
    # the upstream has a count-tokens endpoint; without one (Codex, OpenAI-compatible, xAI)
    # the pipeline counts locally what ``count_locally`` names, and never calls upstream
    counts_upstream: ClassVar[bool] = True
    # the upstream serves ``/responses/compact`` (Codex, OpenAI-compatible): ``build`` with
    # ``action="compact"`` targets it; every other provider answers 501, as CPA does
    compacts: ClassVar[bool] = False
    # the upstream serves OpenAI's Images API (Codex: ``{base}/images/generations`` and
    # ``/images/edits``): ``build`` with ``action="images.generations"`` / ``"images.edits"``
    serves_images: ClassVar[bool] = False
    # a stream reaches the client at its first event (the handshake), not held until its
    # first content: Codex with ``codex.stream-bootstrap-buffering: false``, as CPA
    commits_at_first_event = False
    # its stream events are the Responses API's own (Codex): a Responses client gets them as
    # they come (CPA passes the Codex -> Responses stream through), no translation
    streams_responses: ClassVar[bool] = False
    # the upstream endpoint depends on the client's format (Kimi): ``build`` takes ``fmt=``
    format_dependent: ClassVar[bool] = False
    # every answer comes in an envelope: ``unwrap_body`` / ``unwrap_chunk`` take it off
    wraps_payloads: ClassVar[bool] = False
    # an answer that starts with gzip's or zstd's magic number though no Content-Encoding
    # said so is decoded all the same (Claude, as CPA's executor; ``decoding.undeclared``)
    sniffs_compression: ClassVar[bool] = False
    # the ``payload:`` rules run inside ``build`` (``payload=``, a :class:`PayloadStep`, when
    # any are configured), after what it writes itself: Claude, whose identity CPA applies
    # before the rules; other providers get the rules on the body before ``build``
    payload_in_build: ClassVar[bool] = False
    # the client this provider's requests go through; ``None``: the shared HTTP client
    transport: UpstreamClient | None = None

    def __init__(self) -> None:
        if self.endpoints_key is not None:
            self.default_base_url = endpoints.url(self.endpoints_key, "api")

    def configure(self, config: Any) -> None:
        """Take this provider's settings from a config snapshot (at start and on every
        reload): read them here once, never per request."""
        return None

    def prepare(
        self,
        cred: Credential,
        http: HttpClient,
        *,
        proxy: str | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> Awaitable[Mapping[str, str]] | None:
        """Extra headers for one attempt (a token fetched with ``http``), or ``None`` when
        the provider needs none: the pipeline then awaits nothing. ``body``: the attempt's
        upstream body as ``build`` will get it (``None`` for a probe)."""
        return None

    def carrier(self, cred: Credential) -> Carry | None:
        """What ``build`` will need from the client's own request for ``cred``, which the
        attempt's body no longer shows once translated (a Claude Code session, the
        client's ``prompt_cache_key``, the conversation's identity): a :data:`Carry` the
        pipeline calls where it makes a generation's body (and an upstream count's, counted
        as the generation would be sent), to leave those facts in it under private keys
        that ``build`` takes out again, whatever the action; ``None`` (the default): nothing
        to carry. Asked once per credential and route (the attempt plan keeps it)."""
        return None

    def forget(self, cred: Credential) -> None:
        """Drop what is cached for ``cred`` (the upstream answered 401)."""
        return None

    def unwrap_body(self, body: Any) -> Any:
        """A whole answer without its envelope, and each stream payload's once a decoder
        parsed it (``StreamDecoder.unwrapping``); only called when ``wraps_payloads``."""
        return body

    def unwrap_chunk(self, data: bytes) -> bytes:
        """One SSE ``data:`` payload without its envelope, for a reader that needs the bytes
        (a client of the upstream's own format, a rewrite hook, a decoder that cannot
        unwrap); only when ``wraps_payloads``."""
        return data

    def upstream_format(self, client: Format) -> Format:
        """The wire format this provider is spoken to in, for a client of ``client``."""
        return self.format

    def base_url(self, cred: Credential) -> str:
        return (cred.base_url or self.default_base_url).rstrip("/")

    @abstractmethod
    def build(
        self,
        cred: Credential,
        body: dict[str, Any],
        *,
        model: str,
        stream: bool,
        client_headers: Mapping[str, str],
        action: str = "generate",
    ) -> UpstreamRequest:
        """The upstream request. ``body`` is in ``upstream_format``; ``action`` is
        ``generate`` or ``count``."""

    def count_locally(
        self, body: dict[str, Any], model: str, cred: Credential | None = None
    ) -> tuple[str, list[str]]:
        """For a provider that does not count upstream: the token encoding for ``model``
        and the text to count in ``body`` (a request in ``upstream_format``) on ``cred``;
        raises ``RequestError`` for a request it cannot count."""
        raise NotImplementedError(f"{self.key} counts tokens upstream")

    def estimates_count(self, cred: Credential) -> bool:
        """A count on ``cred`` is made locally (``count_locally``) although the provider
        counts upstream: the credential's upstream has no count endpoint to ask."""
        return False

    def counts_locally_after(self, cred: Credential, status: int, body: bytes, model: str) -> bool:
        """An upstream count of ``model`` that failed with ``status`` and ``body`` is
        counted locally instead (the credential's upstream has no count endpoint), never
        held against the credential."""
        return False

    def retry_hint(self, status: int, headers: Mapping[str, str], body: Any) -> float | None:
        """Seconds until the upstream wants to be asked again (provider-specific hints)."""
        return retry_after_header(headers)

    def classify(
        self, status: int, headers: Mapping[str, str], body: bytes, credential_id: str | None = None
    ) -> UpstreamError:
        """An upstream error answer as an ``UpstreamError`` carrying status and retry hint."""
        try:
            parsed: Any = orjson.loads(body) if body else None
        except orjson.JSONDecodeError:
            parsed = None
        return UpstreamError(
            error_message(body, status),
            status=status,
            body=body,
            retry_after=self.retry_hint(status, headers, parsed),
            headers=headers,
            credential_id=credential_id,
        )

    def owns_failure(self, err: UpstreamError) -> bool:
        """Whether ``err``, a failure without an error answer (no connection, a broken
        read, a body that did not decode), belongs to the request just sent: it goes to the
        client as it is, nothing cools, no other credential is tried."""
        return False

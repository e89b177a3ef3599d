"""Claude Code's TLS fingerprint: an ``UpstreamClient`` on ``curl_cffi`` (curl-impersonate).

Anthropic sees the TLS ClientHello of every connection. Claude Code runs on Node, whose
OpenSSL hello differs from Python's; CPA therefore dials ``api.anthropic.com`` with uTLS
and a hand-written copy of Claude Code's hello (CPA ``helps/utls_client.go``, captured
from Claude Code 2.1.220). This module does the same with ``curl_cffi``, whose BoringSSL
fork takes a JA3 string, a signature-algorithm list and extension toggles:

- :data:`CLAUDE_CODE` (the inference plane, ``/v1/messages``): 17 ciphers, 14 extensions
  in Node's order, ALPN ``http/1.1`` only, X25519 key share, BoringSSL padding to a
  508-byte hello; HTTP/1.1. JA3 ``d871d02cecbde59abbf8f4806134addf``.
- :data:`CLAUDE_OAUTH` (the OAuth control plane: token refresh, profile): the same
  ciphers, no ALPN, no status request, SCT or padding; 245 bytes. Its requests write
  their headers in Claude Code's Axios order (:func:`axios_order`).

:data:`CHROME` (curl_cffi's ``chrome133a``, HTTP/2) is what CPA uses for the Codex backend
(uTLS ``HelloChrome_Auto``, Chrome 133 in uTLS 1.8.2).

An :class:`OriginRouter` becomes the provider's ``transport`` (:func:`install`, at service
start): for Claude, URLs on ``https://api.anthropic.com`` (port 443, no userinfo: CPA's
``IsAnthropicUpstreamURL``; API keys and OAuth alike); for Codex, ``https://chatgpt.com``.
Every other URL (a custom ``base-url``, a gateway, the test fakes) goes through the shared
aiohttp client, unchanged. Without ``curl_cffi`` one WARNING is logged and aiohttp stays.
OAuth token refreshes go through :func:`token_client`: Claude's control plane
(``platform.claude.com``, ``api.anthropic.com``) with :data:`CLAUDE_OAUTH`, as CPA's
``NewAnthropicHttpClient``; every other provider's token URL through aiohttp.

Limits are the shared client's (``timeouts:``), read per request so a reload applies:
``connect`` is curl's connect timeout (TCP + proxy + TLS; ``None`` = curl's 300 s),
``first_byte`` bounds the wait for the response headers and ``idle`` the gap between two
body reads. Proxies: ``http://``, ``https://``, ``socks5://``, ``socks5h://``, ``socks4://``.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import math
import types
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cliproxy.providers.transport import (
    ConnectionEnded,
    UpstreamClient,
    UpstreamNetworkError,
    UpstreamResponse,
    header_line_break,
    line_break_in,
)

if TYPE_CHECKING:
    from cliproxy.providers.http import HttpClient
    from cliproxy.providers.registry import Providers

__all__ = [
    "ANTHROPIC_PREFIXES",
    "CHATGPT_PREFIXES",
    "CHROME",
    "CLAUDE_CODE",
    "CLAUDE_OAUTH",
    "CLAUDE_OAUTH_PREFIXES",
    "ROUTES",
    "ImpersonatingClient",
    "OriginRouter",
    "Profile",
    "available",
    "install",
    "is_anthropic_url",
    "token_client",
]

log = logging.getLogger(__name__)

# optional at run time: a platform without a wheel falls back to aiohttp. Imported at the
# first impersonated request (``_curl``), not here: curl_cffi adds ~20 MB to the resident
# memory of a proxy that may never send to api.anthropic.com or chatgpt.com
_FOUND = importlib.util.find_spec("curl_cffi") is not None
_curl_api: Any = None


def _curl() -> Any:
    """The curl_cffi names this module uses (imported once)."""
    global _curl_api
    if _curl_api is None:
        from curl_cffi import CurlOpt
        from curl_cffi.requests import AsyncSession, exceptions

        _curl_api = types.SimpleNamespace(CurlOpt=CurlOpt, AsyncSession=AsyncSession, errors=exceptions)
    return _curl_api


# The Anthropic first-party origin, as CPA gates it: https, port 443 only, no userinfo
# (``https://user@api.anthropic.com`` and ``api.anthropic.com.example`` don't match)
ANTHROPIC_PREFIXES = ("https://api.anthropic.com/", "https://api.anthropic.com:443/")
# the Codex backend: CPA matches https and the host chatgpt.com, any port
CHATGPT_PREFIXES = ("https://chatgpt.com/", "https://chatgpt.com:")
# the Claude OAuth control plane (CPA ``auth/claude/utls_transport.go``): the token endpoint
# on platform.claude.com, the profile and roles calls on api.anthropic.com
CLAUDE_OAUTH_PREFIXES = (
    "https://platform.claude.com/",
    "https://platform.claude.com:443/",
    *ANTHROPIC_PREFIXES,
)

_CIPHERS = "4865-4866-4867-49195-49199-49196-49200-52393-52392-49161-49171-49162-49172-156-157-47-53"
_SIGALGS = (
    "ecdsa_secp256r1_sha256",
    "rsa_pss_rsae_sha256",
    "rsa_pkcs1_sha256",
    "ecdsa_secp384r1_sha384",
    "rsa_pss_rsae_sha384",
    "rsa_pkcs1_sha384",
    "rsa_pss_rsae_sha512",
    "rsa_pkcs1_sha512",
    "rsa_pkcs1_sha1",
)


@dataclass(frozen=True, slots=True)
class Profile:
    """One ClientHello: the JA3 string (its extension list is also the order curl sends)
    plus what JA3 does not say; or ``target``, a browser curl_cffi impersonates whole
    (its hello, HTTP/2 settings and all)."""

    name: str
    ja3: str = ""
    alpn: bool = True  # advertise ALPN (``http/1.1``: curl speaks HTTP/1.1 either way)
    status_request: bool = False  # extension 5
    sct: bool = False  # extension 18
    sigalgs: tuple[str, ...] = _SIGALGS
    target: str = ""  # e.g. ``chrome133a``; then the fields above are unused
    # the request's header order on the wire (None: as given, curl's own Host first)
    order: Callable[[str, str, dict[str, str | None], bytes | None], dict[str, str | None]] | None = None


# Claude Code's Axios calls on the OAuth control plane write their headers in this order
# (CPA claudeOAuthRefreshHeaderOrder, claudeOAuthInspectHeaderOrder); other names follow
_AXIOS = ("accept", "content-type", "user-agent", "content-length", "accept-encoding", "host", "connection")
_AXIOS_INSPECT = (
    "accept", "content-type", "authorization", "cache-control", "user-agent", "accept-encoding", "host",
    "connection",
)  # fmt: skip
_INSPECT_PATHS = ("/api/oauth/profile", "/api/oauth/claude_cli/roles")


def axios_order(
    method: str, url: str, headers: dict[str, str | None], body: bytes | None
) -> dict[str, str | None]:
    """``headers`` in Claude Code's Axios order (the authenticated GET lookups have their
    own), ``Host`` and ``Content-Length`` written where Axios writes them, not where curl
    would; every other name after those, as given."""
    host, _, path = url.partition("://")[2].partition("/")
    inspect = method == "GET" and ("/" + path).startswith(_INSPECT_PATHS)
    given = {name.lower(): (name, value) for name, value in headers.items()}
    given.setdefault("host", ("Host", host))
    if body is not None:
        given.setdefault("content-length", ("Content-Length", str(len(body))))
    out: dict[str, str | None] = {}
    for lower in _AXIOS_INSPECT if inspect else _AXIOS:
        found = given.pop(lower, None)
        if found is not None:
            out[found[0]] = found[1]
    out.update(given.values())
    return out


# Claude Code 2.1.220, Node/OpenSSL, inference plane (CPA claudeCodeTLSClientHelloSpec)
CLAUDE_CODE = Profile(
    "claude-code",
    f"771,{_CIPHERS},0-23-65281-10-11-35-16-5-13-18-51-45-43-21,29-23-24,0",
    alpn=True,
    status_request=True,
    sct=True,
)
# the same runtime's Axios OAuth calls (CPA claudeOAuthTLSClientHelloSpec): no ALPN
CLAUDE_OAUTH = Profile(
    "claude-oauth",
    f"771,{_CIPHERS},0-23-65281-10-11-35-13-51-45-43,29-23-24,0",
    alpn=False,
    order=axios_order,
)
# Chrome for chatgpt.com (CPA dials the Codex backend with uTLS HelloChrome_Auto, which is
# Chrome 133 in uTLS 1.8: X25519MLKEM768, the new ALPS codepoint, ECH GREASE; HTTP/2)
CHROME = Profile("chrome", target="chrome133a")


def available() -> bool:
    """Whether ``curl_cffi`` is installed."""
    return _FOUND


def is_anthropic_url(url: str) -> bool:
    """``url`` is on Anthropic's first-party origin (CPA ``IsAnthropicUpstreamURL``)."""
    return url.startswith(ANTHROPIC_PREFIXES)


class ImpersonatedResponse:
    """A streamed curl_cffi answer as an ``UpstreamResponse``."""

    __slots__ = ("_client", "_done", "_rsp", "headers", "status")

    def __init__(self, client: ImpersonatingClient, rsp: Any) -> None:
        self._client, self._rsp = client, rsp
        self.status: int = rsp.status_code
        self.headers: Mapping[str, str] = rsp.headers
        self._done = False

    async def read(self) -> bytes:
        return b"".join([chunk async for chunk in self.chunks()])

    async def chunks(self) -> AsyncIterator[bytes]:
        queue, idle = self._rsp.queue, self._client.idle_timeout
        try:
            while True:
                async with asyncio.timeout(idle):
                    chunk = await queue.get()
                if isinstance(chunk, bytes):
                    yield chunk
                    continue
                if isinstance(chunk, BaseException):
                    broke = ConnectionEnded if _ended(chunk) else ConnectionError
                    raise broke(f"{type(chunk).__name__}: {_curl_reason(chunk)}") from None
                self._done = True  # curl_cffi's end-of-stream marker
                return
        except TimeoutError:
            self.release()
            raise

    def release(self) -> None:
        """Stop the transfer if it is still running (curl drops that connection); a
        finished one already went back to the pool."""
        if self._done:
            return
        self._done = True
        rsp = self._rsp
        task = rsp.astream_task
        if task is not None and not task.done():
            if rsp.quit_now is not None:
                rsp.quit_now.set()
            self._client.abort(rsp.curl)


class ImpersonatingClient:
    """An ``UpstreamClient`` whose TLS hello is ``profile``'s; HTTP/1.1, pooled connections.

    ``limits`` is the shared client whose ``connect_timeout``, ``first_byte_timeout`` and
    ``idle_timeout`` apply (read per request). ``verify`` (a CA file) is for tests."""

    def __init__(
        self,
        profile: Profile = CLAUDE_CODE,
        *,
        limits: HttpClient | None = None,
        verify: bool | str = True,
    ) -> None:
        if not _FOUND:
            raise RuntimeError("curl_cffi is not installed")
        self.profile = profile
        self.limits = limits
        self.verify = verify
        self._session: Any = None
        self._errors: Any = None  # curl_cffi's exceptions module, once a session is open
        self._options: dict[Any, Any] = {}

    @property
    def connect_timeout(self) -> float | None:
        return self.limits.connect_timeout if self.limits is not None else 30.0

    @property
    def first_byte_timeout(self) -> float | None:
        return self.limits.first_byte_timeout if self.limits is not None else 600.0

    @property
    def idle_timeout(self) -> float | None:
        return self.limits.idle_timeout if self.limits is not None else 600.0

    def _open(self) -> Any:
        session = self._session
        curl = _curl()
        CurlOpt = curl.CurlOpt
        if session is None:
            AsyncSession = curl.AsyncSession
            self._errors = curl.errors
            p = self.profile
            if p.target:
                self._options = {}
                session = AsyncSession(
                    impersonate=p.target, curl_options=self._options, allow_redirects=False, max_clients=256
                )
            else:
                self._options = {
                    CurlOpt.SSL_ENABLE_ALPN: int(p.alpn),
                    CurlOpt.TLS_STATUS_REQUEST: int(p.status_request),
                    CurlOpt.TLS_SIGNED_CERT_TIMESTAMPS: int(p.sct),
                }
                session = AsyncSession(
                    ja3=_without_padding(p.ja3),
                    extra_fp={"tls_signature_algorithms": list(p.sigalgs), "tls_grease": False},
                    http_version="v1",
                    curl_options=self._options,
                    allow_redirects=False,
                    max_clients=256,
                )
            self._session = session
        connect, first, idle = self.connect_timeout, self.first_byte_timeout, self.idle_timeout
        options = self._options
        options[CurlOpt.CONNECTTIMEOUT_MS] = int(connect * 1000) if connect else 0
        # a backstop in curl itself: a transfer left behind by a first-byte timeout (curl
        # keeps going when its awaiter is cancelled) ends once it has been silent this long
        silent = math.ceil(max(first or 0, idle or 0)) if first and idle else 0
        options[CurlOpt.LOW_SPEED_LIMIT] = 1 if silent else 0
        options[CurlOpt.LOW_SPEED_TIME] = silent
        return session

    async def request(
        self, method: str, url: str, *, headers: Mapping[str, str], body: bytes | None, proxy: str = ""
    ) -> ImpersonatedResponse:
        if line_break_in(headers):  # curl writes a header's CR, LF as given and cuts it at a NUL
            raise header_line_break()
        session = self._open()
        send: dict[str, str | None] = {}
        encoding: str | None = None
        for name, value in headers.items():
            if name.lower() == "accept-encoding":  # curl decodes only what it asked for
                encoding = value  # (the header itself stays where the caller put it)
            send[name] = value
        if not any(name.lower() == "accept" for name in send):
            send["Accept"] = None  # no curl default "Accept: */*" the caller did not send
        order = self.profile.order
        if order is not None:
            send = order(method, url, send, body)
        try:
            async with asyncio.timeout(self.first_byte_timeout):
                rsp = await session.request(
                    method,
                    url,
                    headers=send,
                    data=body,
                    proxy=proxy or None,
                    verify=self.verify,
                    stream=True,
                    timeout=None,
                    accept_encoding=encoding,
                    default_headers=False,
                )
        except TimeoutError as exc:
            raise UpstreamNetworkError(
                "upstream sent no response in time",
                status=504,
                detail=f"no response headers from {_origin(url)} within {self.first_byte_timeout}s",
            ) from exc
        except self._errors.Timeout as exc:
            raise UpstreamNetworkError(
                "upstream connect timed out", status=504, detail=f"connect to {_origin(url)} timed out"
            ) from TimeoutError(_curl_reason(exc))  # (curl's Timeout is no TimeoutError)
        except self._errors.RequestException as exc:
            # curl's message may quote the URL (and a key in its query): the reason only
            reason = f"{type(exc).__name__} {_curl_reason(exc)}"
            raise UpstreamNetworkError(
                "upstream unreachable", detail=f"cannot reach {_origin(url)}: {reason}"
            ) from (ConnectionEnded(reason) if _ended(exc) else exc)
        return ImpersonatedResponse(self, rsp)

    def abort(self, curl: Any) -> None:
        """Take a running transfer off curl's multi handle (its connection is closed)."""
        session = self._session
        if session is not None and getattr(session, "_acurl", None) is not None:
            session.acurl.remove_handle(curl)

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()


class OriginRouter:
    """A provider's transport: URLs on one origin (``prefixes``) through ``impersonating``,
    every other URL through ``fallback`` (the shared aiohttp client)."""

    def __init__(
        self, prefixes: tuple[str, ...], impersonating: ImpersonatingClient, fallback: UpstreamClient
    ) -> None:
        self.prefixes = prefixes
        self.impersonating = impersonating
        self.fallback = fallback

    def request(
        self, method: str, url: str, *, headers: Mapping[str, str], body: bytes | None, proxy: str = ""
    ) -> Awaitable[UpstreamResponse]:
        """The chosen client's own awaitable: no coroutine layer of the router's."""
        client: UpstreamClient = self.impersonating if url.startswith(self.prefixes) else self.fallback
        return client.request(method, url, headers=headers, body=body, proxy=proxy)

    async def close(self) -> None:
        await self.impersonating.close()


# where CPA dials with uTLS (helps/utls_client.go fallbackRoundTripper): provider key,
# the origin's URL prefixes, the hello
ROUTES: tuple[tuple[str, tuple[str, ...], Profile], ...] = (
    ("claude", ANTHROPIC_PREFIXES, CLAUDE_CODE),
    ("codex", CHATGPT_PREFIXES, CHROME),
)

_warned = False


def install(providers: Providers, http: HttpClient) -> list[OriginRouter]:
    """Give the Claude and Codex providers their origin routers (:data:`ROUTES`), except
    one that has a transport already (a test's, a plugin's). Without ``curl_cffi``: one
    WARNING, aiohttp stays."""
    global _warned
    if not available():
        if not _warned:
            _warned = True
            log.warning(
                "curl_cffi is not installed: requests to api.anthropic.com and chatgpt.com use "
                "Python's TLS hello, not Claude Code's / Chrome's (pip install curl_cffi)"
            )
        return []
    routers: list[OriginRouter] = []
    for key, prefixes, profile in ROUTES:
        provider = providers.get(key)
        if provider is None or provider.transport is not None:
            continue
        router = OriginRouter(prefixes, ImpersonatingClient(profile, limits=http), http)
        provider.transport = router
        routers.append(router)
    return routers


def token_client(http: HttpClient) -> OriginRouter | None:
    """The client for OAuth token and profile calls: Claude's control plane
    (:data:`CLAUDE_OAUTH_PREFIXES`) with :data:`CLAUDE_OAUTH`'s hello, every other URL through
    ``http``; None without ``curl_cffi`` (``http`` then carries them all; :func:`install`
    warns)."""
    if not available():
        return None
    return OriginRouter(CLAUDE_OAUTH_PREFIXES, ImpersonatingClient(CLAUDE_OAUTH, limits=http), http)


def _without_padding(ja3: str) -> str:
    """The JA3 for curl: BoringSSL adds padding (21) itself, where the hello needs it."""
    version, ciphers, exts, groups, points = ja3.split(",")
    exts = "-".join(e for e in exts.split("-") if e != "21")
    return ",".join((version, ciphers, exts, groups, points))


# curl's codes for a connection the upstream ended: 52 nothing came back (an EOF before the
# headers), 18 the body was cut short (an EOF inside it)
_CURL_ENDED = frozenset({18, 52})


def _ended(exc: BaseException) -> bool:
    """Whether curl's failure ``exc`` is the upstream closing the connection."""
    return getattr(exc, "code", None) in _CURL_ENDED


def _curl_reason(exc: BaseException) -> str:
    """curl's error text without any URL it quotes."""
    text = str(exc).split(" See https://curl.se", 1)[0]
    return " ".join(w for w in text.split() if "://" not in w)[:200]


def _origin(url: str) -> str:
    """scheme://host[:port]: never the path or query."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return "<invalid url>"
    host = rest.split("/", 1)[0].split("?", 1)[0].rpartition("@")[2]
    return f"{scheme}://{host}"

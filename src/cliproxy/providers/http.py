"""The shared upstream HTTP client, and the one boundary where aiohttp's exceptions
become ours.

One ``aiohttp.ClientSession`` per proxy setting (direct, an HTTP(S) proxy, a SOCKS
proxy), each with a connection pool reused across requests, so no request pays for
TCP or TLS set-up that an earlier one already did. ``proxy-url`` values follow CPA:
``http://``, ``https://``, ``socks5://`` (``socks5h``, ``socks4``), and ``direct`` / ``none``
to bypass a global proxy.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import aiohttp

from cliproxy.errors import UpstreamError

__all__ = ["HttpClient", "proxy_key"]

log = logging.getLogger("cliproxy.http")

_DIRECT = ("", "direct", "none")


def proxy_key(credential_proxy: str | None, global_proxy: str | None) -> str:
    """The proxy a request uses: the credential's, else the global one; ``""`` = direct."""
    chosen = (credential_proxy or "").strip()
    if not chosen:
        chosen = (global_proxy or "").strip()
    return "" if chosen.lower() in _DIRECT else chosen


class HttpClient:
    """Upstream HTTP with pooled connections per proxy."""

    def __init__(self, *, connect_timeout: float = 30.0, read_timeout: float | None = None,
                 limit_per_host: int = 0) -> None:
        self._timeout = aiohttp.ClientTimeout(total=None, connect=connect_timeout, sock_read=read_timeout)
        self._limit_per_host = limit_per_host
        self._sessions: dict[str, aiohttp.ClientSession] = {}

    def _session(self, proxy: str) -> tuple[aiohttp.ClientSession, str | None]:
        session = self._sessions.get(proxy)
        http_proxy = proxy if proxy.startswith(("http://", "https://")) else None
        if session is None or session.closed:
            if proxy.startswith("socks"):
                from aiohttp_socks import ProxyConnector
                connector: aiohttp.BaseConnector = ProxyConnector.from_url(
                    proxy, limit=0, limit_per_host=self._limit_per_host)
            else:
                connector = aiohttp.TCPConnector(limit=0, limit_per_host=self._limit_per_host,
                                                 ttl_dns_cache=300, keepalive_timeout=60)
            # no Accept-Encoding of our own: LLM answers are small or streamed, and skipping
            # compression saves a decompressor per response (a client's own header still passes)
            session = aiohttp.ClientSession(connector=connector, timeout=self._timeout,
                                            auto_decompress=True, skip_auto_headers=("User-Agent", "Accept-Encoding"))
            self._sessions[proxy] = session
        return session, http_proxy

    async def request(self, method: str, url: str, *, headers: Mapping[str, str], body: bytes | None,
                      proxy: str = "") -> aiohttp.ClientResponse:
        """Send a request; the caller reads and releases the response.

        Network failures become ``UpstreamError`` (502, or 504 on a timeout)."""
        session, http_proxy = self._session(proxy)
        try:
            return await session.request(method, url, headers=headers, data=body, proxy=http_proxy,
                                         allow_redirects=False)
        except TimeoutError as exc:
            raise UpstreamError(f"upstream timed out: {_origin(url)}", status=504) from exc
        except aiohttp.ClientConnectorError as exc:
            raise UpstreamError(f"cannot reach upstream {_origin(url)}: {exc.os_error}", status=502) from exc
        except aiohttp.ClientError as exc:
            raise UpstreamError(f"upstream request to {_origin(url)} failed: {type(exc).__name__}",
                                status=502) from exc
        except ValueError as exc:  # a bad proxy URL or upstream URL from config
            raise UpstreamError(f"invalid upstream or proxy URL for {_origin(url)}: {exc}", status=502) from exc

    async def close(self) -> None:
        sessions, self._sessions = self._sessions, {}
        for s in sessions.values():
            await s.close()


def _origin(url: str) -> str:
    """scheme://host[:port] of a URL: never the path or query, which may hold a key."""
    try:
        u = aiohttp.client.URL(url)
        return f"{u.scheme}://{u.host}" + (f":{u.port}" if u.port and not u.is_default_port() else "")
    except (ValueError, TypeError):
        return "<invalid url>"

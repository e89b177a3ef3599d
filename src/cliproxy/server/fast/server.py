"""What the protocol-level server's connections share (:class:`FastServer`): the fast
routes, with what each route's pattern decides worked out once, and one request's way
through the same decisions as the aiohttp middleware (``cliproxy.server.middleware``:
``screen``, ``check_access``, the body read with its limits) to its handler. A body
route whose body is in runs its ``prepare`` and then the pipeline directly, in the
request's task (``cliproxy.server.handlers.run`` only when keep-alives may be due).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from multidict import istr

from cliproxy.access import HashCheckNeeded
from cliproxy.calls import Reply
from cliproxy.errors import CliproxyError
from cliproxy.presence import CLIENT
from cliproxy.requestid import REQUEST_ID, REQUEST_IDS
from cliproxy.server.context import format_for_path
from cliproxy.server.errors import error_response, exception_response
from cliproxy.server.fast.protocol import MAX_HEAD, BadBody, FastProtocol
from cliproxy.server.handlers import Core, Prepare, abandoned, client_left, failed, fast_routes, run, write
from cliproxy.server.middleware import (
    RELAY_PATH,
    body_timeout_message,
    is_proxy_path,
    screen,
    too_large_message,
)
from cliproxy.server.trace_id import add_trace_id, trace_line

if TYPE_CHECKING:
    from cliproxy.formats import Format
    from cliproxy.server.fast.request import FastExchange
    from cliproxy.server.guard import ConnectionGuard
    from cliproxy.service import Service

__all__ = ["FastServer"]

log = logging.getLogger(__name__)

_NO_PARAMS: dict[str, str] = {}
_ORIGIN = istr("Origin")  # folded once: a CIMultiDict finds it faster


class _Route:
    """A fast route, with what its pattern alone decides worked out once."""

    __slots__ = ("core", "fmt", "method", "pattern", "prefix", "prepare", "proxy", "relay")

    def __init__(self, method: str, pattern: str, core: Core, prepare: Prepare | None) -> None:
        self.method = method
        self.core = core
        self.prepare = prepare
        self.prefix = pattern.removesuffix("{name:.+}") if pattern.endswith("{name:.+}") else ""
        self.pattern = self.prefix + "{name}" if self.prefix else pattern  # the trace's route
        path = self.prefix or pattern
        self.proxy = is_proxy_path(path)  # client keys, body read, frontend auth
        self.relay = path == RELAY_PATH  # keyed only with ws-auth (never a fast route today)
        # the client's format, when the path alone tells it (model lists look at headers)
        fmt: Format | None = format_for_path(path)
        if path.startswith("/v1/models"):
            fmt = None
        self.fmt = fmt


class FastServer:
    """What the connections of one listener share: the routes, the service, the guard,
    aiohttp's protocol factory (for hand-overs) and the open connections."""

    def __init__(
        self, service: Service, guard: ConnectionGuard, aiohttp_protocol: Callable[[], asyncio.Protocol]
    ) -> None:
        self.service = service
        self.guard = guard
        self.aiohttp_protocol = aiohttp_protocol
        self.max_body = service.config.limits.max_body_bytes  # as aiohttp's: read at start
        self.max_wire = 2 * self.max_body + MAX_HEAD  # a body with its chunk framing
        self.closing = False
        self.connections: dict[FastProtocol, None] = {}
        # by (method, path) as bytes off the wire: no decoding to find the route
        self.exact: dict[tuple[bytes, bytes], _Route] = {}
        self._prefixed: list[tuple[bytes, bytes, _Route]] = []
        for (method, pattern), spec in fast_routes().items():
            route = _Route(method, pattern, spec.core, spec.prepare)
            if route.prefix:
                self._prefixed.append((method.encode(), route.prefix.encode(), route))
            else:
                self.exact[(method.encode(), pattern.encode())] = route

    def __call__(self) -> FastProtocol:
        return FastProtocol(self)

    def match(self, method: bytes, path: bytes) -> tuple[_Route, str, dict[str, str]] | None:
        """The route of a request, its path and path parameters; ``None`` for a path that
        is not served here (aiohttp's: encoded, dot segments, empty segments...)."""
        route = self.exact.get((method, path))
        if route is not None:  # a route's own path: plain
            return route, route.pattern, _NO_PARAMS
        if path[:1] != b"/" or path.find(b"%") >= 0 or path.find(b"//") >= 0 or path.find(b"/.") >= 0:
            return None
        for want, prefix, route in self._prefixed:
            if method == want and path.startswith(prefix) and len(path) > len(prefix):
                return route, path.decode("ascii"), {"name": path[len(prefix) :].decode("ascii")}
        return None

    async def shutdown(self, timeout: float) -> None:
        """Stop keeping connections alive, close the idle ones, wait for answers in flight
        (up to ``timeout``), then close the rest."""
        self.closing = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for conn in list(self.connections):
                if conn.idle:
                    conn.force_close()
            if not self.connections or loop.time() >= deadline:
                break
            await asyncio.sleep(0.02)
        for conn in list(self.connections):
            conn.abort()  # as aiohttp after its shutdown timeout: the request is cancelled

    async def serve(self, conn: FastProtocol, ex: FastExchange, route: _Route) -> None:
        """One request, as the aiohttp middleware and handler would run it. A body route
        runs its ``prepare`` and, without keep-alives, the pipeline right here (as
        ``cliproxy.server.handlers.run`` would): one coroutine layer under the task."""
        REQUEST_ID.set("%08x" % (next(REQUEST_IDS) & 0xFFFFFFFF))  # begin_request(), inline: this task's id
        CLIENT.set(conn.transport)  # for waits that end when the client goes (cliproxy.presence)
        service = self.service
        try:
            access = service.access
            frontend = service.frontend
            headers = ex.headers
            if (access.required or frontend) and not access.safe_mode and _ORIGIN not in headers:
                proxy = route.proxy  # what screen() says here: go on, no CORS headers
            else:
                answer, cors, proxy = screen(
                    service, ex.method, ex.path, headers, lambda: ex.remote or None, lambda: ex.format
                )
                if answer is not None:
                    ex.answer(answer)
                    return
                ex.cors = cors
            if proxy:
                # check_access(), inline
                if access.required and not frontend and (not route.relay or service.config.ws_auth):
                    try:
                        ex.principal = access.check(headers, ex.query)
                    except HashCheckNeeded as needed:  # a bcrypt-hashed key: checked off the loop
                        ex.principal = await access.verify(needed)
                if (ex.too_large or not ex.body_complete) and not await self._read_body(ex):
                    return
                parts = ex.body_parts
                raw = parts[0] if len(parts) == 1 else ex.body
                if frontend:  # frontend-auth plugins take part (or, exclusive, decide alone)
                    ex.principal = await service.authenticate(ex.method, ex.path, headers, ex.query, raw)
                prepare = route.prepare
                if prepare is not None:  # the route's own coroutine is not needed: the body is in
                    call, convert = prepare(ex, raw)
                    config = service.config  # read per request: a reload applies to the next one
                    stream = call.stream
                    if config.streaming.keepalive_seconds if stream else config.nonstream_keepalive_interval:
                        await run(ex, call, convert)  # keep-alives while waiting, maybe
                        return
                    try:
                        result = await service.pipeline.run(call)
                    except CliproxyError as exc:
                        failed(ex, call, exc)
                        return
                    except ConnectionResetError:
                        client_left(ex, call)
                        return
                    except asyncio.CancelledError:  # the client's connection was lost
                        abandoned(ex, call)
                        raise
                    # X-CPA-TRACE-ID (cliproxy.server.trace_id): a ready line of the head,
                    # unless a request log or recording shows the answer's headers (then in them)
                    trace = call.trace
                    if trace is not None:  # a whole answer's record is finished once it is written
                        if trace.keep_bodies:
                            add_trace_id(result)
                        else:
                            ex.head_line = trace_line(result)
                        result = trace.reply(result, finish=False)
                    else:
                        ex.head_line = trace_line(result)
                    if convert is not None:
                        result = convert(result)
                    try:
                        # a whole answer: no writer coroutine (no isinstance call for the usual Reply)
                        if type(result) is Reply or isinstance(result, Reply):
                            ex.reply(result.status, result.body, result.headers)
                        else:
                            await write(ex, result)
                    finally:  # a whole answer's accounting, after the write: the client does not wait
                        if trace is not None and not trace.stream:  # (a stream's ends with it)
                            trace.finish()
                    return
            await route.core(ex)
        except CliproxyError as exc:
            if not ex.started:
                ex.answer(exception_response(ex.format, exc))
        except ConnectionError as exc:
            if conn.transport is not None and not conn.transport.is_closing():
                log.exception("unhandled error on %s %s", ex.method, ex.path)
                self._fail(ex)
            else:
                log.info("%s %s: the client went away (%s)", ex.method, ex.path, type(exc).__name__)
        except Exception:
            # our bug, not the client's: log it whole, tell the client little
            log.exception("unhandled error on %s %s", ex.method, ex.path)
            self._fail(ex)
        finally:
            if not ex.finished:  # a broken stream: the connection cannot carry another request
                conn.force_close()
            if conn.transport is None:  # the connection is gone (now or earlier)
                conn.release(ex)

    def _fail(self, ex: FastExchange) -> None:
        if not ex.started:
            ex.answer(error_response(ex.format, 500, "internal error in cliproxy; see the server log"))

    async def _read_body(self, ex: FastExchange) -> bool:
        """Wait for the whole body within ``timeouts.client-body`` and ``limits.max-body-mb``;
        ``False`` when that failed (and was answered). Not called for a body already whole
        within the cap (most come with the head): its ``Content-Length`` is its size."""
        length = ex.headers.get("Content-Length")
        if ex.too_large or (length is not None and length.isdigit() and int(length) > self.max_body):
            self._body_error(ex, 413, too_large_message(self.max_body))
            return False
        if ex.body_complete:
            return True
        timeout = self.service.config.timeouts.seconds("client_body")
        try:
            async with asyncio.timeout(timeout):
                await ex.wait_body()
        except TimeoutError:
            log.info(
                "%s %s: request body not received within %gs (timeouts.client-body)",
                ex.method,
                ex.path,
                timeout,
            )
            self._body_error(ex, 408, body_timeout_message(timeout))
            return False
        except BadBody as exc:
            log.info("%s %s: unreadable request body: %s", ex.method, ex.path, exc)
            self._body_error(ex, 400, f"request body could not be read: {exc}")
            return False
        except ConnectionResetError:
            log.info("%s %s: the client went away while sending the body", ex.method, ex.path)
            self._body_error(ex, 400, "the connection closed before the whole body arrived")
            return False
        if ex.too_large:
            self._body_error(ex, 413, too_large_message(self.max_body))
            return False
        return True

    def _body_error(self, ex: FastExchange, status: int, message: str) -> None:
        ex.keep_alive = False  # the rest of the body is not worth reading
        ex.answer(error_response(ex.format, status, message))

"""A form body (multipart, or urlencoded through ``request.post()``) read by its handler,
not by the middleware (image edits and video creates stream their parts): the same
promises as any other body. The read is bounded by ``timeouts.client-body``, and what
aiohttp cannot decode (a part's unknown ``Content-Transfer-Encoding``, base64 that is
not, a multipart type without its boundary) is the client's 400, never a 500."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

from cliproxy.errors import CliproxyError, RequestError
from cliproxy.server.context import SERVICE
from cliproxy.server.middleware import body_timeout_message

__all__ = ["reading_form"]

log = logging.getLogger(__name__)


@asynccontextmanager
async def reading_form(request: web.Request) -> AsyncIterator[None]:
    """Wrap the reads of a form body: a ``RequestError`` (408, 400) when they fail."""
    timeout = request.app[SERVICE].config.timeouts.seconds("client_body")
    try:
        async with asyncio.timeout(timeout):
            yield
    except CliproxyError:
        raise
    except TimeoutError:
        log.info(
            "%s %s: form body not received within %gs (timeouts.client-body)",
            request.method,
            request.path,
            timeout,
        )
        raise RequestError(body_timeout_message(timeout), status=408) from None
    except (
        RuntimeError,
        ValueError,
    ) as exc:  # aiohttp's "unknown content transfer encoding", binascii.Error...
        log.info("%s %s: undecodable form body: %s", request.method, request.path, exc)
        raise RequestError(f"request body could not be read: {str(exc)[:200]}") from None

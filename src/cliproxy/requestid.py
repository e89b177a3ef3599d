"""The id of the request being served, for every log line written on its behalf.

The server calls :func:`begin_request` where a request enters (the middleware); the id
lives in a :class:`~contextvars.ContextVar`, so it follows the request through every
``await`` and into the tasks it spawns (asyncio copies the context into a new task),
and never leaks into another request (aiohttp serves each request in a task of its own).
:class:`RequestIdFilter`, installed on the handlers that write log lines (stderr by
:func:`setup_logging`, ``main.log`` in ``usage/applog.py``), copies it onto every record as
``record.request_id``: the 8 hex digits of the request, or ``-`` outside one. A record
that already carries an id (``extra={"request_id": ...}``) keeps it.

A leaf module: anything may import it, it imports nothing of cliproxy.
"""

from __future__ import annotations

import itertools
import logging
import random
import sys
from contextvars import ContextVar

__all__ = [
    "LOG_FORMAT",
    "NO_REQUEST",
    "REQUEST_ID",
    "REQUEST_IDS",
    "RequestIdFilter",
    "begin_request",
    "current_request_id",
    "new_request_id",
    "request_id",
    "setup_logging",
]

NO_REQUEST = "-"
LOG_FORMAT = "%(asctime)s %(levelname)-5s [%(request_id)s] %(name)s: %(message)s"
REQUEST_ID: ContextVar[str] = ContextVar("cliproxy_request_id", default=NO_REQUEST)

# cheap unique ids: a counter from a random start, 8 hex digits (CPA's log line width); a
# hot caller may inline begin_request: REQUEST_ID.set("%08x" % (next(REQUEST_IDS) & 0xFFFFFFFF))
REQUEST_IDS = itertools.count(random.getrandbits(32))


def new_request_id() -> str:
    """A fresh id: 8 lowercase hex digits."""
    return "%08x" % (next(REQUEST_IDS) & 0xFFFFFFFF)


def begin_request() -> str:
    """Give the current context (one request's task) a fresh id; returns it."""
    rid = "%08x" % (next(REQUEST_IDS) & 0xFFFFFFFF)  # new_request_id(), inlined: once per request
    REQUEST_ID.set(rid)
    return rid


def current_request_id() -> str:
    """The current request's id, or :data:`NO_REQUEST` outside a request."""
    return REQUEST_ID.get()


def request_id() -> str:
    """The current request's id, or a fresh one outside a request (for records that
    need an id of their own either way, such as a request trace)."""
    rid = REQUEST_ID.get()
    return new_request_id() if rid == NO_REQUEST else rid


class RequestIdFilter(logging.Filter):
    """Puts the current request's id on every record it sees (``record.request_id``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = REQUEST_ID.get()
        return True


def setup_logging(debug: bool) -> None:
    """Log lines on stderr: ``<time> <level> [<request id>] <logger>: <message>``; the
    request id is ``-`` outside a request. The ``cliproxy`` loggers log from INFO (DEBUG
    with ``debug``), everything else from WARNING. Called by the command line before the
    config loads and again with its ``debug:``."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT, "%Y-%m-%d %H:%M:%S"))
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("cliproxy").setLevel(logging.DEBUG if debug else logging.INFO)

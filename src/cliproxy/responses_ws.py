"""One client socket on the Responses WebSocket (``GET /v1/responses``,
``/backend-api/codex/responses``): the turns it carries, run through the pipeline.

The server (``cliproxy.server.ws``) does the framing: it hands each text message to
:meth:`ResponsesSession.turn` and sends the events it gets back as text messages, in
order. Per message (CPA's handler, an upstream reached over HTTP or over its own socket
alike):

- ``response.processed`` (Codex CLI's acknowledgement of a response it handled, sent
  with its ``responses_websocket_response_processed`` feature on) gets no answer and
  changes nothing: Codex CLI reads none, and would take an ``error`` event for its next
  turn's (CPA answers it with one);
- the message becomes a whole Responses request (``cliproxy.formats.responses_ws``:
  ``previous_response_id`` continuity, ``response.append``, prewarm); a message it
  cannot use is answered with an ``error`` event and the socket stays open;
- that request's tool calls and outputs are paired up from those of the socket's earlier
  completed turns (``cliproxy.formats.responses_ws_tools``: a missing call or output put
  back, an orphan dropped), so the upstream does not refuse the transcript (CPA); the
  incremental form sent on a kept upstream socket goes as the client wrote it;
- the request runs as any ``POST /v1/responses`` stream does (``Pipeline.run``: routing,
  credential pick, translation for non-Responses upstreams, failover before the first
  byte, usage records); each event's JSON is one message to the client;
- Codex and xAI credentials with ``websockets`` enabled are reached over the upstream's
  Responses WebSocket, one kept upstream socket per client socket
  (``cliproxy.providers.codex_ws``); the request carries this session's id in an internal
  header for that, which never leaves the proxy;
- a turn that fails before its first event ends the socket (CPA): an error the client
  caused (400, 404, 409, 413, 422, or an upstream error body that says so, such as
  ``cyber_policy`` or ``context_length_exceeded`` under any status) is sent as an ``error``
  event first, carrying the upstream's own error fields (bounded and redacted,
  ``cliproxy.formats.stream_errors``), then a normal close (1000); an
  upstream that refused the message as too large (``message_too_big``) closes with 1009 and
  that reason, so the client can resend another way; a rate limit or overload closes with
  1013 (try again later), any other upstream failure with 1011. An upstream that breaks off
  after the first event ends the turn in-format (``response.failed`` with the error, as on
  HTTP) and the socket stays usable; an ``error`` event mid-stream is passed on and closes
  the socket as above; a stream that just stops without a terminal event closes with 1011,
  and so does a turn that ends in ``response.incomplete``, once that event is passed on: only
  ``response.completed`` / ``done`` complete a turn (CPA), so nothing of it is built on.

A completed turn's request and output are what the next follow-up builds on: the output of
its ``response.completed`` once reconciled with the output items it streamed
(``cliproxy.formats.responses_ws_output``: an empty one filled, a tool call the stream
sent whole put back), which is also what the client gets. When that
turn went over a kept upstream socket that holds the conversation (Codex), a follow-up
that continues it (``previous_response_id`` of that turn, ``response.append``, or the
outputs of every tool call it left open) is pinned to the same credential and sent as
``previous_response_id`` plus the new items only (CPA's upstream-WebSocket passthrough);
the whole conversation goes instead to any other credential the pipeline falls over to,
and to the same one when its socket is gone or a reload turned its ``websockets`` off
(``Call.pin`` / ``Call.pinned``). Unlike CPA, which closes the client socket to make the
client replay the turn, the client never notices. After such a turn (Codex's or xAI's own
socket), a ``response.create`` without ``previous_response_id`` that continues nothing
starts a new conversation: its own input only, as CPA passes it through there
(``starts_over``); after a turn over HTTP it is merged with the conversation (CPA too).

A response id the upstream repeats on the socket (xAI's does) reaches the client as a
fresh one, the output items' ids with it (``cliproxy.formats.responses_ws_ids``).

Stream replies are cut into events with ``bytes.split`` (``formats.responses_ws_frames``), and the events
one upstream read brought are handed to the server's ``send_all`` together (one write).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import orjson
from multidict import CIMultiDict

from cliproxy.calls import Call, Reply, StreamReply
from cliproxy.credentials.cooldown import is_request_fault
from cliproxy.errors import CliproxyError
from cliproxy.formats import Format
from cliproxy.formats.responses_ws import (
    History,
    MessageError,
    error_event,
    event_type,
    expand,
    follow_up,
    has_compaction,
    is_prewarm,
    prewarm_events,
    starts_over,
)
from cliproxy.formats.responses_ws_frames import batches
from cliproxy.formats.responses_ws_ids import ResponseIds
from cliproxy.formats.responses_ws_output import TurnOutput
from cliproxy.formats.responses_ws_tools import ToolLedger, record_response, repair
from cliproxy.formats.stream_errors import MESSAGE_LIMIT, bound, redact, safe_error
from cliproxy.formats.validate import check_depth
from cliproxy.pipeline import Pipeline
from cliproxy.providers.codex_ws import CONTINUES_HEADER, SESSION_HEADER, WebSocketUpstream
from cliproxy.providers.codex_ws_wire import PREVIOUS_HEADER, websockets_enabled
from cliproxy.requestid import begin_request
from cliproxy.usage.hooks import begin_trace
from cliproxy.usage.timeline import API_TIMELINE, SessionLog

__all__ = ["Close", "ResponsesSession", "Send", "SendAll", "WireInfo"]

log = logging.getLogger(__name__)

_SOCKETS = ("codex", "xai")  # the providers whose own socket holds a conversation (CPA)

Send = Callable[[bytes], Awaitable[None]]
# several events at once (those one upstream read brought), each its own message
SendAll = Callable[[list[bytes]], Awaitable[None]]
REQUEST_FAULTS = frozenset({400, 404, 409, 413, 422})
RETRY_LATER = frozenset({429, 503, 529})
COMPLETED = frozenset({"response.completed", "response.done"})
ENDED = frozenset({"response.failed", "response.incomplete"})
_INCOMPLETE = "response.incomplete"
_DONE = "response.output_item.done"
_ADDED = "response.output_item.added"
_TRACKED = COMPLETED | ENDED | {_DONE, _ADDED, "error"}
_REASON_BYTES = 123  # a close frame's reason is at most 123 bytes
_MESSAGE_TOO_BIG = 1009
PROCESSED = "response.processed"  # (codex-rs ``send_response_processed``)
_DRAIN = 2.0  # seconds a stream may go on after its error event


@dataclass(frozen=True, slots=True)
class Close:
    """How the socket ends after a turn: a WebSocket close code and a short reason."""

    code: int
    reason: str


@dataclass(frozen=True, slots=True)
class WireInfo:
    """What the server read off the upgrade request (request logs, usage records)."""

    path: str
    query_string: str
    route: str
    api_key: str
    client_ip: str


class ResponsesSession:
    """The state of one client socket: its turn history and its upstream session."""

    def __init__(
        self,
        pipeline: Pipeline,
        upstream: WebSocketUpstream | None,
        headers: Mapping[str, str],
        query: Mapping[str, str],
        *,
        recorder: Any = None,
        wire: WireInfo | None = None,
        log: SessionLog | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.upstream = upstream
        self.sid = upstream.open_session() if upstream is not None else ""
        own: CIMultiDict[str] = CIMultiDict(headers)
        own.popall(SESSION_HEADER, None)  # only ever ours
        own.popall(CONTINUES_HEADER, None)
        own.popall(PREVIOUS_HEADER, None)
        if self.sid:
            own[SESSION_HEADER] = self.sid
        self.headers = own
        self.query = query
        self.history = History()
        self.recorder = recorder
        self.wire = wire
        self.log = log  # the socket's request log (``usage.timeline``), while request logs are on
        self.turns = 0
        self.ids = ResponseIds()  # an id the upstream repeats is made new for the client
        self.tools = ToolLedger()  # the tool calls and outputs of earlier turns (repair)
        # the credential whose kept upstream socket holds this conversation: a follow-up is
        # pinned to it and sent as previous_response_id + the new items (CPA)
        self.pin = ""
        # the last turn went over the upstream's own socket (Codex, xAI): a response.create
        # without previous_response_id that continues nothing starts over there (CPA)
        self.socketed = False

    async def close(self) -> None:
        """The client socket is gone: close this session's upstream sockets."""
        if self.upstream is not None and self.sid:
            await self.upstream.close_session(self.sid)

    async def turn(self, raw: bytes, send: Send, send_all: SendAll | None = None) -> Close | None:
        """One client message: its events go to ``send`` (runs of them to ``send_all``);
        a ``Close`` ends the socket."""
        try:
            message = _message(raw)
            if message.get("type") == PROCESSED:
                return None  # Codex CLI's acknowledgement of a response: it reads no answer
            if is_prewarm(message, self.history):
                request = expand(message, self.history)
                request.pop("generate", None)
                self.history = History(request=request)
                self.pin, self.socketed = "", False
                for event in prewarm_events(request):
                    await send(event)
                return None
            request = expand(message, self.history, compaction_replay=self._replays_compaction(message))
        except MessageError as exc:
            await send(error_event(exc.status, exc.message, code=exc.code, param=exc.param))
            return None
        holds = bool(self.pin) and self._pin_holds()
        step = follow_up(message, self.history) if holds or self.socketed else None
        incremental = step if holds else None
        if self.socketed and step is None:  # continues nothing on the upstream's socket
            request = starts_over(message, self.history) or request
        tools = ToolLedger()  # what this turn teaches, kept only if it completes
        request = repair(request, self.tools, tools)
        self.turns += 1
        begin_request()  # each turn is a request of its own: log lines, usage
        if self.log is not None:  # an upstream socket's frames go to the session's log
            API_TIMELINE.set(self.log.api)
        previous = bool(str(message.get("previous_response_id") or "").strip())
        return await self._run(
            request, incremental, raw, send, send_all or _one_by_one(send), previous, tools
        )

    async def _run(
        self,
        request: dict[str, Any],
        incremental: dict[str, Any] | None,
        raw: bytes,
        send: Send,
        send_all: SendAll,
        previous: bool = False,
        tools: ToolLedger | None = None,
    ) -> Close | None:
        model = str(request["model"]).strip()
        headers = self.headers
        if previous:  # the message named a previous_response_id (xAI's replay stays out)
            headers = CIMultiDict(headers)
            headers[PREVIOUS_HEADER] = "1"
        call = Call(Format.RESPONSES, request, model, True, headers, self.query)
        trace = self._trace(call, raw)
        pinned = None
        if incremental is not None:  # the whole conversation stays the fallback
            headers = CIMultiDict(headers)
            headers[CONTINUES_HEADER] = str(incremental["previous_response_id"])
            pinned = Call(Format.RESPONSES, incremental, model, True, headers, self.query, trace=trace)
        self.pin, pin = "", self.pin
        self.socketed = False
        if trace is not None or pinned is not None:
            call = replace(call, trace=trace, pin=pin if pinned is not None else "", pinned=pinned)
        try:
            result = await self.pipeline.run(call)
        except CliproxyError as exc:
            if trace is not None:
                trace.failed(exc.status, exc.message, {}, b"")
            body = getattr(exc, "body", None)
            return await _failed(exc.status, exc.message, getattr(exc, "code", None), send, body=body)
        except asyncio.CancelledError:  # the client went away before the first event (CPA: 499)
            if trace is not None:
                trace.client_left()
            raise
        if trace is not None:
            result = trace.reply(result)
        tools = tools if tools is not None else ToolLedger()
        if isinstance(result, Reply):
            return await self._whole(result, request, send, tools)
        return await self._stream(result, request, send, send_all, tools)

    async def _whole(
        self, reply: Reply, request: dict[str, Any], send: Send, tools: ToolLedger
    ) -> Close | None:
        """A whole answer (a plugin answered the request): one event."""
        try:
            body = orjson.loads(reply.body) if reply.body else {}
        except orjson.JSONDecodeError:
            body = {}
        if reply.status >= 400:
            err = body.get("error") if isinstance(body, dict) else None
            message = str(err.get("message")) if isinstance(err, dict) else f"HTTP {reply.status}"
            return await _failed(reply.status, message, None, send, body=reply.body)
        await send(orjson.dumps({"type": "response.completed", "response": body}))
        if isinstance(body, dict):
            output = body.get("output")
            output = output if isinstance(output, list) else []
            self.history.turn_done(request, output, str(body.get("id") or ""))
            self._learn(tools, output)
        return None

    async def _stream(
        self, reply: StreamReply, request: dict[str, Any], send: Send, send_all: SendAll, tools: ToolLedger
    ) -> Close | None:
        tracker = _Turn()
        rest = reply.rest
        ids = self.ids
        ids.start()
        try:
            async for batch in batches(reply.first, rest):
                for n, data in enumerate(batch):
                    if ids.pending or ids.renaming:  # (the history keeps what the client got)
                        data = batch[n] = ids.see(data)
                    kind = tracker.see(data)
                    if kind == "error":
                        close = _close_for(tracker.error_status, tracker.error_message, data)
                        if close.code != _MESSAGE_TOO_BIG:  # (the close says it all)
                            await send_all(batch[: n + 1])
                        elif n:
                            await send_all(batch[:n])
                        await _drain(rest)  # (so the turn's record is this error, not a 499)
                        return close
                    if tracker.completed_at_this_event:
                        batch[n] = tracker.completion(data)
                await send_all(batch)
        except CliproxyError as exc:
            return await _failed(
                exc.status, exc.message, None, send, in_stream=True, body=getattr(exc, "body", None)
            )
        except (ConnectionError, TimeoutError) as exc:
            if isinstance(exc, ConnectionResetError):
                raise  # the client went away while we wrote: the server tears down
            log.info("responses websocket: upstream stream broke: %s", exc)
            return Close(1011, "upstream connection broke")
        finally:
            ids.end()
            await rest.aclose()  # type: ignore[attr-defined]
        if tracker.completed is not None:
            output = tracker.output
            self.history.turn_done(request, output, tracker.response_id, tracker.pending())
            self._learn(tools, tracker.seen.calls)
            cred = reply.credential
            if cred is not None and self.upstream is not None:
                self.pin = cred.id if self.upstream.continues(self.sid, tracker.response_id) else ""
                self.socketed = bool(self.sid) and cred.provider in _SOCKETS and websockets_enabled(cred)
            return None
        if tracker.ended == _INCOMPLETE:  # no completion (CPA): the socket ends, as below
            return Close(1011, "upstream ended the turn with response.incomplete")
        if tracker.ended:
            return None  # response.failed: a normal end of a turn
        return Close(1011, "upstream stream ended before response.completed")

    def _pin_holds(self) -> bool:
        """The pinned credential still takes its turns over its upstream socket: a reload
        that turned its ``websockets`` off (or removed it) sends the next turn over HTTP,
        where Codex keeps no conversation, so that turn goes whole (CPA closes the client
        socket for the client to replay it)."""
        cred = self.pipeline.pool.get(self.pin)
        return cred is not None and websockets_enabled(cred)

    def _replays_compaction(self, message: dict[str, Any]) -> bool:
        """A follow-up carrying a ``compaction`` item for a model only Codex serves: Codex
        reads the item, so the compacted input is the whole conversation (CPA
        ``websocketUpstreamSupportsCompactionReplayForModel``). Any other upstream cannot
        read it: the item goes and the input is merged with the history."""
        items = message.get("input")
        last = self.history.request
        if last is None or not isinstance(items, list) or not has_compaction(items):
            return False
        model = message.get("model") or last.get("model")
        try:
            providers = self.pipeline.models.resolve(str(model or "").strip()).providers
        except CliproxyError:
            return False
        return bool(providers) and all(name == "codex" for name in providers)

    def _learn(self, tools: ToolLedger, output: list[Any]) -> None:
        """A completed turn: its input's tool calls and outputs and its response's complete
        calls (those its events streamed, then those of its output) join the socket's
        ledger (a failed turn's never do, CPA)."""
        record_response(tools, output)
        self.tools.merge(tools)

    def _trace(self, call: Call, raw: bytes) -> Any:
        rec, wire = self.recorder, self.wire
        if rec is None or wire is None or not rec.active:
            return None
        trace = begin_trace(
            rec,
            method="GET",
            path=wire.path,
            query_string=wire.query_string,
            route=wire.route,
            headers=self.headers,
            body=raw,
            fmt=call.format,
            alias=call.model,
            api_key=wire.api_key,
            client_ip=wire.client_ip,
        )
        if trace is not None and self.log is not None:
            # the session's log takes the turn's upstream calls, and the turn's record names
            # that log (``request-log-by-id``): a socket's turns share its id, as in CPA
            trace.session, trace.id = self.log, self.log.id
        return trace


class _Turn:
    """What one turn's events say: its output (``TurnOutput``), the completion, an error."""

    __slots__ = (
        "completed",
        "completed_at_this_event",
        "ended",
        "error_message",
        "error_status",
        "event",
        "output",
        "response_id",
        "seen",
    )

    def __init__(self) -> None:
        self.seen = TurnOutput()
        self.completed: dict[str, Any] | None = None
        self.event: dict[str, Any] = {}  # the completion event, parsed
        self.output: list[Any] = []  # the completed output, reconciled
        self.completed_at_this_event = False
        self.ended = ""  # the response.failed / incomplete that ended the turn
        self.response_id = ""
        self.error_status = 0
        self.error_message = ""

    def see(self, data: bytes) -> str:
        self.completed_at_this_event = False
        kind = event_type(data)
        if kind not in _TRACKED:
            return kind  # deltas and the like: nothing to keep
        if kind == _ADDED and data.find(b"_call") < 0:
            return kind  # an added item that is no tool call, nor its output
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:
            return ""
        if not isinstance(obj, dict):
            return ""
        if kind in (_DONE, _ADDED):
            self.seen.see_item(obj, kind == _DONE)
        elif kind in COMPLETED:
            response = obj.get("response")
            self.completed = response if isinstance(response, dict) else {}
            self.response_id = str(self.completed.get("id") or "")
            self.event = obj
            self.completed_at_this_event = True
        elif kind in ENDED:
            self.ended = kind
        elif kind == "error":
            status = obj.get("status") or obj.get("status_code")
            err = obj.get("error")
            self.error_status = status if isinstance(status, int) else 500
            self.error_message = str(err.get("message") or "") if isinstance(err, dict) else str(err or "")
        return kind

    def completion(self, data: bytes) -> bytes:
        """The completion event with its output reconciled with the items streamed (see
        ``cliproxy.formats.responses_ws_output``); ``data`` itself when it was consistent."""
        data, self.output = self.seen.complete(data, self.event)
        return data

    def pending(self) -> list[str]:
        """The tool calls the turn left for the client to answer."""
        return sorted(self.seen.pending)


async def _drain(rest: AsyncIterator[bytes]) -> None:
    """What a stream still holds after its ``error`` event, read and dropped: it ends there
    (the event is terminal), and a stream read to its end records its failure, where one
    closed before it is taken for a client that left. A stream that goes on is closed after
    :data:`_DRAIN` seconds all the same."""
    with contextlib.suppress(Exception):  # (a timeout; what the stream raises is no news)
        async with asyncio.timeout(_DRAIN):
            async for _ in rest:
                pass


def _one_by_one(send: Send) -> SendAll:
    async def send_all(batch: list[bytes]) -> None:
        for data in batch:
            await send(data)

    return send_all


def _message(raw: bytes) -> dict[str, Any]:
    try:
        message = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise MessageError(400, f"websocket message is not valid JSON: {exc}") from exc
    if not isinstance(message, dict):
        raise MessageError(400, "websocket message must be a JSON object")
    try:
        check_depth(raw, message)
    except CliproxyError as exc:
        raise MessageError(400, exc.message) from exc
    return message


async def _failed(
    status: int, message: str, code: Any, send: Send, *, in_stream: bool = False, body: Any = None
) -> Close:
    """A turn that failed: the client's mistake is told as an ``error`` event (with the
    upstream's error object when it sent one), then the socket closes (CPA); other
    failures close with a code that says what kind."""
    raw = body if isinstance(body, bytes) else None
    close = _close_for(status, message, raw)
    if close.code == 1000:
        error = _upstream_error(raw)
        if error is not None:
            await send(orjson.dumps({"type": "error", "status": status, "error": safe_error(error)}))
        else:
            text = bound(redact(message), MESSAGE_LIMIT)  # (an upstream's in-band message, maybe)
            await send(error_event(status, text, code=code if isinstance(code, str) else None))
    return close


def _close_for(status: int, message: str, body: bytes | None = None) -> Close:
    """How a failed turn ends the socket; ``body`` is the upstream's error (an ``error``
    event or an HTTP error body), read only on this failure path."""
    if body is not None and status == 413 and body.find(b"message_too_big") >= 0:
        error = _upstream_error(body)
        if error is not None and error.get("code") == "message_too_big":
            return Close(_MESSAGE_TOO_BIG, _reason(str(error.get("message") or "") or "message too big"))
    if status in REQUEST_FAULTS or (body and is_request_fault(status, body.decode("utf-8", "replace"))):
        return Close(1000, _reason(message))
    if status in RETRY_LATER:
        return Close(1013, _reason(message or "upstream busy; try again later"))
    return Close(1011, _reason(message or "upstream failed"))


def _upstream_error(body: bytes | None) -> dict[str, Any] | None:
    """The ``error`` object of an upstream error body or ``error`` event."""
    if not body:
        return None
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    error = obj.get("error") if isinstance(obj, dict) else None
    return error if isinstance(error, dict) else None


def _reason(text: str) -> str:
    data = redact(text).encode()[:_REASON_BYTES]
    return data.decode("utf-8", "ignore")

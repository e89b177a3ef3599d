"""Stage 9 of the lifecycle for a stream: the upstream's stream into the client's.

A stream is read until its first content, so an early failure can still fail over (it
raises here, before anything was sent), then handed to the server as a ``StreamReply``
whose rest is translated event by event (:class:`_Rest`: pulled by the writer, or pushed by
the fast upstream client while its reads keep up). Once the first byte went out the only
way to fail is an in-format error event. As the stream stops the attempt's ``settle`` hook
hears how it ended (CPA records a stream's result then, not when it opens): the failure
the upstream's own events said (its credential cools; nothing else is tried), or a whole
answer (its success). Whole answers are :mod:`cliproxy.replies`'.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Coroutine
from functools import partial
from typing import TYPE_CHECKING, Any

from cliproxy.calls import SSE_HEADERS, Attempt, Call, LazyStream, StreamReply
from cliproxy.errors import CliproxyError, UpstreamError
from cliproxy.formats import Format, openai_chat
from cliproxy.formats.sse import EventTooLarge
from cliproxy.providers import decoding
from cliproxy.providers.base import RewriteError
from cliproxy.providers.fastconn import GO, STOP, Push
from cliproxy.providers.secrets import without_secrets
from cliproxy.providers.transport import UpstreamResponse, network_error
from cliproxy.replies import inband_error, json_head, refuse_error_body
from cliproxy.translate import ir
from cliproxy.translate.late_errors import ChatLatePassthrough, LatePassthrough
from cliproxy.translate.openai_responses.passthrough import ResponsesPassthrough
from cliproxy.translate.registry import Registry
from cliproxy.translate.stream import Passthrough, StreamTranslator
from cliproxy.upstream_body import Mapped, source_relay, undeclared, unwrapped

if TYPE_CHECKING:
    from cliproxy.plugins.stream_normalizers import StreamNormalizers


# read per request: a global, not ``Format.X`` (on Python 3.11 an ``EnumType.__getattr__`` dispatch)
_GEMINI, _OPENAI, _RESPONSES, _CODEX, _CLAUDE = (
    Format.GEMINI,
    Format.OPENAI,
    Format.RESPONSES,
    Format.CODEX,
    Format.CLAUDE,
)

__all__ = ["open_stream"]

log = logging.getLogger(__name__)

_MAGIC_FIRST = decoding.MAGIC_FIRST
_READ_FAILURES = (TimeoutError, ConnectionError)


async def open_stream(
    reg: Registry,
    call: Call,
    attempt: Attempt,
    resp: UpstreamResponse,
    chunks: AsyncIterator[bytes],
    alias: str | None,
    *,
    hold: bool = True,
    wrapped: bool = False,
    hooks: StreamNormalizers | None = None,
) -> StreamReply:
    """Read until the first content, so an early failure can still fail over (``hold``
    false: only until the first bytes for the client, e.g. a handshake event;
    ``wrapped``: the payloads of ``chunks`` still carry the provider's envelope, which the
    decoder takes off the objects it parses when it can, else the bytes lose it first;
    ``hooks``: the response normalizer plugins, when one is active: each upstream event
    goes through their before chain, each client frame through their after chain)."""
    tr: StreamTranslator | Passthrough
    read_usage: Callable[[], ir.Usage | None] | None = None
    if hooks is not None:  # the events unwrapped and whole, each through the before chain
        if wrapped:
            chunks, wrapped = unwrapped(chunks, attempt.provider, resp), False
        if attempt.provider.sniffs_compression:
            chunks = _decompressed(chunks, resp)
        chunks = hooks.upstream(chunks)
    # upstreams always stream SSE: a Gemini client without ?alt=sse wants the JSON array
    reframe = call.format is _GEMINI and call.alt != "sse"
    same = attempt.fmt == call.format or (call.format is _RESPONSES and attempt.provider.streams_responses)
    if same and alias is None and not reframe:
        errors = reg.adapter(attempt.fmt).stream_decoder  # (also reads a late error event)
        decoder = errors(None)  # usage: sniffed on the way out
        if call.format is _RESPONSES or call.format is _CODEX:  # its upstream's error events made safe
            # (a Responses client of Codex: a snapshot naming no model gets the asked one, as in CPA)
            model = call.model if call.format is _RESPONSES and attempt.fmt is _CODEX else None
            tr = ResponsesPassthrough(decoder, scrub=partial(without_secrets, cred=attempt.cred), model=model)
        elif call.format is _OPENAI:  # a late upstream error ends the stream (and cools the credential)
            tr = ChatLatePassthrough(decoder, errors)
        else:  # Claude, Gemini, Interactions: the same, in the format's own error shape
            tr = LatePassthrough(decoder, errors)
        if wrapped:  # the client gets the bytes: unwrapped
            chunks = unwrapped(chunks, attempt.provider, resp)
        if call.format is _OPENAI and not openai_chat.asks_usage(call.body):  # asked upstream, not here
            hidden = openai_chat.HiddenUsage()
            chunks, read_usage = Mapped(chunks, hidden.step, hidden.tail, resp), hidden.read
    else:  # names are restored against what this attempt sent upstream
        # (a Responses client of a Codex-format upstream, xAI: a stream naming no model shows
        # the asked one, as CPA's Codex to Responses translator fills it)
        unnamed = call.model if call.format is _RESPONSES and attempt.fmt is _CODEX else None
        tr = reg.stream_translator(
            attempt.fmt, call.format, attempt.request(reg, call), model=alias, unnamed=unnamed
        )
        if wrapped and not tr.unwrapping(attempt.provider.unwrap_body):
            chunks = unwrapped(chunks, attempt.provider, resp)
        if attempt.replay is not None:  # reasoning the client cannot carry, kept for its next turn
            tr.observe = attempt.replay.record().observe
            tr.observe_text = False  # (it keeps thinking, signatures and calls, not the text)
    pending: list[bytes] = []
    head: list[bytes] | None = []  # the body while it is one JSON object (replies.json_head)
    try:
        while not (tr.started or (not hold and tr.opened)):
            try:
                chunk = await chunks.__anext__()
            except StopAsyncIteration:
                pending.append(tr.finish())
                break
            if chunk.startswith(_MAGIC_FIRST) and not pending and attempt.provider.sniffs_compression:
                chunk, chunks = await undeclared(chunks, chunk, resp)  # compressed, not said so (CPA)
            if head is not None:
                head = json_head(head, chunk)
            pending.append(tr.feed(chunk))
            if tr.early_error is not None or (not hold and tr.opened):
                break
    except _READ_FAILURES as exc:
        resp.release()
        raise network_error(exc, "before the first stream event") from exc
    except BaseException:  # a refused rewrite, or the client gone (a cancel): the call ends
        resp.release()
        raise
    committed = not hold and tr.opened  # the handshake goes out; a later error stays in-stream
    if (tr.early_error is not None or not tr.started) and not committed:
        resp.release()
        if head and not tr.started:  # a whole JSON error (a 200) instead of a stream: that error
            refuse_error_body(b"".join(head))
        err = tr.early_error
        if err is not None:
            raise inband_error(err, attempt.cred.id)
        raise UpstreamError(
            "upstream stream ended before any content", status=502, credential_id=attempt.cred.id
        )
    headers = dict(SSE_HEADERS)
    if reframe:
        headers["Content-Type"] = "application/json"
    rest = _Rest(reg, call, tr, chunks, resp, hooks)
    rest.last = first = b"".join(pending)
    rest.settle = attempt.settle
    if hooks is not None:
        try:
            first = await hooks.client(first)
        except BaseException:  # a plugin's failure, or the client gone meanwhile: the call ends
            resp.release()
            raise
    if type(tr) is StreamTranslator:  # the usage its decoder read (the client's bytes may lack it)
        read_usage = tr.read_usage
    return StreamReply(headers, first, rest, attempt.cred, read_usage)


class _Rest(LazyStream):
    """The rest of a stream after its first bytes, translated event by event: an async
    iterator (pulled chunk by chunk), or pushed with :meth:`relay` when the upstream
    answer can push (``FastResponse.relay``) and the consumer handles each piece at once.
    Both ways the same steps run: each upstream chunk through the translator, then its
    tail (a late error's event, or what the translator held back); a read failure or a
    refused rewrite becomes an in-format error event; the upstream answer is released.
    How the stream ended goes to ``settle`` once it stops, before its tail (the error the
    upstream's events said, ``tr.upstream_error``, or ``None`` for a whole answer): one test
    a stream, none a chunk."""

    __slots__ = (
        "_cut",
        "_gone",
        "call",
        "chunks",
        "failure",
        "hooks",
        "last",
        "prev",
        "reg",
        "resp",
        "settle",
        "tr",
    )

    def __init__(
        self,
        reg: Registry,
        call: Call,
        tr: StreamTranslator | Passthrough,
        chunks: AsyncIterator[bytes],
        resp: UpstreamResponse,
        hooks: StreamNormalizers | None = None,
    ) -> None:
        super().__init__()
        self.reg, self.call, self.tr, self.chunks, self.resp = reg, call, tr, chunks, resp
        self.hooks = hooks  # response normalizer plugins (then the rest is pulled, never pushed)
        self._gone: BaseException | None = None  # what the push consumer raised
        self._cut = False  # a pass-through stream ended without its terminal event (``_unterminated``)
        # the error the client's stream ended with, once it ended (None: whole, or not over):
        # what the request's usage record is marked failed with (CPA: PublishFailure)
        self.failure: ir.Error | None = None
        self.last = b""  # the last bytes the client got (a broken read after its end is no error)
        self.prev = b""  # and the ones before (an end event, then a keep-alive or a usage chunk)
        self.settle: Callable[[ir.Error | None], Awaitable[None]] | None = None  # (``Attempt.settle``)

    async def aclose(self) -> None:
        try:
            await super().aclose()
            if self.settle is not None and self.tr.upstream_error is not None:
                await self._settled()  # a reader that stopped at the error event (the WebSocket relay)
            # the upstream body's iterator, when a reader stopped before its end (a stream whole
            # in its first read ends at its last event, not at the body's end): closed here, not
            # left to the loop's garbage hook (a thread-safe wake-up and a task of its own)
            close = getattr(self.chunks, "aclose", None)
            if close is not None:
                await close()
        finally:  # the connection goes back (or is closed) whatever a close above raised
            self.resp.release()

    async def _pull(self) -> AsyncGenerator[bytes, None]:
        tr, hooks = self.tr, self.hooks
        try:
            if not tr.ended:
                async for chunk in self.chunks:
                    out = tr.feed(chunk)
                    if out:
                        self.prev, self.last = self.last, out
                        if hooks is not None:
                            out = await hooks.client(out)
                        if out:
                            yield out
                    if tr.ended:  # once an error event went out (or must), stop reading the upstream
                        break
            if tr.ended:  # (at [DONE] too, maybe in the first events)
                self._at_end()
            if hooks is None:
                tail = self._tail()
            else:  # the after chain sees what the translator held, not an error event of ours
                done, failure = self._ending()
                tail = await hooks.client(done, end=True) + failure
            await self._settled()
            if tail:
                yield tail
        except _BROKEN as exc:
            yield self._broken(exc)
        except CliproxyError as exc:  # an error the upstream's reader raises as itself (a 1009 close)
            self.failure = ir.Error(exc.message, status=exc.status)
            raise
        finally:
            self.resp.release()

    def relay(self, emit: Push, drain: Callable[[], Awaitable[None]]) -> Coroutine[Any, Any, None] | None:
        """Push mode: every client chunk to ``emit`` (``GO``, or ``PAUSE``: wait for
        ``drain()``), from the upstream connection's reads when it can push, else as the
        body is iterated here; the coroutine to await for the whole rest, or ``None`` when
        the rest was begun as an iterator (or is over)."""
        if self._gen is not None or self.tr.ended or self.hooks is not None:
            return None
        feed = self.tr.feed
        tr = self.tr

        def push(chunk: bytes) -> int:
            out = feed(chunk)  # (what it raises ends the relay, raised by it)
            if out:
                self.prev, self.last = self.last, out
                try:
                    state = emit(out)
                except BaseException as exc:  # the client's side: no error event for it
                    self._gone = exc
                    return STOP
            else:
                state = GO
            if tr.ended:
                self._at_end()
                return STOP
            return state

        async def drained() -> None:
            try:
                await drain()
            except Exception as exc:  # the client's side too: gone while it drained
                self._gone = exc  # (a cancel is not kept: it goes on as itself)
                raise

        return self._relayed(source_relay(self.resp, self.chunks, push, drained), emit)

    async def _relayed(self, inner: Awaitable[None], emit: Push) -> None:
        out = b""
        try:
            await inner
            if self._gone is None:
                out = self._tail()
                await self._settled()
        except _BROKEN as exc:
            if self._gone is None:
                out = self._broken(exc)
        except CliproxyError as exc:
            if self._gone is None:
                self.failure = ir.Error(exc.message, status=exc.status)
            raise
        finally:
            self.resp.release()
        gone, self._gone = self._gone, None
        if gone is not None:
            try:
                raise gone
            finally:  # its traceback holds this frame: the frame must not hold it (a cycle)
                gone = None
        if out:
            emit(out)

    def _at_end(self) -> None:
        """The reader stops at the stream's last event: when that is its end (``[DONE]``),
        not an error, the upstream connection may finish its body and go back to the pool
        (``FastResponse.expect_end``) rather than be closed."""
        tr = self.tr
        if tr.upstream_error is None and not _errored(tr):
            expect_end = getattr(self.resp, "expect_end", None)
            if expect_end is not None:
                expect_end()

    async def _settled(self) -> None:
        """Hand how the stream ended to ``settle``, once: the upstream's error, or ``None``
        for an answer that ended whole; neither when an error of another kind ended it (a
        frame the proxy refused, a Responses stream closed before its terminal event, an
        upstream error event that fails no credential). What ``settle`` raises is logged and
        the client's stream ends as it would have."""
        settle, self.settle = self.settle, None
        if settle is None:
            return
        tr = self.tr
        error = tr.upstream_error
        if error is None and (self._cut or _errored(tr)):
            return
        try:
            await settle(error)
        except Exception as exc:  # (a state backend that is down): the stream still ends well
            log.warning("could not record how the stream of %s ended: %s", self.call.model, exc)

    def _tail(self) -> bytes:
        """The end of a stream read to its end (or to its error event)."""
        done, failure = self._ending()
        return done + failure if failure else done

    def _ending(self) -> tuple[bytes, bytes]:
        """The end of a stream read to its end (or to its error event): what the
        translator still held, and what the proxy adds of its own (an error event)."""
        tr = self.tr
        if not isinstance(tr, Passthrough):
            out = tr.finish()
            if tr.ended:  # (a translator ends at an error only)
                self.failure = tr.upstream_error or ir.Error("upstream stream ended in an error", status=502)
            return out, b""
        if tr.late_error is not None:
            log.warning("upstream stream for %s broke: %s", self.call.model, tr.late_error.message)
            self.failure = tr.late_error
            return b"", _stream_error(self.reg, self.call, tr, tr.late_error)
        out = tr.finish()
        if tr.upstream_error is not None:  # (a Responses pass-through relays its upstream's error event)
            self.failure = tr.upstream_error
        if self.call.format in _END_EVENTS and not tr.ended:  # (ended: at the upstream's error event)
            return out, self._unterminated(out, self.prev + self.last + out)
        return out, b""

    def _unterminated(self, out: bytes, seen: bytes) -> bytes:
        """What a pass-through stream that ended cleanly still owes its client: the blank
        line that dispatches its last event, and a failure when no event ended the answer
        (CPA: a stream closed before its terminal event is a failure, never a 200 that
        stops mid-answer; a Chat stream that said its finish_reason but no ``[DONE]`` gets
        the ``[DONE]``, as CPA's handler writes one at every clean end). ``out``: what the
        translator still held; ``seen``: the client's last two chunks and ``out`` (the end
        event may be followed by a keep-alive comment or a usage chunk in a read of its own)."""
        fmt = self.call.format
        last = out or self.last
        out = b"" if last.endswith(b"\n\n") else b"\n" if last.endswith(b"\n") else b"\n\n"
        if any(seen.find(mark) >= 0 for mark in _END_EVENTS[fmt]):
            return out
        if fmt is _OPENAI and _CHAT_FINISHED.search(seen) is not None:
            return out + b"data: [DONE]\n\n"
        log.warning("upstream stream for %s ended without its terminal event", self.call.model)
        self._cut = True
        err = self.failure = ir.Error(
            _UNTERMINATED.get(fmt, "upstream stream closed before a terminal event"), status=502
        )
        return out + _stream_error(self.reg, self.call, self.tr, err)

    def _broken(self, exc: BaseException) -> bytes:
        """The error event for a refused rewrite or a read that failed mid-stream."""
        call = self.call
        if isinstance(exc, (RewriteError, EventTooLarge)):  # (an endless line: a broken upstream)
            log.warning("upstream stream for %s refused: %s", call.model, exc.message)
            self.failure = ir.Error(exc.message, status=exc.status)
            return _stream_error(self.reg, call, self.tr, self.failure)
        if _ended(call.format, self.prev + self.last):  # the answer was whole: nothing to report (CPA)
            log.info("upstream connection for %s closed after the answer's end", call.model)
            return self.tr.finish()
        # after the first byte the only way to fail is an in-format error event
        err = network_error(exc, "in the middle of the stream")
        log.warning("upstream stream for %s broke off: %s", call.model, err.detail)
        self.failure = ir.Error(err.message, status=err.status)
        return _stream_error(self.reg, call, self.tr, self.failure)


_BROKEN = (RewriteError, EventTooLarge, *_READ_FAILURES)


async def _decompressed(chunks: AsyncIterator[bytes], resp: UpstreamResponse) -> AsyncIterator[bytes]:
    """``chunks`` decoded when its first bytes are gzip's or zstd's though no
    Content-Encoding said so (what ``open_stream`` checks itself when no plugin cuts the
    body into events first)."""
    try:
        head = await chunks.__anext__()
    except StopAsyncIteration:
        return
    if head.startswith(_MAGIC_FIRST):
        head, chunks = await undeclared(chunks, head, resp)
    yield head
    async for chunk in chunks:
        yield chunk


# what a stream's last event says in each client format, when it ended as it should
_END_MARKS: dict[Format, tuple[bytes, ...]] = {
    Format.RESPONSES: (b'"response.completed"', b'"response.incomplete"'),
    Format.CODEX: (b'"response.completed"', b'"response.incomplete"'),
    Format.CLAUDE: (b'"message_stop"',),
    Format.OPENAI: (b"[DONE]",),
}


# the events that end a pass-through stream, a failure included: a clean end of the upstream's
# body with none of them in the client's last bytes is a cut answer (``_Rest._unterminated``)
_FINAL = (*_END_MARKS[Format.RESPONSES], b'"response.failed"', b"event: error", b'"type":"error"')
_END_EVENTS: dict[Format, tuple[bytes, ...]] = {
    Format.RESPONSES: _FINAL,
    Format.CODEX: _FINAL,
    Format.CLAUDE: _END_MARKS[Format.CLAUDE],
    Format.OPENAI: _END_MARKS[Format.OPENAI],
}
# a Chat stream's finish chunk, or the usage chunk after it (``choices`` empty)
_CHAT_FINISHED = re.compile(rb'"finish_reason"\s*:\s*"|"choices"\s*:\s*\[\s*\]')
# what the client is told when its pass-through stream ended without its terminal event
# (the words the translated path's decoders use for the same upstream stream)
_UNTERMINATED = {
    Format.CLAUDE: "upstream stream ended before message_stop",
    Format.OPENAI: "upstream stream ended before a finish_reason",
}


def _errored(tr: StreamTranslator | Passthrough) -> bool:
    """An error event ended the client's stream (once the stream stopped): a translator's
    (it turns ``ended`` at an error only), a late error a pass-through ended at, or any end
    of a Responses pass-through but its terminal event (a Chat one ends at ``[DONE]`` too)."""
    if not isinstance(tr, Passthrough):
        return tr.ended
    return tr.late_error is not None or (tr.ended and isinstance(tr, ResponsesPassthrough))


def _ended(fmt: Format, last: bytes) -> bool:
    """The client's last bytes hold its format's end of a stream."""
    return any(mark in last for mark in _END_MARKS.get(fmt, ()))


def _stream_error(reg: Registry, call: Call, tr: StreamTranslator | Passthrough, error: ir.Error) -> bytes:
    """The in-format end of a stream whose first bytes the client already has."""
    if isinstance(tr, StreamTranslator):
        return tr.fail(error)
    tr.ended = True
    try:
        request: ir.Request | None = call.client_ir(reg)
    except CliproxyError:
        request = None
    encoder = reg.adapter(call.format).stream_encoder(request, None)
    encoder.resume()  # the client has the stream's opening bytes (Gemini's "[")
    return encoder.encode(error) + encoder.flush()


# ---------------------------------------------------------------------- JSON

"""A stream whose reader stops before the upstream body's end closes that body's iterator
itself, whichever engine serves it.

A short Chat Completions stream often arrives whole in one read of the upstream: its
``[DONE]`` ends the pass-through there, so nothing reads the body to its end. Its
iterator (``FastResponse._chunks``, and ``Mapped``'s around it when the client did not
ask for the usage) used to be left suspended; the garbage collector then handed each one
to the event loop's async-generator finalizer, which closes it with a thread-safe
wake-up and a task of its own, per stream (``bench/loopcost.py --stream``: 0.94 of each
per stream in passthrough OpenAI at c=16 with the fake's 50 chunks in one read; none
since). The stream's end now closes it.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import openai
import orjson
import pytest

from cliproxy.calls import Call
from cliproxy.formats import Format
from cliproxy.providers.transport import ReadAnswer
from cliproxy.replies_stream import _Rest
from cliproxy.translate.registry import default_registry
from cliproxy.translate.stream import Passthrough
from tests.e2e.clients import KEY
from tests.fakes.raw_sse import RawSSE


def _chunk(text: str, finish: str | None = None) -> bytes:
    delta = {"content": text} if text else {}
    event = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "up-model",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return b"data: " + orjson.dumps(event) + b"\n\n"


WHOLE = _chunk("Hel") + _chunk("lo") + _chunk("", "stop") + b"data: [DONE]\n\n"


@pytest.fixture
async def upstream() -> AsyncIterator[RawSSE]:
    async with RawSSE() as server:
        server.chunks = [WHOLE]  # one write: the whole stream in the proxy's first read
        yield server


@contextmanager
def finalized() -> Iterator[list[str]]:
    """The async generators first iterated meanwhile that the loop's finalizer got
    (dropped unfinished), by code name; the loop's own hook still runs for each. Entered
    in the test itself: the loop installs its hooks each time it starts running."""
    first, finalizer = sys.get_asyncgen_hooks()
    assert finalizer is not None  # (the running loop's)
    seen: list[str] = []

    def counting(agen: Any) -> None:
        seen.append(agen.ag_code.co_qualname)
        finalizer(agen)

    sys.set_asyncgen_hooks(firstiter=first, finalizer=counting)
    try:
        yield seen
    finally:
        sys.set_asyncgen_hooks(firstiter=first, finalizer=finalizer)


@pytest.mark.parametrize("usage", [True, False], ids=["usage-asked", "usage-hidden"])
async def test_a_stream_whole_in_its_first_read_closes_the_upstream_iterator(
    start_proxy: Any, upstream: RawSSE, usage: bool
) -> None:
    """Not a CPA port (CPA's Go readers have no generators to finalize): the client gets
    the whole stream, and no upstream body iterator is left for the loop's finalizer.
    ``usage``: the client asks for it (the body's own iterator is read) or not (read
    through the wrapper that hides the usage chunk the proxy asked for)."""
    proxy = await start_proxy(
        f'api-keys: ["{KEY}"]\nopenai-compatibility:\n  - name: compat\n'
        f'    base-url: "{upstream.url}/v1"\n    api-key-entries: [{{api-key: "k-chat"}}]\n'
        '    models: [{name: "up-model", alias: "chat-model"}]\n'
    )
    extra: Any = {"stream_options": {"include_usage": True}} if usage else {}
    with finalized() as dropped:
        async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
            for _ in range(3):
                stream = await client.chat.completions.create(
                    model="chat-model", messages=[{"role": "user", "content": "hi"}], stream=True, **extra
                )
                text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
                assert text == "Hello"
        gc.collect()
    left = [name for name in dropped if name in ("FastResponse._chunks", "Mapped._pull", "_Rest._pull")]
    assert left == [], dropped


class _Counted(ReadAnswer):
    """An upstream answer that counts its releases (the connection given back)."""

    released = 0

    def release(self) -> None:
        self.released += 1


async def test_the_upstream_answer_is_released_when_its_iterator_fails_to_close() -> None:
    """Not a CPA port: the end of a stream gives the upstream connection back even when
    closing the body's iterator raises (no iterator of the proxy's does today: an async
    generator whose cleanup fails stands for one), and the failure is not swallowed."""

    async def body() -> AsyncIterator[bytes]:
        try:
            yield b"data: {}\n\n"
            yield b"data: [DONE]\n\n"
        finally:
            raise RuntimeError("cleanup failed")

    chunks = body()
    await chunks.__anext__()  # left at a yield, as a reader that stopped at [DONE] leaves it
    reg = default_registry()
    tr = Passthrough(reg.adapter(Format.OPENAI).stream_decoder(None))
    answer = _Counted(200, {}, b"")
    rest = _Rest(reg, Call(Format.OPENAI, {}, "m", True, {}), tr, chunks, answer)
    with pytest.raises(RuntimeError, match="cleanup failed"):
        await rest.aclose()
    assert answer.released == 1

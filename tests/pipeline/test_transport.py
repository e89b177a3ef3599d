"""The transport seam: a second upstream client plugs in through a provider's
``transport`` without any change to the pipeline, and the proxy serves real clients from
it (here an in-memory transport answering a canned Claude SSE stream)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping

import anthropic
import openai
import orjson

from cliproxy.providers.claude import ClaudeProvider
from cliproxy.providers.transport import UpstreamClient, UpstreamResponse
from tests.e2e.clients import KEY


def _event(name: str, data: dict) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


CANNED = b"".join(
    [
        _event(
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": "msg_mem",
                    "type": "message",
                    "role": "assistant",
                    "model": "claude-sonnet-4-6",
                    "content": [],
                    "stop_reason": None,
                    "usage": {"input_tokens": 7, "output_tokens": 0},
                },
            },
        ),
        _event(
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        ),
        _event(
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hello "}},
        ),
        _event(
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": "from memory"},
            },
        ),
        _event("content_block_stop", {"type": "content_block_stop", "index": 0}),
        _event(
            "message_delta",
            {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 3}},
        ),
        _event("message_stop", {"type": "message_stop"}),
    ]
)


class MemoryResponse:
    def __init__(self, body: bytes, piece: int) -> None:
        self.status = 200
        self.headers: Mapping[str, str] = {"Content-Type": "text/event-stream"}
        self._body, self._piece = body, piece
        self.released = False

    async def read(self) -> bytes:
        return self._body

    async def chunks(self) -> AsyncIterator[bytes]:
        for i in range(0, len(self._body), self._piece):  # split mid-event on purpose
            yield self._body[i : i + self._piece]

    def release(self) -> None:
        self.released = True


class MemoryTransport:
    """An ``UpstreamClient`` that never opens a socket."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, dict[str, str], dict]] = []
        self.answers: list[MemoryResponse] = []

    async def request(
        self, method: str, url: str, *, headers: Mapping[str, str], body: bytes | None, proxy: str = ""
    ) -> UpstreamResponse:
        self.sent.append(
            (method, url, {k.lower(): v for k, v in headers.items()}, orjson.loads(body or b"{}"))
        )
        answer = MemoryResponse(CANNED, 37)
        self.answers.append(answer)
        return answer


CONFIG = f"""
api-keys: ["{KEY}"]
claude-api-key:
  - api-key: "sk-mem"
    base-url: "http://127.0.0.1:9"
    models: [{{name: "claude-sonnet-4-6", alias: "mem-model"}}]
"""


def test_the_memory_transport_fits_the_protocol():
    transport: UpstreamClient = MemoryTransport()  # mypy checks the fit; at runtime, the shape
    assert callable(transport.request)


async def test_a_second_transport_serves_streams_without_touching_the_pipeline(start_proxy, monkeypatch):
    transport = MemoryTransport()
    monkeypatch.setattr(ClaudeProvider, "transport", transport)  # every instance, the proxy's too
    proxy = await start_proxy(CONFIG)

    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        async with client.messages.stream(
            model="mem-model", max_tokens=20, messages=[{"role": "user", "content": "hi"}]
        ) as stream:
            message = await stream.get_final_message()
    assert message.content[0].text == "Hello from memory"  # pass-through, chunk by chunk
    assert message.usage.output_tokens == 3

    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as oai:
        chunks = await oai.chat.completions.create(
            model="mem-model", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        text = "".join([c.choices[0].delta.content or "" async for c in chunks if c.choices])
    assert text == "Hello from memory"  # translated Claude -> OpenAI, event by event

    assert [(m, url.split("?")[0]) for m, url, _, _ in transport.sent] == [
        ("POST", "http://127.0.0.1:9/v1/messages")
    ] * 2
    assert all(h.get("authorization") == "Bearer sk-mem" for _, _, h, _ in transport.sent)
    assert [body["model"] for _, _, _, body in transport.sent] == ["claude-sonnet-4-6"] * 2
    assert all(answer.released for answer in transport.answers)

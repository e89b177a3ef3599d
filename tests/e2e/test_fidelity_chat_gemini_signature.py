"""A Chat Completions client that does not carry Gemini's thought signature, on a Gemini
API model: the signature of the call it made comes back on the next turn.

Gemini 3 signs the first ``functionCall`` of a turn (``thoughtSignature``) and wants it
back in the history; without it Gemini refuses the request, and with the validator-skip
sentinel (what the proxy writes when nothing better is known) it goes on without the
turn's reasoning. A Chat client gets the signature in ``tool_calls[].extra_content.google.
thought_signature`` (Google's OpenAI-compatible spelling), which many Chat clients
(opencode's ai-sdk, any client that rebuilds its tool calls) do not send back. The proxy
keeps the signature per caller API key and call (``providers.gemini_replay``) and puts it
back on the call when the client sent none; a signature the client did send is its own,
another API key never gets it, and a 400 that refuses a signature forgets it.

CPA keeps nothing for a Gemini API key (its Chat translator writes the sentinel when the
client sent no signature): here we differ on purpose, as the Codex, xAI, Claude and
Antigravity replays do for such a client.
"""

from __future__ import annotations

import base64
from typing import Any

import openai
import orjson
import pytest
from aiohttp import web

from tests.e2e.clients import KEY, TOOL_SCHEMA
from tests.e2e.fid_upstream import SIGS, Call, Scene, ScriptedUpstream, config

TOOLS: Any = [{"type": "function", "function": {"name": "bash", "parameters": TOOL_SCHEMA}}]
OTHER = "sk-proxy-other"
SKIP = "skip_thought_signature_validator"


def _field(number: int, payload: bytes) -> bytes:
    return bytes([number << 3 | 2, len(payload)]) + payload


# a Gemini signature of another turn (the client's own, as Gemini made it)
OWN = base64.b64encode(_field(2, _field(1, bytes([0x01, 0x0C, 0x55, 0x66, 0x77, 0x88])))).decode()


class RefusingUpstream(ScriptedUpstream):
    """The scripted upstream, refusing the next Gemini request when told to, as Gemini
    refuses a signature it cannot use."""

    refuse = False

    async def _gemini(self, request: web.Request) -> web.StreamResponse:
        if not self.refuse:
            return await super()._gemini(request)
        self.refuse = False
        await self._body(request)
        error = {"code": 400, "message": "Thought signature is not valid.", "status": "INVALID_ARGUMENT"}
        return web.json_response({"error": error}, status=400)


def _scene() -> Scene:
    return Scene(
        thinking="let me think",
        signed=True,
        calls=[Call("call_A1", "bash", ['{"command":"A"}'])],
        stop="tool",
    )


async def _turn_one(c: openai.AsyncOpenAI, *, stream: bool) -> tuple[str, str, Any]:
    """The first turn: the call's id, arguments and the signature the client was shown."""
    msgs: Any = [{"role": "user", "content": "run A"}]
    if not stream:
        first = await c.chat.completions.create(model="up-gemini", messages=msgs, tools=TOOLS)
        [call] = first.choices[0].message.tool_calls or []
        shown = (call.model_extra or {}).get("extra_content")
        return call.id, call.function.arguments, shown
    ident, args, shown = "", "", None
    async for chunk in await c.chat.completions.create(
        model="up-gemini", messages=msgs, tools=TOOLS, stream=True
    ):
        for delta in chunk.choices[0].delta.tool_calls or [] if chunk.choices else []:
            ident = delta.id or ident
            args += (delta.function.arguments or "") if delta.function else ""
            shown = (delta.model_extra or {}).get("extra_content") or shown
    return ident, args, shown


def _history(ident: str, args: str, signature: str | None = None) -> Any:
    call: dict[str, Any] = {"id": ident, "type": "function", "function": {"name": "bash", "arguments": args}}
    if signature is not None:
        call["extra_content"] = {"google": {"thought_signature": signature}}
    return [
        {"role": "user", "content": "run A"},
        {"role": "assistant", "content": None, "tool_calls": [call]},  # rebuilt: no extra_content
        {"role": "tool", "tool_call_id": ident, "content": "done"},
    ]


def _sent_signature(up: ScriptedUpstream) -> Any:
    model_turn = up.requests[-1]["contents"][1]
    [part] = [p for p in model_turn["parts"] if "functionCall" in p]
    return part.get("thoughtSignature")


def _client(url: str, key: str = KEY) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=url + "/v1", api_key=key, max_retries=0)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
async def test_chat_client_that_drops_the_signature_gets_it_back(start_proxy: Any, stream: bool) -> None:
    async with ScriptedUpstream() as up:
        up.scene = _scene()
        proxy = await start_proxy(config(up.url, KEY))
        async with _client(proxy.url) as c:
            ident, args, shown = await _turn_one(c, stream=stream)
            assert shown == {"google": {"thought_signature": SIGS["gemini"]}}  # what it drops
            await c.chat.completions.create(model="up-gemini", messages=_history(ident, args), tools=TOOLS)
        assert _sent_signature(up) == SIGS["gemini"]


async def test_a_client_that_sends_its_signature_keeps_its_own(start_proxy: Any) -> None:
    async with ScriptedUpstream() as up:
        up.scene = _scene()
        proxy = await start_proxy(config(up.url, KEY))
        async with _client(proxy.url) as c:
            ident, args, _ = await _turn_one(c, stream=False)
            await c.chat.completions.create(
                model="up-gemini", messages=_history(ident, args, OWN), tools=TOOLS
            )
        assert _sent_signature(up) == OWN


async def test_another_api_key_gets_the_sentinel(start_proxy: Any) -> None:
    async with ScriptedUpstream() as up:
        up.scene = _scene()
        two_keys = config(up.url, KEY).replace(f'api-keys: ["{KEY}"]', f'api-keys: ["{KEY}", "{OTHER}"]')
        proxy = await start_proxy(two_keys)
        async with _client(proxy.url) as c, _client(proxy.url, OTHER) as other:
            ident, args, _ = await _turn_one(c, stream=False)
            # the other caller sends the very same history (same call, same id)
            await other.chat.completions.create(
                model="up-gemini", messages=_history(ident, args), tools=TOOLS
            )
            assert _sent_signature(up) == SKIP
            await c.chat.completions.create(model="up-gemini", messages=_history(ident, args), tools=TOOLS)
            assert _sent_signature(up) == SIGS["gemini"]  # (the first caller's is still there)


async def test_a_refused_signature_is_forgotten(start_proxy: Any) -> None:
    async with RefusingUpstream() as up:
        up.scene = _scene()
        proxy = await start_proxy(config(up.url, KEY))
        async with _client(proxy.url) as c:
            ident, args, _ = await _turn_one(c, stream=False)
            up.refuse = True
            with pytest.raises(openai.BadRequestError) as refused:
                await c.chat.completions.create(
                    model="up-gemini", messages=_history(ident, args), tools=TOOLS
                )
            assert "signature" in orjson.dumps(refused.value.body).decode().lower()
            assert _sent_signature(up) == SIGS["gemini"]  # the one refused
            await c.chat.completions.create(model="up-gemini", messages=_history(ident, args), tools=TOOLS)
        assert _sent_signature(up) == SKIP  # forgotten: the request goes as the client made it

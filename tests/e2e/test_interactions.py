"""``POST /v1beta/interactions`` (the Gemini Interactions API) through the proxy into the
fake upstreams of every family, whole and streamed, with the google-genai SDK's
interactions client (raw HTTP where a test looks at the wire itself)."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson
import pytest
from google import genai
from google.genai import _interactions_errors as interactions_errors  # the SDK raises these, unexported
from google.genai import types as gtypes

from cliproxy.formats import Format
from tests.e2e.clients import KEY, TOOL_SCHEMA, ask
from tests.e2e.conftest import MODELS, matrix_config
from tests.e2e.test_providers_more import antigravity  # noqa: F401  (the Antigravity proxy fixture)
from tests.fakes.server import Behavior

TOOL = {"type": "function", "name": "bash", "description": "run a command", "parameters": TOOL_SCHEMA}


_OPEN: list[genai.Client] = []


def _client(base: str, api_version: str | None = "v1beta", **kw: Any) -> genai.Client:
    """An SDK client on the proxy, closed when the test ends (``_close_clients``)."""
    options = gtypes.HttpOptions(base_url=base, api_version=api_version, timeout=20_000, **kw)
    client = genai.Client(api_key=KEY, http_options=options)
    _OPEN.append(client)
    return client


@pytest.fixture(autouse=True)
async def _close_clients():
    yield
    while _OPEN:
        await _OPEN.pop().aio.aclose()


def _text_of(interaction: Any) -> str:
    out = []
    for step in interaction.steps or []:
        if step.type == "model_output":
            out.extend(c.text for c in step.content or [] if getattr(c, "type", "") == "text")
    return "".join(out)


async def _post(base: str, body: dict[str, Any]) -> tuple[int, bytes, str]:
    timeout = aiohttp.ClientTimeout(total=20)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        headers = {"x-goog-api-key": KEY}
        async with session.post(base + "/v1beta/interactions", json=body, headers=headers) as resp:
            return resp.status, await resp.read(), resp.headers.get("Content-Type", "")


def _events(raw: bytes) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for frame in raw.decode().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in frame.strip().splitlines() if ": " in line)
        if "data" in lines:
            data = lines["data"]
            out.append((lines.get("event", ""), data if data == "[DONE]" else orjson.loads(data)))
    return out


@pytest.mark.parametrize("model", list(MODELS))
async def test_sdk_whole_through_every_family(matrix, model):
    client = _client(matrix.url)
    interaction = await client.aio.interactions.create(model=model, input="Say hello")
    assert "Hello from fake" in _text_of(interaction), interaction
    assert interaction.status == "completed"
    assert interaction.usage.total_input_tokens > 0 and interaction.usage.total_output_tokens > 0


@pytest.mark.parametrize("model", list(MODELS))
async def test_sdk_stream_through_every_family(matrix, model):
    client = _client(matrix.url)
    stream = await client.aio.interactions.create(model=model, input="Say hello", stream=True)
    kinds: list[str] = []
    text = []
    async for event in stream:
        kinds.append(event.event_type)
        if event.event_type == "step.delta" and getattr(event.delta, "type", "") == "text":
            text.append(event.delta.text)
    assert kinds[0] == "interaction.created" and "interaction.completed" in kinds, kinds
    assert "Hello from fake" in "".join(text)


STREAMS = pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])


async def _sdk_calls(base: str, model: str, stream: bool, **kw: Any) -> list[tuple[str, str, dict]]:
    """(id, name, arguments) of the function calls the SDK saw."""
    client = _client(base)
    if not stream:
        interaction = await client.aio.interactions.create(model=model, **kw)
        return [(s.id, s.name, s.arguments) for s in interaction.steps or [] if s.type == "function_call"]
    calls: dict[int, list[Any]] = {}
    async for event in await client.aio.interactions.create(model=model, stream=True, **kw):
        if event.event_type == "step.start" and event.step.type == "function_call":
            calls[event.index] = [event.step.id, event.step.name, ""]
        elif event.event_type == "step.delta" and getattr(event.delta, "type", "") == "arguments_delta":
            calls[event.index][2] += event.delta.arguments
    return [(cid, name, orjson.loads(args)) for cid, name, args in calls.values()]


@STREAMS
@pytest.mark.parametrize("model", ["gemini-model", "claude-model", "codex-model", "compat-model"])
async def test_sdk_function_call(matrix, model, stream):
    calls = await _sdk_calls(matrix.url, model, stream, input="FAKE_TOOL please run it", tools=[TOOL])
    assert len(calls) == 1, calls
    call_id, name, args = calls[0]
    assert name == "bash" and "FAKE_TOOL_OK" in args["command"] and call_id


@pytest.mark.parametrize("model", ["gemini-model", "claude-model"])
async def test_function_result_turn_reaches_upstream(matrix, model):
    """A second turn sends the call and its result back: each upstream gets them in its
    own shape, paired by id."""
    body = {
        "model": model,
        "system_instruction": "Be terse.",
        "tools": [TOOL],
        "input": [
            {"role": "user", "content": [{"type": "text", "text": "FAKE_TOOL please run it"}]},
            {"type": "function_call", "id": "call_7", "name": "bash", "arguments": {"command": "ls"}},
            {"type": "function_result", "call_id": "call_7", "name": "bash", "result": "FAKE_TOOL_OK done"},
        ],
        "generation_config": {"max_output_tokens": 64, "temperature": 0.2},
    }
    status, raw, _ = await _post(matrix.url, body)
    assert status == 200, raw
    answer = orjson.loads(raw)
    assert answer["object"] == "interaction" and answer["steps"], answer
    if model == "gemini-model":
        sent = matrix.fakes.gemini.last.json
        assert sent["systemInstruction"]["parts"][0]["text"] == "Be terse."
        assert sent["generationConfig"]["maxOutputTokens"] == 64
        parts = [p for c in sent["contents"] for p in c["parts"]]
        call = next(p["functionCall"] for p in parts if "functionCall" in p)
        result = next(p["functionResponse"] for p in parts if "functionResponse" in p)
        assert call["name"] == "bash" and call["args"] == {"command": "ls"}
        assert result["name"] == "bash"
    else:
        sent = matrix.fakes.claude.last.json
        assert sent["max_tokens"] == 64
        assert "Be terse." in orjson.dumps(sent["system"]).decode()
        blocks = [b for m in sent["messages"] if isinstance(m["content"], list) for b in m["content"]]
        use = next(b for b in blocks if b["type"] == "tool_use")
        res = next(b for b in blocks if b["type"] == "tool_result")
        assert use["input"] == {"command": "ls"} and res["tool_use_id"] == use["id"]


async def test_stream_wire_sequence(matrix):
    """CPA's event order and framing: ``event:`` names, step indices, ``[DONE]`` last."""
    status, raw, ctype = await _post(
        matrix.url, {"model": "claude-model", "input": "Say hello", "stream": True}
    )
    assert status == 200 and ctype.startswith("text/event-stream")
    events = _events(raw)
    names = [name for name, _ in events]
    assert names[:3] == ["interaction.created", "interaction.status_update", "step.start"], names
    assert names[-2:] == ["interaction.completed", "done"] and events[-1][1] == "[DONE]"
    for name, data in events[:-1]:
        assert data["event_type"] == name
    created, completed = events[0][1], events[-2][1]
    assert created["interaction"]["id"] == completed["interaction"]["id"]
    assert created["interaction"]["model"] == completed["interaction"]["model"] != ""
    usage = completed["interaction"]["usage"]
    assert usage["total_input_tokens"] > 0 and usage["total_output_tokens"] > 0


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        ({"input": "hi"}, 400, "exactly one of model or agent"),
        (
            {"model": "gemini-model", "agent": "deep-research", "input": "hi"},
            400,
            "exactly one of model or agent",
        ),
        ({"model": "gemini-model", "input": "hi", "stream": "yes"}, 400, "stream must be a boolean"),
        ({"model": "gemini-model"}, 400, "input"),
        ({"model": "gemini-model", "input": [{"type": "function_result", "result": {}}]}, 400, "call_id"),
        ({"agent": "deep-research-pro-preview", "input": "hi"}, 501, "native interactions"),
    ],
)
async def test_bad_requests_answer_clearly(matrix, body, status, needle):
    """CPA: TestInteractionsRejectsMissingModelAndAgent, TestInteractionsRejectsBothModelAndAgent.
    Deliberate difference (the last case): cliproxy does not route agents yet, so an agent
    request is refused with 501 where CPA runs it on a native Interactions key, choosing the
    credential by a selection model (TestExecuteProtocolWithAuthManagerUsesForcedProvider,
    TestExecuteProtocolWithAuthManagerAgentUsesSelectionModelForAuth,
    TestExecuteProtocolStreamWithAuthManagerAgentUsesSelectionModelForAuth,
    TestProvidersForExecutionForcedGeminiRejectsRouterProvider,
    TestProvidersForExecutionForcedGeminiUsesGeminiProvider,
    TestBuildInteractionsExecutionRequestUsesAgentAuthSelectionModel)."""
    got, raw, _ = await _post(matrix.url, body)
    assert got == status, raw
    err = orjson.loads(raw)["error"]
    assert needle in err["message"]


async def test_models_prefix_is_dropped(matrix):
    """CPA ``normalizeGeminiModelResourceName``: ``models/<name>`` names the model."""
    status, raw, _ = await _post(matrix.url, {"model": "models/gemini-model", "input": "Say hello"})
    assert status == 200, raw
    assert matrix.fakes.gemini.last.path.endswith("/models/gemini-2.5-flash:generateContent")


@STREAMS
async def test_sdk_through_antigravity(antigravity, stream):  # noqa: F811
    """Antigravity (the Gemini family's OAuth upstream): the envelope carries the turn, the
    generation settings reach it, and the answer comes back unwrapped (CPA:
    TestInteractionsAntigravityModelUsesTranslatorBridge)."""
    client = _client(antigravity.url)
    config = {"top_p": 0.8}
    if stream:
        text = []
        async for event in await client.aio.interactions.create(
            model="gemini-3-flash", input="Say hello", stream=True, generation_config=config
        ):
            if event.event_type == "step.delta" and getattr(event.delta, "type", "") == "text":
                text.append(event.delta.text)
        got = "".join(text)
    else:
        got = _text_of(
            await client.aio.interactions.create(
                model="gemini-3-flash", input="Say hello", generation_config=config
            )
        )
    assert "Hello from fake" in got
    envelope = antigravity.fake.last.json
    assert envelope["model"] == "gemini-3-flash"
    assert envelope["request"]["contents"][0]["parts"][0]["text"] == "Say hello"
    assert envelope["request"]["generationConfig"]["topP"] == 0.8
    assert "input" not in envelope["request"]


async def test_thinking_level_reaches_claude_as_thinking(matrix):
    """``generation_config.thinking_level`` becomes the IR's reasoning effort, so a Claude
    upstream gets its own thinking settings (CPA's Claude interactions translator test
    asserts ``thinking.type``)."""
    body = {"model": "claude-model", "input": "Say hello", "generation_config": {"thinking_level": "high"}}
    status, raw, _ = await _post(matrix.url, body)
    assert status == 200, raw
    sent = matrix.fakes.claude.last.json
    assert sent.get("thinking", {}).get("type") in ("enabled", "adaptive"), sent


async def test_thinking_budget_reaches_gemini(matrix):
    body = {"model": "gemini-model", "input": "Say hello", "generation_config": {"thinking_budget": 512}}
    status, raw, _ = await _post(matrix.url, body)
    assert status == 200, raw
    assert matrix.fakes.gemini.last.json["generationConfig"]["thinkingConfig"]["thinkingBudget"] == 512


async def test_upstream_error_reaches_the_sdk(matrix):
    """A Claude 400 for an Interactions client: the status and the upstream's message, in
    CPA's handler error shape (``error.message`` / ``type``), which the SDK raises on."""
    message = "messages.0: refused by the fake for this test"
    matrix.fakes.claude.script(Behavior(status=400, message=message))
    with pytest.raises(interactions_errors.BadRequestError) as caught:
        await _client(matrix.url).aio.interactions.create(model="claude-model", input="hi")
    assert caught.value.status_code == 400 and message in str(caught.value)


async def test_mid_stream_error_is_an_error_event(matrix):
    """The upstream stream breaks after its first frames: the client's stream ends with
    ``event: error`` (CPA ``WriteTerminalError``), not with ``interaction.completed``."""
    matrix.fakes.gemini.script(Behavior(stream_error=500, error_after=1))
    status, raw, _ = await _post(matrix.url, {"model": "gemini-model", "input": "Say hello", "stream": True})
    assert status == 200
    names = [name for name, _ in _events(raw)]
    assert names[-1] == "error" and "interaction.completed" not in names, names
    assert _events(raw)[-1][1]["error"]["message"]


# ---------------------------------------------------------------- interactions-api-key: the native upstream


@pytest.fixture
async def native(start_proxy, fakes):
    extra = f"""
interactions-api-key:
  - api-key: "int-key-1"
    base-url: "{fakes.gemini.base_url}"
    models:
      - name: "gemini-2.5-pro"
        alias: "native-model"
"""
    proxy = await start_proxy(matrix_config(fakes, extra))
    proxy.fakes = fakes
    return proxy


@STREAMS
async def test_native_key_passes_an_interactions_client_through(native, stream):
    """CPA's ``gemini-interactions`` executor: the client's body goes to ``/v1beta/interactions``
    as it came, under the upstream model name, with the key and the client's Api-Revision."""
    client = _client(native.url, headers={"Api-Revision": "2026-05-20"})
    kw: dict[str, Any] = {"model": "native-model", "input": "FAKE_TOOL please run it", "tools": [TOOL]}
    calls = await _sdk_calls(native.url, "native-model", stream, input=kw["input"], tools=[TOOL])
    assert [name for _, name, _ in calls] == ["bash"] and "FAKE_TOOL_OK" in calls[0][2]["command"]
    rec = native.fakes.gemini.last
    assert rec.path == "/v1beta/interactions" and rec.headers["x-goog-api-key"] == "int-key-1"
    assert rec.json["model"] == "gemini-2.5-pro" and rec.json["tools"] == [TOOL]
    assert rec.json.get("stream", False) is stream
    await client.aio.interactions.create(**{**kw, "input": "Say hello"})
    assert native.fakes.gemini.last.headers["Api-Revision"] == "2026-05-20"


@STREAMS
async def test_native_key_serves_a_chat_client_translated(native, stream):
    """A Chat Completions client on a native key: translated to Interactions and back.
    CPA: TestExecuteModelStreamKeepsInteractionsProviderForOpenAIEntry,
    TestAdjustExecutionProvidersKeepsInteractionsProviderForSupportedNativeInteractionsEntries."""
    answer = await ask(Format.OPENAI, native.url, "native-model", "Say hello", stream=stream)
    assert "Hello from fake" in answer.text and answer.input_tokens > 0
    rec = native.fakes.gemini.last
    assert rec.path == "/v1beta/interactions"
    assert rec.json["input"] == [{"type": "user_input", "content": [{"type": "text", "text": "Say hello"}]}]


async def test_error_after_keepalive_commit_is_an_error_event(start_proxy, fakes):
    """``streaming.keepalive-seconds``: the 200 went out with a keep-alive, then the only
    credential answers 400; the client gets ``event: error`` (CPA's WriteTerminalError)."""
    proxy = await start_proxy(matrix_config(fakes, "streaming:\n  keepalive-seconds: 1\n"))
    fakes.claude.script(Behavior(status=400, message="bad input, slowly", delay=1.6))
    status, raw, _ = await _post(proxy.url, {"model": "claude-model", "input": "hi", "stream": True})
    assert status == 200 and raw.startswith(b": keep-alive\n\n")
    event = raw.split(b"\n\n", 1)[1]
    assert event.startswith(b"event: error\ndata: ") and b"bad input, slowly" in event


async def test_sdk_default_api_version_is_served(matrix):
    """google-genai 3.x posts to ``/v1/interactions`` by default (CPA serves only
    ``/v1beta``): the same route answers there, so the SDK works without ``api_version``."""
    client = _client(matrix.url, api_version=None)
    interaction = await client.aio.interactions.create(model="gemini-model", input="Say hello")
    assert "Hello from fake" in _text_of(interaction)


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        (b"{", "json"),
        (b"[1]", "object"),
        (b'{"model": "gemini-model", "input": "hi", "stream": 1}', "boolean"),
    ],
)
async def test_a_body_that_is_not_an_interactions_request_is_a_400(matrix, raw, needle):
    """CPA: TestInteractionsRejectsInvalidJSON, TestInteractionsRejectsNonBooleanStream (and
    TestInteractionsRejectsMissingModelAndAgent, TestInteractionsRejectsBothModelAndAgent in
    ``test_bad_requests_answer_clearly``): a 400 naming the fault, in the error shape the
    Interactions SDK reads, and nothing sent upstream."""
    sent = len(matrix.fakes.gemini.requests)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session:
        async with session.post(
            matrix.url + "/v1beta/interactions",
            data=raw,
            headers={"x-goog-api-key": KEY, "Content-Type": "application/json"},
        ) as resp:
            status, body = resp.status, await resp.read()
    assert status == 400, body
    err = orjson.loads(body)["error"]
    assert needle in err["message"].lower(), err
    assert len(matrix.fakes.gemini.requests) == sent

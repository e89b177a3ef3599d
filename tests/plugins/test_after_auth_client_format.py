"""What an after-auth request interceptor sees and what becomes of its rewrite, when the
client's format is not the upstream's: CPA's conductor hands the interceptor the
request before the executor translates it (``applyRequestAfterAuthInterceptor`` in
sdk/cliproxy/auth/conductor_execution.go: ``Body`` is the request payload, ``Model`` the
attempt's upstream model, ``ToFormat`` the executor's request format), and the executor
translates what the interceptor left."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anthropic
import openai

from tests.e2e.clients import KEY
from tests.plugins.plugin_dir import log_entries, with_log
from tests.plugins.test_flow_python import HEADER, _proxy

PLUGIN = (
    HEADER
    + """
LOG = __LOG__
class Fmt(Plugin, RequestInterceptor, ModelRegistrar, Executor):
    name = "fmt"; version = "1"; author = "t"; github_repository = "https://example.com/fmt"
    identifier = "fmtexec"; input_formats = ["claude"]; output_formats = ["claude"]
    async def register_models(self, req):
        return ModelList(provider="fmtexec", models=[ModelInfo(id="plug-model")])
    async def intercept_after(self, req):
        with open(LOG, "a") as f:
            f.write(json.dumps({"to": req.to_format, "model": req.model,
                                "requested": req.requested_model, "body": json.loads(req.body)}) + "\\n")
        body = json.loads(req.body)
        if "input" in body:  # a Responses compaction: seen, left alone
            return None
        if "max_tokens" in body:  # a Claude client's request: rewritten as Claude
            body["system"] = "SYSTEM-FROM-PLUGIN"
            body["messages"] = [{"role": "user", "content": "after"}]
            del body["model"]  # CPA keeps the request's model apart: a body may leave it out
        else:  # a Chat Completions client's request: rewritten as Chat Completions
            body["messages"] = [{"role": "system", "content": "SYSTEM-FROM-PLUGIN"},
                                {"role": "user", "content": "after"}]
        return InterceptResult(body=json.dumps(body).encode())
    async def execute(self, req):
        got = json.loads(req.payload)  # what the executor got, told back as the answer
        msg = {"id": "msg_p", "type": "message", "role": "assistant", "model": req.model,
               "content": [{"type": "text", "text": json.dumps(got)}],
               "stop_reason": "end_turn", "stop_sequence": None, "usage": {"input_tokens": 1, "output_tokens": 2}}
        return ExecutorResponse(payload=json.dumps(msg).encode())
plugin = Fmt()
"""
)


async def _fmt_proxy(start_proxy, fakes, tmp_path: Path) -> tuple[Any, Path]:
    log = tmp_path / "after.jsonl"
    return await _proxy(start_proxy, fakes, tmp_path, {"fmt": with_log(PLUGIN, log)}, {"fmt": {}}), log


def _text(content: Any) -> str:
    """A Chat message's text, a string or parts."""
    return content if isinstance(content, str) else "".join(p.get("text", "") for p in content)


async def test_after_auth_interceptor_sees_the_clients_format_and_its_rewrite_is_translated(
    start_proxy, fakes, tmp_path
):
    """CPA: TestHandlerRequestInterceptorAfterAuthRewritesExecutorRequest (its facts for a
    translated request). A Messages client on an OpenAI-compatible model: the after-auth
    interceptor gets the Claude-format body (``max_tokens``, top-level ``system``), told
    ``ToFormat`` openai and the upstream model name; the Claude-format body it returns is
    what the upstream gets, translated (its ``system`` as the Chat system message), under
    the request's model though the new body names none (before, a 400). A token
    count, counted here for this upstream, passes the chain in the client's format too."""
    proxy, log = await _fmt_proxy(start_proxy, fakes, tmp_path)
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        await client.messages.create(
            model="compat-model",
            max_tokens=20,
            system="client-system",
            messages=[{"role": "user", "content": "hi"}],
        )
        await client.messages.count_tokens(model="compat-model", messages=[{"role": "user", "content": "hi"}])
    generation, count = log_entries(log)
    assert (generation["to"], generation["model"], generation["requested"]) == (
        "openai",
        "gpt-4o-mini",
        "compat-model",
    )
    body = generation["body"]
    assert body["max_tokens"] == 20 and body["system"] == "client-system" and body["model"] == "compat-model"
    assert body["messages"] == [{"role": "user", "content": "hi"}]
    sent = fakes.openai.last.json
    assert [(m["role"], _text(m["content"])) for m in sent["messages"]] == [
        ("system", "SYSTEM-FROM-PLUGIN"),
        ("user", "after"),
    ]
    assert sent["model"] == "gpt-4o-mini"
    assert count["to"] == "openai" and count["body"]["messages"] == [{"role": "user", "content": "hi"}]
    assert "max_tokens" not in count["body"] and "model" in count["body"]


async def test_a_plugin_credentials_executor_runs_after_the_after_auth_chain(start_proxy, fakes, tmp_path):
    """CPA runs the after-auth chain before every executor the conductor picks, a plugin's
    too (``ToFormat`` its input format, here ``claude``): a Chat client's request on a
    model only a plugin executor serves reaches the interceptor as Chat Completions and
    the executor as the Claude translation of the interceptor's rewrite."""
    proxy, log = await _fmt_proxy(start_proxy, fakes, tmp_path)
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        reply = await client.chat.completions.create(
            model="plug-model", messages=[{"role": "user", "content": "hi"}]
        )
    (after,) = log_entries(log)
    assert (after["to"], after["model"], after["requested"]) == ("claude", "plug-model", "plug-model")
    assert after["body"]["messages"] == [{"role": "user", "content": "hi"}]
    got = json.loads(reply.choices[0].message.content or "")
    system = got["system"] if isinstance(got["system"], str) else got["system"][0]["text"]
    assert system == "SYSTEM-FROM-PLUGIN"
    assert [m["role"] for m in got["messages"]] == ["user"]
    assert fakes.openai.requests == []


async def test_a_compaction_passes_the_after_auth_chain(start_proxy, fakes, tmp_path):
    """CPA runs the after-auth chain for /responses/compact too (``ToFormat``
    openai-response, its ``requestToFormat``): the interceptor sees the compaction request
    with the upstream model name. Before, only generations and counts passed it."""
    proxy, log = await _fmt_proxy(start_proxy, fakes, tmp_path)
    history = [{"type": "message", "role": "user", "content": "history"}]
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        await client.responses.compact(model="codex-model", input=history)  # type: ignore[arg-type]
    (after,) = log_entries(log)
    assert (after["to"], after["model"], after["requested"]) == ("openai-response", "gpt-5.4", "codex-model")
    assert after["body"]["input"] == history
    assert fakes.responses.last.path.endswith("/responses/compact")

"""What a Responses client's request looks like on the Codex wire, through the proxy (CPA
codex_openai-responses_request_test.go: TestConvertOpenAIResponsesRequestToCodex_FiltersPromptCacheRetention,
..._StripsNestedPromptCacheBreakpoint and the field filter the conversion runs: sampling
and token limits, truncation, prompt_cache_options/retention, user, context_management
and a service_tier other than priority are not sent; system input items go as developer;
stream/store/parallel_tool_calls/include are forced). The translate-level ports hold the
same facts; this pins that the proxy's Responses -> Codex path (a fast path where the
client's bytes would otherwise pass) applies them."""

from __future__ import annotations

from typing import Any

import openai

from tests.e2e.clients import KEY

CODEX = (
    'codex-api-key:\n  - api-key: "sk-codex-1"\n    base-url: "{base}"\n'
    '    models: [{{name: "gpt-5.4", alias: "codex-model"}}]\n'
)


async def test_responses_fields_codex_refuses_are_not_sent(start_proxy: Any, fakes: Any) -> None:
    base = f"{fakes.responses.base_url}/backend-api/codex"
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\n' + CODEX.format(base=base))
    body: dict[str, Any] = {
        "model": "codex-model",
        "stream": False,
        "store": True,
        "parallel_tool_calls": False,
        "include": ["message.output_text.logprobs"],
        "max_output_tokens": 100,
        "temperature": 0.2,
        "top_p": 0.9,
        "truncation": "auto",
        "prompt_cache_retention": "24h",
        "prompt_cache_options": {"mode": "x"},
        "user": "u-1",
        "context_management": [{"type": "compaction"}],
        "service_tier": "flex",
        "input": [
            {"type": "message", "role": "system", "content": [{"type": "input_text", "text": "rules"}]},
            {
                "type": "message",
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "hello", "prompt_cache_breakpoint": {"type": "x"}}
                ],
            },
        ],
    }
    model, stream = body.pop("model"), body.pop("stream")
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        answer = await client.responses.create(model=model, stream=stream, extra_body=body)
    assert answer.output_text
    sent = fakes.responses.last.json
    for key in (
        "max_output_tokens",
        "temperature",
        "top_p",
        "truncation",
        "prompt_cache_retention",
        "prompt_cache_options",
        "user",
        "context_management",
        "service_tier",
    ):
        assert key not in sent, key
    assert (sent["stream"], sent["store"], sent["parallel_tool_calls"]) == (True, False, True)
    assert sent["include"] == ["reasoning.encrypted_content"]
    assert [i.get("role") for i in sent["input"]] == ["developer", "user"]
    assert "prompt_cache_breakpoint" not in sent["input"][1]["content"][0]

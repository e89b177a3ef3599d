"""A Responses client's forced hosted tool (``tool_choice: {"type": "web_search"}`` and the
like) on a Claude, Gemini or Chat Completions upstream.

Those upstreams cannot be told to call a Responses hosted tool, so CPA leaves the choice out
(``ConvertResponsesToolChoiceToGemini`` knows no such type, the Claude translator sets a
choice for function and custom types only). Before, the proxy read the choice as
``required``: the upstream was told to call *some* tool (``tool_choice`` ``any`` /
``required``, ``functionCallingConfig.mode`` ``ANY``), so a request that declared a function
beside the hosted tool forced a call of that function, which the client never asked for.
"""

from __future__ import annotations

from typing import Any

import openai
import pytest

from tests.e2e.clients import KEY, TOOL_SCHEMA

BASH = {"type": "function", "name": "bash", "parameters": TOOL_SCHEMA, "strict": False}


def _forced_call(body: dict[str, Any], model: str) -> Any:
    """What the upstream body says about forcing a tool call (None: nothing)."""
    if model == "gemini-model":
        return body.get("toolConfig")
    return body.get("tool_choice")


@pytest.mark.parametrize(
    ("model", "fake"),
    [("claude-model", "claude"), ("gemini-model", "gemini"), ("compat-model", "openai")],
)
@pytest.mark.parametrize(
    "hosted",
    [{"type": "web_search"}, {"type": "file_search", "vector_store_ids": ["vs_1"]}],
    ids=["web_search", "file_search"],
)
async def test_a_forced_hosted_tool_does_not_force_a_function(
    matrix: Any, model: str, fake: str, hosted: dict[str, Any]
) -> None:
    """No CPA test pins this shape; CPA's code (``ConvertResponsesToolChoiceToGemini``, the
    Claude Responses translator) reads only mode strings and function / custom choices, and
    any other choice type sets nothing. On a Chat upstream CPA copies the raw choice, which a
    Chat API refuses without the hosted tool (dropped there): a deliberate difference, the
    choice is left out."""
    async with openai.AsyncOpenAI(base_url=matrix.url + "/v1", api_key=KEY, max_retries=0) as client:
        done = await client.responses.create(
            model=model,
            input="Say hi",
            tools=[BASH, hosted],  # type: ignore[list-item]
            tool_choice={"type": hosted["type"]},  # type: ignore[arg-type,misc]
        )
    assert done.status == "completed"
    body = getattr(matrix.fakes, fake).last.json
    assert _forced_call(body, model) is None, body


async def test_the_choice_still_reaches_a_responses_upstream(matrix: Any) -> None:
    """A Codex upstream can call the hosted tool: the forced choice goes on as sent."""
    async with openai.AsyncOpenAI(base_url=matrix.url + "/v1", api_key=KEY, max_retries=0) as client:
        await client.responses.create(
            model="codex-model",
            input="Say hi",
            tools=[BASH, {"type": "web_search"}],  # type: ignore[list-item]
            tool_choice={"type": "web_search"},  # type: ignore[arg-type,typeddict-item]
        )
    assert matrix.fakes.responses.last.json["tool_choice"] == {"type": "web_search"}

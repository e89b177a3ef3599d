"""The Codex (ChatGPT backend) dialect of a Responses request body.

Facts from CPA's Codex translator and executor: the backend wants ``instructions``
(a string, ``""`` when none), ``store: false``, ``stream: true``,
``include`` exactly ``["reasoning.encrypted_content"]``, ``parallel_tool_calls: true``,
input as a list with ``developer`` instead of ``system`` roles, ``web_search`` instead of
the preview aliases (in ``tools``, ``tool_choice`` and ``tool_choice.tools``); it rejects
the fields in ``CODEX_DROPPED_FIELDS``, ``service_tier`` other than ``priority``,
``stream_options`` other than ``reasoning_summary_delivery``, and per-part
``prompt_cache_breakpoint``.
"""

from __future__ import annotations

from typing import Any

from cliproxy.formats.openai_responses import CODEX_DROPPED_FIELDS, CODEX_INCLUDE, CODEX_TOOL_ALIASES

__all__ = ["to_codex"]


def to_codex(body: dict[str, Any], own: bool = True) -> dict[str, Any]:
    """Adjust a Responses body (built fresh, owned by the caller) in place. ``own``: the
    client spoke Responses, whose ``parallel_tool_calls`` CPA always turns on; from other
    formats it is on unless the client turned it off (Claude ``disable_parallel_tool_use``)."""
    inp = body.get("input")
    if isinstance(inp, str):
        body["input"] = [
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": inp}]}
        ]
    elif inp is None:
        body["input"] = []
    if not isinstance(body.get("instructions"), str):
        body["instructions"] = ""
    body["stream"] = True
    body["store"] = False
    body["include"] = [CODEX_INCLUDE]
    for key in CODEX_DROPPED_FIELDS:
        body.pop(key, None)
    if body.get("service_tier") not in (None, "priority"):
        del body["service_tier"]
    _stream_options(body)
    if own or body.get("parallel_tool_calls") is not False:
        body["parallel_tool_calls"] = True
    _aliases(body)
    _clean_input(body["input"])
    return body


def _aliases(body: dict[str, Any]) -> None:
    """The preview names of built-in tools -> the names the backend knows."""
    tools = body.get("tools")
    if isinstance(tools, list):
        body["tools"] = [_alias(t) for t in tools]
    tc = body.get("tool_choice")
    if isinstance(tc, dict):
        tc = _alias(tc)
        if isinstance(tc.get("tools"), list):
            tc = {**tc, "tools": [_alias(t) for t in tc["tools"]]}
        body["tool_choice"] = tc


def _alias(tool: Any) -> Any:
    if isinstance(tool, dict):
        alias = CODEX_TOOL_ALIASES.get(tool.get("type", ""))
        if alias:
            return {**tool, "type": alias}
    return tool


def _stream_options(body: dict[str, Any]) -> None:
    so = body.pop("stream_options", None)
    if isinstance(so, dict) and "reasoning_summary_delivery" in so:
        body["stream_options"] = {"reasoning_summary_delivery": so["reasoning_summary_delivery"]}


def _clean_input(items: list[Any]) -> None:
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            continue
        if item.get("role") == "system":
            item = items[i] = {**item, "role": "developer"}
        content = item.get("content")
        if isinstance(content, list) and any(
            isinstance(p, dict) and "prompt_cache_breakpoint" in p for p in content
        ):
            items[i] = {
                **item,
                "content": [
                    {k: v for k, v in p.items() if k != "prompt_cache_breakpoint"}
                    if isinstance(p, dict)
                    else p
                    for p in content
                ],
            }

"""The Codex (ChatGPT backend) dialect of a Responses request body.

Facts from CPA's Codex translator and executor: the backend wants ``instructions``
(a string, ``""`` when none), ``store: false``, ``stream: true``,
``include`` with ``reasoning.encrypted_content``, input as a list with ``developer``
instead of ``system`` roles, ``web_search`` instead of the preview aliases; it rejects
the fields in ``CODEX_DROPPED_FIELDS``, ``service_tier`` other than ``priority``,
``stream_options`` other than ``reasoning_summary_delivery``, and per-part
``prompt_cache_breakpoint``. ``parallel_tool_calls`` is only sent with tools.
"""

from __future__ import annotations

from typing import Any

from cliproxy.formats.openai_responses import CODEX_DROPPED_FIELDS, CODEX_INCLUDE

__all__ = ["to_codex"]


def to_codex(body: dict[str, Any]) -> dict[str, Any]:
    """Adjust a Responses body (built fresh, owned by the caller) in place."""
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
    include = body.get("include")
    include = list(include) if isinstance(include, list) else []
    if CODEX_INCLUDE not in include:
        include.append(CODEX_INCLUDE)
    body["include"] = include
    for key in CODEX_DROPPED_FIELDS:
        body.pop(key, None)
    if body.get("service_tier") not in (None, "priority"):
        del body["service_tier"]
    _stream_options(body)
    if body.get("tools"):
        body.setdefault("parallel_tool_calls", True)
    else:
        body.pop("parallel_tool_calls", None)
    _clean_input(body["input"])
    return body


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

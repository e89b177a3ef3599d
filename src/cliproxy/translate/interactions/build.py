"""IR -> Interactions request (the body an Interactions upstream takes).

After CPA ``ConvertGeminiRequestToInteractions``: ``model``, ``input`` as a list of steps
(``user_input`` with content, ``model_output``, ``thought`` with its Gemini signature,
``function_call``, ``function_result``), ``system_instruction`` as text,
``generation_config`` in snake case (``thinking_level``, ``thinking_summaries``), and
function tools as ``{"type": "function", ...}``. Gemini built-in tools go back in the
Interactions spelling (``google_search`` ...).
"""

from __future__ import annotations

from typing import Any

from cliproxy.translate import ir
from cliproxy.translate.interactions.parse import FAMILY
from cliproxy.translate.interactions.response import args_object, call_step, media_content
from cliproxy.translate.source_only import KEY as SOURCE_ONLY
from cliproxy.translate.source_only import refuse
from cliproxy.translate.summary import summary_intent

__all__ = ["build_request"]


def _content(block: ir.Block) -> dict[str, Any] | None:
    if isinstance(block, ir.Text):
        return {"type": "text", "text": block.text}
    if isinstance(block, ir.MEDIA) and block.media_type:
        return media_content(block.media_type, block.data, block.url)
    return None


def _result_value(result: ir.ToolResult) -> Any:
    texts = [b.text for b in result.content if isinstance(b, ir.Text)]
    text = "".join(texts)
    value = args_object(text) if text.strip().startswith("{") else None
    return value if value else text  # the API takes a plain string result (CPA sends it so)


def _call_signature(block: ir.Thinking) -> str | None:
    """The signature of a call a client carried in a thinking block before it (CPA's
    ``next:function`` carrier, as the proxy hands Gemini call signatures to Claude clients),
    or None for any other thinking block."""
    if block.family == FAMILY and block.signature and not block.text and block.anchor == "next:function":
        return block.signature
    return None


def _steps(msg: ir.Message) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = []
    role_kind = "model_output" if msg.role == "assistant" else "user_input"
    pending: str | None = None  # a carried call signature, for the call right after it
    for block in msg.content:
        if isinstance(block, ir.Thinking) and (carried := _call_signature(block)) is not None:
            pending = carried
            continue
        if isinstance(block, ir.ToolCall):
            call = call_step(block)
            if pending is not None and "signature" not in call:
                call["signature"] = pending
            pending = None
            steps.append(call)
            continue
        pending = None
        if isinstance(block, ir.ToolResult):
            step: dict[str, Any] = {
                "type": "function_result",
                "call_id": block.call_id,
                "result": _result_value(block),
            }
            if block.name:
                step["name"] = block.name
            if block.is_error:
                step["is_error"] = True
            steps.append(step)
        elif isinstance(block, ir.Thinking):
            # ``is-compat`` keeps any thought (translate.compat), with only a Gemini signature
            if not block.compat and (block.family != FAMILY or not (block.text or block.signature)):
                continue
            thought: dict[str, Any] = {
                "type": "thought",
                "summary": [{"type": "text", "text": block.text}] if block.text else [],
            }
            if block.signature and block.family == FAMILY:
                thought["signature"] = block.signature
            steps.append(thought)
        elif (item := _content(block)) is not None:
            if steps and steps[-1]["type"] == role_kind:
                steps[-1]["content"].append(item)
            else:
                steps.append({"type": role_kind, "content": [item]})
    return steps


def _generation(req: ir.Request) -> dict[str, Any]:
    cfg: dict[str, Any] = {}
    for key, value in (
        ("temperature", req.temperature),
        ("top_p", req.top_p),
        ("top_k", req.top_k),
        ("max_output_tokens", req.max_tokens),
        ("seed", req.seed),
        ("stop_sequences", req.stop),
        ("presence_penalty", req.presence_penalty),
        ("frequency_penalty", req.frequency_penalty),
    ):
        if value is not None:
            cfg[key] = value
    reasoning = req.reasoning or {}
    if req.source == "claude":
        _claude_thinking(reasoning, cfg)
    elif isinstance(reasoning.get("effort"), str) and reasoning["effort"] not in ("none", "auto"):
        cfg["thinking_level"] = reasoning["effort"]
    show = summary_intent(reasoning, req.source)  # any format's summary intent (CPA)
    if show is not None:  # (Interactions has only auto and none: a detail becomes auto)
        cfg["thinking_summaries"] = "auto" if show else "none"
    if isinstance(req.tool_choice, str):
        cfg["tool_choice"] = "any" if req.tool_choice == "required" else req.tool_choice
    elif isinstance(req.tool_choice, dict) and isinstance(req.tool_choice.get("name"), str):
        cfg["tool_choice"] = {"allowed_tools": {"mode": "validated", "tools": [req.tool_choice["name"]]}}
    return cfg


def _claude_thinking(reasoning: dict[str, Any], cfg: dict[str, Any]) -> None:
    """A Claude client's thinking as CPA's Claude-to-Interactions translator writes it (the
    thinking step then reads and fits it): disabled is level ``none``, enabled with a budget
    is ``thinking_config.thinking_budget``, enabled alone level ``high``, adaptive level
    ``auto`` (type ``auto`` writes nothing); an ``output_config.effort`` is the level,
    lower-cased, whatever the type."""
    mode = reasoning.get("mode")
    if mode == "disabled":
        cfg["thinking_level"] = "none"
    elif mode == "enabled":
        if "budget" in reasoning:
            cfg["thinking_config"] = {"thinking_budget": reasoning["budget"]}
        else:
            cfg["thinking_level"] = "high"
    elif mode == "adaptive":
        cfg["thinking_level"] = "auto"
    effort = reasoning.get("effort")
    if isinstance(effort, str) and (effort := effort.strip().lower()):
        cfg["thinking_level"] = effort


def _tools(tools: list[ir.Tool]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for tool in tools:
        if tool.kind == "builtin":
            raw = (tool.extras or {}).get("raw")
            if (tool.extras or {}).get("family") == FAMILY and isinstance(raw, dict) and len(raw) == 1:
                key, value = next(iter(raw.items()))
                snake = "".join("_" + c.lower() if c.isupper() else c for c in key)
                out.append({"type": snake, **(value if isinstance(value, dict) else {})})
            continue
        fn: dict[str, Any] = {"type": "function", "name": tool.name}
        if tool.description:
            fn["description"] = tool.description
        fn["parameters"] = tool.parameters or {"type": "object", "properties": {}}
        out.append(fn)
    return out


def build_request(req: ir.Request) -> dict[str, Any]:
    if SOURCE_ONLY in req.extras:
        refuse(req, "Interactions")
    out: dict[str, Any] = {"model": req.model}
    system = [
        b.text
        for m in req.messages
        if m.role in ("system", "developer")
        for b in m.content
        if isinstance(b, ir.Text)
    ]
    if system:
        out["system_instruction"] = "\n".join(system)
    steps: list[dict[str, Any]] = []
    for msg in req.messages:
        if msg.role not in ("system", "developer"):
            steps.extend(_steps(msg))
    out["input"] = steps
    if cfg := _generation(req):
        out["generation_config"] = cfg
    if req.tools:
        out["tools"] = _tools(req.tools)
    if req.stream:
        out["stream"] = True
    if req.source == "interactions":
        for key in ("response_modalities", "response_format", "response_mime_type", "service_tier"):
            if key in req.extras:
                out[key] = req.extras[key]
        if isinstance(prev := req.extras.get("_previous_interaction_id"), str):
            out["previous_interaction_id"] = prev
    return out

"""Gemini ``generationConfig`` and ``toolConfig`` <-> IR request fields.

Private request extras used for an exact round trip: ``_gen`` (generationConfig keys
with no IR field), ``_schema_key`` (``responseSchema`` or ``responseJsonSchema``),
``_schema_raw`` (the response schema as sent, when other formats get it as JSON Schema),
``_thinking_level`` (a level not written in upper case), ``_thinking_extra``,
``_fcc`` (the client's functionCallingConfig as sent) and ``_tool_config``.
"""

from __future__ import annotations

from typing import Any

from cliproxy.errors import RequestError
from cliproxy.translate import ir
from cliproxy.translate.gemini.names import NameMap
from cliproxy.translate.gemini.parts import FAMILY
from cliproxy.translate.gemini.tools import as_json_schema
from cliproxy.translate.gemini.wire import as_dict, as_list, camel, take
from cliproxy.translate.summary import summary_intent

__all__ = [
    "build_generation_config",
    "build_tool_config",
    "owns_body",
    "read_generation_config",
    "read_tool_config",
]

# isinstance tuples made once (``A | B`` in a test builds a union each time it runs)
_NUMBERS = (int, float)

# generationConfig key -> IR field, and whether the value is an integer
_SCALARS: tuple[tuple[str, str, bool], ...] = (
    ("temperature", "temperature", False),
    ("topP", "top_p", False),
    ("topK", "top_k", True),
    ("maxOutputTokens", "max_tokens", True),
    ("candidateCount", "n", True),
    ("seed", "seed", True),
    ("presencePenalty", "presence_penalty", False),
    ("frequencyPenalty", "frequency_penalty", False),
)


def _number(value: Any, key: str, integer: bool) -> Any:
    ok = isinstance(value, int) if integer else isinstance(value, _NUMBERS)
    if not ok or isinstance(value, bool):
        kind = "an integer" if integer else "a number"
        raise RequestError(f"generationConfig.{key}: expected {kind}", param=f"generationConfig.{key}")
    return value


def _schema_format(req: ir.Request, schema: Any, key: str) -> None:
    # JSON Schema for other formats; a Gemini upstream gets the schema as sent
    converted = as_json_schema(schema, proto=key == "responseSchema")
    req.response_format = {"type": "json_schema", "schema": converted}
    req.extras["_schema_key"] = key
    if converted is not schema:
        req.extras["_schema_raw"] = schema


def _read_format(rest: dict[str, Any], req: ir.Request) -> None:
    mime = take(rest, "responseMimeType")
    json_schema = take(rest, "responseJsonSchema")
    schema = take(rest, "responseSchema")
    if mime == "application/json":
        if json_schema is not None:
            _schema_format(req, json_schema, "responseJsonSchema")
            json_schema = None
        elif schema is not None:
            _schema_format(req, schema, "responseSchema")
            schema = None
        else:
            req.response_format = {"type": "json_object"}
        mime = None
    for key, value in (
        ("responseMimeType", mime),
        ("responseJsonSchema", json_schema),
        ("responseSchema", schema),
    ):
        if value is not None:
            rest[key] = value


def _read_thinking(tc: dict[str, Any], req: ir.Request) -> None:
    rest = dict(tc)
    reasoning: dict[str, Any] = {}
    include = take(rest, "includeThoughts")
    if include is not None:
        reasoning["include_thoughts"] = include
    budget = take(rest, "thinkingBudget")
    if budget is not None:
        reasoning["budget"] = _number(budget, "thinkingConfig.thinkingBudget", True)
    level = take(rest, "thinkingLevel")
    if level is not None:
        if not isinstance(level, str):
            raise RequestError(
                "generationConfig.thinkingConfig.thinkingLevel: expected a string",
                param="generationConfig.thinkingConfig.thinkingLevel",
            )
        reasoning["effort"] = level.lower()
        if level != level.upper():
            req.extras["_thinking_level"] = level
    if rest:
        req.extras["_thinking_extra"] = {camel(k): v for k, v in rest.items()}
    req.reasoning = reasoning


def read_generation_config(gen: dict[str, Any], req: ir.Request) -> None:
    rest = dict(gen)
    for key, attr, integer in _SCALARS:
        value = take(rest, key)
        if value is not None:
            setattr(req, attr, _number(value, key, integer))
    stop = take(rest, "stopSequences")
    if stop is not None:
        stop = as_list(stop, "generationConfig.stopSequences")
        if not all(isinstance(s, str) for s in stop):
            raise RequestError("generationConfig.stopSequences: expected strings", param="generationConfig")
        req.stop = stop
    _read_format(rest, req)
    tc = take(rest, "thinkingConfig")
    if tc is not None:
        _read_thinking(as_dict(tc, "generationConfig.thinkingConfig"), req)
    req.extras["_gen"] = {camel(k): v for k, v in rest.items()}


_MODES = {"AUTO": "auto", "NONE": "none", "VALIDATED": "auto"}


def read_tool_config(tc: dict[str, Any], req: ir.Request) -> None:
    rest = dict(tc)
    fcc = take(rest, "functionCallingConfig")
    if fcc is not None:
        fcc = {camel(k): v for k, v in as_dict(fcc, "toolConfig.functionCallingConfig").items()}
        req.extras["_fcc"] = fcc
        mode = fcc.get("mode")
        mode = mode.upper() if isinstance(mode, str) else "AUTO"
        allowed = fcc.get("allowedFunctionNames")
        if mode == "ANY" and isinstance(allowed, list) and len(allowed) == 1:
            req.tool_choice = {"name": allowed[0]}
        elif mode == "ANY":
            req.tool_choice = "required"
        else:
            req.tool_choice = _MODES.get(mode, "auto")
    req.extras["_tool_config"] = {camel(k): v for k, v in rest.items()}


# --------------------------------------------------------------------------- building


def _native_thinking(reasoning: dict[str, Any], extras: dict[str, Any]) -> dict[str, Any]:
    tc: dict[str, Any] = {}
    if "include_thoughts" in reasoning:
        tc["includeThoughts"] = reasoning["include_thoughts"]
    if reasoning.get("budget") is not None:
        tc["thinkingBudget"] = reasoning["budget"]
    effort = reasoning.get("effort")
    if effort:
        raw = extras.get("_thinking_level")
        tc["thinkingLevel"] = raw if raw and raw.lower() == effort else effort.upper()
    tc.update(extras.get("_thinking_extra") or {})
    return tc


def _foreign_thinking(reasoning: dict[str, Any], source: str = "") -> dict[str, Any] | None:
    if source == "claude":
        return claude_thinking(reasoning)
    tc: dict[str, Any] = {}
    budget, effort, mode = reasoning.get("budget"), reasoning.get("effort"), reasoning.get("mode")
    off = budget == 0 or effort == "none" or mode == "disabled"
    if budget is not None:
        tc["thinkingBudget"] = budget
    elif off:
        tc["thinkingBudget"] = 0
    elif effort == "auto":
        tc["thinkingBudget"] = -1
    elif effort:
        tc["thinkingLevel"] = effort.upper()
    elif mode == "adaptive" or mode == "auto":  # no effort: the model's most, fitted later (CPA)
        tc["thinkingLevel"] = "HIGH"
    elif mode == "enabled":
        tc["thinkingBudget"] = -1
    # only the client's stated summary intent (CPA): unsaid, Google's default stands (no
    # thoughts), as for a Claude client without thinking.display; a Chat effort says "show"
    include = summary_intent(reasoning, source)
    if include is not None:
        tc["includeThoughts"] = include
    return tc or None


def claude_thinking(reasoning: dict[str, Any]) -> dict[str, Any] | None:
    """A Claude client's thinking as CPA's Claude-to-Gemini translator writes it (what a
    plugin executor without a thinking applier reads; the thinking step fits it on the
    built-in routes): enabled with a numeric budget is that ``thinkingBudget``; adaptive
    (or auto) is its effort lower-cased as ``thinkingLevel``, else level ``high`` (a
    plugin executor puts the model's largest budget there); ``includeThoughts`` only from
    ``thinking.display``. Disabled thinking, enabled thinking without a budget and an
    effort without thinking write nothing."""
    tc: dict[str, Any] = {}
    mode, budget = reasoning.get("mode"), reasoning.get("budget")
    if mode == "enabled" and (type(budget) is int or type(budget) is float):  # a number, not a bool
        tc["thinkingBudget"] = int(budget)
    elif mode == "adaptive" or mode == "auto":
        effort = reasoning.get("effort")
        tc["thinkingLevel"] = (effort.strip().lower() if isinstance(effort, str) else "") or "high"
    include = summary_intent(reasoning, "claude")
    if include is not None:
        tc["includeThoughts"] = include
    return tc or None


def _response_format(req: ir.Request, native: bool, out: dict[str, Any]) -> None:
    rf = req.response_format
    if not rf:
        return
    kind = rf.get("type")
    if kind == "json_schema" and rf.get("schema") is not None:
        out["responseMimeType"] = "application/json"
        key = req.extras.get("_schema_key", "responseJsonSchema") if native else "responseJsonSchema"
        out[key] = req.extras.get("_schema_raw", rf["schema"]) if native else rf["schema"]
    elif kind in ("json_object", "json_schema"):
        out["responseMimeType"] = "application/json"


def owns_body(req: ir.Request) -> bool:
    """``Adapter.owns_body``: another format's request is written into new objects (by
    ``build.build_request``), but for a response schema: ``responseJsonSchema`` here is
    the request's own."""
    return req.source != FAMILY and not req.response_format


def build_generation_config(req: ir.Request, native: bool) -> dict[str, Any] | None:
    out: dict[str, Any] = {}
    # the _SCALARS fields, read one by one (no getattr per field)
    if req.temperature is not None:
        out["temperature"] = req.temperature
    if req.top_p is not None:
        out["topP"] = req.top_p
    if req.top_k is not None:
        out["topK"] = req.top_k
    if req.max_tokens is not None:
        out["maxOutputTokens"] = req.max_tokens
    if req.n is not None and (native or req.n != 1):
        out["candidateCount"] = req.n
    if req.seed is not None:
        out["seed"] = req.seed
    if req.presence_penalty is not None:
        out["presencePenalty"] = req.presence_penalty
    if req.frequency_penalty is not None:
        out["frequencyPenalty"] = req.frequency_penalty
    if req.stop is not None and (native or req.stop):
        out["stopSequences"] = req.stop
    if req.response_format:
        _response_format(req, native, out)
    if req.reasoning is not None:
        tc = (
            _native_thinking(req.reasoning, req.extras)
            if native
            else _foreign_thinking(req.reasoning, req.source)
        )
        if tc is not None:
            out["thinkingConfig"] = tc
    if native and "_gen" in req.extras:  # the client sent a generationConfig, maybe empty
        out.update(req.extras["_gen"])
        return out
    return out or None


def build_tool_config(req: ir.Request, names: NameMap, native: bool) -> dict[str, Any] | None:
    if native:
        if "_fcc" not in req.extras and "_tool_config" not in req.extras:
            return None
        out = dict(req.extras.get("_tool_config") or {})
        if "_fcc" in req.extras:
            out["functionCallingConfig"] = req.extras["_fcc"]
        return out
    choice = req.tool_choice
    if isinstance(choice, dict) and isinstance(choice.get("name"), str):
        return {
            "functionCallingConfig": {
                "mode": "ANY",
                "allowedFunctionNames": [names.to_gemini(choice["name"])],
            }
        }
    mode = (
        {"auto": "AUTO", "required": "ANY", "none": "NONE"}.get(choice) if isinstance(choice, str) else None
    )
    return {"functionCallingConfig": {"mode": mode}} if mode else None

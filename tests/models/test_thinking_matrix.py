"""Table test: suffix x body setting x target -> upstream body fields (or a 400)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from cliproxy.errors import RequestError
from cliproxy.formats import Format
from cliproxy.models.thinking import apply_thinking, resolve_thinking, same_provider_family
from cliproxy.models.thinking.plan import ThinkingPlan
from cliproxy.translate.registry import default_registry

from ._thinking_models import ABSENT, MODELS
from ._thinking_models import field_at as _get

ERR = "ERR"

RE, OE = "reasoning.effort", "reasoning_effort"
GC = "generationConfig.thinkingConfig"
GB, GL, GI = f"{GC}.thinkingBudget", f"{GC}.thinkingLevel", f"{GC}.includeThoughts"
AC = f"request.{GC}"
AB, AL = f"{AC}.thinkingBudget", f"{AC}.thinkingLevel"
CT, CB, CE = "thinking.type", "thinking.budget_tokens", "output_config.effort"
KT, KE = "thinking.type", "thinking.effort"


def oa(x: str) -> dict[str, Any]:
    return {"reasoning_effort": x}


def rs(x: str) -> dict[str, Any]:
    return {"reasoning": {"effort": x}}


def cb(n: int) -> dict[str, Any]:
    return {"thinking": {"type": "enabled", "budget_tokens": n}}


def ca(x: str) -> dict[str, Any]:
    return {"thinking": {"type": "adaptive"}, "output_config": {"effort": x}}


def gb(n: int) -> dict[str, Any]:
    return {"generationConfig": {"thinkingConfig": {"thinkingBudget": n}}}


def gl(x: str) -> dict[str, Any]:
    return {"generationConfig": {"thinkingConfig": {"thinkingLevel": x}}}


# (model, client format, target, suffix, client body, upstream body or None, expected)
CASES: list[tuple[str, str, str, str | None, dict | None, dict | None, Any]] = [
    # level-only model, OpenAI family
    ("lvl", "openai", "codex", "medium", None, None, {RE: "medium"}),
    ("lvl", "openai", "codex", "xhigh", None, None, ERR),
    ("lvl", "openai", "codex", "none", None, None, {RE: "minimal"}),
    ("lvl", "openai", "codex", "auto", None, None, {RE: "medium"}),
    ("lvl", "openai", "codex", "max", None, None, ERR),
    ("lvl", "gemini", "codex", "8192", None, None, {RE: "medium"}),
    ("lvl", "gemini", "codex", "64000", None, None, {RE: "high"}),
    ("lvl", "gemini", "codex", "0", None, None, {RE: "minimal"}),
    ("lvl", "gemini", "codex", "-1", None, None, {RE: "medium"}),
    ("lvl", "gemini", "codex", "1", None, None, {RE: "minimal"}),
    ("lvl", "gemini", "codex", "513", None, None, {RE: "low"}),
    ("lvl", "gemini", "codex", "1025", None, None, {RE: "medium"}),
    ("lvl", "gemini", "codex", "24577", None, None, {RE: "high"}),
    ("lvl", "claude", "openai", "8192", None, None, {OE: "medium"}),
    ("lvl", "claude", "openai", "xhigh", None, None, {OE: "high"}),
    ("lvl", "claude", "openai", "low", None, None, {OE: "low"}),
    ("lvl", "claude", "openai", "HIGH", None, None, {OE: "high"}),
    ("lvl", "claude", "openai", "ultra", None, None, {OE: ABSENT}),
    ("lvl", "claude", "openai", "", None, None, {OE: ABSENT}),
    ("lvl", "openai", "openai", None, oa("high"), None, {OE: "high"}),
    ("lvl", "openai", "openai", None, oa("xhigh"), None, ERR),
    ("lvl", "openai", "codex", None, oa("none"), None, {RE: "minimal"}),
    ("lvl", "openai", "codex", None, oa("auto"), None, {RE: "medium"}),
    ("lvl", "openai", "codex", None, oa("minimal"), None, {RE: "minimal"}),
    ("lvl", "openai-response", "codex", None, rs("high"), None, {RE: "high"}),
    ("lvl", "openai-response", "codex", None, rs("xhigh"), None, ERR),
    ("lvl", "openai-response", "openai", None, rs("none"), None, {OE: "minimal"}),
    ("lvl", "gemini", "codex", None, gb(8192), None, {RE: "medium"}),
    ("lvl", "gemini", "codex", None, gb(64000), None, {RE: "high"}),
    ("lvl", "gemini", "codex", None, gb(0), None, {RE: "minimal"}),
    ("lvl", "gemini", "codex", None, gb(-1), None, {RE: "medium"}),
    ("lvl", "gemini", "codex", None, gl("high"), None, {RE: "high"}),
    ("lvl", "gemini", "codex", None, gl("xhigh"), None, {RE: "high"}),
    ("lvl", "claude", "openai", None, cb(8192), None, {OE: "medium"}),
    ("lvl", "claude", "openai", None, cb(0), None, {OE: "minimal"}),
    ("lvl", "claude", "openai", None, cb(-1), None, {OE: "medium"}),
    ("lvl", "claude", "openai", None, ca("max"), None, {OE: "high"}),
    ("lvl", "claude", "openai", None, ca("minimal"), None, {OE: "minimal"}),
    ("lvl", "claude", "codex", None, {"thinking": {"type": "enabled"}}, None, {RE: "medium"}),
    ("lvl", "claude", "codex", None, {"thinking": {"type": "disabled"}}, None, {RE: "minimal"}),
    ("lvl", "claude", "codex", None, {"thinking": {"type": "adaptive"}}, None, {"reasoning": ABSENT}),
    ("lvl", "openai", "codex", "low", oa("high"), None, {RE: "low"}),
    ("lvl", "openai", "codex", "bogus", oa("high"), None, {RE: "high"}),
    ("lvl", "openai", "codex", "0", None, None, {RE: "minimal"}),
    ("lvl", "openai", "codex", "08192", None, None, {RE: "medium"}),
    ("lvl", "openai", "codex", "-5", None, None, {"reasoning": ABSENT}),
    ("lvl", "openai", "codex", "1.5", None, None, {"reasoning": ABSENT}),
    # level subset (low, high), a Gemini-family model
    ("lvl2", "gemini", "openai", "8192", None, None, {OE: "low"}),
    ("lvl2", "claude", "gemini", "1", None, None, {GL: "low", GB: ABSENT}),
    ("lvl2", "openai", "codex", "auto", None, None, {RE: "low"}),
    ("lvl2", "gemini", "gemini", "medium", None, None, ERR),
    ("lvl2", "openai", "gemini", "medium", None, None, {GL: "low"}),
    ("lvl2", "openai", "gemini", None, oa("xhigh"), None, {GL: "high"}),
    ("lvl2", "gemini", "gemini", None, gl("high"), None, {GL: "high"}),
    ("lvl2", "gemini", "gemini", None, gb(30000), None, {GL: "high", GB: ABSENT}),
    ("lvl2", "gemini", "gemini", "none", None, None, {GL: "low"}),
    ("lvl2", "claude", "gemini", None, ca("high"), None, {GL: "high"}),
    # Gemini budget model (128..20000, dynamic, cannot turn off)
    ("gbud", "openai", "gemini", "medium", None, None, {GB: 8192, GL: ABSENT}),
    ("gbud", "openai", "gemini", "xhigh", None, None, {GB: 20000}),
    ("gbud", "openai", "gemini", "none", None, None, {GB: 128}),
    ("gbud", "openai", "gemini", "auto", None, None, {GB: -1}),
    ("gbud", "claude", "gemini", "8192", None, None, {GB: 8192}),
    ("gbud", "claude", "gemini", "64000", None, None, {GB: 20000}),
    ("gbud", "claude", "gemini", "0", None, None, {GB: 128}),
    ("gbud", "claude", "gemini", "50", None, None, {GB: 128}),
    ("gbud", "gemini", "gemini", "64000", None, None, {GB: 20000}),
    ("gbud", "gemini", "gemini", None, gb(64000), None, ERR),
    ("gbud", "gemini", "gemini", None, gb(50), None, ERR),
    ("gbud", "gemini", "gemini", None, gb(8192), None, {GB: 8192}),
    ("gbud", "gemini", "gemini", None, gl("medium"), None, {GB: 8192, GL: ABSENT}),
    ("gbud", "gemini", "gemini", None, gl("ultra"), None, ERR),
    ("gbud", "openai", "gemini", None, oa("medium"), None, {GB: 8192}),
    ("gbud", "openai", "gemini", None, oa("none"), None, {GB: 128}),
    ("gbud", "openai", "gemini", None, oa("auto"), None, {GB: -1}),
    ("gbud", "claude", "gemini", None, cb(64000), None, {GB: 20000}),
    ("gbud", "claude", "gemini", None, cb(-1), None, {GB: -1}),
    ("gbud", "claude", "gemini", None, ca("low"), None, {GB: 1024}),
    ("gbud", "gemini", "antigravity", None, gb(64000), None, ERR),
    ("gbud", "gemini", "antigravity", None, gb(8192), None, {AB: 8192}),
    ("gbud", "gemini", "antigravity", "64000", None, None, {AB: 20000}),
    (
        "gbud",
        "openai",
        "gemini",
        None,
        oa("high"),
        {"generationConfig": {"thinkingConfig": {"include_thoughts": True}}},
        {GB: 20000, GI: True, f"{GC}.include_thoughts": ABSENT},
    ),
    ("gbud", "gemini", "gemini", None, gb(8192), gl("high"), {GB: 8192, GL: ABSENT}),
    (
        "gbud",
        "gemini",
        "gemini",
        None,
        {"generationConfig": {"thinkingConfig": {"thinking_budget": 4096}}},
        None,
        {GB: 4096},
    ),
    (
        "gbud",
        "gemini",
        "gemini",
        None,
        {"generationConfig": {"thinkingConfig": {"thinking_level": "low"}}},
        None,
        {GB: 1024},
    ),
    # Gemini hybrid (budget range and levels low/high)
    ("gmix", "openai", "gemini", "high", None, None, {GL: "high", GB: ABSENT}),
    ("gmix", "openai", "gemini", "xhigh", None, None, {GL: "high"}),
    ("gmix", "openai", "gemini", "none", None, None, {GL: "low"}),
    ("gmix", "openai", "gemini", "auto", None, None, {GB: -1, GL: ABSENT}),
    ("gmix", "claude", "gemini", "8192", None, None, {GB: 8192}),
    ("gmix", "claude", "gemini", "64000", None, None, {GB: 32768}),
    ("gmix", "claude", "gemini", "0", None, None, {GL: "low"}),
    ("gmix", "claude", "gemini", "-1", None, None, {GB: -1}),
    ("gmix", "openai", "gemini", None, oa("medium"), None, {GL: "low"}),
    ("gmix", "gemini", "gemini", None, gl("medium"), None, ERR),
    ("gmix", "gemini", "gemini", None, gb(40000), None, ERR),
    ("gmix", "gemini", "gemini", None, gb(10000), None, {GB: 10000, GL: ABSENT}),
    ("gmix", "gemini", "gemini", "minimal", None, None, ERR),
    ("gmix0", "openai", "gemini", None, oa("none"), None, {GC: ABSENT}),
    ("gmix0", "openai", "antigravity", None, oa("none"), None, {AC: ABSENT}),
    ("gmix0", "openai-response", "gemini", None, rs("none"), None, {GC: ABSENT}),
    (
        "gmix0",
        "openai",
        "gemini",
        None,
        oa("none"),
        {"generationConfig": {"thinkingConfig": {"thinkingLevel": "high", "includeThoughts": True}}},
        {GC: ABSENT},
    ),
    ("gmix0", "gemini", "gemini", "0", None, None, {GC: ABSENT}),
    # Claude budget-only model (1024..128000, can turn off, no dynamic)
    ("cbud", "openai", "claude", "medium", None, None, {CT: "enabled", CB: 8192}),
    ("cbud", "openai", "claude", "xhigh", None, None, {CB: 32768}),
    ("cbud", "openai", "claude", "none", None, None, {CT: "disabled", CB: ABSENT}),
    ("cbud", "openai", "claude", "auto", None, None, {CT: "enabled", CB: 64512}),
    ("cbud", "gemini", "claude", "200000", None, None, {CB: 128000}),
    ("cbud", "gemini", "claude", "0", None, None, {CT: "disabled"}),
    ("cbud", "gemini", "claude", "-1", None, None, {CB: 64512}),
    ("cbud", "gemini", "claude", "100", None, None, {CB: 1024}),
    ("cbud", "claude", "claude", "200000", None, None, {CB: 128000}),
    ("cbud", "claude", "claude", None, cb(200000), None, ERR),
    ("cbud", "claude", "claude", None, cb(500), None, ERR),
    ("cbud", "claude", "claude", None, cb(8192), None, {CT: "enabled", CB: 8192}),
    ("cbud", "openai", "claude", None, oa("medium"), None, {CB: 8192}),
    ("cbud", "openai", "claude", None, oa("none"), None, {CT: "disabled"}),
    ("cbud", "openai", "claude", None, oa("auto"), None, {CB: 64512}),
    ("cbud", "gemini", "claude", None, gb(0), None, {CT: "disabled"}),
    ("cbud", "gemini", "claude", None, gb(-1), None, {CB: 64512}),
    ("cbud", "claude", "claude", None, {"thinking": {"type": "enabled"}}, None, {CB: 64512}),
    ("cbud", "claude", "claude", None, cb(8192), {"max_tokens": 4096}, {CB: 4095}),
    ("cbud", "openai", "claude", "high", None, {}, {CB: 24576, "max_tokens": ABSENT}),
    (
        "cbud",
        "openai",
        "claude",
        "8192",
        None,
        {"max_tokens": 200000, "output_config": {"effort": "high"}},
        {CB: 8192, "output_config": ABSENT},
    ),
    (
        "cbud",
        "openai",
        "claude",
        "none",
        None,
        {"thinking": {"type": "enabled", "budget_tokens": 5000, "display": "summarized"}},
        {CT: "disabled", CB: ABSENT, "thinking.display": ABSENT},
    ),
    # Claude adaptive model without "max" (Sonnet-like)
    ("cson", "openai", "claude", None, oa("minimal"), None, {CT: "adaptive", CE: "low", CB: ABSENT}),
    ("cson", "openai", "claude", None, oa("low"), None, {CE: "low"}),
    ("cson", "openai", "claude", None, oa("medium"), None, {CE: "medium"}),
    ("cson", "openai", "claude", None, oa("high"), None, {CE: "high"}),
    ("cson", "openai", "claude", None, oa("xhigh"), None, {CE: "high"}),
    ("cson", "openai", "claude", None, oa("max"), None, {CE: "high"}),
    ("cson", "gemini", "claude", None, gl("minimal"), None, {CE: "low"}),
    ("cson", "gemini", "claude", None, gb(512), None, {CE: "low"}),
    ("cson", "gemini", "claude", None, gb(1024), None, {CE: "low"}),
    ("cson", "gemini", "claude", None, gb(8192), None, {CE: "medium"}),
    ("cson", "gemini", "claude", None, gb(24576), None, {CE: "high"}),
    ("cson", "gemini", "claude", None, gb(32768), None, {CE: "high"}),
    ("cson", "gemini", "claude", None, gb(0), None, {CT: "disabled", CE: ABSENT}),
    ("cson", "gemini", "claude", None, gb(-1), None, {CT: "adaptive", CE: "high"}),
    ("cson", "claude", "claude", None, ca("medium"), None, {CT: "adaptive", CE: "medium"}),
    ("cson", "claude", "claude", None, ca("high"), None, {CT: "adaptive", CE: "high"}),
    ("cson", "claude", "claude", None, ca("max"), None, ERR),
    ("cson", "claude", "claude", None, ca("xhigh"), None, ERR),
    ("cson", "claude", "claude", None, cb(8192), None, {CT: "enabled", CB: 8192, CE: ABSENT}),
    ("cson", "claude", "claude", "auto", None, None, {CT: "enabled", CB: 64512}),
    ("cson", "openai", "claude", "high", None, None, {CT: "adaptive", CE: "high"}),
    ("cson", "openai", "claude", "8192", None, None, {CT: "enabled", CB: 8192}),
    ("cson", "claude", "claude", None, cb(8192), {}, {CB: 8192, "max_tokens": 64000}),
    ("cson", "claude", "claude", None, cb(100000), {}, {CB: 63999, "max_tokens": 64000}),
    # Claude adaptive model with "max" (Opus-like)
    ("copus", "openai", "claude", None, oa("xhigh"), None, {CE: "max"}),
    ("copus", "openai", "claude", None, oa("max"), None, {CE: "max"}),
    ("copus", "gemini", "claude", None, gb(32768), None, {CE: "max"}),
    ("copus", "gemini", "claude", None, gl("xhigh"), None, {CE: "max"}),
    ("copus", "claude", "claude", None, ca("max"), None, {CT: "adaptive", CE: "max"}),
    ("copus", "claude", "claude", None, ca("xhigh"), None, ERR),
    ("copus", "gemini", "claude", None, gb(-1), None, {CE: "high"}),
    # Antigravity
    ("agbud", "gemini", "antigravity", "medium", None, None, {AB: 8192, AL: ABSENT}),
    ("agbud", "gemini", "antigravity", "xhigh", None, None, {AB: 20000}),
    ("agbud", "gemini", "antigravity", "none", None, None, {AB: 0}),
    ("agbud", "gemini", "antigravity", "auto", None, None, {AB: -1}),
    ("agbud", "claude", "antigravity", None, cb(64000), None, {AB: 20000}),
    ("agbud", "claude", "antigravity", None, cb(0), None, {AB: 0}),
    ("agbud", "openai-response", "antigravity", None, rs("medium"), None, {AB: 8192}),
    ("agbud", "gemini", "antigravity", None, gl("none"), None, {AB: 0}),
    (
        "agclaude",
        "gemini",
        "antigravity",
        "64000",
        None,
        None,
        {AB: 63999, "request.generationConfig.maxOutputTokens": 64000},
    ),
    (
        "agclaude",
        "gemini",
        "antigravity",
        "8192",
        None,
        {"request": {"generationConfig": {"maxOutputTokens": 2000}}},
        {AB: 1999},
    ),
    (
        "agclaude",
        "gemini",
        "antigravity",
        "8192",
        None,
        {"request": {"generationConfig": {"maxOutputTokens": 1000}}},
        {AC: ABSENT},
    ),
    # Kimi
    ("ktog", "openai", "kimi", "high", None, None, {KT: "enabled", KE: "high", OE: ABSENT}),
    ("ktog", "openai", "kimi", "none", None, None, {KT: "disabled", KE: ABSENT, OE: ABSENT}),
    ("ktog", "gemini", "kimi", "32768", None, None, {KT: "enabled", KE: "high"}),
    ("ktog", "openai", "kimi", "auto", None, None, {KE: "medium"}),
    ("ktog", "openai", "kimi", None, oa("high"), oa("high"), {KT: "enabled", KE: "high", OE: ABSENT}),
    ("ktog", "openai-response", "kimi", None, rs("none"), None, {KT: "disabled"}),
    ("ktog", "claude", "kimi", None, cb(0), None, {KT: "disabled"}),
    (
        "ktog",
        "openai",
        "kimi",
        None,
        {"reasoning_effort": "high", "thinking": {"keep": "all"}},
        {"reasoning_effort": "high", "thinking": {"keep": "all"}},
        {KT: "enabled", KE: "high", "thinking.keep": "all"},
    ),
    (
        "ktog",
        "openai",
        "kimi",
        None,
        {"thinking": {"type": "enabled", "keep": "all"}},
        {"thinking": {"type": "enabled", "keep": "all"}},
        {KT: "enabled", KE: ABSENT, "thinking.keep": "all"},
    ),
    (
        "ktog",
        "openai",
        "kimi",
        None,
        {"thinking": {"effort": "high"}, "reasoning_effort": "low"},
        None,
        {KE: "high"},
    ),
    ("ktog", "openai", "kimi", None, oa("auto"), None, {KE: "medium"}),
    ("ktier", "openai", "kimi", "none", None, None, {KT: "enabled", KE: "low"}),
    ("ktier", "claude", "kimi", None, cb(0), None, {KT: "enabled", KE: "low"}),
    # xAI
    ("xlvl", "openai", "xai", "high", None, None, {RE: "high"}),
    ("xlvl", "openai", "xai", "xhigh", None, None, {RE: "high"}),
    ("xlvl", "openai-response", "xai", "max", None, None, {RE: "high"}),
    ("xlvl", "gemini", "xai", "512", None, None, {RE: "low"}),
    ("xlvl", "claude", "xai", "0", None, None, {RE: "none"}),
    ("xlvl", "claude", "xai", None, cb(0), None, {RE: "none"}),
    ("xlvl", "claude", "xai", None, ca("max"), None, {RE: "high"}),
    ("xlvl", "openai-response", "xai", None, rs("minimal"), None, {RE: "low"}),
    # a model that does not think: thinking fields are stripped
    ("nothink", "gemini", "openai", "8192", None, oa("high"), {OE: ABSENT}),
    (
        "nothink",
        "claude",
        "claude",
        None,
        cb(8192),
        {"thinking": {"type": "enabled"}, "output_config": {"effort": "x"}},
        {"thinking": ABSENT, "output_config": ABSENT},
    ),
    ("nothink", "gemini", "gemini", None, gb(8192), gb(8192), {GC: ABSENT, "generationConfig": {}}),
    (
        "nothink",
        "openai",
        "codex",
        None,
        oa("low"),
        {"reasoning": {"effort": "low", "summary": "auto"}},
        {"reasoning": ABSENT},
    ),
    (
        "nothink",
        "openai",
        "kimi",
        None,
        oa("low"),
        {"reasoning_effort": "low", "thinking": {"type": "enabled"}},
        {OE: ABSENT, "thinking": ABSENT},
    ),
    # unknown model: no validation, the setting goes as asked
    ("unknown", "gemini", "openai", "8192", None, None, {OE: "medium"}),
    ("unknown", "gemini", "openai", "64000", None, None, {OE: "xhigh"}),
    ("unknown", "gemini", "openai", "0", None, None, {OE: "none"}),
    ("unknown", "gemini", "openai", "-1", None, None, {OE: "auto"}),
    ("unknown", "claude", "codex", "8192", None, None, {RE: "medium"}),
    ("unknown", "openai", "gemini", "8192", None, None, {GB: 8192}),
    ("unknown", "openai", "claude", "8192", None, None, {CT: "enabled", CB: 8192}),
    ("unknown", "openai", "gemini", "high", None, None, {GB: 24576, GL: ABSENT}),
    ("unknown", "openai", "claude", "high", None, None, {CT: "adaptive", CE: "high"}),
    ("unknown", "openai", "claude", None, oa("medium"), None, {CT: "enabled", CB: 8192}),
    ("unknown", "openai-response", "claude", None, rs("medium"), None, {CB: 8192}),
    ("unknown", "openai-response", "gemini", None, rs("medium"), None, {GB: 8192}),
    ("unknown", "gemini", "openai", None, gb(64000), None, {OE: "xhigh"}),
    ("unknown", "claude", "codex", None, cb(-1), None, {RE: "auto"}),
    ("unknown", "openai", "openai", None, oa("ultra"), None, {OE: "ultra"}),
    ("unknown", "claude", "claude", None, cb(999999), None, {CB: 999999}),
    ("unknown", "openai", "kimi", "none", None, None, {KT: "disabled"}),
    ("unknown", "openai", "antigravity", "medium", None, None, {AB: 8192}),
    ("userdef", "gemini", "openai", None, gb(8192), None, {OE: "medium"}),
    ("userdef", "openai", "claude", "none", None, None, {CT: "disabled"}),
    ("userdef", "openai", "claude", None, None, None, {"thinking": ABSENT}),
    # a level the translator wrote (Claude adaptive, no effort: Gemini high) becomes a budget
    # on a budget-capable target (CPA applyUserDefinedModel reads the translated body)
    (
        "unknown",
        "claude",
        "gemini",
        None,
        {"thinking": {"type": "adaptive"}},
        gl("high"),
        {GB: 24576, GL: ABSENT},
    ),
    (
        "userdef",
        "claude",
        "gemini",
        None,
        {"thinking": {"type": "adaptive"}},
        gl("high"),
        {GB: 24576, GL: ABSENT},
    ),
    ("unknown", "claude", "antigravity", None, {}, {"request": gl("low")}, {AB: 1024, AL: ABSENT}),
    ("unknown", "claude", "openai", None, {"thinking": {"type": "adaptive"}}, oa("xhigh"), {OE: "xhigh"}),
    # no setting anywhere; a translator-written setting is re-checked
    ("lvl", "openai", "codex", None, None, {}, {"reasoning": ABSENT}),
    ("lvl2", "openai", "codex", None, None, rs("medium"), {RE: "low"}),
    ("gbud", "gemini", "gemini", None, None, gb(50000), {GB: 20000}),
    ("cbud", "claude", "claude", None, None, ca("ultra"), {CE: "ultra"}),
]


def _run(
    model: str, client: str, target: str, suffix: str | None, body: dict | None, upstream: dict | None
) -> dict[str, Any]:
    caps, family, name = MODELS[model]
    same = same_provider_family(client, target, family or None)
    cfg = resolve_thinking(suffix, client, body or {}, caps, same, target=target)
    out = upstream if upstream is not None else ({"max_tokens": 200000} if target == "claude" else {})
    apply_thinking(out, cfg, target, name, caps)
    return out


def _run_plan(
    model: str, client: str, target: str, suffix: str | None, body: dict | None, upstream: dict | None
) -> dict[str, Any]:
    caps, family, name = MODELS[model]
    plan = ThinkingPlan(caps, client, target, same_provider_family(client, target, family or None))
    out = upstream if upstream is not None else ({"max_tokens": 200000} if target == "claude" else {})
    plan.apply(out, body or {}, suffix, name)
    return out


def _case_id(case: tuple) -> str:
    model, client, target, suffix, body, _, _ = case
    setting = f"({suffix})" if suffix is not None else str(body)
    return f"{model}{setting}:{client}->{target}"


@pytest.mark.parametrize("run", [_run, _run_plan], ids=["step", "plan"])
@pytest.mark.parametrize("case", CASES, ids=[f"{i}-{_case_id(c)}" for i, c in enumerate(CASES)])
def test_thinking_matrix(case: tuple, run: Any) -> None:
    """CPA test/thinking_conversion_test.go, on the thinking step itself (``step``) and
    through the per-route ``ThinkingPlan`` the proxy runs (``plan``, decided once per route,
    applied per request): rows of TestThinkingE2EMatrix_Suffix, TestThinkingE2EMatrix_Body and
    TestThinkingE2EProviderTargets (Antigravity, Kimi, xAI targets), the same upstream fields
    and the same 400s both ways; a subset runs through the proxy in
    tests/e2e/test_thinking_conversion_cpa.py."""
    model, client, target, suffix, body, upstream, expected = case
    upstream = copy.deepcopy(upstream)  # the table's own dict stays as written for the other run
    if expected == ERR:
        with pytest.raises(RequestError) as info:
            run(model, client, target, suffix, body, upstream)
        assert info.value.status == 400
        return
    out = run(model, client, target, suffix, body, upstream)
    for path, want in expected.items():
        got = _get(out, path)
        assert got == want if want is not ABSENT else got is ABSENT, (path, out)


_HI = [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize(
    ("client", "body", "model"),
    [
        (Format.OPENAI, {"model": "lvl", "messages": _HI}, "lvl"),
        (Format.GEMINI, {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}, "lvl"),
        (Format.CLAUDE, {"model": "userdef", "max_tokens": 64, "messages": _HI}, "userdef"),
        (Format.CLAUDE, {"model": "unknown", "max_tokens": 64, "messages": _HI}, "unknown"),
    ],
    ids=["1-openai", "6-gemini", "71-claude-userdef", "71-claude-unknown"],
)
def test_no_setting_gets_the_codex_default(client: Format, body: dict, model: str) -> None:
    """CPA: TestThinkingE2EMatrix_Suffix and TestThinkingE2EMatrix_Body, cases 1, 6 and
    71: a Chat, Gemini or Claude request naming no effort, translated to Codex, carries
    the translator's default ``medium``, which the thinking step keeps (checked against a
    level model, as written for a user-defined or unknown one)."""
    caps, family, name = MODELS[model]
    upstream, _ = default_registry().translate_request(client, Format.CODEX, body, name)
    same = same_provider_family(client.value, "codex", family or None)
    cfg = resolve_thinking(None, client.value, body, caps, same, target="codex")
    apply_thinking(upstream, cfg, "codex", name, caps)
    assert upstream["reasoning"] == {"effort": "medium"}


def test_matrix_is_large_enough() -> None:
    assert len(CASES) >= 150


@pytest.mark.parametrize(
    ("model", "target", "upstream", "expected"),
    [
        ("unknown", "gemini", gl("high"), {GB: 24576, GL: ABSENT}),
        ("userdef", "gemini", gl("high"), {GB: 24576, GL: ABSENT}),
        ("unknown", "antigravity", {"request": gl("low")}, {AB: 1024, AL: ABSENT}),
        ("unknown", "openai", oa("xhigh"), {OE: "xhigh"}),
    ],
)
def test_translator_level_on_an_unknown_model_through_the_plan(
    model: str, target: str, upstream: dict, expected: dict
) -> None:
    """The matrix rows of a level the translator wrote for a model nothing is known of (or
    user-defined), through the per-route ``ThinkingPlan`` the proxy runs: on a
    budget-capable target it becomes a budget (CPA applyUserDefinedModel), elsewhere it
    stays as written."""
    caps, family, name = MODELS[model]
    plan = ThinkingPlan(caps, "claude", target, same_provider_family("claude", target, family or None))
    plan.apply(upstream, {"thinking": {"type": "adaptive"}}, None, name)
    for path, want in expected.items():
        got = _get(upstream, path)
        assert got == want if want is not ABSENT else got is ABSENT, (path, upstream)

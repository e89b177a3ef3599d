"""CPA test/thinking_conversion_test.go, TestThinkingE2EInteractionsMatrix and
TestThinkingE2EClaudeAdaptive_Body, row by row, on the path CPA's ``runThinkingTests``
takes: the client body translated to the target's format (Kimi's through Chat, xAI's
through Codex, as CPA does; Antigravity's through Gemini, wrapped in ``request``), a Claude
body given ``max_tokens`` 200000, then the thinking step (:class:`ThinkingPlan`, what the
pipeline runs). The models are CPA's ``getTestModels``; the row names are CPA's case names.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from cliproxy.errors import RequestError
from cliproxy.formats import Format
from cliproxy.models.thinking import ThinkingCaps, same_provider_family
from cliproxy.models.thinking.plan import ThinkingPlan
from cliproxy.models.thinking.suffix import split_model_suffix
from cliproxy.translate.registry import default_registry

from ._thinking_models import ABSENT, CPA_NAMES
from ._thinking_models import MODELS as THINKING_MODELS
from ._thinking_models import field_at as _get

ERR = "ERR"

# CPA getTestModels: (caps, the model's own type), under CPA's names
MODELS: dict[str, tuple[ThinkingCaps | None, str]] = {
    cpa: THINKING_MODELS[short][:2] for cpa, short in CPA_NAMES.items()
}
_TRANSLATE_TO = {"kimi": Format.OPENAI, "xai": Format.CODEX, "antigravity": Format.GEMINI}
_FROM = {"openai-response": "responses"}  # the pipeline's name for a Responses client
# where each target keeps its thinking (CPA's check of a row that expects none)
_THINKING = {
    "gemini": ("generationConfig.thinkingConfig",),
    "antigravity": ("request.generationConfig.thinkingConfig",),
    "claude": ("thinking",),
    "openai": ("reasoning_effort",),
    "codex": ("reasoning",),
}
_THOUGHTS = {
    "gemini": "generationConfig.thinkingConfig.includeThoughts",
    "antigravity": "request.generationConfig.thinkingConfig.includeThoughts",
}

GL, GB = "generationConfig.thinkingConfig.thinkingLevel", "generationConfig.thinkingConfig.thinkingBudget"
AB = "request.generationConfig.thinkingConfig.thinkingBudget"
IL, IS = "generation_config.thinking_level", "generation_config.thinking_summaries"
CE, CT = "output_config.effort", "thinking.type"


def _messages(model: str, **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": "hi"}], **extra}


def _claude(model: str, **extra: Any) -> dict[str, Any]:
    return {"model": model, "max_tokens": 1024, "messages": [{"role": "user", "content": "hi"}], **extra}


def _gemini(model: str, **config: Any) -> dict[str, Any]:
    return {
        "model": model,
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
        "generationConfig": {"thinkingConfig": config},
    }


def _interactions(model: str, **config: Any) -> dict[str, Any]:
    return {"model": model, "generation_config": config, "input": "hi"}


def _adaptive(model: str, effort: str | None = None) -> dict[str, Any]:
    """CPA's C rows: a Claude body (its messages in Chat's shape) with adaptive thinking."""
    body = _messages(model, thinking={"type": "adaptive"})
    if effort is not None:
        body["output_config"] = {"effort": effort}
    return body


# (CPA case, client format, target, model (with its suffix), client body, expected
# {path: value} or ERR); an empty dict: no thinking field at all (CPA's expectField "")
Row = tuple[str, str, str, str, dict[str, Any], Any]

INTERACTIONS: list[Row] = [
    (
        "IN1",
        "claude",
        "interactions",
        "level-model",
        _claude("level-model", thinking={"type": "enabled", "budget_tokens": 10000}),
        {IL: "high"},
    ),
    (
        "IN2",
        "openai",
        "interactions",
        "level-model",
        _messages("level-model", reasoning_effort="minimal"),
        {IL: "minimal"},
    ),
    (
        "IN3",
        "openai-response",
        "interactions",
        "level-model",
        {"model": "level-model", "input": "hi", "reasoning": {"effort": "low"}},
        {IL: "low"},
    ),
    (
        "IN4",
        "gemini",
        "interactions",
        "level-model",
        _gemini("level-model", includeThoughts=True, thinkingBudget=20000),
        {IL: "high"},
    ),
    (
        "IN5",
        "openai",
        "interactions",
        "level-subset-model",
        _messages("level-subset-model", reasoning_effort="xhigh"),
        {IL: "high"},
    ),
    (
        "IN6",
        "claude",
        "interactions",
        "level-model",
        _claude("level-model", thinking={"type": "disabled"}),
        {IL: "minimal", IS: ABSENT},
    ),
    ("IN7", "openai", "interactions", "level-model(none)", _messages("level-model(none)"), {IL: "minimal"}),
    (
        "IN8",
        "interactions",
        "interactions",
        "level-model",
        _interactions("level-model", thinking_level="none"),
        {IL: "minimal"},
    ),
    (
        "IN9",
        "interactions",
        "interactions",
        "level-model",
        _interactions("level-model", thinking_level="low", thinking_summaries="auto"),
        {IL: "low", IS: "auto"},
    ),
    (
        "IN10",
        "interactions",
        "interactions",
        "level-model",
        _interactions("level-model", thinking_budget=400),
        {IL: "minimal"},
    ),
    (
        "IN11",
        "interactions",
        "interactions",
        "level-model",
        _interactions("level-model", thinking_budget=-1),
        {IL: "medium"},
    ),
    (
        "OUT1",
        "interactions",
        "claude",
        "claude-budget-model",
        _interactions("claude-budget-model", thinking_level="medium"),
        {"thinking.budget_tokens": 8192},
    ),
    (
        "OUT2",
        "interactions",
        "openai",
        "level-model",
        _interactions("level-model", thinking_level="high"),
        {"reasoning_effort": "high"},
    ),
    (
        "OUT3",
        "interactions",
        "codex",
        "level-model",
        _interactions("level-model", thinking_level="low"),
        {"reasoning.effort": "low"},
    ),
    (
        "OUT4",
        "interactions",
        "gemini",
        "gemini-budget-model",
        _interactions("gemini-budget-model", thinking_level="medium"),
        {GB: 8192},
    ),
    (
        "OUT5",
        "interactions",
        "antigravity",
        "antigravity-budget-model",
        _interactions("antigravity-budget-model", thinking_level="medium"),
        {AB: 8192},
    ),
    (
        "OUT6",
        "interactions",
        "kimi",
        "kimi-toggle-thinking-model",
        _interactions("kimi-toggle-thinking-model", thinking_level="high"),
        {"thinking.type": "enabled", "thinking.effort": "high"},
    ),
    (
        "OUT7",
        "interactions",
        "xai",
        "xai-level-model",
        _interactions("xai-level-model", thinking_level="high"),
        {"reasoning.effort": "high"},
    ),
    (
        "OUT8",
        "interactions",
        "claude",
        "claude-budget-model",
        _interactions("claude-budget-model", thinking_level="none"),
        {CT: "disabled"},
    ),
    (
        "OUT9",
        "interactions",
        "antigravity",
        "antigravity-budget-model",
        _interactions("antigravity-budget-model", thinking_level="none"),
        {AB: 0},
    ),
    (
        "OUT10",
        "interactions",
        "kimi",
        "kimi-toggle-thinking-model",
        _interactions("kimi-toggle-thinking-model", thinking_level="none"),
        {"thinking.type": "disabled", "thinking.effort": ABSENT, "reasoning_effort": ABSENT},
    ),
    (
        "OUT11",
        "interactions",
        "gemini",
        "gemini-toggle-mixed-model",
        _interactions("gemini-toggle-mixed-model", thinking_level="none"),
        {"generationConfig.thinkingConfig": ABSENT},
    ),
    (
        "OUT12",
        "interactions",
        "gemini",
        "gemini-budget-model",
        _interactions("gemini-budget-model", thinking_level="auto"),
        {GB: -1},
    ),
]

_SONNET, _OPUS = "claude-sonnet-4-6-model", "claude-opus-4-6-model"
CLAUDE_ADAPTIVE: list[Row] = [
    *[
        (f"A{i}", "openai", "claude", model, _messages(model, reasoning_effort=effort), {CE: want})
        for i, (model, effort, want) in enumerate(
            [
                (_SONNET, "minimal", "low"),
                (_SONNET, "low", "low"),
                (_SONNET, "medium", "medium"),
                (_SONNET, "high", "high"),
                (_OPUS, "xhigh", "max"),
                (_SONNET, "xhigh", "high"),
                (_OPUS, "max", "max"),
                (_SONNET, "max", "high"),
            ],
            start=1,
        )
    ],
    *[
        (f"B{i}", "gemini", "claude", model, _gemini(model, **config), want)
        for i, (model, config, want) in enumerate(
            [
                (_SONNET, {"thinkingLevel": "minimal"}, {CE: "low"}),
                (_SONNET, {"thinkingLevel": "low"}, {CE: "low"}),
                (_SONNET, {"thinkingLevel": "medium"}, {CE: "medium"}),
                (_SONNET, {"thinkingLevel": "high"}, {CE: "high"}),
                (_OPUS, {"thinkingLevel": "xhigh"}, {CE: "max"}),
                (_SONNET, {"thinkingLevel": "xhigh"}, {CE: "high"}),
                (_SONNET, {"thinkingBudget": 512}, {CE: "low"}),
                (_SONNET, {"thinkingBudget": 1024}, {CE: "low"}),
                (_SONNET, {"thinkingBudget": 8192}, {CE: "medium"}),
                (_SONNET, {"thinkingBudget": 24576}, {CE: "high"}),
                (_OPUS, {"thinkingBudget": 32768}, {CE: "max"}),
                (_SONNET, {"thinkingBudget": 32768}, {CE: "high"}),
                (_SONNET, {"thinkingBudget": 0}, {CT: "disabled"}),
                (_SONNET, {"thinkingBudget": -1}, {CE: "high"}),
            ],
            start=1,
        )
    ],
    *[
        (
            f"C{i}",
            "claude",
            "openai",
            "level-model",
            _adaptive("level-model", effort),
            {"reasoning_effort": want},
        )
        for i, (effort, want) in enumerate(
            [
                ("minimal", "minimal"),
                ("low", "low"),
                ("medium", "medium"),
                ("high", "high"),
                ("xhigh", "high"),
                ("max", "high"),
            ],
            start=1,
        )
    ],
    ("C7", "claude", "openai", "no-thinking-model", _adaptive("no-thinking-model", "high"), {}),
    ("C8", "claude", "gemini", "level-subset-model", _adaptive("level-subset-model", "high"), {GL: "high"}),
    ("C9", "claude", "gemini", "gemini-budget-model", _adaptive("gemini-budget-model", "low"), {GB: 1024}),
    (
        "C10",
        "claude",
        "gemini",
        "gemini-budget-model",
        _adaptive("gemini-budget-model", "medium"),
        {GB: 8192},
    ),
    ("C11", "claude", "gemini", "gemini-budget-model", _adaptive("gemini-budget-model", "high"), {GB: 20000}),
    ("C12", "claude", "gemini", "gemini-budget-model", _adaptive("gemini-budget-model"), {GB: 20000}),
    ("C13", "claude", "gemini", "gemini-mixed-model", _adaptive("gemini-mixed-model", "high"), {GL: "high"}),
    *[
        (
            f"C{i}",
            "claude",
            "codex",
            "level-model",
            _adaptive("level-model", effort),
            {"reasoning.effort": want},
        )
        for i, (effort, want) in enumerate(
            [("minimal", "minimal"), ("low", "low"), ("high", "high"), ("xhigh", "high"), ("max", "high")],
            start=14,
        )
    ],
    (
        "C19",
        "claude",
        "antigravity",
        "antigravity-budget-model",
        _adaptive("antigravity-budget-model"),
        {AB: 20000},
    ),
    ("C20", "claude", "claude", _SONNET, _adaptive(_SONNET, "medium"), {CT: "adaptive", CE: "medium"}),
    ("C21", "claude", "claude", _OPUS, _adaptive(_OPUS, "max"), {CT: "adaptive", CE: "max"}),
    ("C22", "claude", "claude", _OPUS, _adaptive(_OPUS, "xhigh"), ERR),
    ("C23", "claude", "claude", _SONNET, _adaptive(_SONNET, "high"), {CT: "adaptive", CE: "high"}),
    ("C24", "claude", "claude", _SONNET, _adaptive(_SONNET, "max"), ERR),
    ("C25", "claude", "claude", _SONNET, _adaptive(_SONNET, "xhigh"), ERR),
]


def _run(client: str, target: str, model: str, body: dict[str, Any]) -> dict[str, Any]:
    """CPA ``runThinkingTests`` for one row: translate, then the thinking step."""
    name, suffix = split_model_suffix(model)
    caps, family = MODELS[name]
    to = _TRANSLATE_TO[target] if target in _TRANSLATE_TO else Format(target)
    upstream, _ = default_registry().translate_request(
        Format(client), to, orjson.loads(orjson.dumps(body)), name
    )
    if target == "antigravity":
        upstream = {"model": name, "request": upstream}
    elif target == "claude":
        upstream["max_tokens"] = 200000
    source = _FROM.get(client, client)
    same = same_provider_family(source, target, family)
    ThinkingPlan(caps, source, target, same).apply(upstream, body, suffix, name)
    return upstream


def _check(row: Row) -> None:
    _, client, target, model, body, expected = row
    if expected == ERR:
        with pytest.raises(RequestError) as info:
            _run(client, target, model, body)
        assert info.value.status == 400
        return
    out = _run(client, target, model, body)
    if not expected:  # no thinking field at all
        assert all(_get(out, path) is ABSENT for path in _THINKING[target]), out
    for path, want in expected.items():
        got = _get(out, path)
        assert got is ABSENT if want is ABSENT else got == want, (path, out)
    if target == "claude" and _get(out, CE) is not ABSENT:  # an effort goes with adaptive (CPA)
        assert _get(out, CT) == "adaptive", out
    if target in _THOUGHTS:  # no row states a summary intent: CPA leaves includeThoughts out
        assert _get(out, _THOUGHTS[target]) is ABSENT, out


@pytest.mark.parametrize("row", INTERACTIONS, ids=[r[0] for r in INTERACTIONS])
def test_interactions_matrix(row: Row) -> None:
    """CPA: TestThinkingE2EInteractionsMatrix (every row): the Interactions API as the
    target from every client format (IN rows) and as the client of every target (OUT)."""
    _check(row)


@pytest.mark.parametrize("row", CLAUDE_ADAPTIVE, ids=[r[0] for r in CLAUDE_ADAPTIVE])
def test_claude_adaptive_matrix(row: Row) -> None:
    """CPA: TestThinkingE2EClaudeAdaptive_Body (every row): Chat efforts and Gemini levels
    and budgets on Claude 4.6 adaptive models (A, B), and Claude adaptive efforts on other
    targets and on Claude itself (C). Adaptive thinking with no effort reaches a Gemini or
    Antigravity budget model as its largest budget (C12, C19; before, dynamic -1). On a
    Gemini or Antigravity target (C8-C13, C19) includeThoughts stays out, as the client sent
    no ``display`` (before, a Claude client that turned thinking on got it true)."""
    _check(row)


@pytest.mark.parametrize(("target", "budget"), [("gemini", 32768), ("antigravity", 24576)])
def test_adaptive_without_effort_on_a_larger_budget_model(target: str, budget: int) -> None:
    """CPA's translators behind C12 and C19, on a budget model whose range ends above the
    "high" budget (gemini-2.5-pro's 128..32768): Gemini's writes the model's largest
    budget, Antigravity's the level "high", which the thinking step turns into 24576."""
    MODELS["pro-like"] = (ThinkingCaps(min=128, max=32768, dynamic_allowed=True), "gemini")
    try:
        out = _run("claude", target, "pro-like", _adaptive("pro-like"))
    finally:
        del MODELS["pro-like"]
    assert _get(out, AB if target == "antigravity" else GB) == budget, out

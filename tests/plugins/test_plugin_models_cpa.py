"""Models plugins declare, through a running proxy (Python plugins): what a plugin says of
a model reaches the model lists and thinking handling, model-only plugins register their
models for the provider they name, and a built-in provider keeps its own models and
takes a plugin's (CPA's RegisterModels / RegisterExecutors)."""

from __future__ import annotations

import json

import aiohttp
import anthropic
import openai

from cliproxy.models.listing import uncloak_claude_id
from tests.e2e.clients import KEY
from tests.plugins.test_flow_python import HEADER, _proxy

RICH = (
    HEADER
    + """
class Rich(Plugin, ModelRegistrar, Executor, ThinkingApplier):
    name = "rich"; version = "1"; author = "t"; github_repository = "https://example.com/r"
    identifier = "richp"; thinking_identifier = "richp"
    input_formats = ["openai"]; output_formats = ["openai"]; model_scope = "static"
    async def register_models(self, req):
        return ModelList(provider="richp", models=[
            ModelInfo(id="rich-think", display_name="Rich Thinker", context_length=123456,
                      input_token_limit=123456, max_completion_tokens=7890, output_token_limit=7890,
                      thinking=ThinkingSupport(levels=["low", "high"])),
            ModelInfo(id="rich-plain", display_name="Rich Plain"),
        ])
    async def apply_thinking(self, req):
        body = json.loads(req.body)
        levels = req.model.thinking.levels if req.model.thinking else None
        body["x_thinking"] = {"level": req.config.level, "levels": levels, "name": req.model.display_name}
        return json.dumps(body).encode()
    async def execute(self, req):
        seen = json.loads(req.payload).get("x_thinking")
        out = {"id": "c", "object": "chat.completion", "created": 1, "model": req.model,
               "choices": [{"index": 0, "message": {"role": "assistant", "content": json.dumps(seen)},
                            "finish_reason": "stop"}],
               "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}
        return ExecutorResponse(payload=json.dumps(out).encode())
plugin = Rich()
"""
)


async def _chat(client: openai.AsyncOpenAI, model: str) -> str:
    reply = await client.chat.completions.create(model=model, messages=[{"role": "user", "content": "x"}])
    return reply.choices[0].message.content or ""


async def test_what_a_plugin_declares_of_a_model_is_kept(start_proxy, fakes, tmp_path):
    """CPA: TestPluginModelInfoToRegistryModelInfoClonesThinkingAndSlices,
    TestRegisterModelsRegistersProviderModelsAndClientID (the fields half): a plugin
    executor's model keeps its display name and limits in the model lists (Anthropic's
    ``display_name``/``max_input_tokens``/``max_tokens``, Gemini's ``inputTokenLimit``),
    and its declared thinking drives thinking handling as for a built-in model of
    another provider: ``xhigh`` becomes the top level it lists, and a model declared
    without thinking gets no thinking applied. Before, only the id was kept: default
    limits, the id as name, and every setting passed on unchecked. Deliberate
    difference: a model keeps one context limit and one output limit (``ContextLength``
    else ``InputTokenLimit``, ``MaxCompletionTokens`` else ``OutputTokenLimit``) that
    every list shows, where CPA keeps all four and shows the OpenAI pair to Claude
    clients and the Gemini pair to Gemini clients; the plugin here declares them equal."""
    proxy = await _proxy(start_proxy, fakes, tmp_path, {"rich": RICH}, {"rich": {}})
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as claude:
        listed = {uncloak_claude_id(m.id): m async for m in claude.models.list()}
    rich = listed["rich-think"]
    assert rich.display_name == "Rich Thinker"
    assert (rich.max_input_tokens, rich.max_tokens) == (123456, 7890)
    assert listed["rich-plain"].display_name == "Rich Plain"
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{proxy.url}/v1beta/models", params={"key": KEY}) as resp:
            gemini = {m["name"]: m for m in (await resp.json())["models"]}
    rich_gemini = gemini["models/rich-think"]
    assert (rich_gemini["displayName"], rich_gemini["inputTokenLimit"], rich_gemini["outputTokenLimit"]) == (
        "Rich Thinker",
        123456,
        7890,
    )
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        seen = json.loads(await _chat(client, "rich-think(xhigh)"))
        assert seen == {"level": "high", "levels": ["low", "high"], "name": "Rich Thinker"}
        assert json.loads(await _chat(client, "rich-plain(high)")) is None


EXTRA = (
    HEADER
    + """
class Extra(Plugin, ModelRegistrar):
    name = "extra"; version = "1"; author = "t"; github_repository = "https://example.com/x"
    async def register_models(self, req):
        return ModelList(provider="Claude", models=[ModelInfo(id="claude-extra", display_name="Claude Extra")])
plugin = Extra()
"""
)

NOWHERE = (
    HEADER
    + """
class Nowhere(Plugin, ModelRegistrar):
    name = "nowhere"; version = "1"; author = "t"; github_repository = "https://example.com/n"
    async def register_models(self, req):
        return ModelList(provider="nowhere", models=[ModelInfo(id="nowhere-model")])
plugin = Nowhere()
"""
)


async def test_a_model_only_plugin_registers_for_the_provider_it_names(start_proxy, fakes, tmp_path):
    """CPA: TestRegisterModelsRegistersProviderModelsAndClientID (a registrar without an
    executor registers its models under the provider it names, lower-cased). The
    provider's credentials serve them (CPA appends a provider's plugin models to each of
    its auths): ``claude-extra`` goes to the Claude API key's upstream under its own
    name, and as it is declared without thinking support a client's thinking is dropped. A provider with no credential lists its model all the same; a request for it
    is a 503 "no auth available", as in CPA. Before, such a plugin registered nothing."""
    proxy = await _proxy(
        start_proxy, fakes, tmp_path, {"extra": EXTRA, "nowhere": NOWHERE}, {"extra": {}, "nowhere": {}}
    )
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        ids = {m.id async for m in client.models.list()}
        assert {"claude-extra", "nowhere-model", "claude-model"} <= ids
        try:
            await _chat(client, "nowhere-model")
        except openai.APIStatusError as exc:
            assert exc.status_code == 503 and "no auth available" in str(exc)
        else:
            raise AssertionError("a model no credential serves was answered")
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as claude:
        reply = await claude.messages.create(
            model="claude-extra",
            max_tokens=4096,
            thinking={"type": "enabled", "budget_tokens": 2048},
            messages=[{"role": "user", "content": "hi"}],
        )
    # declared without thinking support: the setting is dropped, as for such a built-in model
    assert reply.content and fakes.claude.last.json["model"] == "claude-extra"
    assert "thinking" not in fakes.claude.last.json


NAMED_CLAUDE = (
    HEADER
    + """
class Shadow(Plugin, ModelRegistrar, Executor):
    name = "shadow"; version = "1"; author = "t"; github_repository = "https://example.com/s"
    identifier = "claude"; input_formats = ["openai"]; output_formats = ["openai"]
    async def register_models(self, req):
        return ModelList(provider="claude", models=[ModelInfo(id="claude-shadow")])
    async def execute(self, req):
        raise PluginError("the shadow executor ran", http_status=418)
plugin = Shadow()
"""
)

GREEDY = (
    HEADER
    + """
class Greedy(Plugin, ModelRegistrar, Executor):
    name = "greedy"; version = "1"; author = "t"; github_repository = "https://example.com/g"
    identifier = "greedy"; input_formats = ["openai"]; output_formats = ["openai"]
    async def register_models(self, req):
        return ModelList(provider="greedy", models=[ModelInfo(id="claude-model"), ModelInfo(id="greedy-own")])
    async def execute(self, req):
        out = {"id": "c", "object": "chat.completion", "created": 1, "model": req.model,
               "choices": [{"index": 0, "message": {"role": "assistant", "content": "GREEDY " + req.model},
                            "finish_reason": "stop"}],
               "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}
        return ExecutorResponse(payload=json.dumps(out).encode())
plugin = Greedy()
"""
)


async def test_a_built_in_provider_keeps_its_executor_and_its_models(start_proxy, fakes, tmp_path):
    """CPA: TestRegisterExecutorsKeepsPluginModelsForNativeProviderWithoutOverwritingExecutor,
    TestRegisterExecutorsSkipsPluginModelWhenModelAlreadyHasNativeExecutor: a plugin
    executor named like a built-in provider gets no credential of its own; the built-in
    serves its models (``claude-shadow`` goes to the Claude upstream, the plugin's
    executor is never called). A plugin executor of its own provider claims no model a
    built-in credential serves already (``claude-model`` stays on the Claude key) and
    serves the rest. Before, the plugin got a credential of provider ``claude`` and
    shared ``claude-model`` with the built-in."""
    proxy = await _proxy(
        start_proxy,
        fakes,
        tmp_path,
        {"shadow": NAMED_CLAUDE, "greedy": GREEDY},
        {"shadow": {"priority": 5}, "greedy": {"priority": 5}},
    )
    creds = {c.id: c.provider for c in proxy.service.pool.credentials() if c.attributes.get("plugin")}
    assert creds == {"plugin:greedy:greedy:executor": "greedy"}
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        assert "Hello from fake-claude" in await _chat(client, "claude-shadow")
        assert fakes.claude.last.json["model"] == "claude-shadow"
        for _ in range(3):  # round-robin would reach a plugin credential within three
            assert "Hello from fake-claude" in await _chat(client, "claude-model")
        assert await _chat(client, "greedy-own") == "GREEDY greedy-own"


GEMINI_FORMAT = (
    HEADER
    + """
class Gem(Plugin, ModelRegistrar, Executor, ThinkingApplier):
    name = "gem"; version = "1"; author = "t"; github_repository = "https://example.com/g"
    identifier = "gemp"; thinking_identifier = "gemp"
    input_formats = ["gemini"]; output_formats = ["openai"]; model_scope = "static"
    async def register_models(self, req):
        return ModelList(provider="gemp", models=[
            ModelInfo(id="gem-pro", thinking=ThinkingSupport(min=128, max=32768, dynamic_allowed=True)),
        ])
    async def apply_thinking(self, req):
        body = json.loads(req.body)
        body["x_thinking"] = {"mode": req.config.mode, "budget": req.config.budget, "level": req.config.level}
        return json.dumps(body).encode()
    async def execute(self, req):
        seen = json.loads(req.payload).get("x_thinking")
        out = {"id": "c", "object": "chat.completion", "created": 1, "model": req.model,
               "choices": [{"index": 0, "message": {"role": "assistant", "content": json.dumps(seen)},
                            "finish_reason": "stop"}],
               "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}
        return ExecutorResponse(payload=json.dumps(out).encode())
plugin = Gem()
"""
)


async def test_claude_adaptive_thinking_on_a_gemini_format_executor_asks_the_largest_budget(
    start_proxy, fakes, tmp_path
):
    """CPA: TestThinkingE2EClaudeAdaptive_Body (the Gemini rows whose adaptive thinking
    names no effort): a Claude client's adaptive thinking with no effort asks a
    Gemini model's largest budget, 32768 on a range that ends above the level high's
    24576, as CPA's Claude-to-Gemini translator writes the registered maximum. A plugin
    executor taking Gemini's format gets that setting for the model it declared, as the
    built-in Gemini route does; before, its thinking applier was not called at all. An
    effort named is read as that level (low: 1024 on this budget model), as before."""
    proxy = await _proxy(start_proxy, fakes, tmp_path, {"gem": GEMINI_FORMAT}, {"gem": {}})
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as claude:
        reply = await claude.messages.create(
            model="gem-pro",
            max_tokens=1024,
            messages=[{"role": "user", "content": "x"}],
            extra_body={"thinking": {"type": "adaptive"}},
        )
        text = "".join(b.text for b in reply.content if b.type == "text")
        assert json.loads(text) == {"mode": "budget", "budget": 32768, "level": ""}
        reply = await claude.messages.create(
            model="gem-pro",
            max_tokens=1024,
            messages=[{"role": "user", "content": "x"}],
            extra_body={"thinking": {"type": "adaptive"}, "output_config": {"effort": "low"}},
        )
        text = "".join(b.text for b in reply.content if b.type == "text")
        assert json.loads(text) == {"mode": "budget", "budget": 1024, "level": ""}  # low, on a budget model


GEMINI_NO_APPLIER = (
    HEADER
    + """
class Gem(Plugin, ModelRegistrar, Executor):
    name = "gemraw"; version = "1"; author = "t"; github_repository = "https://example.com/g"
    identifier = "gemraw"
    input_formats = ["gemini"]; output_formats = ["openai"]; model_scope = "static"
    async def register_models(self, req):
        return ModelList(provider="gemraw", models=[
            ModelInfo(id="gem-raw", thinking=ThinkingSupport(min=128, max=32768, dynamic_allowed=True)),
            ModelInfo(id="gem-plain"),
        ])
    async def execute(self, req):
        seen = json.loads(req.payload).get("generationConfig", {}).get("thinkingConfig")
        out = {"id": "c", "object": "chat.completion", "created": 1, "model": req.model,
               "choices": [{"index": 0, "message": {"role": "assistant", "content": json.dumps(seen)},
                            "finish_reason": "stop"}],
               "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}
        return ExecutorResponse(payload=json.dumps(out).encode())
plugin = Gem()
"""
)


# a Claude client's thinking, and the thinkingConfig CPA's TranslateRequest gives a Gemini target
CLAUDE_TO_GEMINI = [
    # TestThinkingE2EMatrix_Body 23/33: no thinking, no thinkingConfig
    ("gem-raw", {}, None),
    # 24/34 and 27/37 before Gemini's applier (25/35 and 26/36 clamp there: a plugin
    # without an applier gets the budget as asked); no includeThoughts without a display
    ("gem-raw", {"thinking": {"type": "enabled", "budget_tokens": 8192}}, {"thinkingBudget": 8192}),
    ("gem-raw", {"thinking": {"type": "enabled", "budget_tokens": 64000}}, {"thinkingBudget": 64000}),
    ("gem-raw", {"thinking": {"type": "enabled", "budget_tokens": 0}}, {"thinkingBudget": 0}),
    ("gem-raw", {"thinking": {"type": "enabled", "budget_tokens": -1}}, {"thinkingBudget": -1}),
    # the translator's adaptive branch: the effort as a lower-case level, else the maximum
    ("gem-raw", {"thinking": {"type": "adaptive"}}, {"thinkingBudget": 32768}),
    ("gem-plain", {"thinking": {"type": "adaptive"}}, {"thinkingLevel": "high"}),
    (
        "gem-raw",
        {"thinking": {"type": "adaptive"}, "output_config": {"effort": "low"}},
        {"thinkingLevel": "low"},
    ),
    (
        "gem-raw",
        {"thinking": {"type": "adaptive"}, "output_config": {"effort": " Max "}},
        {"thinkingLevel": "max"},
    ),
    # nothing written for disabled thinking, enabled without a budget, an effort alone
    ("gem-raw", {"thinking": {"type": "disabled"}}, None),
    ("gem-raw", {"thinking": {"type": "enabled"}}, None),
    ("gem-raw", {"output_config": {"effort": "low"}}, None),
    # TestSummaryIntentTranslation: "Native Claude summarized enables Gemini summary" and
    # "Claude auto compatibility budget keeps Gemini summary"; omitted is false
    (
        "gem-raw",
        {"thinking": {"type": "adaptive", "display": "summarized"}},
        {"thinkingBudget": 32768, "includeThoughts": True},
    ),
    (
        "gem-raw",
        {"thinking": {"type": "enabled", "budget_tokens": -1, "display": "summarized"}},
        {"thinkingBudget": -1, "includeThoughts": True},
    ),
    (
        "gem-raw",
        {"thinking": {"type": "enabled", "budget_tokens": 31999, "display": "omitted"}},
        {"thinkingBudget": 31999, "includeThoughts": False},
    ),
]


async def test_claude_thinking_reaches_a_gemini_executor_without_applier_as_cpa_translates_it(
    start_proxy, fakes, tmp_path
):
    """A plugin executor taking Gemini's format with no thinking applier gets a Claude
    client's request as CPA's TranslateRequest writes it (ConvertClaudeRequestToGemini and
    its summary step, internal/translator/gemini/claude, internal/thinking/summary.go):
    the Claude rows of TestThinkingE2EMatrix_Body and TestThinkingE2EClaudeAdaptive_Body
    read before Gemini's applier, and TestSummaryIntentTranslation's Claude-to-Gemini rows
    (see CLAUDE_TO_GEMINI). An adaptive request with no effort asks the model's largest
    budget (level high for a model declared without thinking). Before, the plugin read the
    host's own translation: an upper-case level as sent (" MAX "), includeThoughts true
    whenever thinking was on, a budget of 0 for disabled thinking, -1 for enabled thinking
    without a budget, and a level for an effort without thinking."""
    proxy = await _proxy(start_proxy, fakes, tmp_path, {"gemraw": GEMINI_NO_APPLIER}, {"gemraw": {}})
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as claude:
        for model, extra, want in CLAUDE_TO_GEMINI:
            reply = await claude.messages.create(
                model=model, max_tokens=1024, messages=[{"role": "user", "content": "x"}], extra_body=extra
            )
            seen = json.loads("".join(b.text for b in reply.content if b.type == "text"))
            assert seen == want, (model, extra)

"""A config reload re-registers a key's models when any field of its ``models:`` list changes.

CPA hashes each API key's model list (``internal/watcher/diff/model_hash_test.go``) so its
watcher re-registers that key's models when the hash moves; the tests there say which
fields the hash covers. cliproxy keeps no hash: every reload rebuilds the model registry
from the new config, so what carries over is the behaviour: a rewrite of config.yaml that
changes only one of those fields changes what the running proxy serves.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import orjson

DEAD = "http://127.0.0.1:9"
KEYED = ("claude-api-key", "codex-api-key", "gemini-api-key", "vertex-api-key")


def model(**over: Any) -> dict[str, Any]:
    return {"name": "m", "alias": "a", "display-name": "One", "thinking": {"levels": ["low"]}, **over}


def text(shared: dict[str, Any], compat: list[dict[str, Any]] | None = None) -> str:
    data: dict[str, Any] = {"api-keys": ["k"]}
    for n, section in enumerate(KEYED):
        data[section] = [{"api-key": f"key-{n}", "base-url": DEAD, "models": [shared]}]
    data["openai-compatibility"] = [
        {"name": "up", "base-url": DEAD, "api-key-entries": [{"api-key": "o"}], "models": compat or [shared]}
    ]
    return "".join(f"{key}: {orjson.dumps(value).decode()}\n" for key, value in data.items())  # JSON is YAML


async def reload(proxy: Any, body: str) -> None:
    svc = proxy.service
    before = svc.reloads
    path = svc.config_path
    tmp = path.with_name(".config.yaml.tmp")
    tmp.write_text(f"auth-dir: {svc.config.auth_dir}\n{body}")
    os.replace(tmp, path)
    async with asyncio.timeout(10):
        while svc.reloads == before:
            await asyncio.sleep(0.01)


def served(proxy: Any) -> dict[str, tuple[str, bool, tuple[str, ...]]]:
    """provider -> (display name, force-mapped, thinking levels) of alias ``a``."""
    svc = proxy.service
    route = svc.models.resolve("a")
    out = {}
    for cred in svc.pool.credentials():
        (info,) = [m for m in svc.models.models_for(cred) if m.id == "a"]
        levels = tuple(info.thinking.levels) if info.thinking is not None else ()
        out[cred.provider] = (info.display_name, route.force_mapping(cred), levels)
    return out


def compat_info(proxy: Any) -> Any:
    svc = proxy.service
    (cred,) = [c for c in svc.pool.credentials() if c.provider == "openai-compatible-up"]
    return cred, next(m for m in svc.models.models_for(cred) if m.id == "a")


async def test_each_model_field_changed_alone_is_applied_on_reload(start_proxy) -> None:
    """CPA: TestComputeModelHashesIncludeDisplayName, TestComputeCodexModelsHashIncludesForceMapping,
    TestComputeOtherModelHashesIncludeForceMapping, TestComputeModelHashesIncludeThinking,
    TestComputeClaudeModelsHash_Deterministic, TestComputeCodexModelsHash_Deterministic,
    TestComputeOpenAICompatModelsHash_Deterministic, TestComputeVertexCompatModelsHash_DifferentInputs.
    For every kind of key (Claude, Codex, Gemini, Vertex, OpenAI-compatible), a reload that
    changes only the display name, only force-mapping, only the thinking levels, or only
    a model's upstream name is served at once; one that changes nothing keeps it all."""
    proxy = await start_proxy(text(model()), watch=True)
    providers = {"claude", "codex", "gemini", "vertex", "openai-compatible-up"}
    assert served(proxy) == dict.fromkeys(providers, ("One", False, ("low",)))

    await reload(proxy, text(model(**{"display-name": "Two"})))
    assert served(proxy) == dict.fromkeys(providers, ("Two", False, ("low",)))
    await reload(proxy, text(model(**{"display-name": "Two", "force-mapping": True})))
    assert served(proxy) == dict.fromkeys(providers, ("Two", True, ("low",)))
    await reload(
        proxy, text(model(**{"display-name": "Two", "force-mapping": True, "thinking": {"levels": ["high"]}}))
    )
    assert served(proxy) == dict.fromkeys(providers, ("Two", True, ("high",)))

    await reload(proxy, text(model(name="m-next")))
    route = proxy.service.models.resolve("a")
    assert {route.upstream_models(c)[0] for c in proxy.service.pool.credentials()} == {"m-next"}
    assert served(proxy) == dict.fromkeys(providers, ("One", False, ("low",)))


async def test_compat_image_flag_modalities_and_pool_order_are_applied_on_reload(start_proxy) -> None:
    """CPA: TestComputeOpenAICompatModelsHash_IncludesImageFlag,
    TestComputeOpenAICompatModelsHashIncludesModalities,
    TestComputeOpenAICompatModelsHashPreservesRoutingOrderAndDuplicates,
    TestComputeVertexCompatModelsHashPreservesDuplicates, TestComputeClaudeModelsHashPreservesDuplicates,
    TestComputeCodexModelsHashPreservesDuplicates. An OpenAI-compatible model turned into an
    image model, given other modalities, or an alias pool reordered: each alone is served
    after the reload (a pool is tried in its configured order, rotated one step per
    request). CPA's hashes keep a repeated entry so that adding one is seen as a change;
    its pool then drops a name repeated in another case, and so does ours: the reload is
    applied and the pool stays as it was."""
    plain = {"name": "m", "alias": "a"}
    proxy = await start_proxy(text(model(), [plain]), watch=True)
    assert compat_info(proxy)[1].type == "openai-compatibility"
    await reload(proxy, text(model(), [{**plain, "image": True}]))
    assert compat_info(proxy)[1].type == "openai-image"

    moda = {**plain, "input-modalities": ["text"], "output-modalities": ["text"]}
    await reload(proxy, text(model(), [moda]))
    assert compat_info(proxy)[1].input_modalities == ("text",)
    await reload(proxy, text(model(), [{**moda, "input-modalities": ["text", "image"]}]))
    assert compat_info(proxy)[1].input_modalities == ("text", "image")
    await reload(proxy, text(model(), [{**moda, "output-modalities": ["text", "image"]}]))
    assert compat_info(proxy)[1].output_modalities == ("text", "image")

    def rotations(names: list[str]) -> set[tuple[str, ...]]:
        return {tuple(names[i:] + names[:i]) for i in range(len(names))}

    for pool in (["m1", "m2", "m3"], ["m1", "m3", "m2"]):
        await reload(proxy, text(model(), [{"name": n, "alias": "a"} for n in pool]))
        cred, _ = compat_info(proxy)
        assert tuple(proxy.service.models.resolve("a").upstream_models(cred)) in rotations(pool)
    # a name repeated in another case is one upstream model, in CPA's pool as here
    await reload(proxy, text(model(), [{"name": n, "alias": "a"} for n in ("m1", "m3", "m2", "M1")]))
    cred, _ = compat_info(proxy)
    assert tuple(proxy.service.models.resolve("a").upstream_models(cred)) in rotations(["m1", "m3", "m2"])

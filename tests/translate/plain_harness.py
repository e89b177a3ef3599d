"""What the direct request path's tests share (test_plain_requests, test_plain_claude_openai,
test_plain_chat_claude): a registry that takes the hub's way, and the pipeline stand-in
``start_attempt`` reads."""

from __future__ import annotations

import copy
from types import SimpleNamespace
from typing import Any

from cliproxy.translate.registry import Registry, default_registry
from cliproxy.translate.replay import SignatureCache, ThinkingReplayCache

__all__ = ["hub_registry", "pipe"]


def hub_registry(*adapters: Any) -> Registry:
    """The built-in adapters, each of ``adapters`` registered as a copy of its own subclass,
    as a plugin's adapter would be: no direct path is taken for their formats (the hub's way)."""
    reg = Registry()
    builtin = default_registry()
    for fmt in builtin.formats():
        reg.register(builtin.adapter(fmt))
    for adapter in adapters:
        own = copy.copy(adapter)
        own.__class__ = type("Own" + type(adapter).__name__, (type(adapter),), {})
        reg.register(own)
    return reg


def pipe(reg: Registry) -> Any:
    """What ``start_attempt`` reads of a pipeline, with ``reg`` as its translations."""
    return SimpleNamespace(
        translations=reg,
        config=SimpleNamespace(),
        signature_cache=SignatureCache(),
        thinking_replay=ThinkingReplayCache(),
        agent_models=lambda: "",
        pool=None,
        http=None,
        shaper=None,
    )

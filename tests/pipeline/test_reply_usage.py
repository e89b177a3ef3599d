"""``Reply.usage``: a whole answer the pipeline built from an object carries the usage of
the upstream's answer, as its translation read it, so the usage record need not read the
body again. It accounts the tokens ``usage.tokens.body_usage`` reads of the body (and
more where the client's format has no place for them: tests/e2e/test_stream_usage_accounting);
it is ``None`` when the body is the upstream's own bytes (pass-through) or when nothing
records usage.
"""

from __future__ import annotations

from typing import Any

import pytest
from multidict import CIMultiDict

from cliproxy.calls import Call, Reply
from cliproxy.formats import Format
from cliproxy.usage.tokens import body_usage, token_tuple
from tests.e2e.conftest import matrix_config

USER = {"role": "user", "content": "hi"}
BODIES = {
    Format.OPENAI: {"messages": [USER], "max_tokens": 32},
    Format.CLAUDE: {"messages": [USER], "max_tokens": 32},
    Format.RESPONSES: {"input": "hi", "max_output_tokens": 32},
}


class _Trace:
    """Takes every trace hook the pipeline calls, as a trace that keeps no body does."""

    keep_bodies = False

    def upstream_chunks(self, chunks: Any) -> Any:
        return chunks

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None


def _call(fmt: Format, model: str, trace: Any) -> Call:
    body = {"model": model, **BODIES[fmt]}
    return Call(fmt, body, model, False, CIMultiDict(), {}, trace=trace)


@pytest.mark.parametrize(
    ("fmt", "model"),
    [
        (Format.OPENAI, "claude-model"),
        (Format.OPENAI, "gemini-model"),
        (Format.OPENAI, "codex-model"),  # an upstream that only streams: collected
        (Format.CLAUDE, "compat-model"),
        (Format.CLAUDE, "gemini-model"),
        (Format.RESPONSES, "claude-model"),
        (Format.RESPONSES, "compat-model"),
    ],
)
async def test_a_translated_answer_carries_the_usage_its_body_states(start_proxy, fakes, fmt, model):
    proxy = await start_proxy(matrix_config(fakes))
    reply = await proxy.service.pipeline.run(_call(fmt, model, _Trace()))
    assert isinstance(reply, Reply)
    assert reply.usage is not None
    assert _counts(reply.usage) == _counts(body_usage(fmt, reply.body))


def _counts(u: Any) -> tuple[int, ...]:
    """What the accounting takes of a usage (an absent total is input + output)."""
    assert u is not None and u.input_tokens > 0 and u.output_tokens > 0
    return token_tuple(u)


async def test_no_usage_is_read_for_a_pass_through_answer_or_without_a_trace(start_proxy, fakes):
    proxy = await start_proxy(matrix_config(fakes))
    passed = await proxy.service.pipeline.run(_call(Format.OPENAI, "compat-model", _Trace()))
    assert isinstance(passed, Reply) and passed.usage is None  # the body was never parsed
    assert body_usage(Format.OPENAI, passed.body) is not None  # the usage record reads it
    untraced = await proxy.service.pipeline.run(_call(Format.OPENAI, "claude-model", None))
    assert isinstance(untraced, Reply) and untraced.usage is None  # nobody would read it

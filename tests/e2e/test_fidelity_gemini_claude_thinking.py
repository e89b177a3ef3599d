"""A Gemini CLI tool loop on a Claude model keeps its thinking, with no session named.

Gemini CLI drops the ``thought`` parts of an answer from the history it sends back, and
names no session, so the signed thinking of the turn that made a tool call could come back
neither from the client nor from a session's replay. The proxy then sent turn 2 with
thinking off (manual thinking: Anthropic refuses a tool loop whose turn does not start
with thinking) or let Claude go on without it (adaptive), as
tests/e2e/test_gemini_client_claude_tool_loop.py describes. Now a Gemini client's turns are
kept per caller API key, as a Chat Completions client's are (it has no place for a
signature either): turn 2 reaches Claude with the signed thinking in front of the call, and
thinking stays on. Another API key's requests never get it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.clients import KEY
from tests.e2e.test_claude_cloak import last, write_oauth
from tests.e2e.test_gemini_client_claude_tool_loop import PROMPT, client, generate, reply_to

OTHER_KEY = "sk-proxy-other-caller"


@pytest.fixture
async def proxy(start_proxy: Any, fake_claude: Any, tmp_path: Path) -> Any:
    write_oauth(tmp_path, "gem", fake_claude.base_url)
    return await start_proxy(f'api-keys: ["{KEY}", "{OTHER_KEY}"]\n')


@pytest.mark.parametrize(
    ("model", "kind"),
    [("claude-opus-4-5-20251101", "enabled"), ("claude-opus-4-6", "adaptive")],
    ids=["manual", "adaptive"],
)
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_gemini_cli_loop_keeps_its_thinking(
    proxy: Any, fake_claude: Any, stream: bool, model: str, kind: str
) -> None:
    c = client(proxy.url)
    try:
        first = await generate(c, PROMPT, stream, model)
        second = await generate(c, reply_to(first, keep_thoughts=False), stream, model)
    finally:
        await c.aio.aclose()
    text = "".join(p.text or "" for p in second if not p.thought)
    assert "FAKE_TOOL_OK" in text
    sent = last(fake_claude).json
    assert sent["thinking"]["type"] == kind
    assert [b["type"] for b in sent["messages"][1]["content"]] == ["thinking", "tool_use"]
    assert sent["messages"][1]["content"][0]["signature"]

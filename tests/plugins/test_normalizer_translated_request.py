"""A response normalizer gets the request as it went upstream (CPA's TranslatedRequest)
beside the client's own (OriginalRequest), before and after translation: through a running
proxy, an OpenAI client on a Claude model, a Python plugin writing down what it was handed."""

from __future__ import annotations

import json

from cliproxy.formats import Format
from tests.e2e.clients import ask
from tests.plugins.test_flow_python import HEADER, _proxy

NORMALIZER = (
    HEADER
    + """
OUT = {out!r}

def note(stage, req):
    with open(OUT, "a") as f:
        f.write(json.dumps([stage, req.from_format, req.to_format,
                            req.original_request.decode(), req.translated_request.decode()]) + "\\n")

class Spy(Plugin, ResponseNormalizer):
    name = "spy"; version = "1.0.0"; author = "t"; github_repository = "https://example.com/s"
    async def normalize_before(self, req):
        note("before", req)
        return None
    async def normalize_after(self, req):
        note("after", req)
        return None
plugin = Spy()
"""
)


async def test_normalizers_get_the_translated_request(start_proxy, fakes, tmp_path) -> None:
    out = tmp_path / "seen.jsonl"
    proxy = await _proxy(start_proxy, fakes, tmp_path, {"spy": NORMALIZER.format(out=str(out))}, {"spy": {}})
    answer = await ask(Format.OPENAI, proxy.url, "claude-model", "hello there", stream=False)
    assert "Hello from fake-claude" in answer.text
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(r[0] for r in records) == ["after", "before"]
    for _, up, client, original, translated in records:
        assert (up, client) == ("claude", "openai")
        assert json.loads(original)["messages"][0]["content"] == "hello there"
        sent = json.loads(translated)  # the Messages body sent upstream
        assert sent["model"] == "claude-sonnet-4-6" and sent["messages"][0]["role"] == "user"

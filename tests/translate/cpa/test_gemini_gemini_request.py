"""Ported from CPA internal/translator/gemini/gemini/gemini_gemini_request_test.go: a Gemini
client's body for a Gemini (or Antigravity) upstream.

Gemini to Gemini is a pass-through here (no translation), so CPA's one repair on that
path, naming nameless ``functionResponse`` parts after their calls, happens where the
upstream request is built; these cases go through the providers' ``build``."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from cliproxy.credentials.record import Credential
from cliproxy.providers.antigravity import AntigravityProvider
from cliproxy.providers.gemini import GeminiProvider

from ._run import get

CPA = "gemini_gemini_request_test.go"


def _sent(body: dict[str, Any], provider: str = "gemini") -> dict[str, Any]:
    """The body the provider sends, without the empty user turn it puts in front of a
    history that starts with the model (tests/providers/test_google_body_policies.py):
    CPA's cases test the translator, which does not add it."""
    if provider == "gemini":
        cred = Credential(id="g", provider="gemini", api_key="k")
        up = GeminiProvider().build(cred, body, model="gemini-2.5-pro", stream=False, client_headers={})
        sent = orjson.loads(up.body)
    else:
        cred = Credential(id="a", provider="antigravity", metadata={"access_token": "t", "project_id": "p"})
        up = AntigravityProvider().build(cred, body, model="gemini-2.5-pro", stream=False, client_headers={})
        sent = orjson.loads(up.body)["request"]
    contents = sent.get("contents")
    if contents and contents[0] == {"role": "user", "parts": [{"text": ""}]}:
        sent["contents"] = contents[1:]
    return sent  # type: ignore[no-any-return]


def _model(*names: str) -> dict[str, Any]:
    return {"role": "model", "parts": [{"functionCall": {"name": n, "args": {}}} for n in names]}


def _user(*names: str) -> dict[str, Any]:
    return {
        "role": "user",
        "parts": [{"functionResponse": {"name": n, "response": {"result": "ok"}}} for n in names],
    }


@pytest.mark.parametrize("provider", ["gemini", "antigravity"])
def test_backfill_single(provider: str) -> None:
    """gemini_gemini_request_test.go TestBackfillEmptyFunctionResponseNames_Single and
    TestConvertGeminiRequestToGemini_BackfillsEmptyName."""
    out = _sent({"contents": [_model("Bash"), _user("")]}, provider)
    assert get(out, "contents.1.parts.0.functionResponse.name") == "Bash"


def test_backfill_parallel() -> None:
    """gemini_gemini_request_test.go TestBackfillEmptyFunctionResponseNames_Parallel."""
    out = _sent({"contents": [_model("Read", "Grep"), _user("", "")]})
    assert [get(p, "functionResponse.name") for p in get(out, "contents.1.parts")] == ["Read", "Grep"]


def test_backfill_preserves_existing() -> None:
    """gemini_gemini_request_test.go TestBackfillEmptyFunctionResponseNames_PreservesExisting."""
    out = _sent({"contents": [_model("Bash"), _user("Bash")]})
    assert get(out, "contents.1.parts.0.functionResponse.name") == "Bash"


def test_backfill_more_responses_than_calls() -> None:
    """gemini_gemini_request_test.go TestBackfillEmptyFunctionResponseNames_MoreResponsesThanCalls."""
    out = _sent({"contents": [_model("Bash"), _user("", "")]})
    assert [get(p, "functionResponse.name") for p in get(out, "contents.1.parts")] == ["Bash", ""]


def test_backfill_multiple_groups() -> None:
    """gemini_gemini_request_test.go TestBackfillEmptyFunctionResponseNames_MultipleGroups."""
    out = _sent({"contents": [_model("Read"), _user(""), _model("Grep"), _user("")]})
    assert get(out, "contents.1.parts.0.functionResponse.name") == "Read"
    assert get(out, "contents.3.parts.0.functionResponse.name") == "Grep"


def test_large_normalized_payload_kept() -> None:
    """gemini_gemini_request_test.go TestConvertGeminiRequestToGeminiReusesLargeNormalizedPayload (the
    facts that carry over: a body needing no repair goes out as it came)."""
    body = {
        "contents": [
            {"role": "user", "parts": [{"inlineData": {"mimeType": "video/mp4", "data": "A" * 4096}}]}
        ]
    }
    assert _sent(orjson.loads(orjson.dumps(body))) == body

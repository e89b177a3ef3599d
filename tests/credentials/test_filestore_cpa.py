"""CPA's file token store cases (sdk/auth/filestore_test.go) that are about a credential
itself rather than Go's store object: where its access token is read from."""

from __future__ import annotations

from typing import Any

import pytest

from cliproxy.credentials.record import KIND_OAUTH, Credential


@pytest.mark.parametrize(
    ("metadata", "want"),
    [
        ({"access_token": "tok-abc"}, "tok-abc"),  # Antigravity: top level
        ({"token": {"access_token": "tok-nested"}}, "tok-nested"),  # Gemini: nested
        ({"access_token": "tok-top", "token": {"access_token": "tok-nested"}}, "tok-top"),
        ({}, ""),
        ({"access_token": "   "}, ""),
        ({"access_token": 12345}, ""),
        ({"token": "not-a-map"}, ""),
        ({"token": {"access_token": "  "}}, ""),
        ({"access_token": "", "token": {"access_token": "tok-fallback"}}, "tok-fallback"),
    ],
)
def test_access_token_top_level_then_nested(metadata: dict[str, Any], want: str) -> None:
    """CPA: TestExtractAccessToken: the top-level token wins, the nested ``token`` object is
    the fallback, and a blank or non-string value counts as none."""
    cred = Credential(id="a.json", provider="antigravity", kind=KIND_OAUTH, metadata=metadata)
    assert cred.access_token == want

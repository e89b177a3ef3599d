"""CPA's TestIsCountTokensEndpointNotFoundError (sdk/cliproxy/auth/conductor_overrides_test.go):
which count_tokens 404 bodies say the model is missing (the gateway's answer, the model
is suspended) and which only say the route is (counted locally).

CPA also reads a typed error code set by its executor and wrapped errors; we have the
upstream's body only, so those cases are ported as the body carrying that code. The
"non 404" case is the caller's (``ClaudeProvider.counts_locally_after`` checks the status).
"""

from __future__ import annotations

import pytest

from cliproxy.providers.model_not_found import says_model_not_found

ROUTE_ONLY = [
    "",
    "404 page not found",
    "upstream request failed: 404 page not found",
    '{"detail":"Not Found"}',
    '{"title":"Not Found","status":404}',
    '{"error":{"type":"not_found_error","message":"Not Found"}}',
    '{"type":"not_found_error","title":"Model API","detail":"Not Found"}',
    '{"error":{"type":"not_found_error","message":"model metadata route not found"}}',
    '{"error":{"type":"not_found_error","message":"model provider was not found"}}',
    '{"message":"Not Found","request_id":"model_not_found"}',
    "Cannot POST /v1/messages/count_tokens",
    "<html><title>404 Not Found</title></html>",
    "model claude-missing was not found",  # free text is never trusted
]

MODEL_MISSING = [
    ('{"error":{"type":"not_found_error","message":"model claude-missing was not found"}}', "claude-missing"),
    ('{"error":{"type":"not_found_error","message":"model: claude-missing"}}', "claude-missing"),
    ('{"error":{"type":"not_found_error","message":"model: claude-missing"}}', "claude-missing(high)"),
    ('{"error":{"type":"not_found_error","message":"The requested model does not exist"}}', "claude-missing"),
    (
        '{"error":{"type":"not_found_error","message":"The requested model \'foo\' could not be found"}}',
        "foo",
    ),
    (
        '{"type":"https://example.com/problems/model-not-found","title":"Not Found","status":404}',
        "claude-missing",
    ),
    ('{"error":"model claude-missing does not exist"}', "claude-missing"),
    ('{"message":"Not Found","code":"model_not_found","model":"claude-missing"}', "claude-missing"),
    ('{"error":{"code":"model_not_found","message":"Not Found"}}', "claude-missing"),
    (
        '{"message":"Not Found","error":{"type":"not_found_error","message":"model claude-missing does not exist"}}',
        "claude-missing",
    ),
    ('[{"error":{"code":"unknown-model"}}]', "claude-missing"),
    ('{"errors":["No such model: claude-missing"]}', "claude-missing"),
]


@pytest.mark.parametrize("body", ROUTE_ONLY)
def test_a_route_404_does_not_name_the_model(body: str) -> None:
    assert not says_model_not_found(body.encode(), "claude-missing")


@pytest.mark.parametrize(("body", "model"), MODEL_MISSING)
def test_an_explicit_model_not_found_is_recognised(body: str, model: str) -> None:
    assert says_model_not_found(body.encode(), model)


def test_a_message_naming_another_model_is_not_this_ones() -> None:
    """A not_found type with "model: claude-other" names a model, but not the one asked."""
    body = b'{"error":{"type":"not_found_error","message":"model: claude-other"}}'
    assert not says_model_not_found(body, "claude-missing")

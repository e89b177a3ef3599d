"""Grok Build's terminal client and Codex's keep-alive events (CPA
internal/client/grokbuild/keepalive_test.go), on cliproxy.providers.codex_stream; the
stream through the proxy is in tests/e2e/test_codex_stream_cpa.py."""

from __future__ import annotations

import pytest
from multidict import CIMultiDict

from cliproxy.providers.codex_stream import is_grok_build, keepalive_comments


@pytest.mark.parametrize(
    ("agent", "want"),
    [
        ("grok-shell/0.2.119 (macos; aarch64)", True),
        ("grok-pager/1.0.5 grok-shell/1.0.5 (linux; x86_64)", True),
        ("grok-pager/1.0.5", True),
        ("GROK-PAGER/1.0", True),
        ("GROK-SHELL/1.0", True),
        ("curl/8.7.1", False),
        ("openai-python/1.0.0", False),
        ("", False),
    ],
)
def test_grok_build_is_known_by_its_user_agent(agent: str, want: bool) -> None:
    """CPA: TestIsGrokClientUserAgent, TestIsGrokClientHeaders, TestIsGrokClientContext
    (the request's headers, whatever the name's case; none: not Grok Build)."""
    assert is_grok_build(CIMultiDict({"uSeR-aGeNt": agent})) is want
    assert is_grok_build({"User-Agent": agent}) is want
    assert is_grok_build({}) is False


@pytest.mark.parametrize(
    ("line", "want"),
    [
        (b"event: keepalive", True),
        (b"  event: keepalive  ", True),
        (b'data: {"type":"keepalive","sequence_number":3}', True),
        (b'data: {"type":"keepalive"}', True),
        (b"event: response.created", False),
        (b"event: keepalive-other", False),
        (b'data: {"type":"response.created"}', False),
        (b'data: {"type":"response.reasoning.delta","delta":"keepalive"}', False),
        (b"", False),
    ],
)
def test_only_keepalive_lines_become_comments(line: bytes, want: bool) -> None:
    """CPA: TestIsKeepaliveSSELine, TestIsKeepalivePayload, TestTransformKeepaliveSSELine:
    a keep-alive line becomes the comment ``: keepalive``; any other line stays as it is."""
    assert keepalive_comments(line) == (b": keepalive" if want else line)


def test_a_whole_keepalive_event_keeps_its_framing() -> None:
    """CPA: TestTransformKeepaliveSSELine (on a whole event: each line a comment, the blank
    line that ends the event kept)."""
    event = b'event: keepalive\ndata: {"type":"keepalive","sequence_number":3}\n\n'
    assert keepalive_comments(event) == b": keepalive\n: keepalive\n\n"

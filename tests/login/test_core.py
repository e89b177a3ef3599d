"""The shared sign-in parts: PKCE, state, pasted redirect URLs (CPA's
``ParseOAuthCallback`` cases), OAuth error texts, file names, the save into auth-dir
(CPA's re-login test: user settings survive), and the callback server itself."""

from __future__ import annotations

import asyncio
import io
import re
import socket
import stat

import aiohttp
import orjson
import pytest

from cliproxy.credentials.login.base import LoginError
from cliproxy.credentials.login.callback import CallbackServer, read_stdin_line
from cliproxy.credentials.login.codex_device import codex_file_name
from cliproxy.credentials.login.core import (
    CallbackParams,
    antigravity_file_name,
    check_file_name,
    claude_file_name,
    describe_oauth_error,
    new_state,
    parse_callback_url,
    pkce_challenge,
    pkce_pair,
    save,
)

# -- PKCE and state


def test_pkce_challenge_matches_rfc7636_appendix_b() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert pkce_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_pkce_pair_is_fresh_urlsafe_and_128_chars() -> None:
    a, b = pkce_pair(), pkce_pair()
    assert a.verifier != b.verifier
    assert re.fullmatch(r"[A-Za-z0-9_-]{128}", a.verifier)
    assert a.challenge == pkce_challenge(a.verifier) and "=" not in a.challenge


def test_state_is_32_hex_and_fresh() -> None:
    assert re.fullmatch(r"[0-9a-f]{32}", new_state()) and new_state() != new_state()


# -- pasted redirect URLs


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("http://localhost:1455/auth/callback?code=abc&state=xyz", CallbackParams("abc", "xyz")),
        ("  localhost:54545/callback?code=abc&state=xyz  ", CallbackParams("abc", "xyz")),
        ("?code=abc&state=xyz", CallbackParams("abc", "xyz")),
        ("code=abc&state=xyz", CallbackParams("abc", "xyz")),
        ("http://localhost/cb#code=abc&state=xyz", CallbackParams("abc", "xyz")),
        ("http://localhost/cb?code=abc#state=xyz", CallbackParams("abc", "xyz")),
        ("http://localhost:54545/callback?code=abc%23xyz", CallbackParams("abc", "xyz")),
        (
            "http://localhost/cb?error=access_denied&error_description=no&state=s",
            CallbackParams("", "s", "access_denied", "no"),
        ),
        ("http://localhost/cb?error_description=went+wrong", CallbackParams("", "", "went wrong", "")),
        ("", None),
        ("   ", None),
    ],
)
def test_parse_callback_url(text, want) -> None:
    assert parse_callback_url(text) == want


@pytest.mark.parametrize("text", ["hello", "http://localhost:1455/auth/callback?state=only"])
def test_parse_callback_url_refuses_what_is_no_callback(text) -> None:
    with pytest.raises(LoginError) as caught:
        parse_callback_url(text)
    assert caught.value.reason == "bad_response"


# -- error texts


@pytest.mark.parametrize(
    ("body", "want"),
    [
        ({"error": "invalid_grant", "error_description": "Bad Request"}, "invalid_grant: Bad Request"),
        ({"error": {"code": "refresh_token_reused", "message": "used"}}, "refresh_token_reused: used"),
        (
            {"type": "error", "error": {"type": "invalid_request_error", "message": "m"}},
            "invalid_request_error: m",
        ),
        ({"error": "invalid_client"}, "invalid_client"),
        ({}, "status 400"),
    ],
)
def test_describe_oauth_error(body, want) -> None:
    assert describe_oauth_error(body, 400) == want


def test_describe_oauth_error_is_clipped() -> None:
    assert len(describe_oauth_error({"error": "x" * 5000}, 400)) < 260


# -- file names


def test_file_names_follow_cpa() -> None:
    assert claude_file_name(" user@example.com ") == "claude-user@example.com.json"
    assert antigravity_file_name("user@example.com") == "antigravity-user@example.com.json"
    assert antigravity_file_name("  ") == "antigravity.json"


# CPA internal/auth/codex/filename_test.go
@pytest.mark.parametrize(
    ("email", "plan", "hash_", "want"),
    [
        ("user@example.com", "team", "abc12345", "codex-abc12345-user@example.com-team.json"),
        ("user@example.com", "k12", "def67890", "codex-def67890-user@example.com-k12.json"),
        ("user@example.com", "k12", "", "codex-user@example.com-k12.json"),
        (" user@example.com ", "Plus", " abc12345 ", "codex-abc12345-user@example.com-plus.json"),
        ("user@example.com", "plus", "", "codex-user@example.com-plus.json"),
        ("user@example.com", " Team Plan ", "abc12345", "codex-abc12345-user@example.com-team-plan.json"),
        ("user@example.com", "", "abc12345", "codex-abc12345-user@example.com.json"),
        ("user@example.com", "", "", "codex-user@example.com.json"),
    ],
)
def test_codex_file_name(email, plan, hash_, want) -> None:
    assert codex_file_name(email, plan, hash_) == want


@pytest.mark.parametrize("name", ["../x.json", "a/b.json", "a\\b.json", ".hidden.json", "x.txt", "a\nb.json"])
def test_unsafe_file_names_are_refused(name, tmp_path) -> None:
    with pytest.raises(LoginError):
        check_file_name(name)
    with pytest.raises(LoginError):
        save(tmp_path, name, {"type": "claude"})
    assert list(tmp_path.iterdir()) == []


# -- saving


def test_save_replaces_tokens_and_keeps_user_settings(tmp_path) -> None:
    """CPA auth_files_relogin_preserve_test.go: a re-login keeps what the user set."""
    name = "codex-user@example.com.json"
    (tmp_path / name).write_bytes(
        orjson.dumps(
            {
                "type": "codex",
                "email": "user@example.com",
                "access_token": "old-access",
                "refresh_token": "old-refresh",
                "last_refresh": "2020-01-01T00:00:00Z",
                "prefix": "custom-prefix",
                "websockets": False,
                "note": "my important account",
                "proxy_url": "http://127.0.0.1:8080",
                "weight": 5,
                "headers": {"User-Agent": "Custom"},
                "models": ["o3-mini"],
                "thinking": {"enabled": True},
                "priority": 2,
            }
        )
    )
    new = {
        "type": "codex",
        "email": "user@example.com",
        "access_token": "new-access-token",
        "refresh_token": "new-refresh-token",
        "id_token": "new-id-token",
        "account_id": "act-123",
        "expired": "2026-12-31T23:59:59Z",
        "disabled": False,
    }
    saved = save(tmp_path, name, new)
    data = orjson.loads((tmp_path / name).read_bytes())
    assert data == saved.record and list(data) == sorted(data)
    assert data["access_token"] == "new-access-token" and data["refresh_token"] == "new-refresh-token"
    assert "last_refresh" not in data  # a token field of the old file is not carried over
    assert data["prefix"] == "custom-prefix" and data["websockets"] is False
    assert data["note"] == "my important account" and data["proxy_url"] == "http://127.0.0.1:8080"
    assert data["weight"] == 5 and data["priority"] == 2
    assert data["headers"] == {"User-Agent": "Custom"} and data["models"] == ["o3-mini"]
    assert data["thinking"] == {"enabled": True}
    assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600
    assert saved.account == "user@example.com" and saved.provider == "codex"


def test_save_over_a_broken_file_writes_the_new_record(tmp_path) -> None:
    (tmp_path / "claude-a@b.c.json").write_text("{not json")
    saved = save(tmp_path, "claude-a@b.c.json", {"type": "claude", "access_token": "t"})
    assert orjson.loads(saved.path.read_bytes()) == {"access_token": "t", "type": "claude"}
    assert saved.account == "claude-a@b.c"


# -- the callback server


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        return resp.status, await resp.text()


async def test_callback_server_ignores_strays_and_takes_the_first_callback() -> None:
    async with CallbackServer(provider="claude") as server:
        server.expect(path="/callback", state="s1")
        base = f"http://127.0.0.1:{server.port}"
        assert (await get(base + "/favicon.ico"))[0] == 404
        assert (await get(base + "/callback"))[0] == 400  # no code: not an answer
        result = asyncio.ensure_future(server.result())
        await asyncio.sleep(0)
        assert not result.done()
        page = asyncio.ensure_future(get(base + "/callback?code=c1&state=s1"))
        assert await result == CallbackParams("c1", "s1")
        server.conclude(True, "Signed in as <b>me</b>")
        status, text = await page
        assert status == 200 and "Signed in as &lt;b&gt;me&lt;/b&gt;" in text
        assert (await get(base + "/callback?code=c2&state=s1"))[0] == 409


async def test_callback_server_reports_a_taken_port() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(LoginError) as caught:
            await CallbackServer(port=port, provider="codex").start()
    assert caught.value.reason == "port_in_use" and str(port) in caught.value.message


async def test_read_stdin_line_reads_off_the_loop(monkeypatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("http://localhost/cb?code=a&state=b\n"))
    monkeypatch.setattr("sys.stdout", io.StringIO())
    assert await read_stdin_line("paste: ") == "http://localhost/cb?code=a&state=b"


async def test_read_stdin_line_at_end_of_input_is_empty(monkeypatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    monkeypatch.setattr("sys.stdout", io.StringIO())
    assert await read_stdin_line("paste: ") == ""

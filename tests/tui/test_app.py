"""``cliproxy tui``: the Textual app driven headless by its pilot against a real proxy
with a management key; the proxy answers from fake upstreams over HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest
from textual.widgets import DataTable, Log, Static

from cliproxy.cli import main
from cliproxy.config import load_or_default
from cliproxy.tui.app import CREDENTIAL_COLUMNS, ProxyTui
from cliproxy.tui.standalone import serving
from tests.management.test_auth_files_api import HEAD, MODEL, ask_claude, claude_file, put

KEY = "m-tui-secret"
SUCCESS = [title for title, _ in CREDENTIAL_COLUMNS].index("Success")
STATUS = [title for title, _ in CREDENTIAL_COLUMNS].index("Status")


@pytest.fixture
def mproxy(start_proxy: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("MANAGEMENT_PASSWORD", KEY)
    return start_proxy


def rows(app: ProxyTui) -> dict[str, list[str]]:
    table = app.query_one("#credentials-table", DataTable)
    return {str(row.value): [str(c) for c in table.get_row(row)] for row in table.rows}


def status(app: ProxyTui) -> str:
    return str(app.query_one("#status", Static).render())


async def test_credentials_table_shows_the_configured_credentials(mproxy, tmp_path):
    put(tmp_path, "claude-a.json", claude_file())
    put(tmp_path, "claude-b.json", claude_file(disabled=True))
    proxy = await mproxy(HEAD)
    app = ProxyTui(proxy.url, KEY)
    async with app.run_test() as pilot:
        await pilot.pause()
        table = rows(app)
        assert list(table) == ["claude-a.json", "claude-b.json"]
        assert table["claude-a.json"][:4] == ["claude-a.json", "claude", "user@example.com", "active"]
        assert table["claude-b.json"][STATUS] == "disabled"
        assert status(app) == "2 credentials"


async def test_refresh_shows_the_counters_after_a_request(mproxy, tmp_path, fake_claude):
    put(tmp_path, "claude-a.json", claude_file(fake_claude.base_url))
    proxy = await mproxy(HEAD)
    app = ProxyTui(proxy.url, KEY)
    async with app.run_test() as pilot:
        await pilot.pause()
        assert rows(app)["claude-a.json"][SUCCESS] == "0"
        assert await ask_claude(proxy) == 200
        await pilot.press("r")
        await pilot.pause()
        assert rows(app)["claude-a.json"][SUCCESS] == "1"


async def test_usage_view_shows_api_key_counts(mproxy, fake_claude):
    proxy = await mproxy(
        HEAD + f'claude-api-key:\n  - api-key: "sk-cfg"\n    base-url: "{fake_claude.base_url}"\n'
    )
    assert await ask_claude(proxy) == 200
    app = ProxyTui(proxy.url, KEY)
    async with app.run_test() as pilot:
        await pilot.pause()
        text = str(app.query_one("#usage-view", Static).render())
        assert f"{fake_claude.base_url}  key ...-cfg  success 1  failed 0" in text
        assert "sk-cfg" not in text  # the key itself is not shown
        assert f"  {MODEL} (claude)  requests 1  failed 0  tokens in " in text


async def test_reload_action_makes_the_proxy_apply_the_config_file(mproxy, tmp_path):
    proxy = await mproxy(HEAD)  # no file watcher: only the API call can apply the edit
    proxy.config_path.write_text(f'auth-dir: {tmp_path / "auths"}\napi-keys: ["client-key", "added-key"]\n')
    assert "added-key" not in proxy.service.config.api_keys
    app = ProxyTui(proxy.url, KEY)
    async with app.run_test() as pilot:
        await pilot.pause()
        await pilot.press("c")
        await pilot.pause()
        assert status(app) == "config reloaded; 0 credentials"
    assert "added-key" in proxy.service.config.api_keys


async def test_logs_tab_tails_the_log_file(mproxy, tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "main.log").write_text("first line\nsecond line\n")
    proxy = await mproxy(HEAD + f"logging-to-file: true\nlogs-dir: {logs}\n")
    app = ProxyTui(proxy.url, KEY)
    async with app.run_test() as pilot:
        await pilot.pause()
        assert "second line" in "\n".join(app.query_one("#logs-view", Log).lines)


async def test_a_wrong_key_shows_the_error_instead_of_crashing(mproxy, tmp_path):
    put(tmp_path, "claude-a.json", claude_file())
    proxy = await mproxy(HEAD)
    app = ProxyTui(proxy.url, "wrong")
    async with app.run_test() as pilot:
        await pilot.pause()
        assert status(app).startswith("error: GET /auth-files: HTTP 401")
        assert rows(app) == {}


def test_cli_tui_without_a_key_says_how_to_give_one(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("MANAGEMENT_PASSWORD", raising=False)
    monkeypatch.delenv("CLIPROXY_MANAGEMENT_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["tui", "--config", str(tmp_path / "none.yaml")]) == 2
    said = capsys.readouterr().err  # every source of the key, as --help lists them
    assert all(
        source in said for source in ("--management-key", "$CLIPROXY_MANAGEMENT_KEY", "$MANAGEMENT_PASSWORD")
    )
    assert main(["-tui", "-config", str(tmp_path / "none.yaml")]) == 2


def test_the_cli_does_not_import_textual():
    code = "import sys, cliproxy.cli, cliproxy.tui; assert 'textual' not in sys.modules, 'textual imported'"
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ})


async def test_standalone_serves_the_config_and_manages_it_with_a_one_off_key(tmp_path, monkeypatch):
    """CPA's ``-tui -standalone``: no key given, so one is made for this run."""
    monkeypatch.setenv("MANAGEMENT_PASSWORD", "")  # restored after the test, as the one-off key is set
    monkeypatch.delenv("MANAGEMENT_PASSWORD")
    put(tmp_path, "claude-a.json", claude_file())
    path = tmp_path / "config.yaml"
    path.write_text(f"host: 127.0.0.1\nport: 0\nauth-dir: {tmp_path / 'auths'}\n" + HEAD)
    config, _ = load_or_default(path)
    async with serving(config, path, "") as app, app.run_test() as pilot:
        await pilot.pause()
        assert list(rows(app)) == ["claude-a.json"]
        assert os.environ["MANAGEMENT_PASSWORD"].startswith("tui-")

"""The ``cliproxy`` command, run as a real process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from cliproxy import __version__


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "cliproxy", *args],
        cwd=cwd,
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def _wait_health(port: int, proc: subprocess.Popen, timeout: float = 15) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"cliproxy exited: {proc.stderr.read()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                return {"status": r.status, "body": r.read().decode()}
        except OSError:
            time.sleep(0.1)
    raise AssertionError("cliproxy did not answer /healthz")


def _stop(proc: subprocess.Popen) -> str:
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return err


def test_version():
    out = subprocess.run(
        [sys.executable, "-m", "cliproxy", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == f"cliproxy {__version__}"


def test_starts_on_defaults_when_config_is_missing(tmp_path):
    port = _free_port()
    proc = _start(["--host", "127.0.0.1", "--port", str(port)], tmp_path)
    try:
        health = _wait_health(port, proc)
    finally:
        err = _stop(proc)
    assert health == {"status": 200, "body": '{"status":"ok"}'}
    assert "no config file at" in err and str(tmp_path / "config.yaml") in err
    assert "api-keys is empty" in err
    assert proc.returncode == 0


def test_serve_subcommand_with_config_env_and_debug(tmp_path):
    port = _free_port()
    (tmp_path / "conf.yaml").write_text(
        f"port: {port}\nhost: 127.0.0.1\ndebug: true\napi-keys: [k1]\nauth-dir: {tmp_path / 'auths'}\n"
    )
    (tmp_path / ".env").write_text("CLIPROXY_TEST_MARKER=from-dotenv\n")
    proc = _start(["serve", "--config", "conf.yaml"], tmp_path)
    try:
        _wait_health(port, proc)
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/chat/completions", data=b"{}", method="POST"
        )
        try:
            urllib.request.urlopen(req, timeout=2)
        except urllib.error.HTTPError as e:
            assert e.code == 401
    finally:
        err = _stop(proc)
    assert "loaded 1 variable(s) from .env" in err
    assert "DEBUG" in err or "debug" in err.lower()


def test_bad_config_exits_with_key_path(tmp_path):
    (tmp_path / "config.yaml").write_text("routing:\n  session-affinity: zigzag\n")
    out = subprocess.run(
        [sys.executable, "-m", "cliproxy"], cwd=tmp_path, capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 2
    assert "routing.session-affinity" in out.stderr


CLI_PLUGIN = """
from cliproxy.plugins.api import *
class Tool(Plugin, CommandLinePlugin):
    name = "tool"; version = "1"; author = "t"; github_repository = "https://example.com/t"
    flags = [CommandLineFlag(name="tool-login", usage="log in with the tool", type="string")]
    async def run_command(self, req):
        value = req.flags["tool-login"].value
        return CommandLineResult(stdout=("hello " + value + "\\n").encode(), exit_code=3,
                             auths=[AuthData(provider="claude", file_name="claude-tool.json",
                                             metadata={"access_token": "tok-" + value})])
plugin = Tool()
"""


def test_command_line_plugin_flags(tmp_path):
    """CPA: TestExecuteCommandLinePersistsReturnedAuths (the returned credential is saved
    under auth-dir with its provider as type), TestExecuteCommandLinePassesAllArgsAndTriggeredFlags
    (the set flag and its value reach the plugin; the exit code is the plugin's), and
    TestRegisterCommandLineFlagsSkipsNativeAndUsesPriority in part (an unknown flag is still
    refused by the native parser)."""
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "tool.py").write_text(CLI_PLUGIN)
    (tmp_path / "config.yaml").write_text(
        f"auth-dir: {tmp_path / 'auths'}\nplugins:\n  enabled: true\n"
        f"  dir: {plugins}\n  configs:\n    tool:\n      enabled: true\n"
    )
    out = subprocess.run(
        [sys.executable, "-m", "cliproxy", "--tool-login", "alice"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 3, out.stderr
    assert "hello alice" in out.stdout
    assert "Authentication saved to" in out.stdout
    saved = (tmp_path / "auths" / "claude-tool.json").read_text()
    assert '"tok-alice"' in saved and '"type": "claude"' in saved
    bad = subprocess.run(
        [sys.executable, "-m", "cliproxy", "--no-such-flag"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "no-such-flag" in bad.stderr

"""The sign-in command line, run as a real ``cliproxy`` process against the fake
authorization server: the test plays the browser by reading the printed URL, opening it on
the fake and following its redirect to the command's callback port (as an SSH port
forward would), or by pasting the redirect URL on the command's stdin."""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import re
import socket
import stat
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import orjson
import pytest

from tests.fakes.oauth import AuthServerFake
from tests.login.conftest import browse, fetch_location

PEM = Path(__file__).parents[1] / "providers" / "data" / "sa_key.pem"
URL_LINE = re.compile(r"^\s*(https?://\S+)\s*$")
EMAIL = "user@example.com"
CODEX_FILE = f"codex-{hashlib.sha256(b'acct-123').hexdigest()[:8]}-{EMAIL}-plus.json"
# flag -> (file written, a model the account brings)
CALLBACK_LOGINS = {
    "claude": (f"claude-{EMAIL}.json", "claude-sonnet-4-6"),
    "codex": (CODEX_FILE, "gpt-5.4"),
    "antigravity": (f"antigravity-{EMAIL}.json", "claude-sonnet-4-6"),
}


def free_port() -> int:
    """A free port below Linux's ephemeral range (32768-60999), at random: the command binds
    it later, and a port the kernel handed out (bind to 0) can meanwhile go to another test's
    connection or listener on a parallel worker (a CI failure: "port ... is already in use")."""
    for _ in range(200):
        port = random.randrange(20000, 32000)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 20000-32000")


def write_config(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "conf.yaml"
    path.write_text(f"auth-dir: {tmp_path / 'auths'}\n{extra}")
    return path


def cli_env(**overrides: str) -> dict[str, str]:
    """The test's environment without a display (no browser may open), plus ``overrides``."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(overrides)
    return env


class Cli:
    """A running ``cliproxy`` command whose stdout the test reads line by line."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[str] = []

    @classmethod
    async def start(cls, *args: str, cwd: Path, env: dict[str, str], stdin: bool = False) -> Cli:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "cliproxy",
            *args,
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        return cls(proc)

    async def wait_for(self, pattern: re.Pattern[str], timeout: float = 30.0) -> re.Match[str]:
        """The first stdout line matching ``pattern`` (reading on as needed)."""
        assert self.proc.stdout is not None
        async with asyncio.timeout(timeout):
            while True:
                raw = await self.proc.stdout.readline()
                if not raw:
                    err = await self.proc.stderr.read() if self.proc.stderr else b""
                    raise AssertionError(f"no line matching {pattern.pattern}: {self.lines} {err.decode()}")
                line = raw.decode().rstrip("\n")
                self.lines.append(line)
                if found := pattern.search(line):
                    return found

    async def url(self) -> str:
        return (await self.wait_for(URL_LINE)).group(1)

    def paste(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text.encode() + b"\n")

    async def finish(self, timeout: float = 30.0) -> tuple[int, str, str]:
        """(exit code, all of stdout, stderr) once the command ends."""
        try:
            out, err = await asyncio.wait_for(self.proc.communicate(), timeout)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
            raise
        stdout = "\n".join([*self.lines, out.decode()])
        assert self.proc.returncode is not None
        return self.proc.returncode, stdout, err.decode()

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.communicate()


@pytest.fixture
async def clis():
    """Start commands with ``await clis(*args, ...)``; each is killed if still running."""
    started: list[Cli] = []

    async def start(*args: str, **kw) -> Cli:
        cli = await Cli.start(*args, **kw)
        started.append(cli)
        return cli

    yield start
    for cli in started:
        await cli.stop()


@pytest.fixture
def auth_env(auth_server: AuthServerFake) -> dict[str, str]:
    auth_server.project_ready = True  # Antigravity: loadCodeAssist names the project at once
    return cli_env(
        **{f"CLIPROXY_OAUTH_{p}_BASE": auth_server.base for p in ("CLAUDE", "CODEX", "ANTIGRAVITY")}
    )


def to_port(url: str, port: int) -> str:
    """``url`` sent to 127.0.0.1:``port`` instead (what an SSH port forward does)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, f"127.0.0.1:{port}", parts.path, parts.query, parts.fragment))


async def sign_in(clis, tmp_path, env, provider: str, *extra: str, state: str | None = None):
    """Run ``-<provider>-login`` and play the browser; (exit code, stdout, stderr, page)."""
    port = free_port()
    cli = await clis(
        f"-{provider}-login",
        "-config",
        str(write_config(tmp_path)),
        "-oauth-callback-port",
        str(port),
        *extra,
        cwd=tmp_path,
        env=env,
    )
    callback = await fetch_location(await cli.url())
    if state is not None:
        callback = re.sub(r"state=[^&]+", f"state={state}", callback)
    page = await browse(to_port(callback, port))
    code, out, err = await cli.finish()
    return code, out, err, page


@pytest.mark.parametrize("provider", list(CALLBACK_LOGINS))
async def test_callback_login_writes_the_file_and_says_what_it_brings(
    provider, clis, auth_env, auth_server, tmp_path
) -> None:
    code, out, err, page = await sign_in(clis, tmp_path, auth_env, provider)
    assert code == 0, err
    name, model = CALLBACK_LOGINS[provider]
    path = tmp_path / "auths" / name
    data = orjson.loads(path.read_bytes())
    assert data["type"] == provider and data["email"] == EMAIL
    assert data["access_token"].startswith(f"at-{'google' if provider == 'antigravity' else provider}-")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert page.status == 200 and "Signed in" in page.text
    assert f"as {EMAIL}" in out and f"Saved {path}" in out
    models = next(line for line in out.splitlines() if line.startswith("Models: "))
    assert model in models and re.search(r" and \d+ more$", models)
    assert "at-" not in out + err  # no token on the terminal


async def test_no_browser_accepts_the_pasted_redirect_url(clis, auth_env, tmp_path) -> None:
    cli = await clis(
        "-claude-login",
        "-no-browser",
        "-config",
        str(write_config(tmp_path)),
        "-oauth-callback-port",
        str(free_port()),
        cwd=tmp_path,
        env=auth_env,
        stdin=True,
    )
    # the browser ran on another machine: it ends on a page that does not load, whose
    # URL the user copies into the terminal
    cli.paste(await fetch_location(await cli.url()))
    code, out, err = await cli.finish()
    assert code == 0, err
    assert "Paste the claude callback URL" in out
    assert (tmp_path / "auths" / f"claude-{EMAIL}.json").is_file()


async def test_a_callback_with_another_state_is_refused(clis, auth_env, tmp_path) -> None:
    code, _out, err, page = await sign_in(clis, tmp_path, auth_env, "codex", state="f" * 32)
    assert code == 1
    assert err.strip().splitlines()[-1].startswith("cliproxy: Codex (ChatGPT) sign-in failed:")
    assert "state mismatch" in err
    assert page.status == 400
    assert not (tmp_path / "auths").exists() or not list((tmp_path / "auths").iterdir())


async def test_denial_exits_non_zero_with_one_clear_line(clis, auth_env, auth_server, tmp_path) -> None:
    auth_server.deny = True
    code, _out, err, _page = await sign_in(clis, tmp_path, auth_env, "claude")
    assert code == 1
    assert "denied" in err.lower() and "Traceback" not in err
    assert not (tmp_path / "auths").exists() or not list((tmp_path / "auths").iterdir())


async def test_a_busy_callback_port_exits_13(clis, auth_env, tmp_path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        cli = await clis(
            "-claude-login",
            "-config",
            str(write_config(tmp_path)),
            "-oauth-callback-port",
            str(port),
            cwd=tmp_path,
            env=auth_env,
        )
        code, _out, err = await cli.finish()
    assert code == 13
    assert f"port {port} is already in use" in err and "Traceback" not in err


async def test_a_second_login_replaces_the_file_and_keeps_the_users_keys(clis, auth_env, tmp_path) -> None:
    code, _, err, _ = await sign_in(clis, tmp_path, auth_env, "claude")
    assert code == 0, err
    path = tmp_path / "auths" / f"claude-{EMAIL}.json"
    first = orjson.loads(path.read_bytes())
    path.write_bytes(orjson.dumps({**first, "note": "work account", "prefix": "team"}))
    code, out, err, _ = await sign_in(clis, tmp_path, auth_env, "claude")
    assert code == 0, err
    assert [p.name for p in path.parent.iterdir()] == [path.name]
    second = orjson.loads(path.read_bytes())
    assert second["access_token"] != first["access_token"]
    assert second["refresh_token"] != first["refresh_token"]
    assert (second["note"], second["prefix"]) == ("work account", "team")
    assert "team/claude-sonnet-4-6" in out  # the models line shows the prefix the server uses


def run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cliproxy", *args],
        cwd=cwd,
        env=env or cli_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )


def service_account(tmp_path: Path) -> Path:
    path = tmp_path / "sa.json"
    path.write_bytes(
        orjson.dumps(
            {
                "type": "service_account",
                "project_id": "my-proj",
                "private_key": PEM.read_text(),
                "client_email": "sa@my-proj.iam.gserviceaccount.com",
            }
        )
    )
    return path


def test_vertex_import_without_prefix(tmp_path) -> None:
    out = run(
        "-vertex-import", str(service_account(tmp_path)), "-config", str(write_config(tmp_path)), cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr
    path = tmp_path / "auths" / "vertex-my-proj.json"
    data = orjson.loads(path.read_bytes())
    assert (data["type"], data["project_id"], data["prefix"]) == ("vertex", "my-proj", "")
    assert "Imported Vertex AI as my-proj (sa@my-proj.iam.gserviceaccount.com)" in out.stdout
    assert f"Saved {path}" in out.stdout
    assert re.search(r"^Models: gemini-", out.stdout, re.M)
    assert "PRIVATE KEY" not in out.stdout + out.stderr


def test_vertex_import_with_prefix(tmp_path) -> None:
    out = run(
        "--vertex-import",
        str(service_account(tmp_path)),
        "-vertex-import-prefix",
        "/team/",
        f"-config={write_config(tmp_path)}",
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    data = orjson.loads((tmp_path / "auths" / "vertex-team-my-proj.json").read_bytes())
    assert data["prefix"] == "team"
    assert re.search(r"^Models: .*team/gemini-2.5-pro", out.stdout, re.M)


def test_vertex_import_of_a_bad_file_fails_with_one_line(tmp_path) -> None:
    bad = tmp_path / "sa.json"
    bad.write_text("{not json")
    out = run("-vertex-import", str(bad), "-config", str(write_config(tmp_path)), cwd=tmp_path)
    assert out.returncode == 1
    assert out.stderr.strip().splitlines()[-1].startswith("cliproxy: vertex-import failed: invalid json")
    assert not (tmp_path / "auths").exists()


@pytest.mark.parametrize("flag", ["-h", "--help", "-help"])
def test_help_lists_every_login_flag(flag, tmp_path) -> None:
    out = run(flag, cwd=tmp_path)
    assert out.returncode == 0
    for name in (
        "-claude-login",
        "-codex-login",
        "-codex-device-login",
        "-antigravity-login",
        "-kimi-login",
        "-xai-login",
        "-no-browser",
        "-oauth-callback-port N",
        "-vertex-import FILE",
        "-vertex-import-prefix P",
        "-config PATH",
    ):
        assert re.search(rf"^\s+{re.escape(name)}[ ,]", out.stdout, re.M), name


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-tui", "-claude-login"], "the terminal UI goes with neither serve nor a sign-in flag"),
        (["-home-jwt", "x"], "CLIProxyAPI's -home-jwt flag is not supported"),
        (["-claude-login", "-kimi-login"], "one sign-in at a time"),
        (["-vertex-import-prefix", "p"], "-vertex-import-prefix goes with -vertex-import"),
        (["-claude-login", "-oauth-callback-port", "70000"], "not a port number"),
    ],
)
def test_flags_that_cannot_work_get_one_clear_error(args, message, tmp_path) -> None:
    out = run(*args, cwd=tmp_path)
    assert out.returncode == 2
    assert message in out.stderr and "Traceback" not in out.stderr


def test_single_dash_config_and_go_style_switches_reach_the_login(tmp_path) -> None:
    """``-config FILE`` picks the auth-dir, ``-no-browser=true`` is a switch that is on,
    ``-local-model`` is accepted: the sign-in starts (and fails fast: nobody listens on
    the token server), which shows the command line was understood."""
    config = write_config(tmp_path, "debug: false\n")
    env = cli_env(CLIPROXY_OAUTH_KIMI_BASE=f"http://127.0.0.1:{free_port()}")
    out = run(
        "-kimi-login", "-no-browser=true", "-local-model", "-config", str(config), cwd=tmp_path, env=env
    )
    assert out.returncode == 1, out.stderr
    assert f"saved in {tmp_path / 'auths'}" in out.stdout
    assert "Kimi sign-in failed" in out.stderr and "unreachable" in out.stderr


async def test_no_browser_still_takes_the_forwarded_callback_while_the_prompt_waits(
    clis, auth_env, tmp_path
) -> None:
    port = free_port()
    cli = await clis(
        "-codex-login",
        "-no-browser",
        "-config",
        str(write_config(tmp_path)),
        "-oauth-callback-port",
        str(port),
        cwd=tmp_path,
        env=auth_env,
        stdin=True,  # an open terminal nobody types into
    )
    page = await browse(to_port(await fetch_location(await cli.url()), port))
    code, _out, err = await cli.finish()
    assert code == 0, err
    assert page.status == 200 and "Fatal" not in err
    assert (tmp_path / "auths" / CODEX_FILE).is_file()


def fake_browser(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """Environment overrides for a display whose browser (``$BROWSER``) only notes each
    URL it is asked to open, in the returned file."""
    opened = tmp_path / "opened.txt"
    script = tmp_path / "browser.sh"
    script.write_text(f'#!/bin/sh\necho "$1" >> {opened}\n')
    script.chmod(0o755)
    return {"DISPLAY": ":0", "BROWSER": str(script)}, opened


@pytest.mark.parametrize("no_browser", [False, True], ids=["browser", "no-browser"])
async def test_the_browser_opens_when_there_is_a_display_unless_no_browser(
    no_browser, clis, auth_env, tmp_path
) -> None:
    display, opened = fake_browser(tmp_path)
    extra = ("-no-browser",) if no_browser else ()
    code, out, err, _ = await sign_in(clis, tmp_path, {**auth_env, **display}, "claude", *extra)
    assert code == 0, err
    url = next(m.group(1) for line in out.splitlines() if (m := URL_LINE.match(line)))
    if no_browser:
        assert not opened.exists()
    else:
        assert opened.read_text().split() == [url]

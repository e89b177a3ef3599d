"""Record and replay (docs/record-replay.md): recordings made through the proxy keep no
secret, the shipped recordings replay with zero differences (the regression suite), and a
planted difference is reported with exit status 1."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import anthropic
import openai
import pytest

from cliproxy.cli import main
from cliproxy.record.replay import replay
from cliproxy.record.template import dump, load, write_template
from cliproxy.usage.hooks import recorder_of
from cliproxy.usage.recording import RECORD_DIR_ENV
from tests.e2e.clients import KEY
from tests.e2e.conftest import matrix_config

RECORDINGS = Path(__file__).resolve().parents[1] / "recordings"
SHIPPED = sorted(RECORDINGS.glob("*.json"))
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzZWNyZXQtdXNlciJ9.c2lnbmF0dXJlLXBhcnQ"
# what the client and the config hold that no recording may show
SECRETS = (
    KEY,
    "sk-compat-1",
    "sk-ant-1",
    "gem-key-1",
    "alice@corp.example.com",
    JWT,
    "hdr-secret-value",
    "user_alice_account_1234",
    "body-api-key-value",
    "acct-9876",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _recordings(folder: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]


async def _record(start_proxy, fakes, monkeypatch, out: Path):
    """A proxy over the fakes recording into ``out``; a few requests full of secrets."""
    monkeypatch.setenv(RECORD_DIR_ENV, str(out))
    proxy = await start_proxy(matrix_config(fakes))
    headers = {"X-Session-Token": "hdr-secret-value", "chatgpt-account-id": "acct-9876"}
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        stream = await client.chat.completions.create(
            model="compat-model",
            messages=[{"role": "user", "content": f"mail alice@corp.example.com, token {JWT}"}],
            stream=True,
            extra_headers=headers,
            extra_body={"metadata": {"api_key": "body-api-key-value"}},
        )
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text.startswith("Hello from fake-openai")
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as claude:
        msg = await claude.messages.create(
            model="claude-model",
            max_tokens=64,
            messages=[{"role": "user", "content": "hi from alice@corp.example.com"}],
            metadata={"user_id": "user_alice_account_1234"},
        )
    assert msg.content[0].type == "text"
    recorder_of(proxy.service).writer.flush()
    write_template(proxy.config_path, out)
    return proxy


async def test_recording_keeps_no_secret_and_replays_clean(start_proxy, fakes, monkeypatch, tmp_path):
    out = tmp_path / "rec"
    await _record(start_proxy, fakes, monkeypatch, out)
    files = sorted(out.iterdir())
    assert len([p for p in files if p.suffix == ".json"]) == 2 and (out / "config.yaml").is_file()
    for path in files:
        text = path.read_text()
        for secret in SECRETS:
            assert secret not in text, (path.name, secret)
    chat, claude = _recordings(out)
    # what was recorded: the client request, each upstream call and the answer
    client_headers = {k.lower(): v for k, v in chat["client"]["headers"].items()}
    assert client_headers["authorization"] == client_headers["x-session-token"] == "<redacted>"
    assert client_headers["chatgpt-account-id"] == "00000000-0000-4000-8000-000000000000"
    assert chat["client"]["body"]["messages"][0]["content"] == "mail user@example.invalid, token <jwt>"
    assert chat["client"]["body"]["metadata"]["api_key"] == "<redacted>"
    (up,) = chat["upstream"]
    assert up["request"]["url"].endswith("/v1/chat/completions") and up["response"]["status"] == 200
    assert {k.lower(): v for k, v in up["request"]["headers"].items()}["authorization"] == "<redacted>"
    assert "".join(c["data"] for c in up["response"]["chunks"]).rstrip().endswith("data: [DONE]")
    assert all(c["gap_ms"] >= 0 for c in chat["response"]["chunks"])
    assert chat["response"]["status"] == 200
    assert claude["client"]["body"]["metadata"]["user_id"] == "user_recorded"
    assert claude["response"]["body"]["content"][0]["type"] == "text"
    # and what was recorded replays with no difference
    lines: list[str] = []
    assert await replay(out, say=lines.append) == 0, lines


async def test_failover_is_recorded_and_replays_in_order(start_proxy, fakes, monkeypatch, tmp_path):
    out = tmp_path / "rec"
    monkeypatch.setenv(RECORD_DIR_ENV, str(out))
    claude = f"""
api-keys: ["{KEY}"]
claude-api-key:
  - {{api-key: "sk-ant-1", base-url: "{fakes.claude.base_url}", models: [{{name: "claude-sonnet-4-6", alias: "m"}}]}}
  - {{api-key: "sk-ant-2", base-url: "{fakes.claude.base_url}", models: [{{name: "claude-sonnet-4-6", alias: "m"}}]}}
"""
    proxy = await start_proxy(claude)
    fakes.claude.fail_next(500)
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        async with client.messages.stream(
            model="m", max_tokens=64, messages=[{"role": "user", "content": "hi"}]
        ) as stream:
            text = "".join([t async for t in stream.text_stream])
    assert text.startswith("Hello from fake-claude")
    recorder_of(proxy.service).writer.flush()
    write_template(proxy.config_path, out)
    (rec,) = _recordings(out)
    assert [u["response"]["status"] for u in rec["upstream"]] == [500, 200]
    assert "body" in rec["upstream"][0]["response"] and "chunks" in rec["upstream"][1]["response"]
    lines: list[str] = []
    assert await replay(out, say=lines.append) == 0, lines
    # the same recording against a proxy with one credential only: the second call is missing
    config = load(out / "config.yaml")
    config["claude-api-key"] = config["claude-api-key"][:1]
    dump(config, out / "config.yaml")
    lines.clear()
    assert await replay(out, say=lines.append) == 1
    assert any(line.startswith("  response.status: expected 200, got ") for line in lines), lines


@pytest.mark.parametrize("recording", SHIPPED, ids=[p.stem for p in SHIPPED])
async def test_shipped_recording_replays_without_differences(recording):
    lines: list[str] = []
    assert await replay(recording, say=lines.append) == 0, "\n".join(lines)
    assert lines[-1] == "1 recording(s), 0 with differences"


def test_shipped_recordings_cover_the_scenarios():
    names = {p.stem for p in SHIPPED}
    assert {
        "01-openai-chat-stream",
        "02-claude-messages-tool-call",
        "03-responses-to-claude-stream",
        "04-gemini-generate",
    } <= names
    tool = json.loads((RECORDINGS / "02-claude-messages-tool-call.json").read_text())
    assert tool["response"]["body"]["content"][0]["type"] == "tool_use"
    translated = json.loads((RECORDINGS / "03-responses-to-claude-stream.json").read_text())
    assert (
        translated["client"]["url"] == "/v1/responses" and translated["upstream"][0]["provider"] == "claude"
    )


def _plant(tmp_path: Path) -> Path:
    """A copy of the shipped recordings with the Gemini answer's text and one event of the
    Responses stream changed."""
    folder = tmp_path / "planted"
    shutil.copytree(RECORDINGS, folder, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    gemini = folder / "04-gemini-generate.json"
    data = json.loads(gemini.read_text())
    data["response"]["body"]["candidates"][0]["content"]["parts"][0]["text"] = "planted text"
    gemini.write_text(json.dumps(data))
    return folder


def test_planted_difference_is_reported_with_exit_1(tmp_path, capsys):
    folder = _plant(tmp_path)
    assert main(["replay", str(folder)]) == 1
    out = capsys.readouterr().out
    assert "04-gemini-generate.json: 1 difference(s)" in out
    assert (
        '  response.body.candidates[0].content.parts[0].text: expected "planted text", got "Hello from fake-gemini'
        in out
    )
    assert "01-openai-chat-stream.json: ok" in out
    assert out.strip().endswith("4 recording(s), 1 with differences")


async def test_changed_stream_and_status_are_reported(tmp_path):
    folder = tmp_path / "one"
    folder.mkdir()
    shutil.copy(RECORDINGS / "config.yaml", folder)
    data = json.loads((RECORDINGS / "01-openai-chat-stream.json").read_text())
    chunks = data["response"]["chunks"]
    chunks[-1]["data"] = chunks[-1]["data"].replace("(model gpt-4o-mini)", "(model other)")
    data["response"]["status"] = 201
    (folder / "r.json").write_text(json.dumps(data))
    lines: list[str] = []
    assert await replay(folder, say=lines.append) == 1
    assert "  response.status: expected 201, got 200" in lines
    assert any(
        line.startswith('  response.events[2].data.choices[0].delta.content: expected "(model other)"')
        for line in lines
    ), lines


async def test_upstream_request_change_is_reported(tmp_path):
    # the proxy now sends the upstream something else than it did when recorded
    folder = tmp_path / "one"
    folder.mkdir()
    shutil.copy(RECORDINGS / "config.yaml", folder)
    data = json.loads((RECORDINGS / "04-gemini-generate.json").read_text())
    data["upstream"][0]["request"]["body"]["contents"][0]["parts"][0]["text"] = "Say goodbye"
    (folder / "r.json").write_text(json.dumps(data))
    lines: list[str] = []
    assert await replay(folder, say=lines.append) == 1
    assert (
        '  upstream[0].request.body.contents[0].parts[0].text: expected "Say goodbye", got "Say hello"'
        in lines
    )


async def test_replay_against_a_running_proxy(start_proxy, tmp_path):
    # the user's proxy points at the recorded upstream (a fixed port), replay only drives it
    port = _free_port()
    upstream = f"http://127.0.0.1:{port}"
    config = f"""
api-keys: ["sk-user-key"]
openai-compatibility:
  - name: fakeopenai
    base-url: "{upstream}/v1"
    api-key-entries: [{{api-key: "k1"}}]
    models: [{{name: "gpt-4o-mini", alias: "compat-model"}}]
"""
    proxy = await start_proxy(config)
    lines: list[str] = []
    code = await replay(
        RECORDINGS / "01-openai-chat-stream.json",
        against=proxy.url,
        api_key="sk-user-key",
        upstream_port=port,
        say=lines.append,
    )
    assert code == 0, lines
    assert lines[0] == f"recorded upstream: {upstream}"
    # a wrong client key is a difference, not a crash
    lines.clear()
    code = await replay(
        RECORDINGS / "01-openai-chat-stream.json",
        against=proxy.url,
        api_key="wrong",
        upstream_port=port,
        say=lines.append,
    )
    assert code == 1 and "  response.status: expected 200, got 401" in lines


def test_replay_of_nothing_is_a_clear_error(tmp_path, capsys):
    assert main(["replay", str(tmp_path / "missing")]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    assert main(["replay", str(tmp_path)]) == 2
    assert "no recordings" in capsys.readouterr().err


def test_record_command_runs_the_proxy_and_records(tmp_path, fakes):
    auth_dir = tmp_path / "auths"
    auth_dir.mkdir()
    config = tmp_path / "config.yaml"
    config.write_text(f"auth-dir: {auth_dir}\n" + matrix_config(fakes))
    out, port = tmp_path / "out", _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cliproxy",
            "record",
            "--out",
            str(out),
            "--config",
            str(config),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        body = json.dumps({"model": "gemini-model", "messages": [{"role": "user", "content": "hi"}]}).encode()
        deadline = time.monotonic() + 20
        while True:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            try:
                answer = _post(f"http://127.0.0.1:{port}/v1/chat/completions", body)
                break
            except OSError:
                assert time.monotonic() < deadline, "cliproxy record did not start"
                time.sleep(0.1)
        assert answer["choices"][0]["message"]["content"].startswith("Hello from fake-gemini")
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
    (rec,) = _recordings(out)
    assert rec["client"]["url"] == "/v1/chat/completions"
    assert rec["upstream"][0]["request"]["url"].endswith("/v1beta/models/gemini-2.5-flash:generateContent")
    template = (out / "config.yaml").read_text()
    assert "gem-key-1" not in template and KEY not in template and "replay-secret-" in template


def _post(url: str, body: bytes) -> dict:
    import urllib.request

    req = urllib.request.Request(
        url, data=body, headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


async def test_recorded_upstream_answers_unknown_calls_with_a_clear_error(tmp_path):
    from cliproxy.record.upstream import RecordedUpstream

    upstream = RecordedUpstream()
    url = await upstream.start()
    try:
        async with aiohttp.ClientSession() as session, session.post(url + "/v1/x", json={}) as resp:
            assert resp.status == 501
            assert "no recorded answer for POST /v1/x" in (await resp.json())["error"]["message"]
        assert [str(p) for p in upstream.problems] == [
            'upstream: expected "no further call", got "POST /v1/x"'
        ]
    finally:
        await upstream.close()

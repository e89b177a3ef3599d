"""The ``cliproxy`` command's stderr lines: ``<time> <level> [<request id>] <logger>: <text>``."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

# 2025-12-23 20:14:04 WARNING [a1b2c3d4] cliproxy.pipeline: upstream ... failed for ...
LINE = re.compile(r"^\S+ \S+ (?P<level>[A-Z]+) +\[(?P<rid>[^\]]+)\] (?P<logger>[\w.]+): (?P<text>.*)$")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _post(port: int, model: str) -> int:
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/messages",
        data=b'{"model": "%s", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}'
        % model.encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _wait_up(port: int, proc: subprocess.Popen, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("cliproxy did not answer /healthz")


def test_a_failed_upstream_call_logs_the_request_id(tmp_path: Path):
    port, dead = _free_port(), _free_port()  # nothing listens on ``dead``: the upstream is unreachable
    (tmp_path / "config.yaml").write_text(f"""
host: 127.0.0.1
port: {port}
auth-dir: {tmp_path / "auths"}
request-retry: 0
claude-api-key:
  - api-key: "k-x"
    base-url: "http://127.0.0.1:{dead}"
    models: [{{name: "claude-f", alias: "claude-one"}}, {{name: "claude-g", alias: "claude-two"}}]
""")
    proc = subprocess.Popen(
        [sys.executable, "-m", "cliproxy"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    try:
        _wait_up(port, proc)
        assert _post(port, "claude-one") == 502
        assert _post(port, "claude-two") == 502
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
    lines = [m for m in map(LINE.match, err.splitlines()) if m]
    assert lines, err
    failures = {
        model: m["rid"]
        for m in lines
        for model in ("claude-one", "claude-two")
        if m["logger"] == "cliproxy.pipeline_failover"
        and m["text"].startswith("upstream ")
        and model in m["text"]
    }
    assert set(failures) == {"claude-one", "claude-two"}, err
    assert all(re.fullmatch(r"[0-9a-f]{8}", rid) for rid in failures.values()), err
    assert failures["claude-one"] != failures["claude-two"]
    startup = [m for m in lines if "api-keys is empty" in m["text"]]
    assert startup and startup[0]["rid"] == "-", err  # outside a request
    assert all(m["logger"].startswith("cliproxy.") for m in lines if m["logger"].startswith("cliproxy")), err

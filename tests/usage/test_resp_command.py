"""The usage queue over the Redis protocol, served by the ``cliproxy`` command itself.

The command runs on uvloop, whose transports are not ``asyncio.Transport`` subclasses; the
in-process tests (``test_resp.py``) run on asyncio's own loop, so only a real process shows
that a RESP connection handed over by the fast server engine is served there
(docs/usage.md: ``redis-cli -p 8317 -a <management key> LPOP usage 10``).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

MKEY = "m-resp-command"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


def _exchange(port: int, *commands: bytes) -> list[bytes]:
    """One line of answer per command, over one connection (b"" once it is closed)."""
    answers = []
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        reader = conn.makefile("rb")
        for command in commands:
            conn.sendall(command)
            answers.append(reader.readline().rstrip(b"\r\n"))
    return answers


def test_the_command_serves_resp_on_its_port(tmp_path: Path) -> None:
    port = _free_port()
    (tmp_path / "config.yaml").write_text(
        f"host: 127.0.0.1\nport: {port}\nauth-dir: {tmp_path / 'auths'}\n"
        "usage-statistics-enabled: true\nusage-ledger: {enabled: false}\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "cliproxy", "-local-model"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "MANAGEMENT_PASSWORD": MKEY},
    )
    try:
        _wait_up(port, proc)
        auth = b"*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n" % (len(MKEY), MKEY.encode())
        pop = b"*3\r\n$4\r\nLPOP\r\n$5\r\nusage\r\n$2\r\n10\r\n"
        assert _exchange(port, auth, pop) == [b"+OK", b"*0"]
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
    assert "Traceback" not in err, err

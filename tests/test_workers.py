"""``workers: N``: the supervisor runs N `cliproxy serve` processes on one port, restarts a
killed one, drains on SIGTERM, and refuses to start on the per-process memory state backend.

Every test runs the real command (``python -m cliproxy``) as a child process and talks HTTP
to it; the upstream is the OpenAI fake. The memory-backend override
(``CLIPROXY_WORKERS_MEMORY_STATE``) is set where a test is about the supervisor itself.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from cliproxy.config import Config, load_or_default
from cliproxy.server.workers import MEMORY_OVERRIDE_ENV, Supervisor, refusal, reserve_port
from tests.fakes.openai import OpenAIFake

KEY = "sk-client"
BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


def _config(tmp_path: Path, fake: OpenAIFake, extra: str = "") -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        f"""
api-keys: ["{KEY}"]
auth-dir: "{tmp_path / "auths"}"
openai-compatibility:
  - name: fake
    base-url: "{fake.base_url}/v1"
    api-key-entries: [{{api-key: sk-up}}]
    models: [{{name: gpt-4o-mini}}]
{extra}
"""
    )
    return path


class Proc:
    """A `cliproxy` child process whose stderr lines are collected as they come."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path | None = None) -> None:
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "cliproxy", *args],
            env=env,
            cwd=cwd,
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
        )
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.popen.stderr is not None
        for line in self.popen.stderr:
            with self._cond:
                self.lines.append(line)
                self._cond.notify_all()

    def wait_for(self, pattern: str, count: int = 1, timeout: float = 20.0) -> list[re.Match[str]]:
        """The first ``count`` matches of ``pattern`` in the log, waiting for them."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [m for line in self.lines if (m := rx.search(line))]
                if len(found) >= count:
                    return found[:count]
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {count}x {pattern!r} in:\n" + "".join(self.lines))
                self._cond.wait(min(left, 0.2))

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=5)
        self._reader.join(timeout=5)
        if self.popen.stderr is not None:
            self.popen.stderr.close()


@pytest.fixture
def fake() -> Iterator[OpenAIFake]:
    with OpenAIFake() as f:
        yield f


@pytest.fixture
def run(tmp_path: Path) -> Iterator[object]:
    started: list[Proc] = []

    def start(args: list[str], *, override: bool = True) -> Proc:
        env = {k: v for k, v in os.environ.items() if k != MEMORY_OVERRIDE_ENV}
        if override:
            env[MEMORY_OVERRIDE_ENV] = "1"
        proc = Proc(args, env)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop()


def _chat(port: int) -> int:
    """The status of one chat completion through the proxy on ``port``."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/chat/completions",
        data=json.dumps(BODY).encode(),
        headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_workers_share_one_port_and_a_killed_worker_is_restarted(tmp_path, fake, run):
    cfg = _config(tmp_path, fake, "workers: 2")
    sup = run(["serve", "--config", str(cfg), "--port", "0"])
    port = int(sup.wait_for(r"supervising 2 workers on 127\.0\.0\.1:(\d+)")[0][1])
    listening = sup.wait_for(r"listening on http://127\.0\.0\.1:(\d+) \(pid (\d+)\)", count=2)
    assert {int(m[1]) for m in listening} == {port}  # both workers on the one port
    assert len({m[2] for m in listening}) == 2
    assert all(_chat(port) == 200 for _ in range(4))

    first = int(sup.wait_for(r"worker 0 started \(pid (\d+)\)")[0][1])
    os.kill(first, signal.SIGKILL)
    sup.wait_for(rf"worker 0 \(pid {first}\) exited \(killed by SIGKILL\); restarting it in")
    assert _chat(port) == 200  # the other worker serves meanwhile
    again = sup.wait_for(r"worker 0 started \(pid (\d+)\)", count=2)[1]
    assert int(again[1]) != first
    sup.wait_for(rf"listening on http://127\.0\.0\.1:\d+ \(pid {again[1]}\)")
    assert all(_chat(port) == 200 for _ in range(4))
    assert sup.popen.poll() is None


def test_sigterm_drains_requests_in_flight(tmp_path, fake, run):
    cfg = _config(tmp_path, fake)
    sup = run(["serve", "--config", str(cfg), "--port", "0", "--workers", "2"])
    port = int(sup.wait_for(r"supervising 2 workers on 127\.0\.0\.1:(\d+)")[0][1])
    sup.wait_for(r"listening on", count=2)
    fake.delay_next(1.5)
    result: list[int] = []
    client = threading.Thread(target=lambda: result.append(_chat(port)))
    client.start()
    deadline = time.monotonic() + 10
    while not fake.requests and time.monotonic() < deadline:
        time.sleep(0.02)
    assert fake.requests, "the request never reached the upstream"
    sup.popen.send_signal(signal.SIGTERM)
    client.join(timeout=20)
    assert result and result[0] == 200  # finished, not cut by the shutdown
    assert sup.popen.wait(timeout=20) == 0
    sup.wait_for(r"every worker stopped")
    with pytest.raises(urllib.error.URLError):  # and nobody listens any more
        _chat(port)


@pytest.mark.parametrize("how", ["config", "flag"])
def test_several_workers_on_the_memory_backend_are_refused(tmp_path, fake, run, how):
    cfg = _config(tmp_path, fake, "workers: 3" if how == "config" else "")
    args = ["serve", "--config", str(cfg), "--port", "0"] + (["--workers", "3"] if how == "flag" else [])
    proc = run(args, override=False)
    assert proc.popen.wait(timeout=20) == 2
    line = proc.wait_for(r"cannot start: workers: 3 needs a shared state backend")[0].string
    assert "state.backend is memory" in line and "redis" in line
    assert not any("listening on" in x for x in proc.lines)


def test_refusal_reads_the_state_backend():
    assert refusal(Config(), 1) is None  # one worker: the memory backend is right
    assert "state.backend is memory" in (refusal(Config(), 2, environ={}) or "")
    assert refusal(Config(), 2, environ={MEMORY_OVERRIDE_ENV: "1"}) is None
    shared = Config.model_validate({"state": {"backend": "redis", "url": "redis://127.0.0.1:1"}})
    assert refusal(shared, 4, environ={}) is None


def test_cli_rejects_a_worker_count_out_of_range(tmp_path, fake, run):
    proc = run(["serve", "--config", str(_config(tmp_path, fake)), "--workers", "0"])
    assert proc.popen.wait(timeout=20) == 2
    proc.wait_for(r"--workers 0: give a number from 1 to 256")


def test_backoff_doubles_and_is_capped():
    sup = Supervisor(1, lambda i: ["true"], backoff_first=0.5, backoff_max=4.0)
    assert [sup.backoff(n) for n in (1, 2, 3, 4, 5, 9)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_a_worker_that_keeps_dying_is_restarted_with_backoff(tmp_path):
    """A worker that exits at once is started again, later each time; SIGTERM still stops the lot."""
    starts = tmp_path / "starts"
    sup = Supervisor(
        1,
        lambda i: [sys.executable, "-c", f"open({str(starts)!r}, 'a').write('x')"],
        backoff_first=0.1,
        backoff_max=0.4,
    )
    stopper = threading.Timer(1.5, sup.stop)
    stopper.start()
    began = time.monotonic()
    assert sup.run() == 0
    took = time.monotonic() - began
    runs = len(starts.read_text())
    # 0.1 + 0.2 + 0.4 + 0.4 ... within 1.5 s: a handful of restarts, not hundreds
    assert 3 <= runs <= 7, runs
    assert took < 5


def test_reserved_port_lets_workers_listen_on_it():
    import socket

    held = reserve_port("127.0.0.1", 0)
    with held:
        port = held.getsockname()[1]
        worker = socket.socket()
        worker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        worker.bind(("127.0.0.1", port))
        worker.listen()
        with worker, socket.create_connection(("127.0.0.1", port), timeout=2):
            pass


def test_two_workers_on_the_redis_backend_start_and_share_cooldowns(tmp_path, fake, run, redis_server):
    """No override needed on a shared backend; an upstream 429 seen by whichever worker
    answered cools the key for both: the next requests never reach the upstream."""
    state = f"state: {{backend: redis, url: '{redis_server.url}', prefix: 'w:'}}\nworkers: 2"
    sup = run(["serve", "--config", str(_config(tmp_path, fake, state)), "--port", "0"], override=False)
    port = int(sup.wait_for(r"supervising 2 workers on 127\.0\.0\.1:(\d+)")[0][1])
    sup.wait_for(r"listening on", count=2)
    fake.fail_next(429, retry_after=60)
    assert _chat(port) == 429  # the only key is cooled now
    seen = len(fake.requests)
    for _ in range(6):  # new connections: the kernel spreads them over both workers
        assert _chat(port) == 429
    assert len(fake.requests) == seen  # neither worker called the cooled key again


def _scrape(port: int) -> tuple[float, float]:
    """``/metrics`` on a new connection: (successful requests, active credentials)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    ok = re.search(r'^cliproxy_requests_total\{[^}]*status="200"[^}]*\} (\S+)$', text, re.M)
    active = re.findall(r'^cliproxy_credentials\{[^}]*state="active"[^}]*\} (\S+)$', text, re.M)
    return (float(ok[1]) if ok else 0.0), sum(float(v) for v in active)


def test_metrics_count_the_requests_of_every_worker(tmp_path, fake, run):
    """``/metrics`` answered by whichever worker the kernel picks shows every worker's
    requests, and keeps a restarted worker's: Prometheus sees one proxy whose counters only
    grow. Before, each worker answered with its own counters (11 requests scraped as 7,
    then 4, then 7), which Prometheus reads as counter resets."""
    cfg = _config(tmp_path, fake, "workers: 2\nmetrics: {enabled: true}")
    sup = run(["serve", "--config", str(cfg), "--port", "0"])
    port = int(sup.wait_for(r"supervising 2 workers on 127\.0\.0\.1:(\d+)")[0][1])
    pids = [int(m[1]) for m in sup.wait_for(r"listening on http://\S+ \(pid (\d+)\)", count=2)]
    for _ in range(11):  # new connections: the kernel spreads them over both workers
        assert _chat(port) == 200
    deadline = time.monotonic() + 10
    while _scrape(port)[0] < 11 and time.monotonic() < deadline:  # a row lands as the answer ends
        time.sleep(0.02)
    assert {_scrape(port) for _ in range(6)} == {(11.0, 1.0)}
    os.kill(pids[0], signal.SIGKILL)
    sup.wait_for(r"listening on http://\S+ \(pid (\d+)\)", count=3)
    assert {_scrape(port) for _ in range(6)} == {(11.0, 1.0)}


def test_a_metrics_folder_the_user_set_is_emptied_of_an_earlier_run(tmp_path, fake, run, monkeypatch):
    """A ``PROMETHEUS_MULTIPROC_DIR`` the user set is kept, but the metric files an earlier run
    left there are removed at start (prometheus-client sums every file in the folder, so an
    earlier run's counters, or a file of a reused pid, would be added in); other files stay."""
    folder = tmp_path / "metrics"
    folder.mkdir()
    (folder / "counter_999999.db").write_bytes(b"\x00" * 64)  # an earlier run's worker
    (folder / "histogram_999998.db").write_bytes(b"\x00" * 64)
    (folder / "notes.txt").write_text("mine")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(folder))
    cfg = _config(tmp_path, fake, "workers: 2\nmetrics: {enabled: true}")
    sup = run(["serve", "--config", str(cfg), "--port", "0"])
    port = int(sup.wait_for(r"supervising 2 workers on 127\.0\.0\.1:(\d+)")[0][1])
    sup.wait_for(r"listening on http://\S+ \(pid (\d+)\)", count=2)
    assert not (folder / "counter_999999.db").exists()
    assert not (folder / "histogram_999998.db").exists()
    assert (folder / "notes.txt").read_text() == "mine"
    assert _chat(port) == 200
    deadline = time.monotonic() + 10
    while _scrape(port)[0] < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _scrape(port)[0] == 1.0


def _management(port: int, method: str, path: str, body: object = None) -> tuple[int, object]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v0/management{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": "Bearer mgmt-secret", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return int(response.status), json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_concurrent_management_edits_through_both_workers_all_stay(tmp_path, fake, run, redis_server):
    """Twenty keys added at once, each by its own request (the kernel spreads them over both
    workers), are all in config.yaml and on every worker afterwards. Before, each worker
    serialised only its own edits: two workers read the file at the same time and the later
    save dropped the other's key (12 of 20 stayed, each answered 200), and a worker saving
    the text another one had published could put back a file older than the one on disk."""
    from concurrent.futures import ThreadPoolExecutor

    extra = (
        f"state: {{backend: redis, url: '{redis_server.url}', prefix: 'edits:'}}\nworkers: 2\n"
        'remote-management: {secret-key: "mgmt-secret"}\n'
    )
    cfg = _config(tmp_path, fake, extra)
    sup = run(["serve", "--config", str(cfg), "--port", "0"], override=False)
    port = int(sup.wait_for(r"supervising 2 workers on 127\.0\.0\.1:(\d+)")[0][1])
    sup.wait_for(r"listening on", count=2)
    with ThreadPoolExecutor(20) as pool:
        statuses = list(
            pool.map(
                lambda i: _management(port, "PATCH", "/api-keys", {"old": f"no-{i}", "new": f"k-{i}"})[0],
                range(20),
            )
        )
    assert statuses == [200] * 20
    wanted = {f"k-{i}" for i in range(20)}
    deadline = time.monotonic() + 10
    while True:
        seen = [set(_management(port, "GET", "/api-keys")[1]["api-keys"]) for _ in range(4)]  # type: ignore[index]
        if all(wanted <= keys for keys in seen) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert all(wanted <= keys for keys in seen), [sorted(wanted - keys) for keys in seen]
    assert wanted <= set(load_or_default(cfg)[0].api_keys)  # and in the file

"""The processes under test: the fake upstream, the two floors and the real cliproxy.

Each runs in its own process so none steals the others' CPU in-process; they are
stopped by the code that started them (``Procs`` is a context manager). ``Procs(tls=True)``
puts the fake behind HTTPS with a certificate made at run time (bench/tlscert.py); the
floors get its CA with ``--cafile`` and cliproxy through ``SSL_CERT_FILE`` (OpenSSL's
default verify paths, which the upstream client's default context loads: cliproxy has no
per-credential CA or "insecure" setting).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from scenarios import proxy_config
from tlscert import make as make_cert

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
OUT = BENCH / "out"
CLK_TCK = os.sysconf("SC_CLK_TCK")
MAIN = "main"  # thread_seconds' name for the process's own thread (tid = pid)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stat(pid: int | str) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None


def cpu_seconds(pid: int) -> float:
    """User + system CPU time ``pid`` has used so far, in seconds (Linux /proc), with its
    child processes': the live ones (a plugin run as a subprocess, say) and the ones it
    reaped. Work a proxy hands to another process is still the proxy's cost."""
    fields = _stat(pid)
    if fields is None:
        return float("nan")
    ticks = sum(int(v) for v in fields[11:15])
    return (ticks + sum(_own_ticks(child) for child in descendants(pid))) / CLK_TCK


def _thread_cpu(fields: list[str]) -> float:
    """User + system seconds of one thread's (or a process's own) ``stat`` fields."""
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def main_thread_seconds(pid: int) -> float:
    """User + system CPU time of ``pid``'s main thread (its event loop's, for the proxy)."""
    fields = _stat(f"{pid}/task/{pid}")
    return _thread_cpu(fields) if fields else float("nan")


def thread_seconds(pid: int) -> dict[str, float]:
    """User + system CPU seconds of each live thread of ``pid``, by its OS name (``comm``:
    Python before 3.14 gives the OS no thread names, so the ledger's writer shows as the
    process's name); the process's own thread as ``MAIN``; threads of one name summed. A
    thread that ended is not listed: the proxy's (the loop, the ledger's writer, the config
    watcher, the default executor's) live as long as it does."""
    out: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        fields = _stat(f"{pid}/task/{task.name}")
        try:
            name = MAIN if task.name == str(pid) else (task / "comm").read_text().strip()
        except OSError:  # the thread ended meanwhile
            continue
        if fields is not None:
            out[name] = out.get(name, 0.0) + _thread_cpu(fields)
    return out


def counted(got: dict, spec: dict) -> float:
    """The requests a load run's CPU is divided by: those answered without error, and the
    warm-up's at the measured rate (its requests cost CPU too but are not in the count)."""
    n = got["requests"] - got.get("errors", 0)
    return max(1.0, n * (1 + spec.get("warmup", 0.0) / spec["duration"]))


def _own_ticks(pid: int) -> int:
    fields = _stat(pid)
    return sum(int(v) for v in fields[11:15]) if fields else 0


def descendants(pid: int) -> list[int]:
    """The live processes under ``pid`` (its children, theirs, ...)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(entry.name)) is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), ()):
            found.append(child)
            todo.append(child)
    return found


def rss_mb(pid: int) -> float:
    """Resident set size of ``pid`` in MiB (Linux /proc)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


class Proc:
    """One server process; ``url`` is its base URL once it answers."""

    def __init__(
        self,
        name: str,
        cmd: list[str],
        port: int,
        log: Path,
        *,
        scheme: str = "http",
        env: dict[str, str] | None = None,
    ) -> None:
        self.name, self.cmd, self.port = name, cmd, port
        self.url = f"{scheme}://127.0.0.1:{port}"
        self.log = log
        log.parent.mkdir(parents=True, exist_ok=True)
        self._log = log.open("wb")
        self.popen = subprocess.Popen(
            cmd,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            start_new_session=True,
            env={**os.environ, **env} if env else None,
        )
        self.pid = self.popen.pid  # the server itself (may differ from popen under a profiler)
        self.ca: str | None = None  # the CA file that verifies it, when it serves HTTPS

    def wait_ready(self, path: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited ({self.popen.returncode}); see {self.log}")
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(self.url + path, timeout=1) as resp:
                    resp.read()
                return
            time.sleep(0.05)
        raise RuntimeError(
            f"{self.name} did not answer on {self.url}{path} within {timeout}s; see {self.log}"
        )

    def rss_mb(self) -> float:
        return rss_mb(self.pid)

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    def stop(self, timeout: float = 60.0) -> None:
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._log.close()


class Procs:
    """Starts the fake, the two floors and the proxy; stops them all on exit.

    ``floor`` is bench/floor.py (aiohttp), ``pfloor`` bench/floor_protocol.py (asyncio.Protocol
    + httptools). With ``tls`` the fake serves HTTPS and ``ca`` is the CA file to trust."""

    def __init__(self, profile: list[str] | None = None, *, python_m: bool = True, tls: bool = False) -> None:
        OUT.mkdir(exist_ok=True)
        self.profile = profile  # a command prefix that runs the proxy under a profiler
        self.python_m = python_m  # False: the prefix ends in its own "-m cliproxy"
        self.tls = tls
        self.ca: str | None = None
        self.tag = "-tls" if tls else ""
        self.started: list[Proc] = []

    def __enter__(self) -> Procs:
        try:
            self.fake = start_fake(OUT / f"fake{self.tag}.log", tls=self.tls)
            self.started.append(self.fake)
            self.ca = self.fake.ca
            trust = ["--cafile", self.ca] if self.ca else []
            self.floor = self._start(
                "floor", [sys.executable, str(BENCH / "floor.py"), "--upstream", self.fake.url, *trust]
            )
            self.pfloor = self._start(
                "pfloor",
                [sys.executable, str(BENCH / "floor_protocol.py"), "--upstream", self.fake.url, *trust],
            )
            self.proxy = self._start_proxy()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        for proc in reversed(self.started):
            proc.stop()

    def _start(self, name: str, cmd: list[str]) -> Proc:
        port = free_port()
        log = OUT / f"{name}{self.tag}.log"
        proc = Proc(name, [*cmd, "--port", str(port)], port, log)
        self.started.append(proc)
        # the fake and the floors answer GET with 404/405: any HTTP answer means ready
        _wait_http(proc, cafile=self.ca)
        return proc

    def _start_proxy(self) -> Proc:
        port = free_port()
        auth_dir = OUT / "auths"
        auth_dir.mkdir(exist_ok=True)
        # a fresh usage ledger (the default config keeps it on, beside the auth dir): one kept
        # from run to run grew to 2.5 GB, the proxy's writes went into an ever larger table
        # and its start outgrew the ready timeout
        for old in OUT.glob("usage.sqlite*"):
            old.unlink()
        config = OUT / f"proxy-config{self.tag}.yaml"
        config.write_text(proxy_config(self.fake.url, port, str(auth_dir)))
        cmd = [sys.executable, "-m", "cliproxy"] if self.python_m else []
        cmd += ["--config", str(config)]
        env = {"SSL_CERT_FILE": self.ca} if self.ca else None
        proc = Proc("proxy", [*(self.profile or []), *cmd], port, OUT / f"proxy{self.tag}.log", env=env)
        self.started.append(proc)
        proc.wait_ready("/healthz")
        return proc


def _wait_http(proc: Proc, timeout: float = 30.0, cafile: str | None = None) -> None:
    deadline = time.monotonic() + timeout
    tls = ssl.create_default_context(cafile=cafile) if proc.url.startswith("https") else None
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.name} exited ({proc.popen.returncode}); see {proc.log}")
        try:
            with urllib.request.urlopen(proc.url + "/", timeout=1, context=tls):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{proc.name} did not start within {timeout}s; see {proc.log}")


def start_fake(log: Path | None = None, *, tls: bool = False) -> Proc:
    """The fake upstream (bench/upstream.py) on a free port, answering; the caller stops
    it. ``tls``: HTTPS with a certificate made now (bench/tlscert.py); the CA file is
    ``fake.ca``, for :func:`start_proxy`'s ``ca``."""
    port = free_port()
    cmd = [sys.executable, str(BENCH / "upstream.py"), "--port", str(port)]
    ca: str | None = None
    if tls:
        ca_path, cert, key = make_cert(OUT / "tls")
        ca = str(ca_path)
        cmd += ["--tls-cert", str(cert), "--tls-key", str(key)]
    fake = Proc("fake", cmd, port, log or OUT / "fake.log", scheme="https" if tls else "http")
    fake.ca = ca
    try:
        _wait_http(fake, cafile=ca)
    except BaseException:
        fake.stop()
        raise
    return fake


def start_proxy(
    fake_url: str,
    name: str,
    extra: str = "",
    *,
    edit: Callable[[str], str] | None = None,
    cmd: list[str] | None = None,
    timeout: float = 30.0,
    ca: str | None = None,
    env: dict[str, str] | None = None,
) -> tuple[Proc, Path]:
    """``python -m cliproxy`` (or ``cmd`` + its arguments) with the bench config plus
    ``extra`` YAML (``edit`` may rewrite the text), in folder ``OUT/name`` with its auth
    dir, config, log and a fresh usage ledger; returns the answering process and folder.
    ``ca``: a CA file the proxy trusts (``SSL_CERT_FILE``), for a fake behind TLS; ``env``:
    more environment for it (``PYTHONPATH``: another checkout's ``src``, bench/ab.py)."""
    folder = OUT / name
    (folder / "auths").mkdir(parents=True, exist_ok=True)
    for old in folder.glob("usage.sqlite*"):  # the default config keeps the usage ledger on
        old.unlink()
    port = free_port()
    text = proxy_config(fake_url, port, str(folder / "auths"))
    if edit is not None:
        text = edit(text)
    config = folder / "config.yaml"
    config.write_text(text + extra)
    argv = [*(cmd or [sys.executable]), "-m", "cliproxy", "--config", str(config)]
    env = {**(env or {}), **({"SSL_CERT_FILE": ca} if ca else {})}
    proc = Proc(name, argv, port, folder / "proxy.log", env=env or None)
    try:
        proc.wait_ready("/healthz", timeout)
    except BaseException:
        proc.stop()
        raise
    return proc, folder


def load_cpu(proc: Proc, spec: dict, use_wrk: bool) -> tuple[dict, float]:
    """One bench/load.py run of ``spec`` (``duration`` and ``warmup`` set) against ``proc``:
    its result and ``proc``'s CPU seconds per answered request. The warm-up's requests
    cost CPU too: they are counted at the measured rate."""
    import load  # here: load imports this module (cpu_seconds)

    before = cpu_seconds(proc.pid)
    got = load.run(spec, use_wrk)
    return got, (cpu_seconds(proc.pid) - before) / counted(got, spec)

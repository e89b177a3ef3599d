"""Safe defaults: bind to loopback, refuse remote peers and foreign web pages when no key is
required, and keep CPA's behaviour (every interface, ``*`` CORS) when api-keys are set."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from cliproxy.access import is_loopback, open_proxy_refusal

CHAT = "/v1/chat/completions"
MESSAGES = "/v1/messages"
GEMINI = "/v1beta/models/gemini-2.5-flash:generateContent"


def _lan_address() -> str | None:
    """A non-loopback IPv4 address of this machine, or ``None``."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.254", 9))  # no packet is sent: this only picks a source address
            addr = s.getsockname()[0]
        except OSError:
            return None
    return None if is_loopback(addr) or addr == "0.0.0.0" else addr


LAN = _lan_address()
needs_lan = pytest.mark.skipif(LAN is None, reason="this machine has no non-loopback address")


# -- the decision, as a function of the socket peer


@pytest.mark.parametrize(
    "peer,allowed",
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("192.0.2.2", False),
        ("10.0.0.5", False),
        ("::ffff:10.0.0.5", False),
        ("fe80::1", False),
        ("0.0.0.0", False),
        (None, False),
        ("", False),
        ("localhost", False),  # a peer is an address, never a name
    ],
)
def test_peer_decision(peer, allowed):
    refusal = open_proxy_refusal(peer, None, "127.0.0.1:8317", allow_remote=False)
    assert (refusal is None) is allowed
    if not allowed:
        assert refusal.status == 401
        assert "api-keys" in refusal.message and "allow-unauthenticated-remote" in refusal.message
    assert open_proxy_refusal(peer, None, "10.0.0.1:8317", allow_remote=True) is None


@pytest.mark.parametrize(
    "origin,host,status",
    [
        (None, "127.0.0.1:8317", None),
        (None, "localhost:8317", None),
        (None, "[::1]:8317", None),
        (None, None, None),  # HTTP/1.0 without Host: no browser sends that
        ("http://localhost:3000", "127.0.0.1:8317", None),
        ("http://app.localhost", "localhost", None),
        ("http://127.0.0.1:5173", "127.0.0.1:8317", None),
        ("http://[::1]:5173", "[::1]:8317", None),
        ("https://evil.example", "127.0.0.1:8317", 403),
        ("null", "127.0.0.1:8317", 403),
        ("http://127.0.0.1.evil.example", "127.0.0.1:8317", 403),
        (None, "evil.example:8317", 403),  # DNS rebinding: the page's own origin, our address
        ("http://evil.example:8317", "evil.example:8317", 403),
    ],
)
def test_browser_decision(origin, host, status):
    refusal = open_proxy_refusal("127.0.0.1", origin, host, allow_remote=False)
    assert (None if refusal is None else refusal.status) == status


def test_allow_remote_still_refuses_foreign_pages():
    assert open_proxy_refusal("10.0.0.5", None, "10.0.0.1:8317", allow_remote=True) is None
    assert (
        open_proxy_refusal("10.0.0.5", "https://evil.example", "10.0.0.1:8317", allow_remote=True).status
        == 403
    )


# -- HTTP: open proxy on loopback


async def test_open_proxy_cross_origin_simple_post_is_refused(start_edge):
    edge = await start_edge()
    async with aiohttp.ClientSession() as s:
        # a "simple" request: the browser sends it with no preflight, so the server must refuse it
        for path, shape in ((CHAT, "openai"), (MESSAGES, "claude"), (GEMINI, "gemini")):
            async with s.post(
                edge.url + path,
                data='{"model":"m"}',
                headers={"Origin": "https://evil.example", "Content-Type": "text/plain"},
            ) as r:
                assert r.status == 403, path
                assert "Access-Control-Allow-Origin" not in r.headers
                body = await r.json()
            if shape == "claude":
                assert body["error"]["type"] == "permission_error"
                assert "evil.example" in body["error"]["message"]
            elif shape == "gemini":
                assert body["error"]["status"] == "PERMISSION_DENIED"
            else:
                assert "api-keys" in body["error"]["message"]
        async with s.options(
            edge.url + CHAT,
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        ) as r:
            assert r.status == 403
            assert "Access-Control-Allow-Origin" not in r.headers
        # DNS rebinding: same-origin for the browser, but the Host is not ours
        async with s.post(edge.url + CHAT, json={}, headers={"Host": "evil.example:8317"}) as r:
            assert r.status == 403
            assert "Host" in (await r.json())["error"]["message"]


async def test_open_proxy_reflects_loopback_origins_never_star(start_edge):
    edge = await start_edge()
    origin = "http://localhost:5173"
    async with aiohttp.ClientSession() as s:
        async with s.options(
            edge.url + CHAT, headers={"Origin": origin, "Access-Control-Request-Method": "POST"}
        ) as r:
            assert r.status == 204
            assert r.headers["Access-Control-Allow-Origin"] == origin
            assert "Origin" in r.headers["Vary"]
        async with s.post(edge.url + CHAT, json={}, headers={"Origin": origin}) as r:
            assert r.status == 400  # reached the handler: an empty body is the client's mistake
            assert r.headers["Access-Control-Allow-Origin"] == origin
        async with s.get(edge.url + "/healthz", headers={"Origin": "https://evil.example"}) as r:
            assert r.status == 200
            assert "Access-Control-Allow-Origin" not in r.headers


async def test_keys_required_keeps_cpa_cors(start_edge):
    edge = await start_edge("api-keys: [sk-1]\n")
    async with aiohttp.ClientSession() as s:
        async with s.options(
            edge.url + CHAT,
            headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"},
        ) as r:
            assert r.status == 204
            assert r.headers["Access-Control-Allow-Origin"] == "*"
        async with s.post(
            edge.url + CHAT,
            json={},
            headers={"Origin": "https://app.example", "Authorization": "Bearer sk-1"},
        ) as r:
            assert r.status == 400
            assert r.headers["Access-Control-Allow-Origin"] == "*"
        async with s.post(edge.url + CHAT, json={}, headers={"Origin": "https://app.example"}) as r:
            assert r.status == 401


# -- HTTP: every interface, reached through this machine's LAN address


@needs_lan
@pytest.mark.parametrize(
    "path,check",
    [
        (CHAT, lambda b: b["error"]["type"] == "authentication_error"),
        (MESSAGES, lambda b: b["type"] == "error" and b["error"]["type"] == "authentication_error"),
        (GEMINI, lambda b: b["error"]["status"] == "UNAUTHENTICATED"),
    ],
)
async def test_remote_peer_refused_without_keys(start_edge, path, check):
    edge = await start_edge('host: ""\n', host="")
    async with aiohttp.ClientSession() as s:
        # X-Forwarded-For never makes a remote peer local
        async with s.post(
            f"http://{LAN}:{edge.port}{path}", json={}, headers={"X-Forwarded-For": "127.0.0.1"}
        ) as r:
            assert r.status == 401
            body = await r.json()
        assert check(body)
        text = str(body)
        assert "api-keys" in text and "allow-unauthenticated-remote" in text
        async with s.get(f"http://{LAN}:{edge.port}/healthz") as r:
            assert r.status == 200  # not a proxy route
        async with s.post(f"http://127.0.0.1:{edge.port}{path}", json={}) as r:
            assert r.status != 401


@needs_lan
async def test_allow_unauthenticated_remote_opens_it_and_warns(start_edge, caplog):
    with caplog.at_level(logging.WARNING, logger="cliproxy"):
        edge = await start_edge('host: ""\nallow-unauthenticated-remote: true\n', host="")
    assert any(
        "allow-unauthenticated-remote" in r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING
    )
    async with aiohttp.ClientSession() as s, s.post(f"http://{LAN}:{edge.port}{CHAT}", json={}) as r:
        assert r.status == 400  # reached the handler


@needs_lan
async def test_cpa_config_with_keys_on_every_interface(start_edge):
    edge = await start_edge('host: ""\napi-keys: [sk-1]\n', host="")
    async with aiohttp.ClientSession() as s:
        async with s.post(
            f"http://{LAN}:{edge.port}{CHAT}",
            json={},
            headers={"Authorization": "Bearer sk-1", "Origin": "https://app.example"},
        ) as r:
            assert r.status == 400
            assert r.headers["Access-Control-Allow-Origin"] == "*"
        async with s.post(f"http://{LAN}:{edge.port}{CHAT}", json={}) as r:
            assert r.status == 401
            assert (await r.json())["error"]["message"] == "Missing API key"


async def test_allow_remote_warning_on_reload(start_proxy, caplog):
    proxy = await start_proxy("api-keys: []\n")
    from cliproxy.config import load_or_default

    proxy.config_path.write_text(proxy.config_path.read_text() + "allow-unauthenticated-remote: true\n")
    config, _ = load_or_default(proxy.config_path)
    with caplog.at_level(logging.WARNING, logger="cliproxy"):
        proxy.service.apply(config)
    assert any("allow-unauthenticated-remote" in r.getMessage() for r in caplog.records)


# -- the real command with no config


def _listening(port: int) -> set[str]:
    """Local addresses (hex, as in /proc/net/tcp*) listening on ``port``."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            addr, _, hexport = fields[1].partition(":")
            if int(hexport, 16) == port and fields[3] == "0A":  # LISTEN
                found.add(addr)
    return found


def _run_cliproxy(tmp_path: Path, *args: str) -> tuple[int, str, set[str], bool]:
    """Start ``cliproxy`` with no config: (port, its log, listening addresses, reachable on LAN)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "cliproxy", "--port", str(port), *args],
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=os.environ.copy(),
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "cliproxy did not start"
                time.sleep(0.05)
        listening = _listening(port)
        reachable = False
        if LAN is not None:
            try:
                socket.create_connection((LAN, port), timeout=1).close()
                reachable = True
            except OSError:
                pass
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=20)
    return port, err, listening, reachable


def test_no_config_binds_loopback_only(tmp_path):
    port, err, listening, reachable = _run_cliproxy(tmp_path)
    assert f"listening on http://127.0.0.1:{port}" in err
    assert "api-keys is empty" in err and "loopback" in err
    assert not reachable
    if Path("/proc/net/tcp").exists():
        assert listening == {"0100007F"}  # 127.0.0.1, nothing else


@needs_lan
def test_host_flag_still_overrides(tmp_path):
    port, err, listening, reachable = _run_cliproxy(tmp_path, "--host", "0.0.0.0")
    assert f"listening on http://0.0.0.0:{port}" in err
    assert reachable
    if Path("/proc/net/tcp").exists():
        assert listening == {"00000000"}

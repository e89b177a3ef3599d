"""``tls.enable``: the proxy serves HTTPS with ``tls.cert`` / ``tls.key``, or refuses to start."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import openai
import pytest

from cliproxy.errors import ConfigError
from tests.e2e.clients import KEY
from tests.e2e.conftest import matrix_config

x509 = pytest.importorskip("cryptography.x509")
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402


@pytest.fixture
def cert_files(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key (PEM files)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


def _tls_yaml(cert: Path | str, key: Path | str) -> str:
    return f'tls:\n  enable: true\n  cert: "{cert}"\n  key: "{key}"\n'


async def test_https_chat_completion_with_the_openai_sdk(start_proxy, fakes, cert_files):
    cert, key = cert_files
    proxy = await start_proxy(matrix_config(fakes, _tls_yaml(cert, key)))
    trust = ssl.create_default_context(cafile=str(cert))
    async with openai.AsyncOpenAI(
        base_url=f"https://127.0.0.1:{proxy.port}/v1",
        api_key=KEY,
        max_retries=0,
        http_client=openai.DefaultAsyncHttpxClient(verify=trust),
    ) as client:
        done = await client.chat.completions.create(
            model="compat-model", messages=[{"role": "user", "content": "hello over tls"}]
        )
    assert done.choices[0].message.content
    assert fakes.openai.requests, "the upstream was called"


async def test_plain_http_is_not_served_when_tls_is_on(start_proxy, cert_files):
    cert, key = cert_files
    proxy = await start_proxy(_tls_yaml(cert, key))
    # a plain-text request to a TLS port gets no HTTP answer: the connection is closed
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    try:
        data = await asyncio.wait_for(reader.read(100), 5)
    except ConnectionResetError:
        data = b""
    finally:
        writer.close()
    assert not data.startswith(b"HTTP/1.1")


@pytest.mark.parametrize(
    ("which", "message"),
    [
        ("cert-missing", "tls.cert"),
        ("key-missing", "tls.key"),
        ("cert-empty", "tls.cert"),
        ("garbage", "tls.cert"),
        ("key-encrypted", "tls.key"),
    ],
)
async def test_listen_refuses_missing_or_invalid_files(start_proxy, cert_files, tmp_path, which, message):
    cert, key = cert_files
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    locked = tmp_path / "locked.pem"
    private = serialization.load_pem_private_key(key.read_bytes(), None)
    locked.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"passphrase"),
        )
    )
    paths = {
        "cert-missing": (tmp_path / "nope.pem", key),
        "key-missing": (cert, tmp_path / "nope.key"),
        "cert-empty": ("", key),
        "garbage": (junk, junk),
        "key-encrypted": (cert, locked),
    }[which]
    with pytest.raises(ConfigError, match=message):
        await start_proxy(_tls_yaml(*paths))


# -- the command


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cliproxy(tmp_path: Path, yaml_text: str) -> subprocess.Popen[str]:
    (tmp_path / "config.yaml").write_text(f"auth-dir: {tmp_path / 'auths'}\napi-keys: [k]\n" + yaml_text)
    return subprocess.Popen(
        [sys.executable, "-m", "cliproxy", "--config", str(tmp_path / "config.yaml")],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )


def test_cli_serves_https_and_says_so(tmp_path, cert_files):
    cert, key = cert_files
    port = _free_port()
    proc = _cliproxy(tmp_path, f"host: 127.0.0.1\nport: {port}\n" + _tls_yaml(cert, key))
    trust = ssl.create_default_context(cafile=str(cert))
    try:
        deadline = time.monotonic() + 15
        body = b""
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(
                    f"https://127.0.0.1:{port}/healthz", timeout=1, context=trust
                ) as r:
                    body = r.read()
                break
            except OSError:
                time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
    assert body == b'{"status":"ok"}', err
    assert f"listening on https://127.0.0.1:{port}" in err


def test_cli_refuses_to_start_without_the_files(tmp_path):
    proc = _cliproxy(
        tmp_path, f"port: {_free_port()}\n" + _tls_yaml(tmp_path / "missing.pem", tmp_path / "k.pem")
    )
    try:
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 2, err
    errors = [line for line in err.splitlines() if " ERROR " in line]
    assert len(errors) == 1 and "tls.cert" in errors[0] and "missing.pem" in errors[0], err
    assert "Traceback" not in err

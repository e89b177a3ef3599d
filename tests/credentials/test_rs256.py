"""RS256 on ``cryptography``: signatures verify with the public key; bad keys give one clear error."""

from __future__ import annotations

import base64
from pathlib import Path

import aiohttp
import orjson
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from cliproxy.credentials.rs256 import load_pem_private_key, sign_rs256
from tests.management.conftest import mcall, mproxy  # noqa: F401

DATA = Path(__file__).parents[1] / "providers" / "data"
PKCS8 = (DATA / "sa_key.pem").read_text()
PKCS1 = (DATA / "sa_key_pkcs1.pem").read_text()


def _public() -> rsa.RSAPublicKey:
    key = serialization.load_pem_private_key(PKCS8.encode(), None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key.public_key()


def _pem(label: str, der: bytes) -> str:
    return f"-----BEGIN {label}-----\n{base64.encodebytes(der).decode()}-----END {label}-----\n"


def _corrupted_pkcs1() -> str:
    """The test key with one bit of its private exponent flipped: the DER still parses."""
    key = serialization.load_pem_private_key(PKCS1.encode(), None)
    assert isinstance(key, rsa.RSAPrivateKey)
    der = bytearray(
        key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    d = key.private_numbers().d.to_bytes(key.key_size // 8, "big")
    der[der.index(d[:16]) + 100] ^= 0x01
    return _pem("RSA PRIVATE KEY", bytes(der))


@pytest.mark.parametrize(
    "pem",
    [PKCS8, PKCS1, PKCS8.replace("\n", "\\n"), "service account key:\r\n" + PKCS8.replace("\n", "\r\n")],
    ids=["pkcs8", "pkcs1", "escaped-newlines", "crlf-with-text-around"],
)
def test_signature_verifies_with_the_public_key(pem: str) -> None:
    key = load_pem_private_key(pem)
    message = b"header.payload"
    signature = sign_rs256(key, message)
    assert len(signature) == key.size == 256
    _public().verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    with pytest.raises(InvalidSignature):
        _public().verify(signature, message + b"x", padding.PKCS1v15(), hashes.SHA256())
    numbers = _public().public_numbers()
    assert (key.n, key.e) == (numbers.n, numbers.e)


def test_both_encodings_load_as_the_same_key() -> None:
    assert load_pem_private_key(PKCS1) == load_pem_private_key(PKCS8)
    assert "private" not in repr(load_pem_private_key(PKCS8)).split("(", 1)[1]  # the key is not in a repr


def _ec_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    der = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return _pem("PRIVATE KEY", der)


def _encrypted_pem() -> str:
    key = serialization.load_pem_private_key(PKCS1.encode(), None)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.BestAvailableEncryption(b"pw"),
    ).decode()


SHORT_PEM = """-----BEGIN PRIVATE KEY-----
MIIBUwIBADANBgkqhkiG9w0BAQEFAASCAT0wggE5AgEAAkEAqLfbcDOt+OKcJ9H/
cP5/a8FVrrJN88QVDT4kX2jdiW3k5Drda/IrJdkY4yxhwdTDIrLhmV3EfwmCSe7/
C+nKpQIDAQABAkBhBMjE7pLeCcFuDI3tNgujtRtGR/YXdOv+H3ve+XhbK81rpw6A
pxzCr0FW5kPEskZQ9O4PCIeY/jGu+VHNaH2JAiEA0SNVRSmJuF2IvfDbJ1kVFS2G
mjoZ8JTjoogv4Y8GYY8CIQDOhfG2XiqtU2EpMZpzrlXu51x2FLOG9BgiUe1pK5MO
iwIgQR8mcyXPC4ichsCUDTmQ9go6CpYi86X5B+guOKcnjoMCIESzSAH7d0TrLLIQ
XynGP63WZuqc3k+xWWnpSQmoRiYbAiA4p/tQVtpfT3ZTAKeG3VuUVbBDhZQ7AbBJ
PauBEYth/A==
-----END PRIVATE KEY-----
"""  # 512 bits (openssl genpkey; cryptography refuses to generate one)


@pytest.mark.parametrize(
    ("pem", "message"),
    [
        ("nope", "not a PEM private key"),
        ("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----", "not a valid PEM RSA private key"),
        ("-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----", "not a valid PEM RSA private key"),
        ("-----BEGIN PRIVATE KEY-----\nü\n-----END PRIVATE KEY-----", "not a valid PEM RSA private key"),
        (_corrupted_pkcs1(), "not a valid PEM RSA private key"),
        (_ec_pem(), "not an RSA key"),
        (_encrypted_pem(), "encrypted"),
        (SHORT_PEM, "too short"),
    ],
    ids=[
        "no-pem",
        "truncated",
        "bad-base64",
        "non-ascii",
        "inconsistent-numbers",
        "ec",
        "encrypted",
        "512-bit",
    ],
)
def test_a_bad_key_is_one_clear_value_error(pem: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        load_pem_private_key(pem)
    assert message in str(info.value)
    assert "BEGIN" not in str(info.value)  # the key text is never echoed


async def test_vertex_import_of_an_inconsistent_key_is_a_400(mproxy):  # noqa: F811
    """The old DER reader took any well-formed numbers and signed garbage with them."""
    proxy = await mproxy('api-keys: ["k"]\n')
    account = {
        "type": "service_account",
        "project_id": "p",
        "client_email": "sa@p.iam.gserviceaccount.com",
        "private_key": _corrupted_pkcs1(),
    }
    form = aiohttp.FormData(quote_fields=False, default_to_multipart=True)
    form.add_field("file", orjson.dumps(account), filename="sa.json", content_type="application/json")
    status, body = await mcall(proxy, "POST", "/vertex/import", data=form)
    assert status == 400, body
    assert body["error"] == "invalid service account"
    assert body["message"] == "private_key is not a valid PEM RSA private key"
    assert not list(proxy.service.auth_dir.glob("*.json"))

"""An upstream's error answer without the credential's secrets in it.

Some upstreams and gateways repeat what they were sent when they refuse it ("Incorrect API
key provided: sk-..."), and the proxy hands an error's text to the client that made the
request, who is not the owner of the shared credential. :func:`without_secrets` replaces
the credential's own API key, access and refresh tokens wherever they appear, and any
``Bearer`` token, with ``[REDACTED]`` (the bearer pattern is the one
``cliproxy.formats.stream_errors`` redacts Responses stream errors with; every error body
is read through this, before the request log, the cooldown rules and the client see it).
It runs on error answers only.
"""

from __future__ import annotations

from cliproxy.credentials.record import Credential
from cliproxy.formats.stream_errors import BEARER

__all__ = ["REDACTED", "without_secrets"]

REDACTED = b"[REDACTED]"
_MIN_SECRET = 8  # shorter values would match ordinary text


def without_secrets(data: bytes, cred: Credential) -> bytes:
    """``data`` with ``cred``'s secrets and bearer tokens replaced by :data:`REDACTED`."""
    if not data:
        return data
    for secret in (cred.api_key, cred.access_token, cred.refresh_token):
        if len(secret) >= _MIN_SECRET and data.find(encoded := secret.encode()) >= 0:
            data = data.replace(encoded, REDACTED)
    if data.find(b"earer") >= 0:
        data = BEARER.sub(b"Bearer " + REDACTED, data)
    return data

"""Name-based ids (a leaf module: anything may import it, it imports nothing of cliproxy).

:func:`oid_uuid` is ``uuid.uuid5(uuid.NAMESPACE_OID, name)`` (CPA's derived session and
prompt-cache ids), also for a name that holds surrogates: a client header's bytes that are
not UTF-8 reach the proxy as such, and ``uuid5`` refuses to encode them (a 500 for the
client's session header). The bytes are hashed as they came (``surrogatepass``), so every
other name gets the very id ``uuid5`` gives it.
"""

from __future__ import annotations

import hashlib
import uuid

__all__ = ["oid_uuid"]

_OID = uuid.NAMESPACE_OID.bytes


def oid_uuid(name: str) -> str:
    """``str(uuid5(NAMESPACE_OID, name))``, for any ``str``."""
    raw = name.encode("utf-8", "surrogatepass")
    return str(uuid.UUID(bytes=hashlib.sha1(_OID + raw).digest()[:16], version=5))

"""Name-based ids made from a client's values (session headers, prompt_cache_key, session
ids) for any string: a header's bytes that are not UTF-8 reach the proxy as surrogates,
which ``uuid.uuid5`` refuses to encode (the request's 500; helper review4 found it in the
Codex prompt-cache key and left these callers). ``cliproxy.ids.oid_uuid`` gives every other
name the very id ``uuid5`` gives it, so the ids CPA derives stay the same."""

from __future__ import annotations

import uuid

import pytest

from cliproxy.credentials.derived_session import _provider_uuid
from cliproxy.ids import oid_uuid
from cliproxy.providers.claude_identity import session_uuid
from cliproxy.providers.compat_cache import _key
from cliproxy.providers.identity import confuse_uuid
from cliproxy.translate.replay_keys import _chat_session

ODD = "sess-\udcff\udcfe"  # b"sess-\xff\xfe" as a header decoded with surrogateescape


@pytest.mark.parametrize(
    "name", ["", "a", "cli-proxy-api:codex:prompt-cache:sk-1", "héllo wörld", "\x00\x01", "日本"]
)
def test_the_same_id_as_uuid5(name: str) -> None:
    assert oid_uuid(name) == str(uuid.uuid5(uuid.NAMESPACE_OID, name))


def test_a_name_holding_surrogates_has_an_id_of_its_bytes() -> None:
    with pytest.raises(UnicodeEncodeError):
        uuid.uuid5(uuid.NAMESPACE_OID, ODD)
    got = oid_uuid(ODD)
    assert uuid.UUID(got).version == 5 and got == oid_uuid(ODD) != oid_uuid("sess-")


def test_every_caller_takes_a_client_value_with_surrogates() -> None:
    """Each of these raised UnicodeEncodeError before (a 500 for the request)."""
    assert uuid.UUID(confuse_uuid("cred-1", "session", ODD))
    assert uuid.UUID(_key.__wrapped__("compat", "m", "openai", ODD))
    assert uuid.UUID(_provider_uuid.__wrapped__("codex", "derived-session", ODD))
    assert _chat_session.__wrapped__(ODD).startswith("prompt-cache:")
    assert uuid.UUID(
        session_uuid({"X-Session-Id": ODD, "session_id": ODD}, {"prompt_cache_key": ODD}, confirmed=False)
    )

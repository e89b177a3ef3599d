"""An upstream attempt keeps the credential it was sent with, and the request log, the
error events and the ledger row read its facts off that credential when they need them."""

from __future__ import annotations

import dataclasses
import io
import time

from cliproxy.config import Config
from cliproxy.credentials.record import Credential
from cliproxy.usage.mask import hide_key
from cliproxy.usage.recorder import Recorder
from cliproxy.usage.render import write_log
from tests.usage.helpers import begin_chat


def test_an_attempt_reports_the_credential_it_was_sent_with(tmp_path):
    """CPA: TestPublishSelectedAuthMetadataIncludesStableIndex (the selected credential's id
    and its stable auth_index go with the request's records)."""
    cred = Credential(
        id="claude:apikey:1", provider="claude", api_key="sk-ant-first-1234", index="abc123", label="team"
    )
    rec = Recorder(tmp_path / "config.yaml")  # its error log goes to tmp_path/logs
    rec.sync(Config(), management=False)
    rec.stats._deferred = None
    t = begin_chat(rec)
    before = time.time()
    t.upstream_request("POST", "http://up/v1/messages", {}, b"{}", cred, "claude", "m")
    # a refresh gives the pool a new object; the attempt keeps the one it was sent with
    dataclasses.replace(cred, api_key="sk-ant-second-9999", label="other")
    t.upstream_response(502, {})
    t.failed(502, "upstream failed", {}, b"")
    after = time.time()
    a = t.attempts[0]
    facts = (a.auth_id, a.label, a.auth_kind, a.auth_value, a.auth_index, a.auth_provider)
    assert facts == ("claude:apikey:1", "team", "apikey", "sk-ant-first-1234", "abc123", "claude")
    # the wall times it records lie within the request's
    assert a.received is not None and before - 0.01 <= a.sent <= a.received <= after + 0.01
    out = io.BytesIO()
    write_log(out, t)
    line = f"Auth: provider=claude, auth_id=claude:apikey:1, label=team, type=api_key value={hide_key(cred.api_key)}"
    assert line.encode() in out.getvalue()
    assert b"sk-ant-first-1234" not in out.getvalue()  # the key itself is never written
    rec.close()

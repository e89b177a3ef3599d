"""What ``Recorder.finished`` remembers between requests, and when it forgets it: the
row source per credential object, the label per client key, and the gate in front of the
logs and queues (recomputed on every config reload)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson

from cliproxy.calls import Reply
from cliproxy.config import Config
from cliproxy.config.loader import load_or_default
from cliproxy.formats import ir
from cliproxy.usage import recorder as recorder_module
from cliproxy.usage import recorder_of
from cliproxy.usage.ledger import ROW_COLUMNS, Ledger
from cliproxy.usage.ledger_store import COLUMNS, INT_COLUMNS, open_store
from cliproxy.usage.mask import hide_key
from cliproxy.usage.recorder import Recorder
from cliproxy.usage.stats import key_id
from cliproxy.usage.trace import RequestTrace
from tests.usage.helpers import MSG, begin_chat, claude_config, logs, post, settle

BODY = orjson.dumps({"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}})
SOURCE = ROW_COLUMNS.index("source")  # a queued row has no uid yet
LABEL = COLUMNS.index("api_key")


def _cred(email: str) -> Any:
    return SimpleNamespace(
        id="cred-1",
        label="",
        kind="oauth",
        api_key="",
        index="idx-1",
        provider="codex",
        email=email,
        metadata={},
    )


def _finish(rec: Recorder, cred: Any, api_key: str = "", usage: ir.Usage | None = None) -> RequestTrace:
    """One whole, successful request through the trace hooks."""
    t = begin_chat(rec, api_key)
    t.upstream_request("POST", "http://up/v1/chat/completions", {}, b"{}", cred, "codex", "m")
    t.upstream_response(200, {})
    t.reply(Reply(200, BODY, {}, cred, usage=usage))
    return t


def _recorder(tmp_path: Path) -> Recorder:
    rec = Recorder(tmp_path / "config.yaml")
    rec.sync(Config(), management=False)
    rec.stats._deferred = None
    return rec


def test_a_reply_that_carries_its_usage_is_not_read_again(tmp_path: Path, monkeypatch: Any) -> None:
    rec = _recorder(tmp_path)

    def unread(fmt: Any, body: bytes) -> None:
        raise AssertionError("the body was read for its usage")

    monkeypatch.setattr(recorder_module, "body_usage", unread)
    given = ir.Usage(5, 6)
    t = _finish(rec, _cred("a@example.com"), usage=given)
    assert t.usage is given
    c = rec.stats.counters.by_auth["idx-1"]
    assert (c.input_tokens, c.output_tokens, c.total_tokens) == (5, 6, 11)
    monkeypatch.undo()
    t = _finish(rec, _cred("a@example.com"))  # none given: read off the body
    assert t.usage is not None and t.usage.total_tokens == 7
    rec.close()


def test_a_reloaded_credential_of_the_same_id_gets_its_own_source(tmp_path: Path) -> None:
    rec = _recorder(tmp_path)
    ledger = rec.stats.ledger = Ledger(open_store(tmp_path / "u.sqlite", ""))  # never started: rows wait
    old, new = _cred("old@example.com"), _cred("new@example.com")
    _finish(rec, old)
    _finish(rec, old)
    _finish(rec, new)  # the same id, another object (a reload): not the remembered source
    _finish(rec, old)
    assert [row[SOURCE] for row in ledger.pending] == [
        "old@example.com",
        "old@example.com",
        "new@example.com",
        "old@example.com",
    ]
    rec.stats.ledger = None
    rec.close()


def test_labels_restored_from_a_ledger_replace_remembered_ones(tmp_path: Path) -> None:
    rec = _recorder(tmp_path)
    key = "sk-client-key-000111"
    _finish(rec, _cred("a@example.com"), key)  # no ledger yet: the label is the masked key
    assert rec.stats.key_labels[key_id(key)] == hide_key(key)
    path = tmp_path / "history.sqlite"
    history = Ledger(open_store(path, ""))
    history.start()
    old = {"uid": "u0", "ts": 1.0, "api_key_id": key_id(key), "api_key": "restored-label", "status": 200}
    assert history.import_rows([tuple(old.get(c, 0 if c in INT_COLUMNS else "") for c in COLUMNS)]) == 1
    history.close()
    rec.stats._open_ledger(("sqlite", str(path)), 0)  # restores counters and labels
    ledger = rec.stats.ledger
    assert ledger is not None
    _finish(rec, _cred("a@example.com"), key)
    assert ledger.flush()
    rows = ledger.rows()
    assert [r[LABEL] for r in rows] == ["restored-label", "restored-label"]
    rec.close()


async def test_a_reload_that_turns_request_logs_on_logs_the_next_request(proxy_of, fake_claude):
    proxy = await proxy_of(claude_config(fake_claude))
    assert (await post(proxy, MSG))[0] == 200
    rec = recorder_of(proxy.service)
    assert not rec.extras  # nothing but counting: the logs and queues are not even looked at
    assert logs(await settle(proxy)) == []
    proxy.config_path.write_text(proxy.config_path.read_text() + "\nrequest-log: true\n")
    proxy.service.apply(load_or_default(proxy.config_path)[0])
    assert (await post(proxy, MSG))[0] == 200
    assert rec.extras
    assert len(logs(await settle(proxy))) == 1

"""Masking, the usage queue, error-log pruning and the app log file, without a proxy."""

from __future__ import annotations

import logging
import os
import re

from cliproxy.usage.applog import AppLog, enforce_size_limit
from cliproxy.usage.mask import hide_key, mask_header, mask_query
from cliproxy.usage.queue import UsageQueue
from cliproxy.usage.recorder import prune_error_logs, sanitize


def test_hide_key_keeps_only_the_ends():
    assert hide_key("sk-abcdefghijklmnop") == "sk...op"
    assert hide_key("sk-abcdefghijkl") == "s...l"
    assert hide_key("abcdefgh") == "a...h"
    assert hide_key("abcdef") == "***"
    assert hide_key("ab") == "***"
    assert hide_key("") == ""


def test_hide_key_shows_at_most_a_quarter_and_never_more_than_four_characters():
    for n in range(1, 80):
        key = "".join(chr(ord("A") + i % 26) for i in range(n))
        masked = hide_key(key)
        shown = len(masked.replace("...", "")) if masked != "***" else 0
        assert shown <= min(4, n // 4), (n, masked)
    # still different for different keys, which is all the panel needs
    assert hide_key("sk-client-key-123456") != hide_key("sk-upstream-secret-98765")


def test_mask_header_by_name():
    assert mask_header("Authorization", "Bearer sk-abcdefghijklmnop") == "Bearer sk...op"
    assert mask_header("x-api-key", "sk-abcdefghijklmnop") == "sk...op"
    assert mask_header("X-Goog-Api-Key", "AIzaSyABCDEFGH") == "A...H"
    assert mask_header("Content-Type", "application/json") == "application/json"


def test_mask_header_hides_cookies():
    """A browser-session cookie (a ChatGPT or claude.ai session a client forwards, an
    upstream's Set-Cookie) is a credential: the request log keeps only its ends. CPA writes
    both whole; this is a deliberate difference."""
    session = "__Secure-next-auth.session-token=eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0"
    for name in ("Cookie", "set-cookie"):
        masked = mask_header(name, session)
        assert masked == hide_key(session) and "eyJhbGci" not in masked


def test_mask_query_masks_key_and_tokens_only():
    assert mask_query("key=AIzaSyABCDEFGH&alt=sse") == "key=A...H&alt=sse"
    assert mask_query("auth_token=tok-123456789") == "auth_token=t...9"
    assert mask_query("alt=sse") == "alt=sse"
    assert mask_query("") == ""


def test_sanitize_path():
    assert sanitize("/v1beta/models/gemini-2.5:generateContent") == "v1beta-models-gemini-2.5-generateContent"
    assert sanitize("/") == "root"


def test_sanitize_keeps_file_names_short_for_huge_client_paths():
    # a client may put a 1 MB model name in a Gemini URL: the log file name must still be valid
    long_a, long_b = "/v1beta/models/" + "a" * 100_000, "/v1beta/models/" + "a" * 99_999 + "b"
    name_a, name_b = sanitize(long_a), sanitize(long_b)
    assert len(name_a.encode()) <= 180 and name_a != name_b
    assert len(sanitize("/v1beta/models/" + "é" * 5000).encode()) <= 180


def test_queue_pops_oldest_first_and_forgets_after_retention():
    now = [1000.0]
    q = UsageQueue(60, clock=lambda: now[0])
    for i in range(3):
        q.push(b"%d" % i)
    assert q.pop(2) == [b"0", b"1"]
    now[0] += 61
    q.push(b"3")
    assert q.pop(10) == [b"3"]  # "2" expired


def test_queue_is_bounded():
    q = UsageQueue(60, max_items=3)
    for i in range(5):
        q.push(b"%d" % i)
    assert q.pop(10) == [b"2", b"3", b"4"]


def test_prune_error_logs_keeps_the_newest(tmp_path):
    for i in range(5):
        p = tmp_path / f"error-x-{i}.log"
        p.write_text("x")
        os.utime(p, (1000 + i, 1000 + i))
    (tmp_path / "other.log").write_text("kept")
    assert prune_error_logs(tmp_path, 2) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["error-x-3.log", "error-x-4.log", "other.log"]


def test_size_limit_deletes_oldest_but_keeps_main(tmp_path):
    """CPA: TestEnforceLogDirSizeLimitDeletesOldest, TestEnforceLogDirSizeLimitSkipsProtected."""
    main = tmp_path / "main.log"
    main.write_bytes(b"m" * 100)
    os.utime(main, (1, 1))  # the oldest, and still protected
    for i in range(3):
        p = tmp_path / f"a-{i}.log"
        p.write_bytes(b"x" * 100)
        os.utime(p, (10 + i, 10 + i))
    (tmp_path / "notes.txt").write_bytes(b"y" * 1000)  # not a log: ignored
    assert enforce_size_limit(tmp_path, 250, main) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-2.log", "main.log", "notes.txt"]


def test_app_log_writes_cpa_lines_and_rotates(tmp_path):
    app = AppLog("cliproxy.test-applog")
    logger = logging.getLogger("cliproxy.test-applog")
    logger.setLevel(logging.INFO)
    try:
        app.apply(tmp_path, 0, max_bytes=2000)
        logger.info("hello %s", "world", extra={"request_id": "abcd1234"})
        logger.warning("careful")
        lines = (tmp_path / "main.log").read_text().splitlines()
        assert re.fullmatch(
            r"\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] \[abcd1234\] \[info \] "
            r"\[test_units\.py:\d+\] hello world",
            lines[0],
        )
        assert "] [--------] [warn ] [" in lines[1]
        for _ in range(40):
            logger.info("x" * 100)
        rotated = [p.name for p in tmp_path.iterdir() if p.name.startswith("main-")]
        assert rotated and all(n.endswith(".log") for n in rotated)
        assert (tmp_path / "main.log").stat().st_size < 2000
        app.apply(None, 0)
        logger.info("not written")
        assert "not written" not in (tmp_path / "main.log").read_text()
    finally:
        app.apply(None, 0)


class _Source:
    def __init__(self) -> None:
        self.closed = False

    def __aiter__(self):
        return self

    async def __anext__(self) -> bytes:
        raise StopAsyncIteration

    async def aclose(self) -> None:
        self.closed = True


async def test_closing_an_unstarted_client_stream_closes_the_source_and_ends_the_trace(tmp_path):
    from cliproxy.config import Config
    from cliproxy.formats import Format
    from cliproxy.pipeline import StreamReply
    from cliproxy.usage.recorder import Recorder

    rec = Recorder(tmp_path / "config.yaml")
    rec.sync(Config(), management=False)
    trace = rec.begin(
        method="POST",
        url="/v1/messages",
        headers={},
        body=b"{}",
        endpoint="POST /v1/messages",
        fmt=Format.CLAUDE,
        alias="m",
        api_key="",
        client_ip="",
    )
    source = _Source()
    wrapped = trace.reply(StreamReply({}, b"", source))
    await wrapped.rest.aclose()  # the client left before the first write
    assert source.closed and trace._done
    rec.close()

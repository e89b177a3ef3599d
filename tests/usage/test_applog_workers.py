"""``main.log`` written by several worker processes (``workers: N`` with ``logging-to-file``):
each worker has its own file handle, and any of them may rotate the file."""

from __future__ import annotations

import logging

from cliproxy.usage.applog import AppLog


def test_a_worker_follows_a_rotation_made_by_another(tmp_path):
    """Two ``AppLog`` on one folder stand for two workers. Before, after worker A moved the
    full ``main.log`` aside, worker B kept writing into the moved file (its handle still
    pointed there), found it full and moved A's fresh ``main.log`` aside, nearly empty; A then
    wrote into that moved file, so its lines landed in an older file than B's, which
    ``GET /logs`` may already have read past."""
    apps = [AppLog("cliproxy.test-applog-a"), AppLog("cliproxy.test-applog-b")]
    a, b = (logging.getLogger(name) for name in ("cliproxy.test-applog-a", "cliproxy.test-applog-b"))
    for logger in (a, b):
        logger.setLevel(logging.INFO)
    try:
        for app in apps:
            app.apply(tmp_path, 0, max_bytes=2000)
        b.info("b opens the file")
        for _ in range(100):  # A fills main.log and moves it aside, once
            a.info("a " + "x" * 100)
            if any(p.name.startswith("main-") for p in tmp_path.iterdir()):
                break
        assert len([p for p in tmp_path.iterdir() if p.name.startswith("main-")]) == 1
        b.info("b after the rotation")
        a.info("a after the rotation")
        assert len([p for p in tmp_path.iterdir() if p.name.startswith("main-")]) == 1  # none more
        text = (tmp_path / "main.log").read_text()
        assert "b after the rotation" in text and "a after the rotation" in text
    finally:
        for app in apps:
            app.apply(None, 0)

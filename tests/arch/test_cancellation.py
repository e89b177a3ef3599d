"""No ``asyncio.wait_for`` around a queue ``get()`` or an event ``wait()`` in the source.

On Python 3.11 ``wait_for`` swallows a cancellation that lands in the same loop turn as its
inner wait completing. In a background loop (the usage flusher, the config watcher) the task
then runs on, ``cancelled`` but alive, and whatever awaits it at shutdown hangs: the suite's
rare teardown hangs were exactly this. ``async with asyncio.timeout(...)`` has no such gap.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "cliproxy"


def _risky_calls(root: Path = SRC) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            if node.func.attr != "wait_for" or not node.args:
                continue
            inner = node.args[0]
            if (
                isinstance(inner, ast.Call)
                and isinstance(inner.func, ast.Attribute)
                and inner.func.attr in ("get", "wait")
                and not inner.args
            ):
                found.append(f"{path.relative_to(root)}:{node.lineno}")
    return found


def test_no_wait_for_around_a_queue_get_or_an_event_wait():
    assert _risky_calls() == []


def test_the_check_finds_the_pattern(tmp_path):
    """The walker itself flags the shape that hung, and leaves the safe ones alone."""
    (tmp_path / "bad.py").write_text("async def f(q):\n    return await asyncio.wait_for(q.get(), 1.0)\n")
    (tmp_path / "ok.py").write_text(
        "async def g(q, conn):\n"
        "    async with asyncio.timeout(1.0):\n"
        "        await q.get()\n"
        "    await asyncio.wait_for(conn.read(), 1.0)\n"
    )
    assert _risky_calls(tmp_path) == ["bad.py:2"]

"""A management edit of a large config.yaml does not stall the requests in flight.

Every write (``PUT /debug`` as much as ``PUT /config.yaml``) parses the whole file with its
comments, edits it and renders it back; for a config of ~100 KB (thousands of client keys,
many providers) that is one to two seconds of CPU on this machine. It ran on the event loop,
so every stream the proxy was relaying froze for that long on each panel click. It now runs
in a worker thread (CPA's Go handlers block only their own goroutine). What stays on the
loop is applying the new config, as on any reload.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from cliproxy.config import ConfigDocument
from tests.management.conftest import mcall

# ~130 KB: slow to parse and render with comments kept, cheap to apply (no credentials)
BIG = "api-keys:\n" + "".join(f'  - "client-key-{i:05d}"  # user {i}\n' for i in range(2000))
BIG += "payload:\n  default:\n" + "".join(
    f"    - models: [{{name: 'm{i}-*', protocol: openai}}]\n      params: {{temperature: 0.{i % 10}}}\n"
    for i in range(300)
)


async def _worst_loop_gap(work: Any) -> tuple[Any, float]:
    """Run ``work`` while a ticker measures the longest the event loop went unserved."""
    worst = 0.0
    done = asyncio.Event()

    async def tick() -> None:
        nonlocal worst
        while not done.is_set():
            start = time.perf_counter()
            await asyncio.sleep(0.005)
            worst = max(worst, time.perf_counter() - start)

    ticker = asyncio.create_task(tick())
    await asyncio.sleep(0.02)
    try:
        result = await work
    finally:
        done.set()
        await ticker
    return result, worst


def _parse_and_render_seconds(path: Any) -> float:
    """What one edit's document work costs on this machine now (the load varies)."""
    start = time.perf_counter()
    doc = ConfigDocument.load(path)
    doc.set(["debug"], True)
    doc.render()
    return time.perf_counter() - start


async def test_a_panel_edit_of_a_large_config_leaves_the_loop_free(mproxy: Any) -> None:
    proxy = await mproxy(BIG)
    work = _parse_and_render_seconds(proxy.config_path)
    (status, body), worst = await _worst_loop_gap(mcall(proxy, "PUT", "/debug", {"value": True}))
    assert (status, body) == (200, {"status": "ok"})
    assert proxy.service.config.debug is True
    assert "debug: true\n" in proxy.config_path.read_text()
    # before, the loop waited for all of that work (~1.2 s here); now for the apply, a
    # fraction of it (~0.2 s here, GIL hand-overs included)
    assert worst < work / 2, (
        f"the loop stalled {worst * 1000:.0f} ms; the document work takes {work * 1000:.0f} ms"
    )
    text = proxy.config_path.read_text() + "request-retry: 3\n"
    (status, _), worst = await _worst_loop_gap(mcall(proxy, "PUT", "/config.yaml", data=text))
    assert status == 200 and proxy.service.config.request_retry == 3
    assert worst < work / 2, f"the loop stalled {worst * 1000:.0f} ms during PUT config.yaml"


async def test_the_edit_runs_off_the_event_loop_thread(mproxy: Any) -> None:
    """The same fact free of timing: the edit function is called in another thread, and a
    document it leaves invalid is still refused with the file untouched."""
    proxy = await mproxy("debug: false\n")
    seen: list[int] = []

    def edit(doc: ConfigDocument) -> None:
        seen.append(threading.get_ident())
        doc.set(["request-retry"], 4)

    await proxy.service.edit_config(edit)
    assert seen and threading.get_ident() not in seen
    assert proxy.service.config.request_retry == 4
    before = proxy.config_path.read_bytes()
    status, body = await mcall(proxy, "PUT", "/request-retry", {"value": "four"})
    assert (status, body) == (400, {"error": "invalid body"})
    status, _ = await mcall(proxy, "PUT", "/routing/strategy", {"value": "nonsense"})
    assert status == 400
    assert proxy.config_path.read_bytes() == before

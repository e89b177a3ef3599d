"""A management edit of a large config.yaml does not stall the requests in flight.

Every write (``PUT /debug`` as much as ``PUT /config.yaml``) parses the whole file with its
comments, edits it and renders it back; for a config of ~100 KB (thousands of client keys,
many providers) that is one to two seconds of CPU on this machine. It ran on the event loop,
so every stream the proxy was relaying froze for that long on each panel click. It now runs
in a worker thread (CPA's Go handlers block only their own goroutine). What stays on the
loop is applying the new config, as on any reload.
"""

from __future__ import annotations

import threading
from typing import Any

from cliproxy.config import ConfigDocument
from tests.management.conftest import mcall


def _spy_threads(monkeypatch: Any) -> list[tuple[str, int]]:
    """Record the thread of every parse (``ConfigDocument.__init__``) and render."""
    seen: list[tuple[str, int]] = []
    init, render = ConfigDocument.__init__, ConfigDocument.render

    def parse_spy(self: ConfigDocument, *args: Any, **kw: Any) -> None:
        seen.append(("parse", threading.get_ident()))
        init(self, *args, **kw)

    def render_spy(self: ConfigDocument) -> str:
        seen.append(("render", threading.get_ident()))
        return render(self)

    monkeypatch.setattr(ConfigDocument, "__init__", parse_spy)
    monkeypatch.setattr(ConfigDocument, "render", render_spy)
    return seen


async def test_a_panel_edit_parses_and_renders_off_the_loop(mproxy: Any, monkeypatch: Any) -> None:
    """The document work of PUT /debug (load, edit, render) and of PUT /config.yaml (the
    body parsed) runs in another thread; the loop only applies the result. (Measured on a
    ~130 KB file when it was moved: the loop's longest pause went from 1.5-2x the document
    work to about 0.2x; a timing assertion of that flaked on a loaded 2-core machine, so the
    test pins where the work runs instead.)"""
    proxy = await mproxy("debug: false\napi-keys: [k1, k2]\n")
    loop_thread = threading.get_ident()
    seen = _spy_threads(monkeypatch)
    status, _ = await mcall(proxy, "PUT", "/debug", json={"value": True})
    assert status == 200 and proxy.service.config.debug is True
    assert {kind for kind, _ in seen} == {"parse", "render"}
    assert all(thread != loop_thread for _, thread in seen), seen
    seen.clear()
    text = proxy.config_path.read_text() + "request-retry: 3\n"
    status, _ = await mcall(proxy, "PUT", "/config.yaml", data=text)
    assert status == 200 and proxy.service.config.request_retry == 3
    assert seen and all(thread != loop_thread for _, thread in seen), seen


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

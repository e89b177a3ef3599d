"""C sources of native test plugins and a helper that compiles them with ``cc``."""

from __future__ import annotations

import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any

SOURCES = Path(__file__).parent
CC = shutil.which("cc")


_PLUGINS = {
    "basic": ("basic", ()),
    "reentrant": ("reentrant", ()),
    "threaded": ("threaded", ()),
    **{f"broken{mode}": ("broken", (f"BROKEN={mode}",)) for mode in range(1, 5)},
}
_built: dict[str, Path] = {}


def compile_command(source: str, out: Path, defines: tuple[str, ...] = ()) -> list[str]:
    """The ``cc`` command building ``native/<source>.c`` into the shared library ``out``."""
    flags = [f"-D{d}" for d in defines]
    return [
        CC or "cc",
        "-shared",
        "-fPIC",
        "-O1",
        "-pthread",
        *flags,
        "-I",
        str(SOURCES),
        "-o",
        str(out),
        str(SOURCES / f"{source}.c"),
    ]


def build_all(out_dir: Path) -> dict[str, Path]:
    """Every test plugin by name (basic, reentrant, threaded, broken1..4), compiled once
    per test session, in parallel."""
    if _built:
        return dict(_built)
    jobs = {}
    for name, (source, defines) in _PLUGINS.items():
        out = out_dir / f"{name}.so"
        jobs[name] = (
            out,
            subprocess.Popen(
                compile_command(source, out, defines), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
            ),
        )
    for name, (out, proc) in jobs.items():
        output, _ = proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"compiling {name} failed:\n{output.decode()}")
        _built[name] = out
    return dict(_built)


class FakeDispatcher:
    """Answers host callbacks and records who called what from which thread."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any]] = []
        self.threads: list[int] = []
        self.client: Any = None  # set by tests that bounce back into the plugin

    async def host_call(self, plugin_id: str, method: str, params: Any) -> Any:
        self.calls.append((plugin_id, method, params))
        self.threads.append(threading.get_ident())
        if method == "test.fail":
            raise RuntimeError("boom")
        if method == "test.call_back":
            return await self.client.call("test.leaf", {"n": params["n"]})
        if method.startswith("host."):
            return {}
        return {"echo": params}

    def methods(self) -> list[str]:
        return [method for _, method, _ in self.calls]

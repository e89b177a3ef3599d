"""The plugins folder a test proxy loads and the ``plugins:`` block that enables it, shared by
the Python, native, subprocess and example-plugin flow tests."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

PY_ROUTER = """
from cliproxy.plugins.api import *
class Router(Plugin, ModelRouter):
    name = "{name}"; version = "1.0.0"; author = "t"; github_repository = "https://example.com/r"
    async def route(self, req):
        if req.requested_model in {models!r}:
            return RouteDecision.provider("{provider}", "{model}")
        return None
plugin = Router()
"""


def py_router(name: str, models: tuple[str, ...], provider: str, model: str) -> str:
    """A Python router plugin sending ``models`` to ``provider``'s ``model``."""
    return PY_ROUTER.format(name=name, models=set(models), provider=provider, model=model)


def write_python(tmp_path: Path, sources: dict[str, str]) -> Path:
    """``tmp_path``/plugins holding each Python plugin as ``<id>.py`` (dedented)."""
    pdir = tmp_path / "plugins"
    pdir.mkdir(parents=True, exist_ok=True)
    for pid, source in sources.items():
        (pdir / f"{pid}.py").write_text(textwrap.dedent(source))
    return pdir


def plugins_yaml(pdir: Path, configs: dict[str, dict]) -> str:
    """A ``plugins:`` block enabling each id with its settings (values written as JSON)."""
    lines = [f"plugins:\n  enabled: true\n  dir: {json.dumps(str(pdir))}\n  configs:"]
    for pid, settings in configs.items():
        lines.append(f"    {pid}:\n      enabled: true")
        lines += [f"      {key}: {json.dumps(value)}" for key, value in settings.items()]
    return "\n".join(lines) + "\n"


async def seen(proxy: Any, pid: str) -> dict:
    """What a test plugin (native or subprocess) counted, through its ``test.seen`` call."""
    return await proxy.service.plugins.records[pid].client.call("test.seen", {})


# plugin source (after tests.plugins.test_flow_python's HEADER, which imports json): ``log``
# appends one JSON line to the file :func:`with_log` names, for :func:`log_entries` to read
LOG_TO_FILE = """
LOG = __LOG__
def log(**entry):
    with open(LOG, "a") as f:
        f.write(json.dumps(entry, default=lambda b: b.decode() if isinstance(b, bytes) else str(b)) + "\\n")
"""


def with_log(source: str, log: Path) -> str:
    """A plugin source whose ``LOG`` (``__LOG__``) is the file ``log``."""
    return source.replace("__LOG__", repr(str(log)))


def log_entries(log: Path) -> list[dict[str, Any]]:
    """The JSON lines a plugin logged, oldest first."""
    return [json.loads(line) for line in log.read_text().splitlines()]

"""Imports point one way (the house plan):

    cli/server -> service -> management -> pipeline
      -> {plugins, providers, translate, credentials, models, usage} -> {formats, state, errors, config, access}

A module may import its own layer and the layers below it, never a layer above. The
upward imports that exist today are listed in ``KNOWN_UPWARD`` (each is work of the
architecture issue); the list may only shrink: a new upward import fails this test, and
so does an entry that is no longer needed.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "cliproxy"

RANK = {
    "cliproxy": 7,
    "__main__": 7,
    "cli": 7,
    "server": 6,
    "service": 5,
    "management": 4,
    "pipeline": 3,
    "plugins": 2,
    "providers": 2,
    "translate": 2,
    "credentials": 2,
    "models": 2,
    "usage": 2,
    "formats": 1,
    "state": 1,
    "errors": 1,
    "config": 1,
    "access": 1,
}

# (importing module, imported module): upward imports still to be removed
KNOWN_UPWARD = {
    ("cliproxy.formats.claude", "cliproxy.translate"),
    ("cliproxy.formats.claude", "cliproxy.translate.adapter"),
    ("cliproxy.formats.gemini", "cliproxy.translate"),
    ("cliproxy.formats.gemini", "cliproxy.translate.adapter"),
    ("cliproxy.formats.openai_chat", "cliproxy.translate"),
    ("cliproxy.formats.openai_chat", "cliproxy.translate.adapter"),
    ("cliproxy.formats.openai_responses", "cliproxy.translate"),
    ("cliproxy.formats.openai_responses", "cliproxy.translate.adapter"),
    ("cliproxy.management.api", "cliproxy.service"),
    ("cliproxy.management.auth_files_config", "cliproxy.service"),
    ("cliproxy.management.auth_files_store", "cliproxy.service"),
    ("cliproxy.management.ops_apicall", "cliproxy.service"),
    ("cliproxy.management.plugin_login", "cliproxy.service"),
    ("cliproxy.management.plugins", "cliproxy.service"),
    ("cliproxy.plugins.callbacks", "cliproxy.service"),
    ("cliproxy.plugins.callbacks", "cliproxy.pipeline"),
    ("cliproxy.plugins.executor", "cliproxy.pipeline"),
    ("cliproxy.plugins.flow", "cliproxy.pipeline"),
    ("cliproxy.service", "cliproxy.server.routes"),
    ("cliproxy.service", "cliproxy.server.handlers"),
    ("cliproxy.usage.hooks", "cliproxy.pipeline"),
    ("cliproxy.usage.hooks", "cliproxy.server.context"),
    ("cliproxy.usage.trace", "cliproxy.pipeline"),
}


def _module(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    name = ".".join(("cliproxy", *parts))
    return name.removesuffix(".__init__")


def _imports(path: Path, module: str) -> set[str]:
    found: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                found.add(".".join([*base, node.module] if node.module else base))
            elif node.module:
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name == "cliproxy" or name.startswith("cliproxy.")}


def _rank(module: str) -> int:
    parts = module.split(".")
    return RANK[parts[1] if len(parts) > 1 else "cliproxy"]


def _upward() -> set[tuple[str, str]]:
    edges = set()
    for path in SRC.rglob("*.py"):
        module = _module(path)
        for target in _imports(path, module):
            if target != "cliproxy" and _rank(target) > _rank(module):
                edges.add((module, target))
    return edges


def test_every_package_has_a_layer():
    packages = {p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    modules = {p.stem for p in SRC.glob("*.py") if p.stem != "__init__"}
    assert packages | modules <= set(RANK), sorted((packages | modules) - set(RANK))


def test_no_new_upward_import():
    new = sorted(_upward() - KNOWN_UPWARD)
    assert not new, "imports that point up the layers (see the house plan): " + ", ".join(
        f"{a} -> {b}" for a, b in new
    )


def test_known_upward_imports_only_shrink():
    gone = sorted(KNOWN_UPWARD - _upward())
    assert not gone, "no longer needed, remove from KNOWN_UPWARD: " + ", ".join(
        f"{a} -> {b}" for a, b in gone
    )


def test_the_check_sees_an_upward_import(tmp_path):
    # the walker itself: a relative and an absolute upward import are both found
    fake = SRC / "formats" / "openai_chat.py"
    found = _imports(fake, "cliproxy.formats.openai_chat")
    assert "cliproxy.translate.adapter" in found
    assert _rank("cliproxy.server.app") > _rank("cliproxy.service") > _rank("cliproxy.pipeline")

"""Imports point one way (the house plan):

    cli/server -> service -> management -> pipeline
      -> {plugins, providers, translate, credentials, models, usage} -> {formats, state, errors, config, access}

A module may import its own layer and the layers below it, never a layer above. The
upward imports that exist today are listed in ``KNOWN_UPWARD`` (each is work of the
architecture issue); the list may only shrink: a new upward import fails this test, and
so does an entry that is no longer needed.

No module takes part in an import cycle either, counting imports inside functions (a
lazy import that only hides a cycle is still one). Imports under ``TYPE_CHECKING`` are
left out of the cycle check: they never run, so they cannot break an import order, and
two classes that name each other in annotations (the schema walker and its rules) are
written that way on purpose; the layer check above still counts them, so such a pair
can only sit within one layer. ``KNOWN_CYCLES`` lists the imports that still close a
cycle; like ``KNOWN_UPWARD`` it may only shrink.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "cliproxy"

RANK = {
    "cliproxy": 7,
    "__main__": 7,
    "cli": 7,
    "serving": 7,
    "tui": 7,
    "record": 7,
    "server": 6,
    "service": 5,
    "service_catalog": 5,
    "service_config": 5,
    "service_mirrors": 5,
    "announce": 5,
    "responses_ws": 5,
    "realtime": 5,
    "media": 5,
    "relay": 5,
    "management": 4,
    "pipeline": 3,
    "pipeline_failover": 3,
    "pipeline_lane": 3,
    "pipeline_plain": 3,
    "pipeline_prepare": 3,
    "pipeline_probe": 3,
    "pipeline_search": 3,
    "replies": 3,
    "replies_stream": 3,
    "upstream_body": 3,
    "route_explain": 3,
    "calls": 2,
    "plugins": 2,
    "providers": 2,
    "translate": 2,
    "credentials": 2,
    "models": 2,
    "usage": 2,
    "policies": 2,
    "formats": 1,
    "state": 1,
    "errors": 1,
    "config": 1,
    "access": 1,
    "requestid": 1,
    "presence": 1,
    "times": 1,
    "ids": 1,
}

# (importing module, imported module): upward imports still to be removed
KNOWN_UPWARD: set[tuple[str, str]] = set()


# (importing module, imported module): imports that still close an import cycle
KNOWN_CYCLES: set[tuple[str, str]] = set()


def _module(path: Path, root: Path = SRC) -> str:
    parts = path.relative_to(root).with_suffix("").parts
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
    # the walker itself: relative, absolute, in-function and TYPE_CHECKING imports are all found
    fake = tmp_path / "cliproxy" / "formats" / "fake.py"
    fake.parent.mkdir(parents=True)
    fake.write_text(
        "from typing import TYPE_CHECKING\n"
        "from ..translate import adapter\n"
        "if TYPE_CHECKING:\n"
        "    from cliproxy.service import Service\n"
        "def f():\n"
        "    import cliproxy.server.app\n"
    )
    found = _imports(fake, "cliproxy.formats.fake")
    assert {"cliproxy.translate", "cliproxy.service", "cliproxy.server.app"} <= found
    assert all(_rank(name) > _rank("cliproxy.formats.fake") for name in found)
    assert _rank("cliproxy.server.app") > _rank("cliproxy.service") > _rank("cliproxy.pipeline")


# -- import cycles


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement, at any depth (functions too), except under ``if TYPE_CHECKING:``."""
    found: list[ast.Import | ast.ImportFrom] = []
    todo: list[ast.AST] = [tree]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            todo.extend(node.orelse)
            continue
        todo.extend(ast.iter_child_nodes(node))
    return found


def _graph(root: Path = SRC) -> dict[str, set[str]]:
    """Module -> the package modules it imports at run time. ``from pkg import name``
    counts as an import of ``pkg.name`` when that is a module, else of ``pkg``."""
    paths = {_module(path, root): path for path in root.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for module, path in paths.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        targets: set[str] = set()
        for node in _runtime_imports(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
                continue
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join([*parts[: len(parts) - (node.level - 1)], *([base] if base else [])])
            for alias in node.names:
                targets.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in paths else base)
        graph[module] = {target for target in targets if target in paths and target != module}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (``[a, b, ..., a]``) per strongly connected component of ``graph``
    that has one."""
    return [_cycle_in(graph, component) for component in _components(graph)]


def _components(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components of ``graph`` with more than one module
    (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(component)
    return components


def _cycle_in(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    """A shortest cycle through the first module of ``component`` (breadth first)."""
    start = min(component)
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in sorted(graph[node] & component):
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    return [start, *reversed(path[:-1]), start] if node != start else [start, start]
                if child not in came_from:
                    came_from[child] = node
                    following.append(child)
        frontier = following
    raise AssertionError(f"no cycle in {sorted(component)}")


def _without(graph: dict[str, set[str]], edges: set[tuple[str, str]]) -> dict[str, set[str]]:
    return {module: {t for t in targets if (module, t) not in edges} for module, targets in graph.items()}


def test_no_import_cycle():
    cycles = _cycles(_without(_graph(), KNOWN_CYCLES))
    assert not cycles, "import cycles (function-level imports count too):\n" + "\n".join(
        " -> ".join(cycle) for cycle in cycles
    )


def test_known_cycles_only_shrink():
    graph = _graph()
    component = {module: i for i, members in enumerate(_components(graph)) for module in members}
    gone = sorted(
        (a, b)
        for a, b in KNOWN_CYCLES
        if b not in graph.get(a, ()) or a not in component or component[a] != component.get(b)
    )
    assert not gone, "no longer closes a cycle, remove from KNOWN_CYCLES: " + ", ".join(
        f"{a} -> {b}" for a, b in gone
    )


def test_the_check_sees_a_cycle_through_a_function_level_import(tmp_path):
    package = tmp_path / "cliproxy"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "a.py").write_text("from cliproxy.sub import b\n")
    (package / "sub" / "b.py").write_text("def f():\n    from .c import g\n")
    (package / "sub" / "c.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import cliproxy.a\nfrom .. import a\n"
    )
    (package / "d.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from cliproxy import e\n"
    )
    (package / "e.py").write_text("from cliproxy import d\n")
    graph = _graph(package)
    assert graph["cliproxy.sub.b"] == {"cliproxy.sub.c"}
    assert graph["cliproxy.d"] == set()  # a TYPE_CHECKING import does not run
    assert _cycles(graph) == [["cliproxy.a", "cliproxy.sub.b", "cliproxy.sub.c", "cliproxy.a"]]
    assert _cycles(_without(graph, {("cliproxy.sub.c", "cliproxy.a")})) == []


# Imports inside functions hide dependencies and cycles; each one left has a reason.
LAZY_IMPORTS_ALLOWED = {
    # the command line: `cliproxy --help` and a login stay fast (no server, no plugins loaded)
    "cliproxy.cli": None,
    # serving: the token store CPA's variables choose (its client library: psycopg, git,
    # boto3) and uvloop (not on Windows)
    "cliproxy.serving": {
        "cliproxy.credentials.stores.postgres",
        "cliproxy.credentials.stores.objects",
        "cliproxy.credentials.stores.git",
        "uvloop",
    },
    # a plugin transport (ctypes for native, a process pool for subprocess) loads only when used
    "cliproxy.plugins.host": {
        "importlib.metadata",
        "cliproxy.plugins.inproc",
        "cliproxy.plugins.native",
        "cliproxy.plugins.subprocess",
    },
    # the terminal UI: Textual (an optional extra) and the in-process server load only when it starts
    "cliproxy.tui": {"cliproxy.tui.app", "cliproxy.tui.standalone"},
    "cliproxy.providers.http": {"aiohttp_socks"},  # SOCKS proxies only
    # ~20 MB / ~8 MB of resident memory a proxy pays only when it sends through them
    "cliproxy.providers.impersonate": {"curl_cffi", "curl_cffi.requests"},
    "cliproxy.usage.ledger_store": {"psycopg"},
    "cliproxy.state.factory": {
        "redis"
    },  # (relative: .redis)  # redis-py: ~8 MB, with state.backend: redis only
    "cliproxy.server.guard": {"resource"},  # Unix only
    # cryptography (~9 MB) only when a Vertex service account signs or is imported
    "cliproxy.credentials.service_account": {"rs256"},  # (relative: .rs256)
    "cliproxy.credentials.login.vertex": {"cliproxy.credentials.rs256"},
    # and when Realtime client secrets are sealed for a shared state backend (Redis)
    "cliproxy.providers.codex_realtime_secrets": {
        "cryptography.exceptions",
        "cryptography.hazmat.primitives.ciphers.aead",
    },
    # and a rotated refresh token's answer for other hosts (Redis only: resp needs redis-py)
    "cliproxy.credentials.refresh_spent": {
        "cliproxy.state.resp",
        "cryptography.exceptions",
        "cryptography.hazmat.primitives.ciphers.aead",
    },
}


def _lazy_imports() -> set[tuple[str, str]]:
    found = set()
    for path in SRC.rglob("*.py"):
        module = _module(path)
        for fn in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(fn):
                if isinstance(node, ast.ImportFrom) and node.module:
                    found.add((module, node.module))
                elif isinstance(node, ast.Import):
                    found.update((module, alias.name) for alias in node.names)
    return found


def test_imports_inside_functions_only_where_they_have_a_reason():
    stray = sorted(
        (module, target)
        for module, target in _lazy_imports()
        if module not in LAZY_IMPORTS_ALLOWED
        or (LAZY_IMPORTS_ALLOWED[module] is not None and target not in LAZY_IMPORTS_ALLOWED[module])
    )
    assert not stray, "move these imports to the top of their module: " + ", ".join(
        f"{a} imports {b}" for a, b in stray
    )

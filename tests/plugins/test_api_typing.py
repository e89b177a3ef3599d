"""The plugin API as a type checker sees it (the package ships ``py.typed``).

Plugin authors run mypy against ``cliproxy.plugins.api``: its names must be visible to a
static reader (literal ``__all__``, explicit imports, no star imports), its closed sets of
strings must be ``Literal`` types, and it must type-check under ``mypy --strict``.
"""

from __future__ import annotations

import ast
import typing
from pathlib import Path

import pytest

from cliproxy.plugins import abi, api, inproc
from cliproxy.plugins import types as plugin_types

PLUGINS = Path(api.__file__).resolve().parent
FACES = {"api": (PLUGINS / "api.py", api), "types": (PLUGINS / "types" / "__init__.py", plugin_types)}


def _literal_all(tree: ast.Module) -> list[str]:
    """The module's ``__all__``, which must be one assignment of a list of strings."""
    assigned = [
        node
        for node in tree.body
        if isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign)
        and any(
            isinstance(t, ast.Name) and t.id == "__all__"
            for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
        )
    ]
    assert len(assigned) == 1, "assign __all__ exactly once"
    value = assigned[0].value
    assert isinstance(value, ast.List | ast.Tuple), "__all__ must be a literal list"
    names = []
    for element in value.elts:
        assert isinstance(element, ast.Constant) and isinstance(element.value, str), ast.dump(element)
        names.append(element.value)
    return names


def _bound_names(tree: ast.Module) -> set[str]:
    """Names the module binds by explicit import, definition or assignment."""
    bound: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom | ast.Import):
            bound |= {alias.asname or alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            bound.add(node.name)
        elif isinstance(node, ast.Assign):
            bound |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            bound.add(node.target.id)
    return bound


@pytest.mark.parametrize("face", list(FACES))
def test_face_is_readable_without_running_it(face):
    path, module = FACES[face]
    tree = ast.parse(path.read_text())
    stars = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.names[0].name == "*"]
    assert stars == [], "no star imports: a type checker cannot see what they bring"
    names = _literal_all(tree)
    assert names == module.__all__
    assert names == sorted(names)
    assert sorted(set(names) - _bound_names(tree)) == [], "every exported name is imported explicitly"


def test_types_face_exports_every_submodule_name():
    submodules = ("hooks", "host", "models", "routing", "wire")
    expected = sorted(
        name
        for sub in submodules
        for name in __import__(f"cliproxy.plugins.types.{sub}", fromlist=["__all__"]).__all__
    )
    assert plugin_types.__all__ == expected


def test_capability_names_are_a_closed_literal():
    names = typing.get_args(api.CapabilityName)
    assert set(names) == {cap.__capability__ for cap in api.CAPABILITIES}
    assert set(names) <= set(abi.CAPABILITY_FLAGS)
    hints = typing.get_type_hints(api.Executor, vars(api))
    assert typing.get_args(hints["model_scope"]) == ("both", "static", "oauth")


@pytest.fixture(scope="module")
def mypy_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One mypy cache for the module's runs (typeshed is analysed once)."""
    return tmp_path_factory.mktemp("mypy-cache")


def _mypy_errors(cache: Path, files: list[Path], *args: str) -> list[str]:
    """mypy's errors (and revealed types) about ``files``; errors in the modules they
    import are not counted."""
    mypy_api = pytest.importorskip("mypy.api")
    out, err, _status = mypy_api.run(
        [
            "--ignore-missing-imports",
            "--no-error-summary",
            "--show-absolute-path",
            "--cache-dir",
            str(cache),
            *args,
            *map(str, files),
        ]
    )
    assert not err, err
    wanted = {str(f.resolve()) for f in files}
    return [
        line
        for line in out.splitlines()
        if line.split(":", 1)[0] in wanted and (": error:" in line or "Revealed type" in line)
    ]


def test_api_and_types_pass_mypy_strict(mypy_cache):
    files = [PLUGINS / "api.py", *sorted((PLUGINS / "types").glob("*.py"))]
    assert _mypy_errors(mypy_cache, files, "--strict") == []


def test_inproc_passes_mypy(mypy_cache):
    assert _mypy_errors(mypy_cache, [Path(inproc.__file__)]) == []


PLUGIN_SOURCE = """
from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from cliproxy.plugins.api import (
    ExecutorRequest,
    Executor,
    ExecutorResponse,
    ExecutorStream,
    Host,
    ModelRouter,
    PickDecision,
    PickRequest,
    Plugin,
    RouteDecision,
    RouteRequest,
    Scheduler,
)


class Typed(Plugin, ModelRouter, Scheduler, Executor):
    name, version, author = "typed", "1.0.0", "me"
    github_repository = "https://github.com/me/typed"
    identifier = "typed"
    input_formats = ["openai"]
    output_formats = ["openai"]
    model_scope = "static"

    async def configure(self, config: dict[str, Any], host: Host) -> None:
        self.model = str(config.get("model", "gpt-5"))

    async def route(self, request: RouteRequest) -> RouteDecision | None:
        return RouteDecision.provider("openai", self.model) if request.stream else None

    async def pick(self, request: PickRequest) -> PickDecision | None:
        return PickDecision.delegate("fill-first")

    async def execute(self, request: ExecutorRequest) -> ExecutorResponse:
        return ExecutorResponse(payload=request.payload)

    async def execute_stream(self, request: ExecutorRequest) -> AsyncIterator[bytes]:
        yield request.payload


class Headed(Plugin, Executor):
    name, version, author = "headed", "1.0.0", "me"
    github_repository = "https://github.com/me/headed"
    identifier = "headed"
    input_formats = ["claude"]
    output_formats = ["claude"]

    async def execute(self, request: ExecutorRequest) -> ExecutorResponse:
        return ExecutorResponse(payload=request.payload)

    async def execute_stream(self, request: ExecutorRequest) -> ExecutorStream:
        return ExecutorStream(self._chunks(request.payload), {"X-Trace": ["1"]})

    async def _chunks(self, payload: bytes) -> AsyncIterator[bytes]:
        yield payload


reveal_type(Typed.__capability__)
plugin = Typed()
"""


def test_a_plugin_author_type_checks_against_the_api(tmp_path, mypy_cache):
    source = tmp_path / "typed_plugin.py"
    source.write_text(PLUGIN_SOURCE)
    errors = _mypy_errors(mypy_cache, [source], "--strict")
    revealed = [line for line in errors if "Revealed type" in line]
    assert [line for line in errors if line not in revealed] == []
    assert len(revealed) == 1 and "Literal[" in revealed[0] and "'model_router'" in revealed[0], revealed

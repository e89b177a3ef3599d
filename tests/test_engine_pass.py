"""The second CI pass (``CLIPROXY_SERVER_ENGINE=aiohttp``, .ci/run) runs only the tests that
variable reaches; tests/conftest.py tells them by the fixtures a test uses
(``ENGINE_FIXTURES``), so every fixture that starts a proxy on the suite's engine must be
named there, or the tests behind it would silently run on one engine only."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ENGINE_FIXTURES


def _reads_engine(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Name) and n.id == "ENGINE" for n in ast.walk(node))


def test_every_fixture_that_starts_a_proxy_on_the_suite_engine_is_named() -> None:
    root = Path(__file__).parent
    texts = {path: path.read_text() for path in sorted(root.rglob("*.py"))}
    readers = {
        f"{path.relative_to(root)}:{node.name}"
        for path, text in texts.items()
        if "ENGINE" in text  # parse only the files that can hold a reader
        for node in ast.parse(text).body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and _reads_engine(node)
    }
    readers.discard("conftest.py:pytest_collection_modifyitems")  # the pass's own choice
    assert {reader.rsplit(":", 1)[1] for reader in readers} == ENGINE_FIXTURES, sorted(readers)

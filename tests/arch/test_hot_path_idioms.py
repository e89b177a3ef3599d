"""Idioms that cost on every request, kept out of the modules every request runs through.

* ``isinstance(x, A | B)`` builds a ``types.UnionType`` each time the test runs (about
  50 ns more than a tuple made once, in loops over every message, block and schema node);
  the request path names a module-level tuple instead.
* ``b"needle" in data`` first tries ``b"needle"`` as an integer (a byte value), so every
  test raises and clears a TypeError (~1,800 instructions); ``data.find(b"needle")`` does
  not. Per SSE chunk in the usage sniffers, per request in the server.

Read from the source's syntax tree, so a new occurrence fails here with its file and line.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "cliproxy"
# what a request runs through: translation, formats, model shaping, the pipeline, the
# protocol-level server, the providers and the usage record
HOT = [
    "translate",
    "formats",
    "models",
    "replies.py",
    "replies_stream.py",
    "upstream_body.py",
    "pipeline.py",
    "pipeline_prepare.py",
    "pipeline_failover.py",
    "pipeline_lane.py",
    "pipeline_plain.py",
    "calls.py",
    "access.py",
    "server/fast",
    "providers",
    "usage",
]


def _modules() -> list[Path]:
    out: list[Path] = []
    for part in HOT:
        path = SRC / part
        out.extend([path] if path.is_file() else sorted(path.rglob("*.py")))
    return out


def _union_tests(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("isinstance", "issubclass")
            and len(node.args) == 2
            and isinstance(node.args[1], ast.BinOp)
            and isinstance(node.args[1].op, ast.BitOr)
        ):
            found.append((node.lineno, ast.unparse(node)))
    return found


def _bytes_in(tree: ast.AST) -> list[tuple[int, str]]:
    return [
        (node.lineno, ast.unparse(node))
        for node in ast.walk(tree)
        if isinstance(node, ast.Compare)
        and isinstance(node.left, ast.Constant)
        and isinstance(node.left.value, bytes)
        and any(isinstance(op, ast.In | ast.NotIn) for op in node.ops)
    ]


def test_the_request_path_tests_types_against_tuples_not_unions():
    modules = _modules()
    assert len(modules) > 100  # the scope is the real tree
    found = [
        f"{path.relative_to(SRC)}:{line}: {code}"
        for path in modules
        for line, code in _union_tests(ast.parse(path.read_text(), str(path)))
    ]
    assert found == [], "isinstance with a union on the request path:\n" + "\n".join(found)


def test_the_request_path_finds_bytes_instead_of_testing_membership():
    found = [
        f"{path.relative_to(SRC)}:{line}: {code}"
        for path in _modules()
        for line, code in _bytes_in(ast.parse(path.read_text(), str(path)))
    ]
    assert found == [], "a bytes literal tested with in / not in on the request path:\n" + "\n".join(found)


def test_the_checks_see_what_they_look_for():
    code = "def f(x):\n    return isinstance(x, int | float) or isinstance(x, (int, float))\n"
    assert [line for line, _ in _union_tests(ast.parse(code))] == [2]
    code = 'def g(d):\n    return b"a" in d\n\ndef h(d):\n    return d.find(b"a") >= 0 or "a" in d\n'
    assert [line for line, _ in _bytes_in(ast.parse(code))] == [2]

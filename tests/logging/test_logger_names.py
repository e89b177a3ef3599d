"""Logger names come from ``__name__``: a line's logger says which module wrote it, and
the ``cliproxy`` logger's level (``debug:``) and handlers (``main.log``) cover them all."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "cliproxy"

# names given as literals, on purpose: the root of our tree (level and handler set-up)
# and the access-log channel (one line per request, as CPA's gin access logger)
CHANNELS = {"cliproxy", "cliproxy.access"}


def _get_logger_calls(tree: ast.AST) -> list[ast.Call]:
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "getLogger"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "logging"
    ]


def _problems(source: str, where: str) -> list[str]:
    tree = ast.parse(source, where)
    found = []
    for call in _get_logger_calls(tree):
        arg = call.args[0] if call.args else None
        if isinstance(arg, ast.Constant) and arg.value not in CHANNELS:
            found.append(f"{where}:{call.lineno}: getLogger({arg.value!r})")
    for node in tree.body:  # the module's own logger: always __name__
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            calls = _get_logger_calls(node.value)
            arg = calls[0].args[0] if calls and calls[0].args else None
            if calls and not (isinstance(arg, ast.Name) and arg.id == "__name__"):
                found.append(f"{where}:{node.lineno}: module logger not __name__")
    return found


def test_module_loggers_are_named_by_name():
    problems = [
        p
        for path in sorted(SRC.rglob("*.py"))
        for p in _problems(path.read_text(), str(path.relative_to(SRC)))
    ]
    assert not problems, "use logging.getLogger(__name__): " + "; ".join(problems)


def test_the_check_sees_a_hand_named_logger():
    assert len(_problems('import logging\nlog = logging.getLogger("cliproxy.x")\n', "bad.py")) == 2
    assert len(_problems('import logging\nlog = logging.getLogger("cliproxy")\n', "bad.py")) == 1
    assert _problems("import logging\nlog = logging.getLogger(__name__)\n", "good.py") == []

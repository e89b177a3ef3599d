"""The condition inside a ``#(...)`` path part, evaluated against one array element.

Terms join with ``&&`` (binds tighter) and ``||``. A term is ``key op value`` with ``op``
one of ``== = != < <= > >= % !%`` (``%`` is a ``*``/``?`` wildcard match), or a bare
``key`` (true when it exists). An empty key compares the element itself
(``#(=="fb")``); a key may hold a query of its own (``nets.#(=="fb")``). Values are
quoted strings, numbers, ``true``, ``false`` or ``null``; types must agree to compare.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

__all__ = ["Values", "query_matches"]

# ``values(item, key)``: what ``key`` (a path, maybe with queries of its own) selects in
# ``item``, the item itself for an empty key. The path engine (``paths``) passes its own,
# so this module needs no import of it.
Values = Callable[[Any, str], list[Any]]

_OPS = ("==", "!=", "<=", ">=", "!%", "=", "<", ">", "%")
_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][+-]?\d+)?$")


def query_matches(item: Any, query: str, values: Values) -> bool:
    """Whether ``item`` satisfies ``query``."""
    return any(
        all(_term_matches(item, term, values) for term in _split(alt, "&&")) for alt in _split(query, "||")
    )


def _split(text: str, operator: str) -> list[str]:
    parts, start, quote, depth, i = [], 0, "", 0, 0
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        elif not depth and text.startswith(operator, i):
            parts.append(text[start:i].strip())
            i += len(operator)
            start = i
            continue
        i += 1
    parts.append(text[start:].strip())
    return parts


def _find_op(term: str) -> tuple[int, str]:
    quote, depth = "", 0
    for i, ch in enumerate(term):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        elif not depth and ch in "=!<>%":
            return i, next(op for op in _OPS if term.startswith(op, i))
    return -1, ""


def _term_matches(item: Any, term: str, values_of: Values) -> bool:
    if not term:
        return False
    at, op = _find_op(term)
    key = term[:at].strip() if at >= 0 else term
    values = values_of(item, key)
    if at < 0:
        return bool(values)
    expected = _literal(term[at + len(op) :].strip())
    return any(_compare(value, op, expected) for value in values)


def _literal(text: str) -> Any:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return re.sub(r"\\(.)", r"\1", text[1:-1])
    if text in ("true", "false"):
        return text == "true"
    if text == "null":
        return None
    if _NUMBER.match(text):
        return float(text)
    return text


def _compare(actual: Any, op: str, expected: Any) -> bool:
    if op in ("%", "!%"):
        if not isinstance(actual, str) or not isinstance(expected, str):
            return False
        return _like(actual, expected) == (op == "%")
    if not _same_kind(actual, expected):
        return op == "!="
    if op in ("==", "="):
        return bool(actual == expected)
    if op == "!=":
        return bool(actual != expected)
    if expected is None or isinstance(expected, bool):
        return False
    return _order(actual, op, expected)


def _like(text: str, pattern: str) -> bool:
    regex = re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".")
    return re.fullmatch(regex, text, re.DOTALL) is not None


def _order(actual: Any, op: str, expected: Any) -> bool:
    if op == "<":
        return bool(actual < expected)
    if op == "<=":
        return bool(actual <= expected)
    if op == ">":
        return bool(actual > expected)
    return bool(actual >= expected)


def _same_kind(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool)
    if a is None or b is None:
        return a is None and b is None
    numeric = (int, float)
    if isinstance(a, numeric) or isinstance(b, numeric):
        return isinstance(a, numeric) and isinstance(b, numeric)
    return isinstance(a, str) and isinstance(b, str)

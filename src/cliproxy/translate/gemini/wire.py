"""Reading Gemini JSON that may be spelled in camelCase or snake_case.

The REST API accepts both spellings (proto JSON); we read either and always write
camelCase. ``take`` pops a key from a working copy so what is left over can go to
``extras`` untouched.
"""

from __future__ import annotations

import functools
from typing import Any

from cliproxy.errors import RequestError

__all__ = ["as_dict", "as_list", "camel", "take"]

_MISSING: Any = object()


@functools.lru_cache(maxsize=1024)
def camel(key: str) -> str:
    """``function_declarations`` -> ``functionDeclarations`` (camel keys unchanged)."""
    if "_" not in key.strip("_"):
        return key
    head, *rest = key.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def snake(key: str) -> str:
    out = "".join("_" + c.lower() if c.isupper() else c for c in key)
    if len(_SNAKE) < 1024:
        _SNAKE[key] = out
    return out


_SNAKE: dict[str, str] = {}


def take(d: dict[str, Any], key: str, default: Any = None) -> Any:
    """Pop ``key`` (camelCase) or its snake_case twin from ``d``."""
    value = d.pop(key, _MISSING)
    if value is not _MISSING:
        return value
    value = d.pop(_SNAKE.get(key) or snake(key), _MISSING)
    return default if value is _MISSING else value


def as_dict(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RequestError(f"{where}: expected an object, got {type(value).__name__}", param=where)
    return value


def as_list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise RequestError(f"{where}: expected an array, got {type(value).__name__}", param=where)
    return value

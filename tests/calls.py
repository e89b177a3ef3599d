"""Counting the calls a piece of code makes: an exact measure of how its work grows with
its input (a time would move with the machine's load)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any


def calls_made(work: Callable[[], Any]) -> int:
    """How many Python and built-in function calls ``work()`` makes."""
    count = 0

    def profile(frame: Any, event: str, arg: Any) -> None:
        nonlocal count
        if event in ("call", "c_call"):
            count += 1

    sys.setprofile(profile)
    try:
        work()
    finally:
        sys.setprofile(None)
    return count

"""Go-style duration strings ("250ms", "1h30m") as used by CPA's config."""

from __future__ import annotations

from .. import times

__all__ = ["parse_duration"]


def parse_duration(text: str | int | float) -> float:
    """Seconds in a Go duration string (surrounding blanks allowed); a bare number is Go's
    nanoseconds.

    Raises ``ValueError`` for text Go's ``time.ParseDuration`` would refuse.
    """
    if isinstance(text, str):
        text = text.strip()
    try:
        return times.parse_duration(text)
    except ValueError:
        raise ValueError(f"invalid duration {text!r}") from None

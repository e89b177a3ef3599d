from __future__ import annotations

import pytest

from cliproxy.config import parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1h", 3600),
        ("2h30m", 9000),
        ("250ms", 0.25),
        ("1.5s", 1.5),
        ("0", 0),
        ("-1s", -1),
        (3_000_000_000, 3),
    ],
)
def test_parse_duration(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "1", "h", "1x", "1h 2m", True])
def test_parse_duration_rejects(text):
    with pytest.raises(ValueError):
        parse_duration(text)

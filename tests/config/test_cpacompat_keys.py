"""Every key path CPA's config structs accept is known to cliproxy: effective, or named in the
start-up warning of keys not yet effective (never called unknown, never silently dropped).

``data/cpa-struct-keys.txt`` lists the 410 paths read from the ``yaml:"..."`` tags of
CPA's internal/config/*.go (nested structs, lists ``[]`` and map keys ``.*`` followed),
``data/cpa-struct-keys.yaml`` sets each of them. When CPA adds a key, add its path to both:
this test then says whether cliproxy reads it, warns about it, or (a defect) ignores it.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from cliproxy.announce import KeyNotes
from cliproxy.config import load_config
from cliproxy.config.effective import (
    DEPRECATED,
    NOT_EFFECTIVE,
    deprecated_keys,
    ignored_values,
    not_effective_keys,
    unknown_keys,
)

DATA = Path(__file__).parent / "data"
PATHS = [
    line.strip()
    for line in (DATA / "cpa-struct-keys.txt").read_text().splitlines()
    if line.strip() and not line.startswith("#")
]


def _paths(node: Any, path: str = "") -> set[str]:
    """The key paths of a YAML document, in the notation of cpa-struct-keys.txt."""
    out: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{path}.{key}" if path else str(key)
            if isinstance(value, list):
                out.add(here + "[]")
                for item in value:
                    out |= _paths(item, here + "[]")
            else:
                out.add(here)
                out |= _paths(value, here)
    return out


def test_the_fixture_sets_every_cpa_key() -> None:
    assert len(PATHS) == len(set(PATHS)) == 410
    present = _paths(yaml.safe_load((DATA / "cpa-struct-keys.yaml").read_text()))
    missing = [
        p
        for p in PATHS
        if not any(re.fullmatch(re.escape(p).replace(r"\.\*", r"\.[^.]+"), q) for q in present)
    ]
    assert missing == []


def test_every_cpa_key_is_known_or_named_in_the_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "config.yaml"
    path.write_text((DATA / "cpa-struct-keys.yaml").read_text())
    config = load_config(path)
    assert unknown_keys(config) == []  # no CPA key is called unknown
    assert ignored_values(config) == []
    # every row of the table is set in the fixture, so every one is named
    assert not_effective_keys(config) == [row.path for row in NOT_EFFECTIVE]
    assert deprecated_keys(config) == [p for p, _ in DEPRECATED]
    caplog.set_level(logging.WARNING, "cliproxy")
    KeyNotes().announce(config)
    (line,) = [r.getMessage() for r in caplog.records if "not implemented in cliproxy yet" in r.getMessage()]
    for row in NOT_EFFECTIVE:
        assert row.path in line
    # the CPA paths the warning covers: a row and everything under it
    warned = [
        p
        for p in PATHS
        if any(p == r.path or p.startswith((r.path + ".", r.path + "[]")) for r in NOT_EFFECTIVE)
    ]
    assert len(warned) == 40

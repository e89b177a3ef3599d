from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture
def full_yaml() -> str:
    return (DATA / "cpa-full.yaml").read_text(encoding="utf-8")


@pytest.fixture
def full_file(tmp_path: Path, full_yaml: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(full_yaml, encoding="utf-8")
    return path

"""README's two set-up commands and CI must agree."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _blocks() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return [b.strip() for b in re.findall(r"```sh\n(.*?)```", text, re.S)]


def test_readme_opens_with_run_and_test_commands():
    text = (ROOT / "README.md").read_text()
    head = text[: text.index("## ")]
    blocks = re.findall(r"```sh\n(.*?)```", head, re.S)
    assert len(blocks) == 2, "README must open with exactly two set-up commands"
    assert blocks[0].strip().endswith("cliproxy")
    assert "pytest" in blocks[1]


def test_ci_runs_the_readme_test_command_verbatim():
    test_cmd = _blocks()[1]
    ci_lines = [ln.strip() for ln in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert test_cmd in ci_lines

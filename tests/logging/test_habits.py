"""The written habits stay true: pre-commit runs what CI runs, the ``dev`` extra installs it."""

from __future__ import annotations

import shlex
import tomllib
from pathlib import Path

from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[2]


def ci_lint_lines(text: str) -> list[str]:
    """The commands of ``.ci/run`` other than its set-up (pip installs, the sourced
    ``.ci/services``) and the test command (which installs with pip too): the lint steps,
    in order."""
    lines = []
    for raw in text.splitlines():
        line = raw.strip()
        if (
            not line
            or line.startswith("#")
            or line.startswith(("set ", "cd ", ". "))
            or "pip install" in line
        ):
            continue
        lines.append(shlex.join(shlex.split(line)))
    return lines


def hook_lines(text: str) -> list[str]:
    """The commands the pre-commit hooks run (entry and args), in order; each hook must be
    a local one on the whole tree, as CI runs it."""
    config = YAML(typ="safe").load(text)
    commands = []
    for repo in config["repos"]:
        assert repo["repo"] == "local", repo  # no download at hook install time
        for hook in repo["hooks"]:
            assert hook["language"] == "system", hook  # the virtualenv's own tools
            assert hook.get("pass_filenames") is False, hook  # the whole tree, like CI
            commands.append(shlex.join([*shlex.split(hook["entry"]), *hook.get("args", [])]))
    return commands


def test_pre_commit_mirrors_the_ci_lint_steps():
    ci = ci_lint_lines((ROOT / ".ci" / "run").read_text())
    assert ci, "no lint step found in .ci/run"
    assert hook_lines((ROOT / ".pre-commit-config.yaml").read_text()) == ci


def test_the_comparison_sees_a_missing_hook():
    ci = "set -e\ncd x\npip install -e .\nruff check src\nmypy\npip install -e . && pytest\n"
    assert ci_lint_lines(ci) == ["ruff check src", "mypy"]
    hooks = "repos:\n- repo: local\n  hooks:\n  - {id: r, name: r, entry: ruff, args: [check, src], language: system, pass_filenames: false}\n"
    assert hook_lines(hooks) == ["ruff check src"] != ci_lint_lines(ci)


def test_dev_extra_installs_tests_bench_and_pre_commit():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    dev = extras["dev"]
    assert "cliproxy[test,bench]" in dev
    assert any(req.startswith("pre-commit") for req in dev)
    assert not any(req.startswith("pre-commit") for req in extras["test"])  # CI does not need it

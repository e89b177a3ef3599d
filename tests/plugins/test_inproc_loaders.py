"""Loading Python plugins from plugins.dir and from entry points."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from cliproxy.plugins import api
from cliproxy.plugins.abi import PluginCrashed, PluginError
from cliproxy.plugins.inproc import entry_point_names, load_entry_point, load_module_plugin

PLUGIN_SOURCE = textwrap.dedent("""
    from cliproxy.plugins.api import ModelRouter, Plugin

    class Pinned(Plugin, ModelRouter):
        name, version, author = "pinned", "1.0.0", "tester"
        github_repository = "https://github.com/example/pinned"

        async def route(self, request):
            return None
""")


@pytest.fixture
def clean_modules():
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        del sys.modules[name]


def test_a_py_file_exposing_plugin(tmp_path: Path, clean_modules):
    path = tmp_path / "pinned.py"
    path.write_text(PLUGIN_SOURCE + "\nplugin = Pinned()\n")
    plugin = load_module_plugin(path)
    assert isinstance(plugin, api.Plugin) and plugin.name == "pinned"
    assert api.validate(plugin) == []


def test_a_package_naming_its_plugin_class(tmp_path: Path, clean_modules):
    package = tmp_path / "pinned-pkg"
    package.mkdir()
    (package / "impl.py").write_text(PLUGIN_SOURCE)
    (package / "__init__.py").write_text("from .impl import Pinned\n__plugin__ = 'Pinned'\n")
    plugin = load_module_plugin(package)
    assert type(plugin).__name__ == "Pinned"


def test_a_module_without_plugin_is_refused(tmp_path: Path, clean_modules):
    path = tmp_path / "empty.py"
    path.write_text("x = 1\n")
    with pytest.raises(PluginError, match="exposes no plugin") as caught:
        load_module_plugin(path)
    assert caught.value.code == "invalid_plugin"


def test_not_python_is_refused(tmp_path: Path):
    (tmp_path / "lib.so").write_bytes(b"\x7fELF")
    with pytest.raises(PluginError, match="not a Python plugin"):
        load_module_plugin(tmp_path / "lib.so")
    with pytest.raises(PluginError, match="not a Python plugin"):
        load_module_plugin(tmp_path)  # a directory without __init__.py


def test_an_import_error_is_a_crash(tmp_path: Path, clean_modules):
    path = tmp_path / "broken.py"
    path.write_text("raise RuntimeError('no')\n")
    with pytest.raises(PluginCrashed, match="importing plugin"):
        load_module_plugin(path)
    assert "cliproxy_plugin_broken" not in sys.modules


@pytest.fixture
def installed(tmp_path: Path, monkeypatch, clean_modules):
    """An installed distribution declaring two cliproxy.plugins entry points."""
    (tmp_path / "pinned_ep.py").write_text(PLUGIN_SOURCE + "\nplugin = Pinned()\n")
    dist = tmp_path / "pinned_ep-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: pinned-ep\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[cliproxy.plugins]\npinned = pinned_ep\npinned-class = pinned_ep:Pinned\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))


def test_entry_points_load_modules_and_classes(installed):
    assert {"pinned", "pinned-class"} <= set(entry_point_names())
    assert load_entry_point("pinned").name == "pinned"
    assert isinstance(load_entry_point("pinned-class"), api.Plugin)


def test_an_unknown_entry_point_is_not_found(installed):
    with pytest.raises(PluginError) as caught:
        load_entry_point("nope")
    assert caught.value.code == "plugin_not_found"

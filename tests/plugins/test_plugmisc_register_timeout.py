"""``plugin.register`` (and ``plugin.reconfigure``) had no time limit: a plugin whose
register never answered held the config apply, and so every plugin after it and every
later reload, forever (CPA waits the same way). Register now has a bound
(``PluginHost.register_timeout``, 30 s by default); past it the plugin is logged as failed
with the reason, left out, and the apply goes on with the next plugin."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from cliproxy.config.sections import PluginsConfig
from cliproxy.plugins.discovery import native_extension
from cliproxy.plugins.host import REGISTER_TIMEOUT, PluginHost
from tests.plugins.native import CC, compile_command

PLUGIN = """
import asyncio
from cliproxy.plugins.api import *

class P(Plugin, ModelRouter):
    name = "{pid}"; version = "1.0.0"; author = "tests"; github_repository = "https://example.com/p"
    async def configure(self, config, host):
        if config.get("hang"):
            await asyncio.sleep(3600)  # a register that never answers
    async def route(self, req):
        return None
plugin = P()
"""


def write(pdir: Path, pid: str) -> None:
    (pdir / f"{pid}.py").write_text(textwrap.dedent(PLUGIN.format(pid=pid)))


def cfg(pdir: Path, **configs: dict[str, Any]) -> PluginsConfig:
    return PluginsConfig.model_validate({"enabled": True, "dir": str(pdir), "configs": configs})


@pytest.fixture
async def host():
    h = PluginHost()
    h.register_timeout = 0.3
    yield h
    await h.shutdown()


@pytest.fixture
def pdir(tmp_path: Path) -> Path:
    d = tmp_path / "plugins"
    d.mkdir()
    return d


def test_the_default_bound_is_generous():
    assert PluginHost().register_timeout == REGISTER_TIMEOUT == 30.0


async def test_a_register_that_never_answers_is_left_out_and_the_apply_goes_on(
    host: PluginHost, pdir: Path, caplog: pytest.LogCaptureFixture
):
    write(pdir, "a-hang")
    write(pdir, "b-good")
    caplog.set_level(logging.ERROR, "cliproxy.plugins.host")
    async with asyncio.timeout(10):  # on a host without a bound this never returns
        await host.apply_config(
            cfg(pdir, **{"a-hang": {"enabled": True, "hang": True}, "b-good": {"enabled": True}})
        )
    assert [r.id for r in host.snapshot] == ["b-good"]
    assert "a-hang" not in host.records
    assert "plugin a-hang: plugin.register failed: plugin a-hang timed out in plugin.register" in caplog.text


async def test_a_reconfigure_that_never_answers_leaves_the_plugin_out(
    host: PluginHost, pdir: Path, caplog: pytest.LogCaptureFixture
):
    write(pdir, "slowpoke")
    await host.apply_config(cfg(pdir, slowpoke={"enabled": True}))
    assert [r.id for r in host.snapshot] == ["slowpoke"]
    caplog.set_level(logging.ERROR, "cliproxy.plugins.host")
    async with asyncio.timeout(10):
        await host.apply_config(cfg(pdir, slowpoke={"enabled": True, "hang": True}))
    assert host.snapshot == ()
    assert host.records["slowpoke"].valid is False  # loaded, as after any failed reconfigure
    assert "plugin slowpoke: plugin.reconfigure failed" in caplog.text


@pytest.mark.skipif(CC is None, reason="no C compiler (cc)")
async def test_a_native_register_past_the_bound_is_named_with_the_bound(
    host: PluginHost, pdir: Path, caplog: pytest.LogCaptureFixture
):
    lib = pdir / f"slow-native{native_extension()}"
    subprocess.run(
        compile_command("slow_register", lib, ("REGISTER_MS=1500",)), check=True, capture_output=True
    )
    write(pdir, "z-good")
    caplog.set_level(logging.ERROR, "cliproxy.plugins.host")
    started = time.monotonic()
    async with asyncio.timeout(10):
        await host.apply_config(cfg(pdir, **{"slow-native": {"enabled": True}, "z-good": {"enabled": True}}))
    # the bound (0.3 s), then the client's release waiting for its running call (<= 1.5 s)
    assert time.monotonic() - started < 5
    assert [r.id for r in host.snapshot] == ["z-good"]
    assert "slow-native" not in host.records
    assert "plugin slow-native: plugin.register failed: no answer within 0.3s; it is not used" in caplog.text

"""CPA's host tests (internal/pluginhost/host_test.go, platform_test.go, config_test.go,
logging_test.go) ported against ``PluginHost`` with real plugins: Python files and a
subprocess plugin in a temporary ``plugins.dir``.

CPA tests that pin Go goroutine and mutex choreography (cancelled loads, the load token,
``hostMu`` not held during register) have no counterpart: ``apply_config`` runs under one
asyncio lock and each step is awaited.
"""

from __future__ import annotations

import logging
import sys
import textwrap
from pathlib import Path
from typing import Any

import orjson
import pytest

from cliproxy.config.sections import PluginsConfig
from cliproxy.plugins.abi import PluginCrashed
from cliproxy.plugins.discovery import discover, native_extension, parse_name, platform_dirs
from cliproxy.plugins.host import PluginHost, Record

SUBPROC = Path(__file__).parent / "subproc"

PLUGIN = """
from cliproxy.plugins.api import *

class P(Plugin, {caps}):
    name = "{pid}"; version = "{version}"; author = "tests"; github_repository = "https://example.com/p"
    identifier = "{pid}"
    calls = []
    async def configure(self, config, host):
        self.config = config
        self.calls.append(config)
    async def route(self, req):
        raise RuntimeError("boom")
    async def intercept_before(self, req):
        return None
    async def intercept_after(self, req):
        return None
    async def apply_thinking(self, req):
        return None
plugin = P()
"""


def write(pdir: Path, pid: str, caps: str = "ModelRouter", version: str = "1.0.0", stem: str = "") -> Path:
    path = pdir / f"{stem or pid}.py"
    path.write_text(textwrap.dedent(PLUGIN.format(pid=pid, caps=caps, version=version)))
    return path


def cfg(pdir: Path | str, enabled: bool = True, **configs: dict[str, Any]) -> PluginsConfig:
    return PluginsConfig.model_validate({"enabled": enabled, "dir": str(pdir), "configs": configs})


def on(priority: int = 0, **extra: Any) -> dict[str, Any]:
    return {"enabled": True, "priority": priority, **extra}


def calls(rec: Record) -> list[dict[str, Any]]:
    return rec.client.plugin.calls  # type: ignore[attr-defined]


@pytest.fixture
async def host():
    h = PluginHost()
    yield h
    await h.shutdown()


@pytest.fixture
def pdir(tmp_path: Path) -> Path:
    d = tmp_path / "plugins"
    d.mkdir()
    return d


async def test_global_switch_off_empties_the_snapshot_and_skips_the_dir(host, pdir):
    """TestHostApplyConfig_DisabledGlobalSkipsSnapshot,
    TestHostApplyConfig_DisabledGlobalDoesNotResolvePluginsDir."""
    write(pdir, "alpha")
    await host.apply_config(cfg(pdir, alpha=on()))
    assert [r.id for r in host.snapshot] == ["alpha"]
    await host.apply_config(cfg(pdir / "missing" / "nested", enabled=False, alpha=on()))
    assert host.snapshot == () and host.dir == str(pdir)


async def test_leading_tilde_in_the_plugins_dir(host, pdir, monkeypatch):
    """TestHostApplyConfig_ExpandsPluginsDirLeadingTilde."""
    write(pdir, "alpha")
    monkeypatch.setenv("HOME", str(pdir.parent))
    await host.apply_config(cfg("~/plugins", alpha=on()))
    assert host.get("alpha") is not None


async def test_disabled_or_unconfigured_plugins_are_not_loaded(host, pdir):
    """TestHostApplyConfig_DisabledPluginSkipsCapability,
    TestHostApplyConfig_DefaultDisabledPluginSkipsLoad."""
    write(pdir, "alpha")
    write(pdir, "beta")
    write(pdir, "gamma")
    await host.apply_config(cfg(pdir, alpha={"enabled": False}, beta={}))
    assert host.records == {} and host.snapshot == ()


async def test_a_disabled_plugin_stays_loaded_and_unload_takes_one_id(host, pdir):
    """TestPluginLoadedTracksLoadedPluginAfterDisabled,
    TestHostUnloadPluginTargetsOnlyRequestedPlugin."""
    write(pdir, "alpha")
    write(pdir, "beta")
    await host.apply_config(cfg(pdir, alpha=on(), beta=on()))
    await host.apply_config(cfg(pdir, alpha={"enabled": False}, beta=on()))
    assert "alpha" in host.records and host.get("alpha") is None
    assert await host.unload("alpha")
    assert "alpha" not in host.records and [r.id for r in host.snapshot] == ["beta"]


@pytest.mark.parametrize("caps", ["ThinkingApplier", "RequestInterceptor"])
async def test_a_single_capability_plugin_registers(host, pdir, caps):
    """TestHostApplyConfigRegistersPluginThinkingApplier,
    TestHostApplyConfigRegistersInterceptorOnlyPlugin."""
    write(pdir, "alpha", caps)
    await host.apply_config(cfg(pdir, alpha=on()))
    flag = {"ThinkingApplier": "thinking_applier", "RequestInterceptor": "request_interceptor"}[caps]
    assert [r.id for r in host.active(flag)] == ["alpha"]


async def test_reload_reconfigures_with_the_new_config(host, pdir):
    """TestHostApplyConfig_ReconfigureCalledOnReload, and config_test.go's
    TestRuntimeConfigYAMLAddsHostDefaultsToRawPluginConfig: the plugin gets its raw
    subtree plus ``enabled`` and ``priority``. cliproxy writes that subtree as JSON, which
    every YAML parser reads."""
    write(pdir, "alpha")
    await host.apply_config(cfg(pdir, alpha=on(model="m1")))
    rec = host.records["alpha"]
    await host.apply_config(cfg(pdir, alpha=on(priority=4, model="m2", nested={"k": [1]})))
    assert host.records["alpha"] is rec
    assert calls(rec) == [
        {"enabled": True, "priority": 0, "model": "m1"},
        {"enabled": True, "priority": 4, "model": "m2", "nested": {"k": [1]}},
    ]


async def test_register_params_carry_yaml_and_the_schema_version(host, pdir):
    """TestRuntimeConfigYAMLDefaultsEnabledFalse: the host's own keys are always present;
    a plugin is only ever configured when enabled, so it sees ``enabled: true``."""
    write(pdir, "alpha")
    await host.apply_config(cfg(pdir, alpha={"enabled": True}))
    assert calls(host.records["alpha"]) == [{"enabled": True, "priority": 0}]


async def test_loaded_is_logged_once_and_hot_reload_names_both_versions(host, pdir, caplog):
    """TestHostApplyConfigLogsLoadedAndRegisteredOnlyOnInitialLoad,
    TestHostApplyConfigLogsHotReloadActiveAndRetiredVersions,
    logging_test.go TestPluginLogFieldsIncludesNameVersionAndPath,
    TestPluginHotReloadLogFieldsIncludesActiveAndRetiredIdentity."""
    caplog.set_level(logging.INFO, "cliproxy.plugins.host")
    first = write(pdir, "alpha", version="1.0.3", stem="alpha-v1.0.3")
    await host.apply_config(cfg(pdir, alpha=on()))
    await host.apply_config(cfg(pdir, alpha=on()))
    loaded = [r.getMessage() for r in caplog.records if "loaded" in r.getMessage()]
    assert len(loaded) == 1 and "1.0.3" in loaded[0] and str(first) in loaded[0]
    caplog.clear()
    write(pdir, "alpha", version="1.0.4", stem="alpha-v1.0.4")
    await host.apply_config(cfg(pdir, alpha=on()))
    reload = [r.getMessage() for r in caplog.records if "hot-reloaded" in r.getMessage()]
    assert len(reload) == 1 and "1.0.3" in reload[0] and "1.0.4" in reload[0] and str(first) in reload[0]
    assert host.records["alpha"].path.endswith("alpha-v1.0.4.py")


async def test_a_pinned_version_not_on_disk_keeps_the_loaded_one(host, pdir):
    """TestHostApplyConfigKeepsLoadedVersionWhenPinnedVersionMissing: pinning a version
    that is not installed yet keeps the loaded plugin active and reconfigured (before,
    cliproxy dropped it from the snapshot); once the file appears it is hot-reloaded.
    CPA: TestRuntimeConfigFromConfigDerivesStoreVersionFromReleaseTag (release-tag v1.0.5 pins 1.0.5)."""
    write(pdir, "alpha", version="1.0.4", stem="alpha-v1.0.4")
    await host.apply_config(cfg(pdir, alpha=on(store={"version": "1.0.4"})))
    old = host.get("alpha")
    assert old is not None and old.path.endswith("alpha-v1.0.4.py")
    await host.apply_config(cfg(pdir, alpha=on(store={"version": "v1.0.5"})))
    assert host.get("alpha") is old and len(calls(old)) == 2
    write(pdir, "alpha", version="1.0.5", stem="alpha-v1.0.5")
    await host.apply_config(cfg(pdir, alpha=on(store={"release-tag": "v1.0.5"})))
    new = host.get("alpha")
    assert new is not None and new is not old and new.path.endswith("alpha-v1.0.5.py")


async def test_invalid_metadata_stays_loaded_but_out_of_the_snapshot(host, pdir, caplog):
    """TestHostApplyConfig_InvalidMetadataOrNoCapabilitiesSkipped,
    TestHostApplyConfigLogsLoadedWhenRegistrationInvalid: the echo subprocess plugin
    registers without Author and GitHubRepository. (A Python plugin with such metadata is
    refused earlier, when its class is checked at register.)"""
    command = [sys.executable, str(SUBPROC / "echo_plugin.py")]
    await host.apply_config(cfg(pdir, echo=on(command=command)))
    rec = host.records["echo"]
    assert not rec.valid and host.get("echo") is None
    assert any("Author" in r.getMessage() and "GitHubRepository" in r.getMessage() for r in caplog.records)


async def test_a_crash_fuses_until_the_file_changes(host, pdir):
    """TestHostApplyConfig_PanicFusesPluginForProcessLifetime: an unexpected exception
    fuses the plugin; reloading the same file keeps it fused, a new file clears it."""
    write(pdir, "alpha")
    await host.apply_config(cfg(pdir, alpha=on()))
    rec = host.records["alpha"]
    with pytest.raises(PluginCrashed):
        await host.call(rec, "model.route", {"RequestedModel": "m"})
    assert rec.fused and host.get("alpha") is None
    await host.apply_config(cfg(pdir, alpha=on()))
    assert host.get("alpha") is None
    (pdir / "alpha.py").rename(pdir / "alpha-v2.py")
    await host.apply_config(cfg(pdir, alpha=on()))
    assert host.get("alpha") is not None and not host.records["alpha"].fused


async def test_snapshot_order_is_priority_descending_then_id(host, pdir):
    """TestSortRecordsPriorityDescendingAndIDTieBreak."""
    for pid in ("delta", "alpha", "charlie", "bravo"):
        write(pdir, pid)
    await host.apply_config(cfg(pdir, alpha=on(1), bravo=on(5), charlie=on(5), delta=on(-1)))
    assert [r.id for r in host.snapshot] == ["bravo", "charlie", "alpha", "delta"]


# ---------------------------------------------------------------- platform_test.go


def test_candidate_dirs_put_the_platform_dir_first(tmp_path):
    """TestCandidateDirs (for this machine's OS and architecture)."""
    dirs = platform_dirs(tmp_path)
    assert dirs[1] == tmp_path and dirs[0].parent.parent == tmp_path and len(dirs) == 2


def test_native_extension_and_ids_from_file_names():
    """TestPluginExtensionForPlatform (Linux), TestPluginIDFromDynamicLibraryPath."""
    assert native_extension() == ".so"
    assert parse_name("example.so", ".so") == ("example", "")
    assert parse_name("example-v1.2.3.so", ".so") == ("example", "1.2.3")
    assert parse_name("EXAMPLE.SO", ".so") == ("EXAMPLE", "")
    assert parse_name("example-vx.so", ".so") == ("example-vx", "")
    assert parse_name("bad name.so", ".so") is None
    assert parse_name("-bad.so", ".so") is None


def _touch(*paths: Path) -> None:
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")


def test_invalid_ids_are_filtered_and_each_id_is_chosen_once(tmp_path):
    """TestSelectPluginFilesFiltersInvalidIDAndDeduplicatesByID,
    TestSelectPluginFilesPrefersPlatformDirOverRootFallback,
    TestDiscoverPluginFilesReturnsSelectedPluginFiles. An upper-case extension counts
    (before, cliproxy skipped ``another.SO``)."""
    arch = platform_dirs(tmp_path)[0]
    _touch(
        tmp_path / "sample.so",
        arch / "sample.so",
        arch / "bad name.so",
        arch / "-bad.so",
        arch / "another.SO",
        arch / "ignored.txt",
    )
    (arch / "dir.so").mkdir()
    found = discover(tmp_path)
    assert {k: c.path for k, c in found.items()} == {
        "another": arch / "another.SO",
        "sample": arch / "sample.so",
    }


def test_versions_configured_highest_or_skipped(tmp_path):
    """TestSelectPluginFilesPrefersConfiguredVersionOverHigherVersion,
    TestSelectPluginFilesFallsBackToHighestVersionWithoutConfiguredVersion,
    TestSelectPluginFilesSkipsPluginWhenConfiguredVersionIsMissing, and config_test.go's
    store version cases (a leading ``v`` is dropped). CPA: TestRuntimeConfigFromConfigExtractsStoreVersion."""
    arch = platform_dirs(tmp_path)[0]
    _touch(arch / "alpha-v1.0.3.so", arch / "alpha-v1.0.4.so", arch / "alpha-v1.0.10.so", arch / "alpha.so")
    assert discover(tmp_path, {"alpha": "1.0.3"})["alpha"].path == arch / "alpha-v1.0.3.so"
    assert discover(tmp_path, {"alpha": "v1.0.4"})["alpha"].path == arch / "alpha-v1.0.4.so"
    assert discover(tmp_path)["alpha"].version == "1.0.10"
    assert discover(tmp_path, {"alpha": "1.0.5"}) == {}


def test_non_numeric_versions_compare_as_strings(tmp_path):
    """CPA's comparePluginVersions: segments split on dots; a non-numeric segment makes
    the whole comparison a string comparison."""
    _touch(tmp_path / "alpha-v1.0.0-beta.so", tmp_path / "alpha-v1.0.0.so")
    assert discover(tmp_path)["alpha"].version == "1.0.0-beta"
    _touch(tmp_path / "beta-v1.9.so", tmp_path / "beta-v1.10.so")
    assert discover(tmp_path)["beta"].version == "1.10"


def test_register_config_is_base64_json(pdir):
    """The ``config_yaml`` bytes parse back to the plugin's subtree (config_test.go)."""
    from cliproxy.plugins.host import _config_yaml

    inst = cfg(pdir, alpha=on(store={"version": "1.0.0"}, key="v")).configs["alpha"]
    assert orjson.loads(_config_yaml(inst)) == {
        "enabled": True,
        "priority": 0,
        "store": {"version": "1.0.0"},
        "key": "v",
    }


SLOW = """
import sys
from cliproxy.plugins.api import *

class Slow(Plugin, ModelRouter):
    name = "alpha"; version = "1"; author = "tests"; github_repository = "https://example.com/p"
    async def configure(self, config, host):
        gate = sys.modules["slow_register_gate"]
        gate.started.set()
        await gate.release.wait()
    async def route(self, req):
        return None
plugin = Slow()
"""


@pytest.fixture
def gate(monkeypatch):
    import asyncio
    import types

    mod = types.ModuleType("slow_register_gate")
    mod.started = asyncio.Event()  # type: ignore[attr-defined]
    mod.release = asyncio.Event()  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "slow_register_gate", mod)
    return mod


@pytest.mark.parametrize("action", ["unload", "shutdown"])
async def test_unload_and_shutdown_wait_for_a_blocking_register(host, pdir, gate, action):
    """TestHostUnloadWaitsForBlockingLoad, TestHostUnloadAndShutdownWaitForBlockingRegister
    (and TestHostApplyConfigSerializesLifecycleCalls: apply, unload and shutdown run one at
    a time):
    while a config apply waits in a plugin's register, unload and shutdown wait for it and
    then remove the plugin (before, unload found nothing, returned False, and the plugin
    was loaded a moment later)."""
    import asyncio

    (pdir / "alpha.py").write_text(SLOW)
    apply = asyncio.create_task(host.apply_config(cfg(pdir, alpha=on())))
    await asyncio.wait_for(gate.started.wait(), 5)
    op = asyncio.create_task(host.unload("alpha") if action == "unload" else host.shutdown())
    await asyncio.sleep(0.2)
    assert not op.done()
    gate.release.set()
    await asyncio.wait_for(apply, 5)
    result = await asyncio.wait_for(op, 5)
    assert result is (True if action == "unload" else None)
    assert "alpha" not in host.records and host.snapshot == ()


async def test_unload_gives_up_when_the_apply_never_ends(host, pdir, gate):
    """Differs on purpose: CPA waits as long as the caller's context allows; cliproxy bounds
    the wait (every wait bounded), answers False and leaves the stuck load alone. Shutdown
    past its bound goes on, and a load that finishes afterwards releases its plugin."""
    import asyncio

    (pdir / "alpha.py").write_text(SLOW)
    apply = asyncio.create_task(host.apply_config(cfg(pdir, alpha=on())))
    await asyncio.wait_for(gate.started.wait(), 5)
    assert await host.unload("alpha", wait=0.1) is False
    await host.shutdown(wait=0.1)
    gate.release.set()
    await asyncio.wait_for(apply, 5)
    assert host.records == {} and host.snapshot == ()


async def test_a_future_schema_version_is_refused_and_schema_1_is_accepted(host, pdir, caplog):
    """CPA: TestRegisterRPCPluginRejectsFutureSchemaVersion, TestRegisterRPCPluginAcceptsModelRouterOnSchema1,
    TestRegisterRPCPluginSendsHostSchemaVersion (the host sends its own version, 3): a plugin
    answering a newer schema than the host's stays out with an error naming the schema
    version; a schema-1 plugin with a model router registers and keeps its version."""
    (pdir / "future.py").write_text(
        textwrap.dedent(PLUGIN.format(pid="future", caps="ModelRouter", version="1.0.0")).replace(
            'identifier = "future"', 'identifier = "future"; schema_version = 4'
        )
    )
    (pdir / "old.py").write_text(
        textwrap.dedent(PLUGIN.format(pid="old", caps="ModelRouter", version="1.0.0")).replace(
            'identifier = "old"', 'identifier = "old"; schema_version = 1'
        )
    )
    await host.apply_config(cfg(pdir, future=on(), old=on()))
    assert host.get("future") is None
    assert any("schema version" in r.getMessage() for r in caplog.records if "future" in r.getMessage())
    old = host.get("old")
    assert old is not None and old.schema_version == 1 and old.caps.get("model_router")
    assert old.client.plugin.host.schema_version == 3  # type: ignore[attr-defined]

"""The unserved auth file warning (5660429) waits until the configured plugins are loaded,
as one of them may serve the type; it took the plugin host's ``enabled`` flag for that, which
turns true as a config apply begins, before any plugin has registered. An auth-file rescan
while a reload that turns plugins on was still registering them (a management upload, another
worker's write, a slow plugin.register) then warned that files of a type the plugin being
loaded serves "are loaded and never used"; once it had loaded, the list emptied silently."""

from __future__ import annotations

import asyncio
import logging

from cliproxy.formats import Format
from tests.e2e.clients import ask
from tests.plugins.plugin_dir import plugins_yaml, write_python
from tests.plugins.test_flow_python import KEY
from tests.plugins.test_plugmisc_unserved import QWEN, auth, warnings

# the qwen executor, slow to register (its configure runs inside plugin.register)
SLOW_QWEN = QWEN.replace(
    "    async def models_for_auth",
    "    async def configure(self, config, host):\n"
    "        import asyncio\n"
    "        await asyncio.sleep(float(config.get('delay', 0)))\n"
    "    async def models_for_auth",
)


async def test_a_rescan_while_the_plugins_register_names_no_type_they_serve(start_proxy, tmp_path, caplog):
    auth(tmp_path, "qwen-a.json", {"type": "qwen", "access_token": "a"})
    pdir = write_python(tmp_path, {"qwen": SLOW_QWEN})
    plugins = plugins_yaml(pdir, {"qwen": {"delay": 0.6}})
    off = f'api-keys: ["{KEY}"]\n' + plugins.replace(
        "plugins:\n  enabled: true", "plugins:\n  enabled: false"
    )
    caplog.set_level(logging.INFO, "cliproxy")
    proxy = await start_proxy(off, watch=True)
    on = proxy.config_path.read_text().replace("plugins:\n  enabled: false", "plugins:\n  enabled: true")
    assert warnings(caplog) == [  # plugins off: true then
        "1 auth file(s) of types no provider serves: qwen (1); they are loaded and never used"
    ]
    caplog.clear()
    host = proxy.service.plugins
    proxy.config_path.write_text(on)  # the watcher applies it: the plugin registers for 0.6 s
    async with asyncio.timeout(5):
        while not host.enabled:
            await asyncio.sleep(0.01)
    assert "qwen" not in host.records  # still registering
    auth(tmp_path, "qwen-b.json", {"type": "qwen", "access_token": "b"})
    await proxy.service.reload_auth_files()  # (a management upload, another worker's file)
    async with asyncio.timeout(5):
        while "qwen-max" not in {m.id for m in proxy.service.models.listable()}:
            await asyncio.sleep(0.02)
    assert warnings(caplog) == []  # before: "2 auth file(s) ...: qwen (2); ... never used"
    answer = await ask(Format.OPENAI, proxy.url, "qwen-max", "hi", stream=False)
    assert answer.text.startswith("qwen:qwen-")

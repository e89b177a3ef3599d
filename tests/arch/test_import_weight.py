"""Start-up imports: heavy optional libraries load only when a feature needs them.

Each is several MB of resident memory a proxy that never uses the feature should not
carry (the idle RSS target in bench/README.md). The check runs in a fresh interpreter:
this test process has imported everything already.
"""

from __future__ import annotations

import subprocess
import sys

import orjson

# library -> the feature that imports it when used
LAZY = {
    "cryptography": "Vertex service-account signing (credentials/rs256.py)",
}

PROBE = """
import sys, orjson
import cliproxy.cli, cliproxy.service, cliproxy.server.app, cliproxy.management.api
print(orjson.dumps(sorted({m.split('.')[0] for m in sys.modules})).decode())
"""


def test_start_up_leaves_heavy_optional_libraries_unloaded():
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, check=True
    )
    loaded = set(orjson.loads(out.stdout))
    assert "cliproxy" in loaded and "aiohttp" in loaded  # the probe did import the proxy
    early = {lib: why for lib, why in LAZY.items() if lib in loaded}
    assert early == {}, f"imported at start-up although only a feature needs them: {early}"

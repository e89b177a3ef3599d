"""The local tokenizer needs nothing from the network nor a cache directory: its
vocabularies ship inside the installed package (tiktoken would download them)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson

_PROBE = """
import json, socket, sys, time

def refuse(*args, **kwargs):
    raise OSError("network use during token counting")

socket.socket.connect = refuse
socket.create_connection = refuse
socket.getaddrinfo = refuse
t0 = time.perf_counter()
from cliproxy.translate import tokens
t1 = time.perf_counter()
counts = {name: tokens.count_text(name, "Hello, world! 你好") for name in tokens.ENCODINGS}
t2 = time.perf_counter()
print(json.dumps({"counts": counts, "import_ms": (t1 - t0) * 1e3, "first_use_ms": (t2 - t1) * 1e3,
                  "package_imported": "bpe_openai.tokenizer" in sys.modules}))
"""


def test_counts_offline_with_empty_caches(tmp_path: Path) -> None:
    """No socket, no cache dir, no proxy settings: both encodings load and count, the
    empty cache dirs stay empty, and the heavy ``bpe_openai`` Python package (which
    decodes every vocabulary at import) is not imported."""
    cache = tmp_path / "cache"
    cache.mkdir()
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower() and not k.startswith("TIKTOKEN")}
    env |= {"TIKTOKEN_CACHE_DIR": str(cache), "XDG_CACHE_HOME": str(cache), "HOME": str(cache)}
    out = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, timeout=60, check=True)
    report = orjson.loads(out.stdout)
    assert report["counts"] == {"o200k_base": 6, "cl100k_base": 7}
    assert report["package_imported"] is False
    assert list(cache.iterdir()) == []

"""A config whose YAML uses a list or a mapping as a key (``? [a, b]``) is refused as a
client mistake, not a crash.

Such a key is legal YAML but names no config key. Before, turning the parsed tree into
plain data raised ``TypeError`` (unhashable key): ``PUT /v0/management/config.yaml``
answered 500 "internal error", and ``cliproxy serve`` on such a file died with a traceback.
CPA's ``PutConfigYAML`` answers 400 ``invalid_yaml`` when the body does not unmarshal into
its config (``management/config_basic.go``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cliproxy.config.loader import load_config
from cliproxy.errors import ConfigError
from tests.management.conftest import mcall

COMPLEX_KEYS = [
    "? [a, b]\n: 1\ndebug: true\n",
    "debug: true\nplugins:\n  configs:\n    p1:\n      ? {a: 1}\n      : x\n",
]


@pytest.mark.parametrize("text", COMPLEX_KEYS)
async def test_put_config_yaml_with_a_complex_key_is_a_400(mproxy: Any, text: str) -> None:
    proxy = await mproxy("debug: false\n")
    before = proxy.config_path.read_bytes()
    status, body = await mcall(proxy, "PUT", "/config.yaml", data=text)
    assert status == 400
    assert body == {"error": "invalid_yaml", "message": "a key must be a name, not a list or a mapping"}
    assert proxy.config_path.read_bytes() == before
    assert proxy.service.config.debug is False


@pytest.mark.parametrize("text", COMPLEX_KEYS)
def test_a_config_file_with_a_complex_key_fails_to_load_with_a_config_error(
    tmp_path: Path, text: str
) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match="a key must be a name"):
        load_config(path)

"""One proxy and four fake upstreams per fuzz module, and the checks run after every example.

The proxy runs in this process (as ``start_proxy`` runs it), so the suite can look at the
live credential pool; the fakes serve from background threads. Everything is module
scoped, on a module-scoped event loop, so hundreds of examples share one setup.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from cliproxy.config import load_or_default
from cliproxy.server.app import listen
from cliproxy.service import Service
from tests.conftest import ENGINE, Proxy
from tests.e2e.clients import KEY
from tests.e2e.conftest import matrix_config
from tests.fakes.claude import ClaudeFake
from tests.fakes.fixtures import Fakes
from tests.fakes.gemini import GeminiFake
from tests.fakes.openai import OpenAIFake
from tests.fuzz.budget import OPTIONS
from tests.fuzz.env import Env, LogTrap


def pytest_configure(config: pytest.Config) -> None:
    OPTIONS["long"] = bool(config.getoption("--fuzz-long", default=False))
    OPTIONS["seed"] = config.getoption("--fuzz-seed", default=None)


@pytest.fixture(scope="module")
def fuzz_fakes() -> Iterator[Fakes]:
    with OpenAIFake() as openai, OpenAIFake() as responses, ClaudeFake() as claude, GeminiFake() as gemini:
        yield Fakes(openai, responses, claude, gemini)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def fuzz_env(fuzz_fakes: Fakes, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Env]:
    """The proxy under fuzz, wired to every upstream family (tests/e2e's matrix config)."""
    tmp: Path = tmp_path_factory.mktemp("fuzz")
    (tmp / "auths").mkdir()
    path = tmp / "config.yaml"
    path.write_text(f"auth-dir: {tmp / 'auths'}\n" + matrix_config(fuzz_fakes))
    config, _ = load_or_default(path)
    service = Service(config, path, watch=False)
    trap = LogTrap()
    root = logging.getLogger()
    root.addHandler(trap)
    listener = await listen(service, "127.0.0.1", 0, engine=ENGINE)  # the production listener
    proxy = Proxy(listener, service, path)
    try:
        yield Env(proxy, fuzz_fakes, KEY, trap)
    finally:
        await proxy.close()
        root.removeHandler(trap)

"""Regenerate the shipped recordings (the replay regression suite) from the fakes:

    python -m tests.recordings.generate            # rewrites tests/recordings/*.json and config.yaml

Each scenario is one client request through a proxy started in-process with recording on
(``CLIPROXY_RECORD_DIR``), the fakes of ``tests/fakes`` as its upstreams.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from cliproxy.config import load_or_default
from cliproxy.formats import Format
from cliproxy.record.template import write_template
from cliproxy.server.app import listen
from cliproxy.service import Service
from cliproxy.usage.hooks import recorder_of
from cliproxy.usage.recording import RECORD_DIR_ENV
from tests.e2e.clients import ask
from tests.e2e.conftest import matrix_config
from tests.fakes.claude import ClaudeFake
from tests.fakes.fixtures import Fakes
from tests.fakes.gemini import GeminiFake
from tests.fakes.openai import OpenAIFake

HERE = Path(__file__).resolve().parent

# file name -> (client format, model, prompt, stream, tools)
SCENARIOS: dict[str, tuple[Format, str, str, bool, bool]] = {
    "01-openai-chat-stream": (Format.OPENAI, "compat-model", "Say hello", True, False),
    "02-claude-messages-tool-call": (Format.CLAUDE, "claude-model", "FAKE_TOOL list the files", False, True),
    "03-responses-to-claude-stream": (Format.RESPONSES, "claude-model", "Say hello", True, False),
    "04-gemini-generate": (Format.GEMINI, "gemini-model", "Say hello", False, False),
}


@contextlib.asynccontextmanager
async def recording_proxy(
    fakes: Fakes, work: Path, raw: Path
) -> AsyncIterator[tuple[str, Callable[[], Any]]]:
    """A proxy on 127.0.0.1 recording into ``raw``; yields its URL and a flush function."""
    auth_dir = work / "auths"
    auth_dir.mkdir(exist_ok=True)
    config_path = work / "config.yaml"
    config_path.write_text(f"auth-dir: {auth_dir}\n" + matrix_config(fakes))
    old = os.environ.get(RECORD_DIR_ENV)
    os.environ[RECORD_DIR_ENV] = str(raw)
    try:
        config, _ = load_or_default(config_path)
        service = Service(config, config_path, watch=False)
        listener = await listen(service, "127.0.0.1", 0)
    finally:
        if old is None:
            os.environ.pop(RECORD_DIR_ENV, None)
        else:
            os.environ[RECORD_DIR_ENV] = old
    try:
        yield f"http://127.0.0.1:{listener.port}", lambda: recorder_of(service).writer.flush()
    finally:
        await listener.stop()


async def generate(out: Path) -> list[Path]:
    with (
        OpenAIFake() as openai,
        OpenAIFake() as responses,
        ClaudeFake() as claude,
        GeminiFake() as gemini,
        tempfile.TemporaryDirectory() as tmp,
    ):
        work, raw = Path(tmp), Path(tmp) / "raw"
        fakes = Fakes(openai, responses, claude, gemini)
        written = []
        async with recording_proxy(fakes, work, raw) as (url, flush):
            for name, (fmt, model, prompt, stream, tools) in SCENARIOS.items():
                await ask(fmt, url, model, prompt, stream=stream, tools=tools)
                flush()
                (made,) = sorted(raw.glob("*.json"))
                target = out / f"{name}.json"
                shutil.move(made, target)
                written.append(target)
        write_template(work / "config.yaml", out)
    return written


if __name__ == "__main__":
    for path in asyncio.run(generate(HERE)):
        print(path)

"""Config reload cost with many auth files: event-loop blocking per reload.

    python bench/reload.py [--files 1000] [--reloads 5]

Starts a Service (no listener, no watcher) over an auth dir of ``--files`` Claude
credential files, then applies ``--reloads`` config edits that leave auth-dir alone the way
the config watcher does (``Service._on_config``), then management-style writes of one
file followed by ``reload_credentials()`` (all on the loop) or ``reload_auth_files()``
(what the management API calls: the files are looked at in worker threads). A ticker
coroutine sleeps 1 ms in a loop and records how late it wakes (the event loop's
blocking). Printed per kind: the median wall time and the ticker's worst lateness
(median over the runs).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from cliproxy.config import load_or_default
from cliproxy.service import Service

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reload_watch import Ticker, cred_file  # the sibling bench's ticker and files


async def _measure(runs: int, step: Callable[[int], Awaitable[None]]) -> tuple[float, float]:
    walls, worst = [], []
    for n in range(runs):
        with Ticker() as ticker:
            await asyncio.sleep(0.005)  # the ticker is running before the step
            started = time.perf_counter()
            await step(n)
            walls.append(time.perf_counter() - started)
            await asyncio.sleep(0.005)
        worst.append(ticker.worst)
    return 1000 * statistics.median(walls), 1000 * statistics.median(worst)


async def main(files: int, reloads: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        auth = root / "auths"
        auth.mkdir()
        for i in range(files):
            (auth / f"claude-{i}.json").write_bytes(cred_file(i, "t0"))
        path = root / "config.yaml"
        path.write_text(f"auth-dir: {auth}\napi-keys: [k0]\n")
        config, _ = load_or_default(path)
        service = Service(config, path, watch=False)
        await service.start()
        try:

            async def edit(n: int) -> None:  # what the watcher calls for a config edit
                path.write_text(f"auth-dir: {auth}\napi-keys: [k{n + 1}]\n")
                await service._on_config(load_or_default(path)[0])

            async def write(n: int) -> None:  # a management write into auth-dir
                (auth / "claude-0.json").write_bytes(cred_file(0, f"m{n}"))
                service.reload_credentials()
                await service.settle_credentials()

            wall, worst = await _measure(reloads, edit)
            print(f"files={files} config reload: {wall:.1f} ms wall, worst loop lateness {worst:.1f} ms")

            async def write_off_loop(n: int) -> None:  # the same, as the management API does it now
                (auth / "claude-0.json").write_bytes(cred_file(0, f"w{n}"))
                await service.reload_auth_files()
                await service.settle_credentials()

            wall, worst = await _measure(reloads, write)
            print(
                f"files={files} auth write + reload_credentials: {wall:.1f} ms wall, worst lateness {worst:.1f} ms"
            )
            wall, worst = await _measure(reloads, write_off_loop)
            print(
                f"files={files} auth write + reload_auth_files: {wall:.1f} ms wall, worst lateness {worst:.1f} ms"
            )
        finally:
            await service.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--reloads", type=int, default=5)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    asyncio.run(main(args.files, args.reloads))

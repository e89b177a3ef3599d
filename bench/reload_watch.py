"""Hot-reload cost with many auth files: event-loop blocking and time per change.

    python bench/reload_watch.py [--files 2000] [--changes 10]

Starts a Service (no listener) over a config and an auth dir of ``--files`` Claude
credential files, with the config watcher on. A ticker coroutine sleeps 1 ms in a loop and
records how late it wakes (the event loop's blocking). Measured:

- idle: the ticker's worst lateness over 3 s with nothing changing (the watcher's own cost);
- per change: one file rewritten by someone else, the time until the pool holds the new
  credential, and the ticker's worst lateness while that happens.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import tempfile
import time
from pathlib import Path

from cliproxy.config import load_or_default
from cliproxy.service import Service


class Ticker:
    """Records the event loop's worst lateness while it runs."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            start = time.perf_counter()
            await asyncio.sleep(0.001)
            self.worst = max(self.worst, time.perf_counter() - start - 0.001)

    def __enter__(self) -> Ticker:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *_: object) -> None:
        assert self._task is not None
        self._task.cancel()


def cred_file(i: int, token: str) -> bytes:
    """The bytes of Claude credential file ``i`` holding ``token``."""
    return json.dumps(
        {
            "type": "claude",
            "email": f"user{i}@example.com",
            "access_token": token,
            "refresh_token": "rt",
            "expired": "2099-01-01T00:00:00Z",
        }
    ).encode()


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_name("." + path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


async def main(files: int, changes: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        auth = root / "auths"
        auth.mkdir()
        for i in range(files):
            (auth / f"claude-{i}.json").write_bytes(cred_file(i, "t0"))
        cfg = root / "config.yaml"
        cfg.write_text(f"auth-dir: {auth}\napi-keys: [k]\n")
        config, _ = load_or_default(cfg)
        service = Service(config, cfg, watch=True)
        started = time.perf_counter()
        await service.start()
        print(f"files={files} start={1000 * (time.perf_counter() - started):.1f} ms")
        try:
            await asyncio.sleep(0.5)
            with Ticker() as idle:
                await asyncio.sleep(3.0)
            print(f"idle: worst event-loop lateness {1000 * idle.worst:.2f} ms over 3 s")
            latencies, blocking = [], []
            for n in range(changes):
                i = n * 7 % files
                token = f"t{n + 1}"
                with Ticker() as busy:
                    t0 = time.perf_counter()
                    _write(auth / f"claude-{i}.json", cred_file(i, token))
                    while True:
                        cred = service.pool.get(f"claude-{i}.json")
                        if cred is not None and cred.metadata.get("access_token") == token:
                            break
                        await asyncio.sleep(0.001)
                    latencies.append(time.perf_counter() - t0)
                    await asyncio.sleep(0.05)
                blocking.append(busy.worst)
                await asyncio.sleep(0.3)
            print(
                f"per change ({changes}): seen after median {1000 * statistics.median(latencies):.0f} ms, "
                f"worst event-loop lateness median {1000 * statistics.median(blocking):.2f} ms, "
                f"max {1000 * max(blocking):.2f} ms"
            )
        finally:
            await service.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--changes", type=int, default=10)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    asyncio.run(main(args.files, args.changes))

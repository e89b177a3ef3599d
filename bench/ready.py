"""What the benchmark's server processes (the fake, the two floors) share: say ``READY
<port>`` on stdout, then serve until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import signal


async def until_signal(port: int) -> None:
    """Print ``READY <port>`` and return once SIGINT or SIGTERM arrives."""
    print(f"READY {port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()

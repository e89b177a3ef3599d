"""CPA's executor stream-bridge cases (internal/pluginhost/stream_bridge_test.go): a plugin
feeds its stream with ``host.stream.emit`` and ends it with ``host.stream.close``; the host
reads the bridge as the client's stream. Driven through the host-callback dispatcher, as a
native plugin's calls arrive."""

from __future__ import annotations

import asyncio

import pytest

from cliproxy.plugins import abi
from cliproxy.plugins.abi import PluginError, b64encode
from cliproxy.plugins.callbacks import BRIDGE_END, BRIDGE_SLOTS, Callbacks
from cliproxy.plugins.host import PluginHost

PID = "plugin"


def callbacks() -> Callbacks:
    return Callbacks(PluginHost(), None)  # type: ignore[arg-type]  # the bridge needs no services


async def emit(cb: Callbacks, stream_id: str, payload: bytes) -> object:
    return await cb.dispatch(
        PID, abi.HOST_STREAM_EMIT, {"stream_id": stream_id, "payload": b64encode(payload)}
    )


async def close(cb: Callbacks, stream_id: str, error: str = "") -> object:
    return await cb.dispatch(PID, abi.HOST_STREAM_CLOSE, {"stream_id": stream_id, "error": error})


async def fill(cb: Callbacks, stream_id: str) -> None:
    for _ in range(BRIDGE_SLOTS):
        await emit(cb, stream_id, b"buffered")


async def test_a_reader_that_goes_away_unblocks_a_pending_emit():
    """TestStreamBridgeAbortClosesSaturatedStreamWithoutConsumer: the client left while the
    plugin was blocked on a full bridge; its emit must fail soon, not hang for ever (the
    plugin's thread would be stuck inside host.stream.emit)."""
    cb = callbacks()
    stream_id, _queue = cb.open_bridge(PID)
    await fill(cb, stream_id)
    pending = asyncio.ensure_future(emit(cb, stream_id, b"blocked"))
    await asyncio.sleep(0.05)
    assert not pending.done()
    cb.drop_bridge(stream_id)
    with pytest.raises(PluginError, match="closed stream"):
        await asyncio.wait_for(pending, 2)
    with pytest.raises(PluginError, match="closed stream"):
        await asyncio.wait_for(emit(cb, stream_id, b"late"), 2)


async def test_closing_a_full_bridge_still_ends_it_after_the_buffered_chunks():
    """TestStreamBridgeCloseUnblocksPendingEmit: the reader gets every buffered chunk, then
    the end, and later emits fail. An emit blocked on the full bridge is delivered once the
    reader makes room (CPA rejects it when the close comes first; a plugin's emit returns
    before it can close, so both orders give the same stream)."""
    cb = callbacks()
    stream_id, queue = cb.open_bridge(PID)
    await fill(cb, stream_id)
    pending = asyncio.ensure_future(emit(cb, stream_id, b"blocked"))
    got = [await asyncio.wait_for(queue.get(), 2)]
    await asyncio.wait_for(pending, 2)
    closing = asyncio.ensure_future(close(cb, stream_id))
    got += [await asyncio.wait_for(queue.get(), 2) for _ in range(BRIDGE_SLOTS + 1)]
    await asyncio.wait_for(closing, 2)
    assert got == [b"buffered"] * BRIDGE_SLOTS + [b"blocked", BRIDGE_END]
    with pytest.raises(PluginError, match="closed stream"):
        await emit(cb, stream_id, b"late")


@pytest.mark.parametrize("full", [False, True], ids=["room", "full buffer"])
async def test_a_close_with_an_error_reaches_the_reader(full):
    """TestStreamBridgeCloseDeliversTerminalError and
    TestStreamBridgeClosePreservesTerminalErrorWhenBufferIsFull."""
    cb = callbacks()
    stream_id, queue = cb.open_bridge(PID)
    if full:
        await fill(cb, stream_id)
    closing = asyncio.ensure_future(close(cb, stream_id, "upstream broke"))
    items = []
    while not items or (items[-1] is not BRIDGE_END and not isinstance(items[-1], PluginError)):
        items.append(await asyncio.wait_for(queue.get(), 2))
    await asyncio.wait_for(closing, 2)
    assert isinstance(items[-1], PluginError) and items[-1].message == "upstream broke"
    assert len(items) == (BRIDGE_SLOTS + 1 if full else 1)


async def test_a_close_on_a_full_bridge_whose_reader_left_returns():
    """TestStreamBridgeCleanupAbortsPendingGracefulClose: the plugin's close does not wait
    for a reader that is gone."""
    cb = callbacks()
    stream_id, _queue = cb.open_bridge(PID)
    await fill(cb, stream_id)
    closing = asyncio.ensure_future(close(cb, stream_id))
    await asyncio.sleep(0.05)
    cb.drop_bridge(stream_id)
    await asyncio.wait_for(closing, 2)


async def test_a_fused_plugin_ends_its_streams_at_once():
    """TestStreamBridgeEmitUsesAcceptedPumpResultAfterContextCancellation has no asyncio
    counterpart (no racing pump); what it protects, a reader that always learns the end,
    is checked here for a plugin that dies with a full bridge."""
    cb = callbacks()
    stream_id, queue = cb.open_bridge(PID)
    await fill(cb, stream_id)
    cb.abort_plugin(PID, "plugin crashed")
    item = await asyncio.wait_for(queue.get(), 2)
    assert isinstance(item, PluginError) and item.message == "plugin crashed"

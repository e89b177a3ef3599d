"""The usage queue's subscriber rules against CPA's internal/redisqueue/queue_test.go."""

from __future__ import annotations

import openai
import pytest

from cliproxy.usage import recorder_of
from cliproxy.usage.queue import UsageQueue
from tests.usage.helpers import CLIENT_KEY
from tests.usage.test_resp import MKEY, Raw, proxy  # noqa: F401  (proxy: a fixture)


def test_a_record_goes_to_every_subscriber_instead_of_the_queue() -> None:
    """CPA: TestEnqueueBroadcastsToUsageSubscribersAndSkipsQueue."""
    queue = UsageQueue()
    first: list[bytes] = []
    second: list[bytes] = []
    a, b = queue.subscribe(first.append), queue.subscribe(second.append)
    queue.push(b"usage-record")
    assert first == second == [b"usage-record"]
    assert queue.pop(1) == []
    queue.unsubscribe(a)
    queue.unsubscribe(b)
    queue.push(b"queued-record")
    assert queue.pop(1) == [b"queued-record"]
    assert first == second == [b"usage-record"]


def test_turning_the_queue_off_closes_its_subscribers() -> None:
    """CPA: TestSetEnabledFalseClosesUsageSubscribers. ``clear`` is what the recorder runs
    when management is turned off, on both the usage and the errors queue: each subscriber
    is marked closed and told so with an empty record (its connection then ends)."""
    queue = UsageQueue()
    got: list[bytes] = []
    sub = queue.subscribe(got.append)
    queue.clear()
    assert sub.closed and got == [b""] and not queue.subscribers
    queue.push(b"after")
    assert got == [b""]


async def test_error_events_without_a_subscriber_are_discarded(proxy, fake_openai):  # noqa: F811
    """CPA: TestEnqueueErrorBroadcastsToErrorSubscribersAndDiscardsWithoutSubscribers. A
    failed request while a ``SUBSCRIBE errors`` client listens reaches it; one after the
    client left is not kept anywhere."""
    errors = recorder_of(proxy.service).errors
    conn = await Raw.open(proxy.port)
    await conn.send("AUTH", MKEY)
    assert await conn.line() == b"+OK"
    await conn.send("SUBSCRIBE", "errors")
    assert await conn.array() == [b"subscribe", b"errors", 1]
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=CLIENT_KEY, max_retries=0) as client:
        fake_openai.fail_next(400)
        with pytest.raises(openai.BadRequestError):
            await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
        kind, channel, _ = await conn.array()
        assert (kind, channel) == (b"message", b"errors")
        await conn.send("UNSUBSCRIBE")
        assert await conn.array() == [b"unsubscribe", b"errors", 0]
        assert await conn.closed()
        fake_openai.fail_next(400)
        with pytest.raises(openai.BadRequestError):
            await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    assert len(errors) == 0 and errors.pop(10) == []

"""The usage sniffer of a passthrough Gemini stream holds what follows a ``"usageMetadata"``
key only until its object closes, and at most ``_USAGE_HOLD`` bytes of it: an upstream
whose key is followed by an object that does not close is forgotten past that. Before, all
of it was held and scanned again from the key on every read (4 MB in 4 KiB reads: 15 s),
growing without bound. Honest usage, cut anywhere, is read as before."""

from __future__ import annotations

import orjson
import pytest

from cliproxy.formats import gemini
from cliproxy.formats.gemini import GeminiUsageSniffer

_USAGE = {"promptTokenCount": 7, "candidatesTokenCount": 5, "totalTokenCount": 12}


def _frame(obj: dict[str, object]) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


def _feed(sniffer: GeminiUsageSniffer, data: bytes, step: int) -> None:
    for i in range(0, len(data), step):
        sniffer.feed(data[i : i + step])


def test_usage_cut_at_every_point_is_read() -> None:
    data = _frame({"candidates": [{"content": {"parts": [{"text": "hi {x}"}]}}], "usageMetadata": _USAGE})
    for cut in range(1, len(data)):
        sniffer = GeminiUsageSniffer()
        sniffer.feed(data[:cut])
        sniffer.feed(data[cut:])
        assert sniffer.usage is not None and sniffer.usage.input_tokens == 7, cut
        assert sniffer.usage.output_tokens == 5


def test_an_unclosed_usage_object_is_forgotten_past_the_hold(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gemini, "_USAGE_HOLD", 1000)
    sniffer = GeminiUsageSniffer()
    _feed(sniffer, b'data: {"usageMetadata": {"a": "' + b"x" * 900, 100)
    assert len(sniffer._buf) > 900  # still held: it may yet close
    _feed(sniffer, b"x" * 5000, 100)
    assert len(sniffer._buf) <= len(b'"usageMetadata"')  # forgotten
    _feed(sniffer, b'"}}\n\n' + _frame({"usageMetadata": _USAGE}), 7)  # a later one is read
    assert sniffer.usage is not None and sniffer.usage.total == 12


def test_an_object_that_closes_within_the_hold_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gemini, "_USAGE_HOLD", 1000)
    sniffer = GeminiUsageSniffer()
    usage = {**_USAGE, "pad": "y" * 800}
    _feed(sniffer, _frame({"usageMetadata": usage}), 50)
    assert sniffer.usage is not None and sniffer.usage.total == 12

"""Which upstream Realtime frames ``cliproxy.providers.codex_realtime`` parses for usage:
only an event whose own ``type`` is ``response.created``, ``response.done`` or
``conversation.item.input_audio_transcription.completed``; the name quoted inside a
string (escaped quotes) or another ``response.*`` event is passed over unparsed. Ours (CPA
records no Realtime usage)."""

from __future__ import annotations

import orjson

from cliproxy.formats import ir
from cliproxy.providers.codex_realtime import response_event, transcription_usage

DONE = "conversation.item.input_audio_transcription.completed"


def frame(**event: object) -> bytes:
    return orjson.dumps(event)


def test_only_an_events_own_type_is_parsed() -> None:
    response = {"id": "resp_1", "usage": None}
    assert response_event(frame(type="response.created", response=response)) == (False, response)
    # another response.* event first in the frame, the type named later
    late = frame(delta="x", response={"id": "r"}, item="response.output_audio.delta", type="response.done")
    assert response_event(late) == (True, {"id": "r"})
    quoted = frame(type="response.output_text.delta", delta='say "response.done" and "response.created"')
    assert response_event(quoted) is None
    assert transcription_usage(frame(type="x", delta=f'"{DONE}"')) is None


def test_a_transcription_usage_by_tokens_or_duration() -> None:
    tokens = {"type": "tokens", "total_tokens": 26, "input_tokens": 17, "output_tokens": 9}
    assert transcription_usage(frame(type=DONE, usage=tokens)) == ir.Usage(17, 9, total_tokens=26)
    assert transcription_usage(frame(type=DONE, usage={"type": "duration", "seconds": 2.4})) == ir.Usage()
    assert transcription_usage(frame(type=DONE, transcript="Hi.")) is None
    assert response_event(frame(type=DONE, usage=tokens)) is None

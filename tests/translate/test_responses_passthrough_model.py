"""``ResponsesPassthrough``'s model fill (translate/openai_responses/passthrough.py) with the
stream cut into two reads at every byte: a snapshot naming no model gets the client's, one
naming it ends the watch (the e2e cases are tests/e2e/test_codex_responses_model.py)."""

from __future__ import annotations

import orjson

from cliproxy.formats import Format
from cliproxy.formats.sse import SSEDecoder
from cliproxy.translate.openai_responses.passthrough import ResponsesPassthrough
from cliproxy.translate.registry import default_registry

CREATED = (
    b'event: response.created\ndata: {"type":"response.created","response": {"id":"r","error":null}}\n\n'
)
IN_PROGRESS = CREATED.replace(b"response.created", b"response.in_progress")
DELTA = b'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","delta":"hi"}\n\n'
COMPLETED = b'event: response.completed\r\ndata: {"type":"response.completed","response":{"id":"r","output":[]}}\r\n\r\n'


def _relay(stream: bytes, cut: int, model: str | None = "asked") -> tuple[bytes, ResponsesPassthrough]:
    tr = ResponsesPassthrough(default_registry().adapter(Format.RESPONSES).stream_decoder(None), model=model)
    return tr.feed(stream[:cut]) + tr.feed(stream[cut:]) + tr.finish(), tr


def _models(out: bytes) -> list[object]:
    payloads = [orjson.loads(ev.data) for ev in SSEDecoder().decode(out)]
    return [p["response"].get("model") for p in payloads if "response" in p]


def test_snapshots_without_a_model_get_the_clients_at_every_cut() -> None:
    """CPA TestConvertCodexResponseToOpenAIResponses_CreatedIncludesOriginalRequestModel:
    the opening snapshots get it; the final one and the events around them flow as they came."""
    stream = CREATED + IN_PROGRESS + DELTA + COMPLETED
    for cut in range(1, len(stream)):
        out, tr = _relay(stream, cut)
        assert _models(out) == ["asked", "asked", None], (cut, out)
        assert out.endswith(DELTA + COMPLETED) and not tr.ended, cut


def test_a_named_snapshot_ends_the_watch_and_the_stream_flows_untouched() -> None:
    """The upstream that names its model (real Codex) is trusted for the rest of its stream:
    its bytes pass as they came, a later snapshot without a model included."""
    named = CREATED.replace(b'"id":"r"', b'"id":"r","model":"gpt-5.5"')
    stream = named + DELTA + COMPLETED
    for cut in range(1, len(stream)):
        out, tr = _relay(stream, cut)
        assert out == stream and tr._model is None, cut
    out, _ = _relay(CREATED + COMPLETED, 5, model=None)  # (no model to fill: untouched)
    assert out == CREATED + COMPLETED

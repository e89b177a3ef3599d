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


def test_an_empty_model_is_no_name() -> None:
    """An opening snapshot whose ``"model"`` is ``""`` (also spaced out) gets the client's
    model, as one without the key does (CPA's ``Exists`` takes ``""`` for a name: our
    difference, the SDK read an empty ``Response.model``)."""
    for empty in (b'"model":""', b'"model" : ""'):
        stream = CREATED.replace(b'"id":"r"', b'"id":"r",' + empty) + DELTA + COMPLETED
        for cut in range(1, len(stream)):
            out, _ = _relay(stream, cut)
            assert _models(out) == ["asked", None], (cut, out)


def test_a_translated_codex_stream_fills_the_unnamed_model() -> None:
    """CPA TestConvertCodexResponseToOpenAIResponses_CreatedIncludesOriginalRequestModel on
    the translated path (a Responses client of xAI: Codex events rebuilt from IR): every
    snapshot names ``unnamed`` when the upstream names none or ``""``, the upstream's name
    when it gives one, and a forced ``model`` over both."""
    reg = default_registry()

    def models(stream: bytes, forced: str | None = None) -> list[object]:
        tr = reg.stream_translator(Format.CODEX, Format.RESPONSES, model=forced, unnamed="asked")
        return _models(tr.feed(stream) + tr.finish())

    assert models(CREATED + DELTA + COMPLETED) == ["asked", "asked", "asked"]
    empty = CREATED.replace(b'"id":"r"', b'"id":"r","model":""')
    assert models(empty + DELTA + COMPLETED) == ["asked", "asked", "asked"]
    named = CREATED.replace(b'"id":"r"', b'"id":"r","model":"grok-4.5"')
    assert models(named + DELTA + COMPLETED) == ["grok-4.5"] * 3
    assert models(named + DELTA + COMPLETED, forced="alias") == ["alias"] * 3

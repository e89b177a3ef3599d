"""``cliproxy.formats.multipart``: the form an Images API edit goes upstream as."""

from __future__ import annotations

import orjson

from cliproxy.formats.multipart import Form, Part, encode
from tests.fakes.server import FormFile, _parse_form


def test_encode_writes_the_first_fields_then_the_parts_as_they_came() -> None:
    """CPA buildOpenAICompatImagesMultipartRequest: the new model first, the client's own
    model and stream left out, a file's type kept (octet-stream when it had none), a
    field's own type kept; a quote or line break in a name cannot break the header."""
    parts = [
        Part("model", b"client-model"),
        Part("image", b"\r\n--x\r\n", 'a"b\r\n.png', "image/png"),
        Part("stream", b"false"),
        Part("mask", b"m", "m.bin"),
        Part("prompt", b"edit", None, "text/plain; charset=utf-8"),
    ]
    body, content_type = encode(
        [("model", "upstream"), ("stream", "true")], parts, frozenset({"model", "stream"})
    )
    assert content_type.startswith("multipart/form-data; boundary=")
    assert b'filename="a%22b%0D%0A.png"' in body
    assert body.find(b"Content-Type: text/plain; charset=utf-8\r\n") > 0
    form = _parse_form(body, content_type)
    assert form == {
        "model": "upstream",
        "stream": "true",
        "image": FormFile("a%22b%0D%0A.png", "image/png", b"\r\n--x\r\n"),  # escaped as browsers do
        "mask": FormFile("m.bin", "application/octet-stream", b"m"),
        "prompt": "edit",
    }
    assert list(form) == ["model", "stream", "image", "mask", "prompt"]


def test_form_shows_its_parts_without_their_bytes() -> None:
    """What a plugin sees when the body is written as JSON."""
    form = Form([Part("image", b"abc", "a.png", "image/png"), Part("prompt", b"hi")])
    assert orjson.loads(orjson.dumps(form)) == {
        "parts": [
            {"name": "image", "size": 3, "filename": "a.png", "content_type": "image/png"},
            {"name": "prompt", "size": 2},
        ]
    }

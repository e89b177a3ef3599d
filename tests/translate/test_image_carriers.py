"""The carrier of a Gemini image's signature shown to a Claude client (carriers.image_carrier)."""

from __future__ import annotations

import pytest

from cliproxy.translate.carriers import carried_image_signature, image_carrier
from cliproxy.translate.claude.request import parse_request
from cliproxy.translate.gemini.build import build_request
from tests.fakes.gemini import IMAGE_SIGNATURE

SHOWN = {"type": "text", "text": "![image](data:image/png;base64,QUJD)"}
IMAGE = {"inlineData": {"mimeType": "image/png", "data": "QUJD"}}


def model_parts(*blocks: dict) -> list[dict]:
    body = {
        "model": "gemini-3-pro-image-preview",
        "max_tokens": 8,
        "messages": [
            {"role": "user", "content": "draw"},
            {"role": "assistant", "content": [{"type": "text", "text": "here"}, *blocks]},
            {"role": "user", "content": "again"},
        ],
    }
    return build_request(parse_request(body))["contents"][1]["parts"]


def test_the_signature_round_trips_and_signs_the_image_after_it() -> None:
    carrier = image_carrier(IMAGE | {"thoughtSignature": IMAGE_SIGNATURE})
    assert carrier is not None and carried_image_signature(carrier) == IMAGE_SIGNATURE
    thinking = {"type": "thinking", "thinking": "", "signature": carrier}
    assert model_parts(thinking, SHOWN) == [{"text": "here"}, IMAGE | {"thoughtSignature": IMAGE_SIGNATURE}]
    # a carrier with no image after it signs nothing and is never sent on
    assert model_parts(SHOWN, thinking) == [{"text": "here"}, IMAGE]


@pytest.mark.parametrize(
    "value",
    [
        "cpa-gemini-carrier-v1:next:image:!!!",
        "cpa-gemini-carrier-v1:next:image:",
        # the validator-skip sentinel is no signature of Gemini's
        "cpa-gemini-carrier-v1:next:image:c2tpcF90aG91Z2h0X3NpZ25hdHVyZV92YWxpZGF0b3I",
    ],
)
def test_a_malformed_carrier_leaves_the_image_unsigned(value: str) -> None:
    assert carried_image_signature(value) is None
    thinking = {"type": "thinking", "thinking": "", "signature": value}
    assert model_parts(thinking, SHOWN) == [{"text": "here"}, IMAGE]
    assert image_carrier(IMAGE) is None and image_carrier(IMAGE | {"thoughtSignature": "x"}) is None

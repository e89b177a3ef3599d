"""Inline media in the local token counters (see tests/e2e/test_fid2_count_media.py): a
``data:`` URL or a tool output's image is not text, so it adds nothing; CPA counts its
base64. References (a remote URL, a file id, a file name) still count as CPA counts them."""

from __future__ import annotations

from typing import Any

from cliproxy.translate.token_segments import chat_segments, codex_segments, xai_segments

DATA = "data:image/png;base64," + "QUJD" * 5000


def _responses(part: dict[str, Any]) -> dict[str, Any]:
    return {
        "input": [
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "look"}, part]},
            {
                "type": "function_call_output",
                "call_id": "c1",
                "output": [{"type": "input_text", "text": "shot saved"}, part],
            },
        ]
    }


def test_xai_counts_no_inline_media() -> None:
    image = {"type": "input_image", "image_url": DATA}
    pdf = {"type": "input_file", "file_data": "data:application/pdf;base64,QUJD", "filename": "a.pdf"}
    assert xai_segments(_responses(image)) == ["look", "shot saved"]
    assert xai_segments(_responses(pdf)) == ["look", "a.pdf", "shot saved"]
    remote = {"type": "input_image", "image_url": "https://x.test/a.png"}
    assert xai_segments(_responses(remote)) == ["look", "https://x.test/a.png", "shot saved"]


def test_codex_tool_output_counts_its_text_parts() -> None:
    assert codex_segments(_responses({"type": "input_image", "image_url": DATA})) == ["look", "shot saved"]
    string_output = {"input": [{"type": "function_call_output", "call_id": "c1", "output": "ok"}]}
    assert codex_segments(string_output) == ["ok"]


def test_chat_counts_no_inline_media() -> None:
    content = [
        {"type": "text", "text": "look"},
        {"type": "image_url", "image_url": {"url": DATA}},
        {"type": "file", "file": {"file_data": "data:application/pdf;base64,QUJD", "filename": "a.pdf"}},
        {"type": "image_url", "image_url": {"url": "https://x.test/a.png"}},
    ]
    body = {"messages": [{"role": "user", "content": content}]}
    assert chat_segments(body) == ["user", "look", "a.pdf", "https://x.test/a.png"]

"""CPA internal/translator/common/file_data_test.go TestNormalizeOpenAIFileData, through the
proxy with the openai SDK: a Chat Completions ``file`` part's ``file_data`` (a data: URL in
any case with parameters, or bare base64 typed by its file name) reaches Gemini and Claude
as the file's own bytes and type; one that holds nothing usable is the client's 400.

A difference: CPA leaves such a part out and sends the rest; we refuse the request, naming
the field, so the client learns its file never went."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from tests.e2e.clients import KEY

PDF = "JVBERi0xLjQK"


def file_part(data: str, filename: str | None) -> dict[str, Any]:
    f: dict[str, Any] = {"file_data": data}
    if filename is not None:
        f["filename"] = filename
    return {"type": "file", "file": f}


async def ask(matrix: Any, model: str, part: dict[str, Any]) -> None:
    async with openai.AsyncOpenAI(base_url=matrix.url + "/v1", api_key=KEY, max_retries=0) as client:
        await client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": [{"type": "text", "text": "read"}, part]}]
        )


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (f"data:application/pdf;base64,{PDF}", "test.pdf"),
        (f"data:application/pdf;charset=binary;BASE64,{PDF}", "test.txt"),
        (f"DATA:application/pdf;base64,{PDF}", "test.pdf"),
        (PDF, "TEST.PDF"),
        (PDF, "test"),
    ],
    ids=["data-url", "params-and-type-override", "upper-scheme", "bare-by-name", "bare-unknown"],
)
async def test_file_data_reaches_gemini_and_claude(matrix: Any, data: str, filename: str) -> None:
    """The data URL's own type wins over the name's; bare base64 of unknown type is a PDF
    (Claude got ``image/png`` for it in a document, and a data URL with parameters or an
    upper-case scheme went on whole as if it were base64)."""
    await ask(matrix, "gemini-model", file_part(data, filename))
    parts = matrix.fakes.gemini.last.json["contents"][0]["parts"]
    assert parts[1] == {"inlineData": {"data": PDF, "mimeType": "application/pdf"}}
    await ask(matrix, "claude-model", file_part(data, filename))
    doc = matrix.fakes.claude.last.json["messages"][0]["content"][1]
    assert doc["type"] == "document"
    assert doc["source"] == {"type": "base64", "media_type": "application/pdf", "data": PDF}


@pytest.mark.parametrize(
    "data",
    ["", "data:application/pdf,JVBERi0xLjQK", "data:;base64,JVBERi0xLjQK", "data:application/pdf;base64,"],
    ids=["empty", "no-base64-marker", "no-media-type", "no-payload"],
)
async def test_file_data_with_nothing_usable_is_refused(matrix: Any, data: str) -> None:
    before = len(matrix.fakes.gemini.requests)
    with pytest.raises(openai.BadRequestError) as info:
        await ask(matrix, "gemini-model", file_part(data, "test.pdf"))
    assert "file_data" in str(info.value)
    assert len(matrix.fakes.gemini.requests) == before

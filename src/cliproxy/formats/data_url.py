"""``data:`` URLs, the inline-media form shared by OpenAI Chat and Responses."""

from __future__ import annotations

__all__ = ["make_data_url", "split_data_url"]


def split_data_url(url: str) -> tuple[str, str] | None:
    """``data:<type>[;<param>...];base64,<data>`` -> (media type, base64 data); ``None``
    for anything else. The scheme and the ``base64`` marker are matched in any case and
    other parameters (``charset=...``) are skipped, as RFC 2397 allows."""
    if url[:5].lower() != "data:":
        return None
    head, sep, data = url.partition(",")
    if not sep:
        return None
    media_type, _, params = head[5:].partition(";")
    if not media_type or "base64" not in params.lower().split(";"):
        return None
    return media_type, data


def make_data_url(media_type: str | None, data: str) -> str:
    return f"data:{media_type or 'application/octet-stream'};base64,{data}"

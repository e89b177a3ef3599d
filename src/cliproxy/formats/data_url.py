"""``data:`` URLs, the inline-media form shared by OpenAI Chat and Responses."""

from __future__ import annotations

__all__ = ["make_data_url", "split_data_url"]


def split_data_url(url: str) -> tuple[str, str] | None:
    """``data:<type>;base64,<data>`` -> (media type, base64 data); ``None`` for anything else."""
    if not url.startswith("data:"):
        return None
    head, sep, data = url.partition(",")
    if not sep or not head.endswith(";base64"):
        return None
    media_type = head[5:-7]
    if not media_type or ";" in media_type:
        return None
    return media_type, data


def make_data_url(media_type: str | None, data: str) -> str:
    return f"data:{media_type or 'application/octet-stream'};base64,{data}"

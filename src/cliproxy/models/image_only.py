"""Models served only on the Images API (CPA's ``isOpenAIImageOnlyModel``): a chat,
messages, responses or count request naming one is refused with a 503 that names the
endpoints to use, before anything is sent upstream."""

from __future__ import annotations

from cliproxy.errors import RequestError
from cliproxy.models.suffix import split_suffix

__all__ = ["IMAGE_ONLY", "refuse_image_only"]

IMAGE_ONLY = frozenset(
    {
        "gpt-image-1.5",
        "gpt-image-2",
        "grok-imagine-image",
        "grok-imagine-image-quality",
        "grok-imagine-image-2.0",
    }
)


def refuse_image_only(model: str) -> None:
    """Raise the 503 for an image-only ``model`` (a provider prefix such as ``xai/`` and a
    thinking suffix do not count; any case); nothing for another model."""
    base = split_suffix(model.strip())[0].strip() or model.strip()
    name = base.rpartition("/")[2].strip() or base
    if name.lower() in IMAGE_ONLY:
        raise RequestError(
            f"model {name} is only supported on /v1/images/generations and /v1/images/edits",
            param="model",
            status=503,
        )

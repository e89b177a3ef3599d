"""Codex's built-in ``image_generation`` tool on Responses requests, and
``disable-image-generation``.

As CPA (``ensureImageGenerationTool`` and the payload helpers' image filter):

- ``false`` (mode ``off``): every Codex generation request offers the tool
  (``{"type": "image_generation", "output_format": "png"}`` appended to ``tools``), unless
  the request already has it (or Codex's own ``image_gen`` function / namespace), the
  request is a Codex "responses lite" one (header or ``client_metadata`` flag), the model
  is a ``*spark`` one, or the account is on ChatGPT's free plan;
- ``true`` (``all``) and ``chat``: the tool and a ``tool_choice`` naming it are removed
  (``chat`` keeps them on the ``/v1/images/*`` routes, which cliproxy does not serve);
- ``passthrough``: the client's tools go upstream untouched.

The body is the attempt's own copy (``Pipeline._start``): ``tools`` is replaced, never
changed in place, since the list may still be the client's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from cliproxy.credentials.record import Credential

__all__ = ["IMAGE_TOOL", "apply_image_tool", "free_plan", "image_barred", "is_lite"]

IMAGE_TOOL: dict[str, Any] = {"type": "image_generation", "output_format": "png"}
LITE_HEADER = "X-OpenAI-Internal-Codex-Responses-Lite"
LITE_METADATA = "ws_request_header_x_openai_internal_codex_responses_lite"


def apply_image_tool(
    body: dict[str, Any], mode: str, *, model: str, cred: Credential, headers: Mapping[str, str]
) -> None:
    """Inject or strip the ``image_generation`` tool in ``body`` for ``mode``
    (``Config.image_generation_mode``)."""
    if mode in ("all", "chat"):
        _strip(body)
    elif mode == "off" and _wants_tool(body, model, cred, headers):
        tools = body.get("tools")
        body["tools"] = [*tools, dict(IMAGE_TOOL)] if isinstance(tools, list) else [dict(IMAGE_TOOL)]


def _wants_tool(body: dict[str, Any], model: str, cred: Credential, headers: Mapping[str, str]) -> bool:
    if is_lite(body, headers) or model.endswith("spark"):
        return False
    if free_plan(cred):
        return False
    tools = body.get("tools")
    if not isinstance(tools, list):
        return True
    return not any(
        isinstance(t, dict) and (t.get("type") == "image_generation" or _image_gen_function(t)) for t in tools
    )


def free_plan(cred: Credential) -> bool:
    """A ChatGPT account on the free plan (its ``id_token``'s ``chatgpt_plan_type``): it
    cannot make images (CPA ``isFreeCodexAuth``)."""
    return cred.provider == "codex" and str(cred.attributes.get("plan_type") or "").strip().lower() == "free"


def image_barred(action: str, creds: Iterable[Credential]) -> frozenset[str]:
    """The credentials an Images API request (``action`` ``images.*``) must not be sent to:
    the free-plan ChatGPT accounts, as CPA's image handlers mark the request
    (``DisallowFreeAuth``). Empty for every other request."""
    if not action.startswith("images."):
        return frozenset()
    return frozenset(c.id for c in creds if free_plan(c))


def is_lite(body: dict[str, Any], headers: Mapping[str, str]) -> bool:
    """A Codex Desktop "responses lite" request (its header, or the flag it mirrors into
    ``client_metadata``)."""
    if headers.get(LITE_HEADER, "").strip().lower() == "true":
        return True
    meta = body.get("client_metadata")
    value = meta.get(LITE_METADATA) if isinstance(meta, dict) else None
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def _image_gen_function(tool: dict[str, Any]) -> bool:
    """Codex's own image tool: ``image_gen.imagegen``, flat or as a namespace."""
    if tool.get("type") == "function":
        return tool.get("name") == "image_gen.imagegen"
    if tool.get("type") == "namespace" and tool.get("name") == "image_gen":
        nested = tool.get("tools")
        return isinstance(nested, list) and any(
            isinstance(t, dict) and t.get("type") == "function" and t.get("name") == "imagegen"
            for t in nested
        )
    return False


def _strip(body: dict[str, Any]) -> None:
    tools = body.get("tools")
    if isinstance(tools, list) and any(
        isinstance(t, dict) and t.get("type") == "image_generation" for t in tools
    ):
        body["tools"] = [
            t for t in tools if not (isinstance(t, dict) and t.get("type") == "image_generation")
        ]
    choice = body.get("tool_choice")
    if isinstance(choice, str):
        if choice.strip().lower() == "image_generation":
            del body["tool_choice"]
    elif isinstance(choice, dict):
        ctype = str(choice.get("type") or "").strip().lower()
        named = ctype == "tool" and str(choice.get("name") or "").strip().lower() == "image_generation"
        if ctype == "image_generation" or named:
            del body["tool_choice"]

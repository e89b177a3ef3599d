"""What a replay compares: status, the headers that matter, JSON bodies structurally
(volatile fields ignored) and SSE event sequences.

Each difference is one line: where (a path into the answer, ``body.choices[0].delta``),
what the recording expected and what came back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from cliproxy.usage.scrub import scrub_json, scrub_text

__all__ = ["VOLATILE_KEYS", "Difference", "compare_answer", "diff_json", "media_type", "sse_events"]

# fields a fresh run fills in anew: ids, clocks, fingerprints
VOLATILE_KEYS = frozenset(
    {
        "id",
        "created",
        "created_at",
        "completed_at",
        "timestamp",
        "system_fingerprint",
        "responseId",
        "createTime",
        "response_id",
        "item_id",
        "call_id",
        "request_id",
        "prompt_cache_key",
        "session_id",
        "user_id",
        "signature",
        "encrypted_content",
        "thoughtSignature",
    }
)


@dataclass(frozen=True, slots=True)
class Difference:
    where: str
    expected: Any
    got: Any

    def __str__(self) -> str:
        return f"{self.where}: expected {_show(self.expected)}, got {_show(self.got)}"


def _show(value: Any) -> str:
    text = orjson.dumps(value).decode() if not isinstance(value, _Missing) else "(nothing)"
    return text if len(text) <= 200 else text[:197] + "..."


class _Missing:
    pass


MISSING = _Missing()


def diff_json(
    expected: Any, got: Any, where: str = "", volatile: frozenset[str] = VOLATILE_KEYS
) -> list[Difference]:
    """Structural differences between two JSON values; keys in ``volatile`` are skipped."""
    if isinstance(expected, dict) and isinstance(got, dict):
        out: list[Difference] = []
        for key in list(expected) + [k for k in got if k not in expected]:
            if key in volatile:
                continue
            out += diff_json(expected.get(key, MISSING), got.get(key, MISSING), f"{where}.{key}", volatile)
        return out
    if isinstance(expected, list) and isinstance(got, list):
        out = []
        for i in range(max(len(expected), len(got))):
            e = expected[i] if i < len(expected) else MISSING
            g = got[i] if i < len(got) else MISSING
            out += diff_json(e, g, f"{where}[{i}]", volatile)
        return out
    if expected == got and type(expected) is type(got):
        return []
    if isinstance(expected, (int, float)) and isinstance(got, (int, float)) and expected == got:
        return []
    return [Difference(where.lstrip(".") or "(value)", expected, got)]


def media_type(headers: Mapping[str, str]) -> str:
    for name, value in headers.items():
        if name.lower() == "content-type":
            return value.partition(";")[0].strip().lower()
    return ""


def sse_events(text: str) -> list[dict[str, Any]]:
    """An SSE stream as ``[{"event": name, "data": parsed}]``; comments (keep-alives) dropped."""
    events: list[dict[str, Any]] = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        name, data = "", []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].lstrip(" "))
        if not name and not data:
            continue
        payload = "\n".join(data)
        events.append({"event": name, "data": parse_body(payload.encode())})
    return events


def parse_body(data: bytes) -> Any:
    """A body as the recording holds it: JSON scrubbed, else scrubbed text, ``None`` empty."""
    if not data:
        return None
    try:
        return scrub_json(orjson.loads(data))
    except orjson.JSONDecodeError:
        return scrub_text(data.decode("utf-8", "replace"))


def recorded_stream(chunks: Iterable[Mapping[str, Any]]) -> str:
    return "".join(str(c.get("data", "")) for c in chunks)


def compare_answer(
    expected: Mapping[str, Any], status: int, headers: Mapping[str, str], body: bytes, where: str = "response"
) -> list[Difference]:
    """Differences between a recorded answer and the one received."""
    out: list[Difference] = []
    if expected.get("status") != status:
        out.append(Difference(f"{where}.status", expected.get("status"), status))
    want_type = media_type(expected.get("headers") or {})
    got_type = media_type(headers)
    if want_type != got_type:
        out.append(Difference(f"{where}.headers.content-type", want_type, got_type))
    if "chunks" in expected:
        want = sse_events(recorded_stream(expected["chunks"]))
        got = sse_events(body.decode("utf-8", "replace"))
        out += diff_json(want, got, f"{where}.events")
    else:
        out += diff_json(expected.get("body"), parse_body(body), f"{where}.body")
    return out

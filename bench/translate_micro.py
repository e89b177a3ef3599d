"""Micro-benchmark of translation: a 1,000-chunk stream and a ~100 KB Claude Code request
through every pair.

    python bench/translate_micro.py

Targets (issue 3): <= 15 us per stream chunk, <= 2 ms for the 100 KB request.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cliproxy.formats import Format
from cliproxy.translate import ir
from cliproxy.translate.registry import default_registry

FORMATS = [Format.OPENAI, Format.RESPONSES, Format.CLAUDE, Format.GEMINI]
REG = default_registry()
CHUNKS = 1000


def claude_code_request() -> dict:
    """A Claude-Code-shaped request of about 100 KB."""
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "command": {"type": "string", "description": "The command to run " * 4},
            "timeout": {"type": "number", "exclusiveMinimum": 0},
            "description": {"type": "string"},
        },
        "required": ["command"],
        "additionalProperties": False,
    }
    tools = [
        {"name": f"Tool{i}", "description": "Does a thing. " * 40, "input_schema": schema} for i in range(24)
    ]
    messages: list[dict] = []
    for i in range(46):
        messages.append({"role": "user", "content": [{"type": "text", "text": f"Please do step {i}. " * 20}]})
        messages.append(
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "Reasoning about it. " * 10, "signature": "c2ln" * 40},
                    {"type": "text", "text": "Running it."},
                    {
                        "type": "tool_use",
                        "id": f"toolu_{i:04d}",
                        "name": "Tool1",
                        "input": {"command": f"echo {i}"},
                    },
                ],
            }
        )
        messages.append(
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": f"toolu_{i:04d}", "content": "output line\n" * 40}
                ],
            }
        )
    messages.append({"role": "user", "content": "Now finish."})
    return {
        "model": "claude-opus-5-5",
        "max_tokens": 32000,
        "stream": True,
        "system": [
            {"type": "text", "text": "You are Claude Code. " * 200, "cache_control": {"type": "ephemeral"}}
        ],
        "messages": messages,
        "tools": tools,
        "thinking": {"type": "adaptive"},
        "metadata": {"user_id": "u"},
    }


def stream_bytes(fmt: Format) -> tuple[bytes, int]:
    enc = REG.adapter(fmt).stream_encoder(None, "m")
    events: list[ir.Event] = [ir.StreamStart("id", "m"), ir.BlockStart(0, "text")]
    events += [ir.TextDelta(0, "token ") for _ in range(CHUNKS)]
    events += [ir.BlockStop(0), ir.StreamEnd("end_turn", ir.Usage(10, CHUNKS))]
    data = b"".join(enc.encode(e) for e in events) + enc.flush()
    return data, len(events)


def split_frames(data: bytes) -> list[bytes]:
    """The stream as the network would hand it over: one frame per read."""
    parts = data.split(b"\n\n")
    return [p + b"\n\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def bench_streams() -> list[tuple[str, float]]:
    rows = []
    for up in FORMATS:
        data, _ = stream_bytes(up)
        frames = split_frames(data)
        for cl in FORMATS:
            best = float("inf")
            for _ in range(5):
                tr = REG.stream_translator(up, cl, None, "m")
                t0 = time.perf_counter()
                for f in frames:
                    tr.feed(f)
                tr.finish()
                best = min(best, time.perf_counter() - t0)
            rows.append((f"{up.value} -> {cl.value}", best / CHUNKS * 1e6))
    return rows


def bench_requests() -> tuple[int, list[tuple[str, float]]]:
    body = claude_code_request()
    size = len(orjson.dumps(body))
    rows = []
    for src in FORMATS:
        src_body = (
            body
            if src is Format.CLAUDE
            else REG.adapter(src).build_request(REG.adapter(Format.CLAUDE).parse_request(body))
        )
        raw = orjson.dumps(src_body)
        for dst in [*FORMATS, Format.CODEX]:
            best = float("inf")
            for _ in range(20):
                t0 = time.perf_counter()
                out, _ = REG.translate_request(src, dst, orjson.loads(raw))
                orjson.dumps(out)
                best = min(best, time.perf_counter() - t0)
            rows.append((f"{src.value} -> {dst.value}", best * 1e3))
    return size, rows


def main() -> int:
    stream_rows = bench_streams()
    size, req_rows = bench_requests()
    print(f"stream: {CHUNKS} text chunks, one frame per read; us per chunk (decode + encode)")
    for name, us in stream_rows:
        print(f"  {name:36s} {us:7.2f} us {'OK' if us <= 15 else 'OVER'}")
    print(f"request: Claude Code shaped, {size / 1024:.0f} KB; parse + translate + serialize, ms")
    for name, ms in req_rows:
        print(f"  {name:36s} {ms:7.3f} ms {'OK' if ms <= 2 else 'OVER'}")
    worst_s = max(us for _, us in stream_rows)
    worst_r = max(ms for _, ms in req_rows)
    print(f"worst: {worst_s:.2f} us/chunk (target 15), {worst_r:.3f} ms/request (target 2)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""What building one Claude subscription request costs: ``ClaudeProvider.build`` in process.

    python bench/claude_build.py [--rounds 40] [--profile "SDK client, 100 KB"]

A Claude OAuth credential gets the heaviest build of any upstream: Claude Code's identity
(headers in its order, betas, device and session ids), cloaking for any other client
(system prompt, billing block, tool names as MCP aliases), cache breakpoints and the CCH
signature over the body. Four requests: a confirmed Claude Code and a plain SDK client
(cloaked), each with the ~100 KB Claude Code conversation of bench/translate_micro.py
(24 tools, 139 turns) and with one short message; the client headers are the
case-insensitive mapping the servers hand over.

Per case: the build's time (the body parsed fresh each time, as the server does; the
parse itself measured apart and subtracted; the minimum over ``--rounds``), that time as
a multiple of parsing the same body with orjson (the ratio to compare between machines),
and the Python function calls per build (cProfile's count: exact, whatever the machine's
load). ``--profile CASE`` prints that case's top functions.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import pstats
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
from multidict import CIMultiDict, CIMultiDictProxy

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from translate_micro import claude_code_request

from cliproxy.config.loader import load_config
from cliproxy.credentials.record import Credential
from cliproxy.providers.claude import ClaudeProvider

MODEL = "claude-sonnet-4-6"
SESSION = "3f1c2f4e-0000-4000-8000-000000000001"
CLAUDE_CODE = {
    "x-app": "cli",
    "user-agent": "claude-cli/2.1.220 (external, cli)",
    "anthropic-beta": "claude-code-20250219,oauth-2025-04-20,interleaved-thinking-2025-05-14",
    "x-claude-code-session-id": SESSION,
    "anthropic-version": "2023-06-01",
    "content-type": "application/json",
}
SDK = {
    "anthropic-version": "2023-06-01",
    "content-type": "application/json",
    "user-agent": "Anthropic/Python 0.40.0",
}


def cases() -> dict[str, tuple[bytes, CIMultiDictProxy[str]]]:
    big = claude_code_request()
    code = dict(big)  # Claude Code's metadata.user_id: what makes it a confirmed Claude Code
    user_id = {"device_id": "a" * 64, "account_uuid": "", "session_id": SESSION}
    code["metadata"] = {"user_id": orjson.dumps(user_id).decode()}
    code["system"] = [
        {
            "type": "text",
            "text": "x-anthropic-billing-header: cc_version=2.1.220.abc; cc_entrypoint=cli; cch=00000;",
        },
        *big["system"],
    ]
    small: dict[str, Any] = {
        "model": MODEL,
        "max_tokens": 64,
        "messages": [{"role": "user", "content": "hi"}],
    }
    small_code = {**small, "metadata": code["metadata"]}
    cc, sdk = CIMultiDictProxy(CIMultiDict(CLAUDE_CODE)), CIMultiDictProxy(CIMultiDict(SDK))
    return {
        "Claude Code, 100 KB": (orjson.dumps(code), cc),
        "SDK client, 100 KB": (orjson.dumps(big), sdk),
        "Claude Code, short": (orjson.dumps(small_code), cc),
        "SDK client, short": (orjson.dumps(small), sdk),
    }


def provider() -> tuple[ClaudeProvider, Credential]:
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
        f.write("{}\n")
        f.flush()
        config = load_config(f.name)
    p = ClaudeProvider()
    p.configure(config)
    cred = Credential(
        id="bench.json",
        provider="claude",
        kind="oauth",
        metadata={"access_token": "sk-ant-oat01-bench", "email": "bench@example.com"},
    )
    return p, cred


def measure(
    p: ClaudeProvider, cred: Credential, raw: bytes, headers: Any, rounds: int
) -> tuple[float, float]:
    """(seconds per build, seconds per parse), each the minimum over ``rounds``."""
    build = parse = float("inf")
    for _ in range(rounds):
        t = time.perf_counter()
        body = orjson.loads(raw)
        parsed = time.perf_counter()
        p.build(cred, body, model=MODEL, stream=True, client_headers=headers)
        done = time.perf_counter()
        parse, build = min(parse, parsed - t), min(build, done - parsed)
    return build, parse


def calls(
    p: ClaudeProvider, cred: Credential, raw: bytes, headers: Any, n: int = 50
) -> tuple[float, pstats.Stats]:
    prof = cProfile.Profile()
    bodies = [orjson.loads(raw) for _ in range(n)]
    prof.enable()
    for body in bodies:
        p.build(cred, body, model=MODEL, stream=True, client_headers=headers)
    prof.disable()
    stats = pstats.Stats(prof)
    return stats.total_calls / n, stats  # type: ignore[attr-defined]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=40)
    ap.add_argument("--profile", default="", help="print this case's top functions")
    args = ap.parse_args()
    p, cred = provider()
    table = cases()
    gc.collect()
    gc.disable()  # a collection landing in one build is noise here (the proxy has fewer objects)
    print(f"{'case':22s} {'build us':>9s} {'x parse':>8s} {'calls':>6s}")
    for name, (raw, headers) in table.items():
        p.build(cred, orjson.loads(raw), model=MODEL, stream=True, client_headers=headers)  # warm caches
        build, parse = measure(p, cred, raw, headers, args.rounds)
        n, stats = calls(p, cred, raw, headers)
        ratio = f"x{build / parse:.1f}" if parse > 2e-6 else "-"
        print(f"{name:22s} {build * 1e6:9.1f} {ratio:>8s} {n:6.0f}")
        if args.profile == name:
            stats.sort_stats("cumulative").print_stats(25)
    gc.enable()
    return 0


if __name__ == "__main__":
    sys.exit(main())

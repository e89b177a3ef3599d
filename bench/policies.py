"""What client key policies cost (issue 22): passthrough req/s and CPU with and without a policy.

    python bench/policies.py [--seconds 8] [--concurrency 16] [--rounds 2] [--no-wrk]

Starts the fake upstream (bench/upstream.py) and two proxies (``python -m cliproxy``, one
worker each, memory state): "plain" with CPA's plain key list, and "policies" whose
api-keys also hold a key with every counting limit on (model allowlist, rpm, tpm,
max-concurrency, token and cost budgets, expiry; limits high enough never to refuse).
Each round drives, with the same non-stream load: the plain proxy with its plain key,
the policies proxy with the same plain key, and the policies proxy with the policy key.
req/s and whole-process CPU per request are printed (noisy on a shared machine); the
verdict uses the policy check's own event-loop CPU per request, timed in-process over
the same code (admit, answer headers, usage charge), against a passthrough request's CPU
(target: under 3 %), and the plain key's extra cost on a proxy that has policies.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent))

from procs import OUT, Proc, load_cpu, start_fake, start_proxy
from scenarios import API_KEY, SCENARIOS

from cliproxy.access import KEY_POLICY, AccessPolicy
from cliproxy.calls import Call, Reply
from cliproxy.config.client_keys import ClientKey
from cliproxy.formats import Format, ir
from cliproxy.policies.enforce import Enforcer
from cliproxy.policies.rules import compile_rule
from cliproxy.state.memory import MemoryState

TARGET = 0.03
POLICY_KEY = "bench-policy-key-0123456789"
BIG = 10**9
POLICY = {
    "key": POLICY_KEY,
    "name": "bench",
    "models": ["*"],
    "rpm": BIG,
    "tpm": BIG,
    "max-concurrency": 100000,
    "budget": {"tokens": 10**15, "cost": 10.0**9, "period": "month"},
    "expires-at": "2999-01-01",
}
POLICY_YAML = (
    f'  - {{key: "{POLICY_KEY}", name: bench, models: ["*"], rpm: {BIG}, tpm: {BIG}, max-concurrency: 100000,'
    f" budget: {{tokens: {10**15}, cost: {10**9}, period: month}}, expires-at: 2999-01-01}}\n"
)
MICRO = 20_000


def _policy_keys(text: str) -> str:
    text = text.replace(f'api-keys: ["{API_KEY}"]', f'api-keys:\n  - "{API_KEY}"\n{POLICY_YAML}')
    assert POLICY_KEY in text
    return text


async def _policy_path_us() -> float:
    """Event-loop CPU of the policy path of one request (us): admit, the answer's rate
    headers and slot release, the usage charge (memory backend), as the proxy runs it."""
    enforcer = Enforcer(MemoryState())
    rule = compile_rule(ClientKey.model_validate(POLICY), 0)
    usage = ir.Usage(100, 30, 40, 0, 12, 130)
    best = float("inf")
    for _ in range(5):
        trace = SimpleNamespace(on_usage=None)
        call = Call(Format.OPENAI, {}, "gpt-4o-mini", False, {}, trace=trace)
        started = time.thread_time()
        for _ in range(MICRO):
            ticket = await enforcer.admit(rule, Format.OPENAI, "gpt-4o-mini", "generate")
            assert ticket is not None
            await ticket.attach(call, Reply(200, b"{}", {}), None)
            ticket.on_usage(usage, "gpt-4o-mini")
        best = min(best, (time.thread_time() - started) / MICRO * 1e6)
    return best


def _plain_key_us() -> float:
    """Extra CPU (us) a plain key pays on a proxy that has policy keys: the access check
    with policies configured minus without, plus the pipeline's policy look-up."""
    rule = compile_rule(ClientKey.model_validate(POLICY), 0)
    without = AccessPolicy([API_KEY])
    with_policies = AccessPolicy([API_KEY, POLICY_KEY], policies={POLICY_KEY: rule})
    headers, query = {"Authorization": f"Bearer {API_KEY}"}, {}
    per = {}
    for label, access in (("without", without), ("with", with_policies)) * 3:
        started = time.thread_time()
        for _ in range(MICRO * 5):
            access.check(headers, query)
            if label == "with":
                KEY_POLICY.get()
        took = (time.thread_time() - started) / (MICRO * 5) * 1e6
        per[label] = min(per.get(label, took), took)
    return max(0.0, per["with"] - per["without"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--no-wrk", action="store_true")
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    sc = SCENARIOS[0]  # passthrough OpenAI
    procs: list[Proc] = []
    try:
        fake = start_fake()
        procs.append(fake)
        no_ledger = "usage-ledger: {enabled: false}\n"
        plain, _ = start_proxy(fake.url, "policies-plain", no_ledger)
        procs.append(plain)
        pol, _ = start_proxy(fake.url, "policies-on", no_ledger, edit=_policy_keys)
        procs.append(pol)
        timing = {"concurrency": args.concurrency, "duration": args.seconds, "warmup": 1.0}
        runs = {"plain proxy, plain key": [], "policy proxy, plain key": [], "policy proxy, policy key": []}
        cpu: dict[str, list[float]] = {k: [] for k in runs}
        for r in range(args.rounds):
            for label, proc, key in (
                ("plain proxy, plain key", plain, API_KEY),
                ("policy proxy, plain key", pol, API_KEY),
                ("policy proxy, policy key", pol, POLICY_KEY),
            ):
                req = sc.proxy_request(False)
                headers = {k: (v.replace(API_KEY, key)) for k, v in req.headers.items()}
                got, per = load_cpu(
                    proc,
                    {"url": proc.url + req.path, "headers": headers, "body": req.body.decode(), **timing},
                    not args.no_wrk,
                )
                runs[label].append(got["rps"])
                cpu[label].append(per)
                print(
                    f"round {r + 1} {label:<26}: {got['rps']:8.0f} req/s, {per * 1e6:6.0f} us CPU/request"
                    f" ({got['errors']} errors)",
                    flush=True,
                )
                if got["errors"]:
                    print("FAIL: errors under load:", got.get("first_error", ""))
                    sys.exit(1)
        base_rps = max(runs["plain proxy, plain key"])
        print()
        for label in runs:
            rps = max(runs[label])
            print(
                f"{label:<26} {rps:8.0f} req/s ({(rps / base_rps - 1) * 100:+.1f} %, noisy)"
                f"  {min(cpu[label]) * 1e6:5.0f} us CPU/request"
            )
        passthrough_us = min(cpu["plain proxy, plain key"]) * 1e6
        policy_us = asyncio.run(_policy_path_us())
        plain_us = _plain_key_us()
        share = policy_us / passthrough_us
        print(
            f"\npolicy path {policy_us:.2f} us/request = {share * 100:.2f} % of a passthrough request's"
            f" {passthrough_us:.0f} us CPU (target < {TARGET * 100:.0f} %)"
        )
        print(
            f"plain key on a proxy with policies: +{plain_us * 1000:.0f} ns/request ({plain_us / passthrough_us * 100:.3f} %)"
        )
        ok = share < TARGET
        print("PASS" if ok else "FAIL")
        sys.exit(0 if ok else 1)
    finally:
        for proc in reversed(procs):
            proc.stop()


if __name__ == "__main__":
    main()

"""Client keys with policies (``/api-keys/policies``): views against their limits, CRUD, reset.

CPA's ``/api-keys`` (a list of strings) keeps working beside these routes: a key with a
policy is listed there as its plain key, a hashed key not at all. Here a key is named by
its id (16 hex digits of SHA-256 of the key, or of its stored hash: the id of the usage
ledger's ``api_key`` column); keys are never shown whole, except once, in the answer to
the ``POST`` that generated one.

- ``GET /api-keys/policies``: every policy key with its limits and usage now (requests,
  tokens and cost of the budget period, in-flight, rpm/tpm remaining).
- ``GET /api-keys/policies/{id}``: one of them.
- ``POST /api-keys/policies``: add one; the body is an ``api-keys`` entry (docs/keys.md);
  without ``key`` a key is generated; ``"hash": true`` stores only its bcrypt hash.
- ``PATCH /api-keys/policies/{id}``: change fields (``null`` removes one); a plain key
  named by its id becomes a policy key.
- ``DELETE /api-keys/policies/{id}``: remove the key.
- ``POST /api-keys/policies/{id}/reset``: forget its counters (rate buckets and budget).
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import bcrypt
from pydantic import ValidationError

from cliproxy.config import ConfigDocument
from cliproxy.config.client_keys import ClientKey
from cliproxy.management.config_edit import object_body, save
from cliproxy.management.types import ApiError, Req, Resp, Route
from cliproxy.policies.rules import KeyRule, compile_rule, period_tag, rule_id, rules_of

__all__ = ["ROUTES"]

_KEYS = "api-keys"
_FIELDS = frozenset(
    {"key", "key-hash", "name", "models", "rpm", "tpm", "max-concurrency", "budget", "expires-at", "disabled"}
)


async def _view(req: Req, rule: KeyRule) -> dict[str, Any]:
    now = time.time()
    out = rule.view()
    used = await req.service.pool.state.key_usage(rule.id, rule.limits(now), now)
    tag, ends = period_tag(rule.period, now)
    usage: dict[str, Any] = {
        "period": tag,
        "period-ends": ends or None,
        "requests": used.requests,
        "tokens": used.tokens_used,
        "cost": round(used.cost_used, 6),
        "in-flight": used.in_flight,
    }
    if rule.rpm:
        usage["rpm-remaining"] = used.rpm_remaining
    if rule.tpm:
        usage["tpm-remaining"] = used.tpm_remaining
    if rule.budget_tokens:
        usage["tokens-left"] = max(rule.budget_tokens - used.tokens_used, 0)
    if rule.budget_cost:
        usage["cost-left"] = round(max(rule.budget_cost - used.cost_used, 0.0), 6)
    out["usage"] = usage
    out["expired"] = bool(rule.expires_at and now >= rule.expires_at)
    return out


def _rule(req: Req, key_id: str) -> KeyRule:
    for _, rule in rules_of(req.service.config):
        if rule.id == key_id:
            return rule
    raise ApiError(404, "no key with a policy has this id")


async def list_policies(req: Req) -> Resp:
    rules = [rule for _, rule in rules_of(req.service.config)]
    plain = len(req.service.config.api_keys) - sum(1 for r in rules if not r.hashed)
    return Resp(200, {"keys": [await _view(req, r) for r in rules], "plain-keys": plain})


async def get_policy(req: Req) -> Resp:
    return Resp(200, await _view(req, _rule(req, req.params["id"])))


def _entries(doc: ConfigDocument) -> list[Any]:
    keys = doc.get([_KEYS])
    return keys if isinstance(keys, list) else []


def _entry_id(entry: Any) -> str:
    if isinstance(entry, str):
        return rule_id(entry.strip())
    if isinstance(entry, dict):
        return rule_id(str(entry.get("key") or "").strip(), str(entry.get("key-hash") or "").strip())
    return ""


def _checked(entry: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(entry) - _FIELDS)
    if unknown:
        raise ApiError(400, f"unknown field(s): {', '.join(unknown)}")
    try:
        compile_rule(ClientKey.model_validate(entry), 0)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'entry'}: {e['msg']}" for e in exc.errors()
        )
        raise ApiError(400, problems) from None
    return entry


async def create_policy(req: Req) -> Resp:
    body = dict(object_body(req))
    hashed = body.pop("hash", False)
    if not isinstance(hashed, bool):
        raise ApiError(400, "hash must be a boolean")
    generated = not body.get("key") and not body.get("key-hash")
    key = body.get("key") or ("sk-" + secrets.token_urlsafe(24) if generated else "")
    if key and not isinstance(key, str):
        raise ApiError(400, "key must be a string")
    entry = {k: v for k, v in body.items() if v is not None}
    if key:
        entry["key"] = key
    if hashed and key:
        entry.pop("key")
        entry["key-hash"] = bcrypt.hashpw(key.encode(), bcrypt.gensalt()).decode()
    entry = _checked(entry)
    new_id = _entry_id(entry)

    def edit(doc: ConfigDocument) -> None:
        entries = _entries(doc)
        if any(_entry_id(e) == new_id for e in entries) or (key and key in entries):
            raise ApiError(409, "this key is already in api-keys")
        doc.set([_KEYS, len(entries)], entry)

    await save(req, edit)
    out: dict[str, Any] = {"status": "ok", "id": new_id}
    if generated:
        out["key"] = key  # shown once: it is stored hashed, or only in the config file
    return Resp(200, out)


def _find(entries: list[Any], key_id: str) -> int:
    for i, entry in enumerate(entries):
        if _entry_id(entry) == key_id:
            return i
    raise ApiError(404, "no key in api-keys has this id")


async def patch_policy(req: Req) -> Resp:
    body = object_body(req)
    key_id = req.params["id"]

    def edit(doc: ConfigDocument) -> None:
        entries = _entries(doc)
        index = _find(entries, key_id)
        current = entries[index]
        entry: dict[str, Any] = {"key": current} if isinstance(current, str) else dict(current)
        for name, value in body.items():
            if value is None:
                entry.pop(name, None)
            else:
                entry[name] = value
        doc.set([_KEYS, index], _checked(entry))

    return await save(req, edit)


async def delete_policy(req: Req) -> Resp:
    key_id = req.params["id"]

    def edit(doc: ConfigDocument) -> None:
        doc.delete([_KEYS, _find(_entries(doc), key_id)])

    return await save(req, edit)


async def reset_policy(req: Req) -> Resp:
    rule = _rule(req, req.params["id"])
    await req.service.pool.state.key_reset(rule.id)
    return Resp(200, {"status": "ok"})


ROUTES: list[Route] = [
    Route("GET", "/api-keys/policies", list_policies),
    Route("POST", "/api-keys/policies", create_policy),
    Route("GET", "/api-keys/policies/{id}", get_policy),
    Route("PATCH", "/api-keys/policies/{id}", patch_policy),
    Route("DELETE", "/api-keys/policies/{id}", delete_policy),
    Route("POST", "/api-keys/policies/{id}/reset", reset_policy),
]

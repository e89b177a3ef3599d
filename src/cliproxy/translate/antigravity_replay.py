"""Antigravity reasoning replay: Gemini thought signatures a client could not carry, put
back on the parts they belong to (CPA ``internal/runtime/executor/antigravity_reasoning_replay.go``).

Gemini 3 signs its reasoning: the first function call of a model turn (and, at the end of
a turn, a text or thought part) carries a ``thoughtSignature`` that the next request must
send back on the same part. A Chat Completions client has no place for it, and a client
that drops it costs the model its line of thought (the validator-skip sentinel keeps the
request valid, nothing more). So the proxy keeps, per session, a chain of replay items:

* :class:`CallItem`: one ``functionCall`` part of a model turn (its name, id, arguments,
  signature, place);
* :class:`SignatureItem`: a signature on a text or thought part, with the fingerprint of
  that part's kind and text.

Each item knows the fingerprint of the request before its turn (the system instruction,
tools, tool config and every earlier content, signatures left out: :class:`History`), so
an item goes back only where the history that led to it is the same. :func:`restore`
puts a chain into a request: a call's signature on the matching call (found by call id,
else by its name and arguments, the n-th such call of its turn), a call the client left
out back before its answer, a text signature on the part whose own text is unchanged;
never onto a part whose content changed. :func:`items_of` reads the chain a request
already holds (recording builds on it: :mod:`cliproxy.translate.antigravity_replay_record`).

Requests here are Gemini request objects (``contents``...); nothing the client sent is
edited: a changed list, content or part is a new object.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import Any

import orjson

from cliproxy.errors import clip
from cliproxy.translate.claude.blocks import name_from_call_id

__all__ = [
    "BYPASS",
    "CallItem",
    "History",
    "Item",
    "SignatureItem",
    "canonical",
    "fingerprint",
    "items_of",
    "native_signature",
    "pairing_ok",
    "pairing_problem",
    "restore",
    "sign_first_calls",
]

BYPASS = "skip_thought_signature_validator"
_SIG_FIELDS = ("thoughtSignature", "thought_signature")
_HEAD = ("systemInstruction", "tools", "toolConfig")


@dataclass(frozen=True, slots=True)
class CallItem:
    """A model turn's ``functionCall`` part (CPA's ``function_call_part``): at
    ``contents[content].parts[part]``, the ``occurrence``-th call of its turn with this
    name and these arguments; ``args``: canonical JSON; ``context``: the fingerprint of
    the history before its turn."""

    content: int
    part: int
    occurrence: int | None
    name: str
    call_id: str
    args: str
    signature: str
    context: str

    def size(self) -> int:
        return (
            64 + len(self.name) + len(self.call_id) + len(self.args) + len(self.signature) + len(self.context)
        )


@dataclass(frozen=True, slots=True)
class SignatureItem:
    """A signature on a text or thought part (CPA's ``thought_signature``): ``kind`` and
    ``target`` are the part's kind and :func:`fingerprint` (empty for an old-style item
    placed by position only), ``occurrence`` the n-th part of that fingerprint in its turn."""

    content: int
    part: int
    signature: str
    kind: str
    target: str
    occurrence: int | None
    context: str

    def size(self) -> int:
        return 64 + len(self.signature) + len(self.target) + len(self.context)


Item = CallItem | SignatureItem


def canonical(value: Any) -> str:
    """A JSON value written one way whatever its key order (CPA's canonical replay JSON)."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def native_signature(part: dict[str, Any]) -> str:
    """The part's own Gemini signature ("" for none or the validator-skip sentinel)."""
    for key in _SIG_FIELDS:
        value = part.get(key)
        if type(value) is str and (value := value.strip()):
            return "" if value == BYPASS else value
    extra = part.get("extra_content")
    google = extra.get("google") if type(extra) is dict else None
    value = google.get("thought_signature") if type(google) is dict else None
    if type(value) is str and (value := value.strip()):
        return "" if value == BYPASS else value
    return ""


def _any_signature(part: dict[str, Any]) -> bool:
    if "thoughtSignature" in part or "thought_signature" in part:
        return True
    extra = part.get("extra_content")
    google = extra.get("google") if type(extra) is dict else None
    return type(google) is dict and "thought_signature" in google


def _unsigned(part: dict[str, Any]) -> dict[str, Any]:
    """``part`` without its signatures (a new dict; the part itself when it has none)."""
    if not _any_signature(part):
        return part
    out = {k: v for k, v in part.items() if k not in _SIG_FIELDS}
    extra = out.get("extra_content")
    if type(extra) is dict and type(extra.get("google")) is dict and "thought_signature" in extra["google"]:
        google = {k: v for k, v in extra["google"].items() if k != "thought_signature"}
        out["extra_content"] = {**extra, "google": google}
    return out


def fingerprint(part: Any) -> tuple[str, str]:
    """``(kind, sha256)`` of a text (``text``) or thought (``thought``) part; ``("", "")``
    for a call, a response or a part without text."""
    if type(part) is not dict or "functionCall" in part or "functionResponse" in part:
        return "", ""
    text = part.get("text")
    if type(text) is not str:
        return "", ""
    kind = "thought" if part.get("thought") is True else "text"
    return kind, hashlib.sha256(f"{kind}\x00{text}".encode()).hexdigest()


def _parts(content: Any) -> list[Any]:
    parts = content.get("parts") if type(content) is dict else None
    return parts if type(parts) is list else []


def _role(content: Any) -> str:
    role = content.get("role") if type(content) is dict else None
    return role.strip().lower() if type(role) is str else ""


def _call(part: Any) -> dict[str, Any] | None:
    call = part.get("functionCall") if type(part) is dict else None
    return call if type(call) is dict else None


def _text(value: Any) -> str:
    return value.strip() if type(value) is str else ""


def call_matches(call: dict[str, Any], item: CallItem) -> bool:
    """The call has the item's name and (canonically) its arguments."""
    return _text(call.get("name")) == item.name and "args" in call and canonical(call["args"]) == item.args


class History:
    """One request's ``contents`` looked up once: calls and responses by call id, and the
    fingerprints of its prefixes, each computed at first use (CPA's request index).
    ``head``: the request (its system instruction, tools and tool config count)."""

    __slots__ = ("_hash", "_wrote", "calls", "contents", "responses", "sums")

    def __init__(self, head: dict[str, Any], contents: list[Any]) -> None:
        self.contents = contents
        self.calls: dict[str, tuple[int, int]] = {}
        self.responses: dict[str, int] = {}
        for ci, content in enumerate(contents):
            for pi, part in enumerate(_parts(content)):
                if (call := _call(part)) is not None and (cid := _text(call.get("id"))):
                    self.calls.setdefault(cid, (ci, pi))
                response = part.get("functionResponse") if type(part) is dict else None
                if type(response) is dict and (cid := _text(response.get("id"))):
                    self.responses.setdefault(cid, ci)
        self._hash = hashlib.sha256()
        self._wrote = False
        for key in _HEAD:
            if key in head:
                self._write(f"request.{key}\x00{canonical(head[key])}\x00".encode())
        self.sums = [self._sum()]

    def _write(self, data: bytes) -> None:
        self._hash.update(data)
        self._wrote = True

    def _sum(self) -> str:
        return self._hash.hexdigest() if self._wrote else ""

    def context(self, before: int) -> str:
        """The fingerprint of everything before ``contents[before]`` ("" out of range)."""
        if before < 0 or before > len(self.contents):
            return ""
        while len(self.sums) <= before:
            content = self.contents[len(self.sums) - 1]
            self._write(_role(content).encode() + b"\x00")
            for part in _parts(content):
                self._write(canonical(_unsigned(part) if type(part) is dict else part).encode() + b"\x00")
            self.sums.append(self._sum())
        return self.sums[before]

    def context_matches(self, item: Item, content: int) -> bool:
        return not item.context or item.context == self.context(content)

    def pending_turn(self) -> tuple[int, int]:
        """Where the answer to this request goes: ``(content, first part)`` of a trailing
        model turn without responses (a prefill), else of a new content at the end."""
        if self.contents:
            last = self.contents[-1]
            parts = _parts(last)
            if _role(last) == "model" and not any(type(p) is dict and "functionResponse" in p for p in parts):
                return len(self.contents) - 1, len(parts)
        return len(self.contents), 0

    def locate_call(self, item: CallItem) -> tuple[int, int] | None:
        """The call ``item`` is, unchanged, in this history (CPA
        ``functionCallPartLocationForReplayWithSchemas``): by call id (its turn's history
        and its name and arguments must match), else the n-th matching call of its turn,
        else the one matching call anywhere its history matches."""
        if item.call_id and (found := self.calls.get(item.call_id)) is not None:
            ci, pi = found
            call = _call(_parts(self.contents[ci])[pi])
            ok = call is not None and self.context_matches(item, ci) and call_matches(call, item)
            return found if ok else None
        if item.occurrence is not None:
            ci = item.content
            if ci < 0 or ci >= len(self.contents) or not self.context_matches(item, ci):
                return None
            seen = 0
            for pi, part in enumerate(_parts(self.contents[ci])):
                call = _call(part)
                if call is None or not call_matches(call, item):
                    continue
                if seen == item.occurrence:
                    return ci, pi
                seen += 1
            return None
        matches = [
            (ci, pi)
            for ci, content in enumerate(self.contents)
            if self.context_matches(item, ci)
            for pi, part in enumerate(_parts(content))
            if (call := _call(part)) is not None and call_matches(call, item)
        ]
        return matches[0] if len(matches) == 1 else None

    def locate_signature(self, item: SignatureItem) -> tuple[int, int] | None:
        """The part a text signature belongs to (CPA ``thoughtSignaturePartIndex``): the
        one whose kind and text fingerprint are the item's (its n-th in the turn); an
        old-style item without a fingerprint, only where the turn's history matches."""
        ci = item.content
        if ci < 0 or ci >= len(self.contents) or _role(self.contents[ci]) != "model":
            return None
        parts = _parts(self.contents[ci])

        def fits(pi: int) -> bool:
            kind, fp = fingerprint(parts[pi])
            return fp == item.target and (not item.kind or kind == item.kind)

        if item.target:
            if item.occurrence is not None:
                seen = 0
                for pi in range(len(parts)):
                    if fits(pi):
                        if seen == item.occurrence:
                            return ci, pi
                        seen += 1
                return None
            if 0 <= item.part < len(parts) and fits(item.part):
                return ci, item.part
            return next(((ci, pi) for pi in range(len(parts)) if fits(pi)), None)
        if not self.context_matches(item, ci):
            return None
        if 0 <= item.part < len(parts) and fingerprint(parts[item.part])[0]:
            return ci, item.part
        # an old item may point at a streamed signature-only part: the last text of the turn
        return next(((ci, pi) for pi in range(len(parts) - 1, -1, -1) if fingerprint(parts[pi])[0]), None)


# --------------------------------------------------------------------------- reading a request


def items_of(history: History) -> list[Item]:
    """The replay items a request holds (CPA ``reasoningReplayItemsFromRequest``): every
    call of a model turn (signed or not: a later request may leave it out) and every
    other signature, on the text or thought part it belongs to (a signature-only part
    signs the part before it)."""
    items: list[Item] = []
    for ci, content in enumerate(history.contents):
        parts = _parts(content)
        if _role(content) != "model" or not parts:
            continue
        seen: dict[tuple[str, str], int] = {}
        for pi, part in enumerate(parts):
            if type(part) is not dict:
                continue
            sig = native_signature(part)
            if (call := _call(part)) is not None:
                item = call_item(ci, pi, seen, call, sig, history.context(ci))
                if item is not None:
                    items.append(item)
                continue
            if not sig:
                continue
            target = pi
            kind, fp = fingerprint(part)
            if not fp and pi > 0:
                target = pi - 1
                kind, fp = fingerprint(parts[target])
            if not fp:
                continue
            occurrence = sum(1 for p in parts[:target] if fingerprint(p) == (kind, fp))
            items.append(SignatureItem(ci, target, sig, kind, fp, occurrence, history.context(ci)))
    return items


def call_item(
    ci: int, pi: int, seen: dict[tuple[str, str], int], call: dict[str, Any], sig: str, context: str
) -> CallItem | None:
    """A :class:`CallItem` of ``call`` at ``(ci, pi)``, counting its occurrence in ``seen``
    (name and arguments -> calls so far); None without a name or arguments."""
    name = _text(call.get("name"))
    if not name or "args" not in call:
        return None
    args = canonical(call["args"])
    occurrence = seen.get((name, args), 0)
    seen[(name, args)] = occurrence + 1
    return CallItem(ci, pi, occurrence, name, _text(call.get("id")), args, sig, context)


# --------------------------------------------------------------------------- restoring


class _Writer:
    """The request's ``contents`` being restored into: copied on first write, and the
    :class:`History` made again after a change of structure."""

    __slots__ = ("contents", "head", "history", "owned")

    def __init__(self, head: dict[str, Any], history: History) -> None:
        self.head = head
        self.history = history
        self.contents = history.contents
        self.owned: set[int] | None = None  # contents already copied (None: the list itself not yet)

    def _own(self, ci: int) -> list[Any]:
        if self.owned is None:
            self.contents = list(self.contents)
            self.history.contents = self.contents
            self.owned = set()
        if ci not in self.owned:
            content = self.contents[ci]
            self.contents[ci] = {**content, "parts": list(_parts(content))}
            self.owned.add(ci)
        parts: list[Any] = self.contents[ci]["parts"]
        return parts

    def sign(self, ci: int, pi: int, signature: str) -> None:
        """``signature`` on part ``pi`` of content ``ci``, and off its other parts."""
        parts = self._own(ci)
        for j, part in enumerate(parts):
            if j != pi and type(part) is dict and native_signature(part) == signature:
                parts[j] = _unsigned(part)
        parts[pi] = {**_unsigned(parts[pi]), "thoughtSignature": signature}

    def append_call(self, ci: int, part: dict[str, Any]) -> None:
        self._own(ci).append(part)
        self._rebuild()

    def insert(self, at: int, content: dict[str, Any]) -> None:
        if self.owned is None:
            self.contents = list(self.contents)
            self.owned = set()
        self.contents.insert(at, content)
        self.owned = {i + 1 if i >= at else i for i in self.owned} | {at}
        self._rebuild()

    def name_responses(self, ci: int, call_id: str, name: str) -> None:
        """The responses of content ``ci`` to ``call_id`` take the put-back call's ``name``
        where theirs is a stand-in (CPA ``restoreAntigravityFunctionResponseReplayIdentity``):
        none, ``unknown``, or the one a Claude result without its call is given from its
        id (``native-call-1``: ``native``). A name of the client's own stays."""
        if ci >= len(self.contents):
            return
        for pi, part in enumerate(_parts(self.contents[ci])):
            response = part.get("functionResponse") if type(part) is dict else None
            if type(response) is not dict or _text(response.get("id")) != call_id:
                continue
            if _text(response.get("name")) not in ("", "unknown", name_from_call_id(call_id)):
                continue
            parts = self._own(ci)
            parts[pi] = {**part, "functionResponse": {**response, "name": name}}
            self._rebuild()

    def _rebuild(self) -> None:
        self.history = History(self.head, self.contents)


def restore(head: dict[str, Any], history: History, items: tuple[Item, ...]) -> list[Any] | None:
    """``history``'s contents with ``items`` put back, in order (CPA
    ``applyAntigravityReasoningReplayItems``); a new list, or None when nothing changed.
    ``head``: the request (for the fingerprint of its system instruction and tools)."""
    writer = _Writer(head, history)
    changed = False
    for item in items:
        if isinstance(item, SignatureItem):
            changed = _restore_signature(writer, item) or changed
        else:
            changed = _restore_call(writer, item) or changed
    return writer.contents if changed else None


def _restore_signature(writer: _Writer, item: SignatureItem) -> bool:
    found = writer.history.locate_signature(item)
    if found is None or len(item.signature) < MIN_SIGNATURE:
        return False
    ci, pi = found
    if native_signature(_parts(writer.contents[ci])[pi]):
        return False  # the client carried one: its own stays
    writer.sign(ci, pi, item.signature)
    return True


MIN_SIGNATURE = 16  # a text signature shorter than this is no Gemini signature (CPA)


def _restore_call(writer: _Writer, item: CallItem) -> bool:
    history = writer.history
    found = history.locate_call(item)
    if found is not None:
        ci, pi = found
        if not item.signature or native_signature(_parts(writer.contents[ci])[pi]):
            return False
        writer.sign(ci, pi, item.signature)
        return True
    if not item.call_id or item.call_id in history.calls:
        # without an id only an exact match is safe; a call the history holds under its
        # id but that no longer matches was changed by the client: nothing goes on it
        return False
    answered = history.responses.get(item.call_id)
    if answered is None:
        return False
    fc: dict[str, Any] = {"name": item.name, "id": item.call_id, "args": orjson.loads(item.args)}
    before = answered - 1
    if before >= 0 and _role(writer.contents[before]) == "model" and history.context_matches(item, before):
        # a parallel call of the turn just put back (or kept): it joins that turn
        first = not any(_call(p) is not None for p in _parts(writer.contents[before]))
        part: dict[str, Any] = {"functionCall": fc}
        if item.signature or first:
            part["thoughtSignature"] = item.signature or BYPASS
        writer.append_call(before, part)
        writer.name_responses(answered, item.call_id, item.name)
        return True
    if history.context_matches(item, answered):
        part = {"functionCall": fc, "thoughtSignature": item.signature or BYPASS}
        writer.insert(answered, {"role": "model", "parts": [part]})
        writer.name_responses(answered + 1, item.call_id, item.name)
        return True
    return False


def sign_first_calls(contents: list[Any]) -> list[Any] | None:
    """Contents whose model turns' first call carries a signature (the bypass sentinel
    where replay left it unsigned: Gemini refuses an unsigned first call; CPA
    ``antigravityRepairUnsignedFirstFunctionCalls``); a new list, or None when all do."""
    out: list[Any] | None = None
    for ci, content in enumerate(contents):
        if _role(content) != "model":
            continue
        parts = _parts(content)
        for pi, part in enumerate(parts):
            if _call(part) is None:
                continue
            if not native_signature(part) and not _bypassed(part):
                new_parts = list(parts)
                new_parts[pi] = {**_unsigned(part), "thoughtSignature": BYPASS}
                out = out if out is not None else list(contents)
                out[ci] = {**content, "parts": new_parts}
            break
    return out


def _bypassed(part: dict[str, Any]) -> bool:
    return any(part.get(key) == BYPASS for key in _SIG_FIELDS)


def pairing_ok(contents: list[Any]) -> bool:
    """Each turn of calls is answered by the next content, one response per call, in
    order, with the call's id and name (:func:`pairing_problem` finds nothing)."""
    return pairing_problem(contents) is None


def pairing_problem(contents: list[Any]) -> str | None:
    """What breaks the pairing of calls and responses in ``contents``, or None (the rules
    of CPA's ``ValidateGeminiFunctionCallPairing``, which the upstream enforces too): a
    call has a name; a turn of calls is answered by the next content, one response per
    call in order, each with its call's id (when the call has one) and name; no turn
    mixes calls and responses. A last turn of calls may await its answers."""
    pending: list[tuple[str, str]] = []
    for ci, content in enumerate(contents):
        calls: list[tuple[str, str]] = []
        responses: list[dict[str, Any]] = []
        for part in _parts(content):
            if (call := _call(part)) is not None:
                if not _text(call.get("name")):
                    return f"contents[{ci}]: a functionCall without a name"
                calls.append((_text(call.get("id")), _text(call.get("name"))))
            response = part.get("functionResponse") if type(part) is dict else None
            if type(response) is dict:
                responses.append(response)
        if calls:
            if responses:
                return f"contents[{ci}]: functionCall and functionResponse parts in one turn"
            if pending:
                return f"contents[{ci}]: a functionCall before the {len(pending)} pending functionResponse(s)"
            pending = calls
            continue
        if not responses:
            if pending:
                return f"contents[{ci}]: a turn before the {len(pending)} pending functionResponse(s)"
            continue
        if not pending:
            return f"contents[{ci}]: a functionResponse without a functionCall before it"
        if len(responses) != len(pending):
            return f"contents[{ci}]: {len(responses)} functionResponse(s) for {len(pending)} functionCall(s)"
        for (cid, name), response in zip(pending, responses, strict=True):
            rid, rname = _text(response.get("id")), _text(response.get("name"))
            if cid and rid != cid:
                return f"contents[{ci}]: functionResponse id {clip(rid, 64)!r} answers functionCall {clip(cid, 64)!r}"
            if not rname:
                return f"contents[{ci}]: a functionResponse without a name"
            if name and rname != name:
                return (
                    f"contents[{ci}]: functionResponse name {clip(rname, 64)!r}"
                    f" answers functionCall {clip(name, 64)!r}"
                )
        pending = []
    return None


def with_signature(item: CallItem, signature: str) -> CallItem:
    """``item`` signed (a detached signature that followed its call)."""
    return replace(item, signature=signature)

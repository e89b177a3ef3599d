"""Tool names of a cloaked Claude request: opaque MCP aliases out, the caller's names back.

A Claude subscription token is meant for Claude Code, whose own tools have fixed names and
whose extension tools are MCP tools named ``mcp__<server>__<tool>``. A cloaked request
(one from any other client) therefore sends each custom tool under an alias of that
shape, as CPA does:

    mcp__<word>_<word>__<word>_<semantic>

The server part is two BIP-39 words derived from the caller's secret (its API key), so
one caller's tools share one virtual server and keep their aliases across requests,
credentials and restarts (prompt caching sees the same tool list). The tool word comes
from the caller's secret and the tool's name (HMAC-SHA256, CPA's derivation, so a CPA
user switching keeps the same aliases); the semantic part is the tool's name with every
character outside ``[A-Za-z0-9_-]`` turned into ``_``, cut to keep the alias within
Anthropic's 64 characters. A collision probes the next word.

What is renamed: custom ``tools[].name`` (a ``type`` other than a server tool's is
dropped, as CPA does), ``tool_choice.name`` and, in the history, ``tool_use.name`` and
``tool_reference.tool_name`` (also inside ``tool_result`` and
``tool_search_tool_result``) of declared tools. Never renamed: Anthropic server tools
(``web_search_20250305``...), names that already are valid MCP names (the caller's own
MCP tools), history names of tools not declared in this request.

The answer comes back through :class:`ToolNames`: exact aliases are mapped back; a name
in this caller's virtual server that a model garbled (server repeated, tool word
changed, extra word) is recovered when only one declared tool fits, and refused
(:class:`~cliproxy.providers.base.RewriteError`, 502) when none or several do, so a
client never runs the wrong tool. Everything is request-local: the reverse map is built
from this request's tools, never shared between callers.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, NamedTuple

import orjson

from cliproxy.errors import clip
from cliproxy.providers.base import RewriteError
from cliproxy.providers.claude_words import WORDS

__all__ = [
    "DEFAULT_SEED",
    "ToolNames",
    "alias_tools",
    "allocate_alias",
    "caller_seed",
    "drop_empty_search_domains",
    "is_mcp_tool_name",
    "is_server_tool_type",
    "tool_alias",
]

log = logging.getLogger(__name__)

DEFAULT_SEED = "cpa-claude-mcp-default-caller"  # a caller without a key (open proxy)
MAX_NAME = 64  # Anthropic's limit on a tool name
_NAME = re.compile(r"[A-Za-z0-9_-]+")
_ALPHABET = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
_DOMAIN = b"cpa-claude-mcp-alias-v2\x00"
_KEY_HEADERS = ("authorization", "x-api-key", "x-goog-api-key")
# names of Anthropic's built-in tools: never taken by an alias
_BUILTINS = frozenset({"web_search", "code_execution", "text_editor", "computer"})
_SERVER_TYPES = (
    "advisor_",
    "agent_toolset_",
    "bash_",
    "code_execution_",
    "computer_",
    "memory_",
    "text_editor_",
    "tool_search_tool_",
    "web_fetch_",
    "web_search_",
)


def is_mcp_tool_name(name: str) -> bool:
    """``name`` is ``mcp__<server>__<tool>`` in Anthropic's tool-name alphabet, <= 64 chars."""
    if not name.startswith("mcp__") or len(name) > MAX_NAME:
        return False
    sep = name.find("__", 5)
    return sep > 5 and sep + 2 < len(name) and _NAME.fullmatch(name) is not None


def is_server_tool_type(kind: Any) -> bool:
    """A typed declaration Anthropic runs itself (``web_search_20250305``...); a
    ``custom`` tool is the client's and is aliased like an untyped one."""
    return isinstance(kind, str) and kind.strip().lower().startswith(_SERVER_TYPES)


_DOMAIN_LISTS = ("allowed_domains", "blocked_domains")


def drop_empty_search_domains(body: dict[str, Any]) -> None:
    """Leave out an empty ``allowed_domains`` / ``blocked_domains`` of a ``web_search_*``
    tool (CPA's ``sanitizeClaudeWebSearchDomains``): some clients (litellm) send ``[]`` for
    "no list", which Anthropic refuses as ambiguous. The changed tools are copies; the
    client's own list and tools are left as they are."""
    tools = body.get("tools")
    if type(tools) is not list:
        return
    out: list[Any] | None = None
    for i, tool in enumerate(tools):
        if type(tool) is not dict or "type" not in tool:  # (a client's own tool: no type)
            continue
        kind = tool["type"]
        if not (isinstance(kind, str) and kind.startswith("web_search_")):
            continue
        if tool.get("allowed_domains") == [] or tool.get("blocked_domains") == []:
            if out is None:
                out = list(tools)
            out[i] = {k: v for k, v in tool.items() if k not in _DOMAIN_LISTS or v != []}
    if out is not None:
        body["tools"] = out


def caller_seed(headers: Mapping[str, str]) -> str:
    """The caller's secret the aliases derive from: the key it sent the proxy
    (``Authorization`` bearer, ``x-api-key``, ``x-goog-api-key``), else a fixed seed."""
    found: dict[str, str] = {}
    for name in _KEY_HEADERS:
        value = headers.get(name)
        if value:
            found[name] = value
    if not found:  # a plain dict with other spellings: one pass over it
        found = {k.lower(): v for k, v in headers.items() if k.lower() in _KEY_HEADERS and v}
    auth = found.get("authorization", "").strip()
    if auth[:7].lower() == "bearer ":
        auth = auth[7:].strip()
    for value in (auth, found.get("x-api-key", ""), found.get("x-goog-api-key", "")):
        if value.strip():
            return value.strip()
    return DEFAULT_SEED


# ---------------------------------------------------------------------- aliases


def _digest(secret: str, purpose: bytes, original: str) -> bytes:
    msg = _DOMAIN + purpose + b"\x00" + original.encode()
    return hmac.new(secret.encode(), msg, hashlib.sha256).digest()


@lru_cache(maxsize=256)
def _server(secret: str) -> str:
    d = _digest(secret, b"server", "")
    n = len(WORDS)
    return WORDS[int.from_bytes(d[0:2], "big") % n] + "_" + WORDS[int.from_bytes(d[2:4], "big") % n]


# the memos keep their keys: a longer name (a client's, of any size) is worked out each
# time instead of held, 8,192 at a time, and a tool list holding one is not kept either
_MEMO_NAME = 256


def _base(secret: str, original: str) -> int:
    return (_base_memo if len(original) <= _MEMO_NAME else _base_memo.__wrapped__)(secret, original)


@lru_cache(maxsize=8192)
def _base_memo(secret: str, original: str) -> int:
    return int.from_bytes(_digest(secret, b"tool", original)[0:2], "big")


def _semantic(original: str, limit: int) -> str:
    """``original`` in the alias alphabet, at most ``limit`` chars: each run of other
    characters becomes one ``_`` (dropped where no character follows it in the budget)."""
    out: list[str] = []
    size = 0
    pending = False
    for char in original:
        if char not in _ALPHABET:
            pending = size > 0
            continue
        if pending and size + 1 < limit:
            out.append("_")
            size += 1
        pending = False
        if size >= limit:
            break
        out.append(char)
        size += 1
    return "".join(out).strip("_-") or "tool"


def _alias(server: str, word: str, original: str) -> str:
    return (_alias_memo if len(original) <= _MEMO_NAME else _alias_memo.__wrapped__)(server, word, original)


@lru_cache(maxsize=8192)
def _alias_memo(server: str, word: str, original: str) -> str:
    prefix = f"mcp__{server}__{word}_"
    return prefix + _semantic(original, max(1, MAX_NAME - len(prefix)))


def tool_alias(secret: str, original: str, attempt: int = 0) -> str:
    """The alias of ``original`` for the caller ``secret``; ``attempt`` n probes the n-th
    next word (a collision)."""
    word = WORDS[(_base(secret, original) + attempt) % len(WORDS)]
    return _alias(_server(secret), word, original)


def allocate_alias(secret: str, original: str, reserved: set[str] | frozenset[str]) -> str | None:
    """The first alias of ``original`` not in ``reserved``; ``None`` once every word is taken."""
    server = _server(secret)
    base = _base(secret, original)
    n = len(WORDS)
    for attempt in range(n):
        alias = _alias(server, WORDS[(base + attempt) % n], original)
        if alias not in reserved:
            return alias
    return None


# ---------------------------------------------------------------------- the request


def alias_tools(body: dict[str, Any], *, seed: str) -> ToolNames | None:
    """Rename the custom tools of ``body`` (a Claude Messages request) to aliases of the
    caller ``seed``; the names to map the answer back, or ``None`` when nothing changed.

    ``body`` itself is changed, but only by replacing its ``tools``, ``tool_choice`` and
    ``messages`` values: the lists and objects inside may be shared with the client's
    request and are copied only where a name changes (the path to it)."""
    tools = body.get("tools")
    if not isinstance(tools, list) or not tools:
        return None
    key = _tools_key(seed, tools)
    found = _ALIASES.get(key) if key is not None else None
    if found is None:
        found = _aliases(seed, tools)
        # weighed: many short names hold as much as one long one (a heavy list is not kept)
        weight = 8 * len(key) + sum(len(k) for k in key if k) + MAX_NAME * len(found[0]) if key else 0
        if key is not None and weight <= _ALIASES_CHARS >> 4:
            if len(_ALIASES) >= _ALIASES_KEPT or _HELD[0] + weight > _ALIASES_CHARS:
                _ALIASES.clear()
                _HELD[0] = 0
            _ALIASES[key] = found
            _HELD[0] += weight
    forward, protected, own_mcp = found
    if not forward:
        return None
    renamer = _Renamer(forward, protected)
    # the caller's own MCP tools map to themselves: never taken for a garbled alias
    for name in own_mcp:
        renamer.reverse.setdefault(name, name)
    body["tools"] = [renamer.tool(t) for t in tools]
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and choice.get("type") == "tool":
        new = renamer.rename(choice.get("name"))
        if new is not None:
            body["tool_choice"] = {**choice, "name": new}
    messages = body.get("messages")
    if isinstance(messages, list):
        changed = renamer.messages(messages)
        if changed is not None:
            body["messages"] = changed
    return ToolNames(renamer.reverse)


# the content parts :meth:`_Renamer._part` may rename in (a tuple: a type that is not a
# string compares unequal, where a set would fail to hash it)
_NAMING_PARTS = ("tool_use", "tool_result", "tool_reference", "tool_search_tool_result")


def _aliases(seed: str, tools: list[Any]) -> tuple[dict[str, str], frozenset[str], tuple[str, ...]]:
    """``(forward, protected, own_mcp)`` for ``tools``: each custom tool's alias, the names of
    Anthropic's own tools (never renamed), the caller's own MCP-named tools."""
    reserved = set(_BUILTINS)
    protected: set[str] = set()
    for tool in tools:
        if isinstance(tool, dict) and isinstance(name := tool.get("name"), str) and name:
            reserved.add(name)
            if is_server_tool_type(tool.get("type")):
                protected.add(name)
    forward: dict[str, str] = {}
    own_mcp: list[str] = []
    for tool in tools:
        if not isinstance(tool, dict) or is_server_tool_type(tool.get("type")):
            continue
        name = tool.get("name")
        if not isinstance(name, str) or not name or name in forward:
            continue
        if is_mcp_tool_name(name):
            own_mcp.append(name)
            continue
        alias = allocate_alias(seed, name, reserved)
        if alias is None:
            log.warning("no free tool alias left for %r: sent under its own name", clip(name, 80))
            continue
        forward[name] = alias
        reserved.add(alias)
    return forward, frozenset(protected), tuple(own_mcp)


# (seed, the tools' names and types) -> _aliases(): a client sends the same tools with every
# request of a session, and an alias costs an HMAC. Keyed by the caller's seed: never shared.
_ALIASES: dict[tuple[Any, ...], tuple[dict[str, str], frozenset[str], tuple[str, ...]]] = {}
_ALIASES_KEPT = 1024
_ALIASES_CHARS = 4 << 20  # what the kept lists may weigh in all (names, types, aliases)
_HELD = [0]


def _tools_key(seed: str, tools: list[Any]) -> tuple[Any, ...] | None:
    """What :func:`_aliases` reads of ``tools``, as a key; ``None`` for a declaration whose
    name or type is not a string (not kept: left to the upstream to refuse) or whose name
    is longer than ``_MEMO_NAME``."""
    key: list[Any] = [seed]
    for tool in tools:
        if type(tool) is not dict:
            key.append(None)
            continue
        name, kind = tool.get("name"), tool.get("type")
        if not (type(name) is str or name is None) or not (type(kind) is str or kind is None):
            return None
        if name is not None and len(name) > _MEMO_NAME:
            return None
        key.append(name)
        key.append(kind)
    return tuple(key)


class _Renamer:
    """One request's forward map, applied copy-on-write; records what it renamed."""

    __slots__ = ("forward", "protected", "reverse")

    def __init__(self, forward: dict[str, str], protected: frozenset[str]) -> None:
        self.forward = forward
        self.protected = protected
        self.reverse: dict[str, str] = {}

    def rename(self, name: Any) -> str | None:
        if not isinstance(name, str) or name in self.protected:
            return None
        new = self.forward.get(name)
        if new is not None:
            self.reverse.setdefault(new, name)
        return new

    def tool(self, tool: Any) -> Any:
        if not isinstance(tool, dict) or is_server_tool_type(kind := tool.get("type")):
            return tool
        out = tool
        if isinstance(kind, str) and kind.strip():  # "custom": plain tools in Claude Code's shape
            out = {k: v for k, v in tool.items() if k != "type"}
        new = self.rename(tool.get("name"))
        if new is not None:
            out = {**out, "name": new}
        return out

    def messages(self, messages: list[Any]) -> list[Any] | None:
        out: list[Any] | None = None
        for i, msg in enumerate(messages):
            content = msg.get("content") if isinstance(msg, dict) else None
            if not isinstance(content, list):
                continue
            parts: list[Any] | None = None  # a copy from the first part renamed
            for j, part in enumerate(content):
                # text, thinking, images (most parts) name no tool: passed over without a call
                if not isinstance(part, dict) or part.get("type") not in _NAMING_PARTS:
                    continue
                new = self._part(part)
                if new is not None:
                    if parts is None:
                        parts = list(content)
                    parts[j] = new
            if parts is not None:
                if out is None:
                    out = list(messages)
                out[i] = {**msg, "content": parts}
        return out

    def _part(self, part: dict[str, Any]) -> dict[str, Any] | None:
        kind = part.get("type")
        if kind == "tool_use":
            new = self.rename(part.get("name"))
            return None if new is None else {**part, "name": new}
        if kind == "tool_reference":
            new = self.rename(part.get("tool_name"))
            return None if new is None else {**part, "tool_name": new}
        if kind == "tool_result":
            nested = part.get("content")
            refs = self._refs(nested) if isinstance(nested, list) else None
            return None if refs is None else {**part, "content": refs}
        if kind == "tool_search_tool_result":
            result = part.get("content")
            found = result.get("tool_references") if isinstance(result, dict) else None
            refs = self._refs(found) if isinstance(found, list) else None
            if refs is None:
                return None
            assert isinstance(result, dict)
            return {**part, "content": {**result, "tool_references": refs}}
        return None

    def _refs(self, items: list[Any]) -> list[Any] | None:
        out: list[Any] | None = None
        for k, item in enumerate(items):
            if isinstance(item, dict) and item.get("type") == "tool_reference":
                new = self.rename(item.get("tool_name"))
                if new is not None:
                    if out is None:
                        out = list(items)
                    out[k] = {**item, "tool_name": new}
        return out


# ---------------------------------------------------------------------- the answer


class _Entry(NamedTuple):
    alias: str
    original: str
    server: str
    word: str
    semantic: str


@lru_cache(maxsize=4096)
def _parts_of(name: str) -> tuple[str, str, str] | None:
    """(server, tool word, semantic) of an alias-shaped MCP name."""
    if not is_mcp_tool_name(name):
        return None
    server, _, tool = name[5:].partition("__")
    word, _, semantic = tool.partition("_")
    if not server or not word or not semantic:
        return None
    return server, word, semantic


def _server_of(name: str) -> str:
    if not name.startswith("mcp__"):
        return ""
    server, sep, _ = name[5:].partition("__")
    return server if sep else ""


class ToolNames:
    """The aliases one request sent, and how to map the answer's names back.

    ``restore_body`` takes a whole Messages answer, ``restore_lines`` complete SSE lines
    of a streamed one (the tool's name arrives in ``content_block_start``); both return
    their input unchanged (the same object) when no name needed restoring."""

    __slots__ = ("entries", "exact", "servers")

    def __init__(self, reverse: dict[str, str]) -> None:
        self.exact = reverse  # alias -> original (a caller's own MCP name -> itself)
        self.entries: list[_Entry] = []
        self.servers: set[str] = set()
        for alias, original in reverse.items():
            parts = _parts_of(alias) if alias != original else None
            if parts is not None:
                self.entries.append(_Entry(alias, original, *parts))
                self.servers.add(parts[0])

    @property
    def reverse(self) -> dict[str, str]:
        return self.exact

    def resolve(self, name: str) -> str | None:
        """The caller's name for ``name``, or ``None`` to leave it as it is."""
        original = self.exact.get(name)
        if original is not None:
            return None if original == name else original
        server = _server_of(name)
        if server not in self.servers:
            return None  # not ours: a built-in tool or the caller's own MCP tool
        prefix = f"mcp__{server}__"
        normalized = name
        rest = name[len(prefix) :]
        while rest.startswith(server + "__"):  # a model that repeated the server part
            rest = rest[len(server) + 2 :]
            normalized = prefix + rest
            original = self.exact.get(normalized)
            if original is not None:
                return original
        found = [e for e in self.entries if e.server == server and name.endswith(e.alias)]
        if len(found) > 1:
            raise _unresolved(name, "it matches several declared tools")
        if not found:
            parts = _parts_of(normalized)
            if parts is not None:
                found = [e for e in self.entries if e.server == parts[0] and e.semantic == parts[2]]
            if not found:
                found = self._by_suffix(server, normalized)
                if len(found) == 1:
                    log.debug("restored drifted tool alias %r as %r", clip(name, 80), found[0].original)
            if len(found) > 1:
                raise _unresolved(name, "its name part matches several declared tools")
        if not found:
            raise _unresolved(name, "it matches no tool of this request")
        return found[0].original

    def _by_suffix(self, server: str, name: str) -> list[_Entry]:
        found = [e for e in self.entries if e.server == server and name.endswith("_" + e.semantic)]
        if len(found) < 2:
            return found
        longest = max(len(e.semantic) for e in found)
        best = [e for e in found if len(e.semantic) == longest]
        return best if len(best) == 1 else found

    # -- whole answers

    def restore_body(self, data: bytes) -> bytes:
        if data.find(b"tool_") < 0:
            return data
        try:
            message = orjson.loads(data)
        except orjson.JSONDecodeError:
            return data  # not ours to judge: the reply path reports a broken body
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, list):
            return data
        changed = False
        for block in content:
            if isinstance(block, dict) and self._restore_block(block):
                changed = True
        return orjson.dumps(message) if changed else data

    def _restore_block(self, block: dict[str, Any]) -> bool:
        """Restore the names in one content block, in place (a parsed answer of ours)."""
        kind = block.get("type")
        if kind == "tool_use":
            return self._restore_field(block, "name")
        if kind == "tool_reference":
            return self._restore_field(block, "tool_name")
        refs: Any = None
        if kind == "tool_result":
            refs = block.get("content")
        elif kind == "tool_search_tool_result":
            result = block.get("content")
            refs = result.get("tool_references") if isinstance(result, dict) else None
        changed = False
        if isinstance(refs, list):
            for ref in refs:
                if isinstance(ref, dict) and ref.get("type") == "tool_reference":
                    changed = self._restore_field(ref, "tool_name") or changed
        return changed

    def _restore_field(self, obj: dict[str, Any], key: str) -> bool:
        name = obj.get(key)
        if not isinstance(name, str):
            return False
        original = self.resolve(name)
        if original is None or original == name:
            return False
        obj[key] = original
        return True

    # -- streams

    def restore_lines(self, lines: bytes) -> bytes:
        """Complete SSE lines of a Claude stream with the tool names restored; only a
        ``data:`` line of a ``content_block_start`` event is ever parsed."""
        if lines.find(b"content_block_start") < 0:
            return lines
        out = lines.splitlines(keepends=True)
        changed = False
        for i, line in enumerate(out):
            if line.startswith(b"data:") and line.find(b"content_block_start") >= 0:
                new = self._restore_data_line(line)
                if new is not line:
                    out[i] = new
                    changed = True
        return b"".join(out) if changed else lines

    def _restore_data_line(self, line: bytes) -> bytes:
        payload = line[5:].strip()
        try:
            event = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return line
        block = event.get("content_block") if isinstance(event, dict) else None
        if not isinstance(block, dict) or not self._restore_block(block):
            return line
        ending = line[len(line.rstrip(b"\r\n")) :]
        return b"data: " + orjson.dumps(event) + ending


def _unresolved(name: str, why: str) -> RewriteError:
    return RewriteError(
        f"the model called tool {clip(name, 100)!r}, which cannot be mapped back to a tool "
        f"of this request: {why}",
        status=502,
    )

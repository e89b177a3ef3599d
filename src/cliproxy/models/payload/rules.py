"""``payload:`` rules, compiled once per config and applied to every upstream body.

Order (CPA's): ``default`` (set a path only when the original body lacks it; the first
matching rule wins per path), ``default-raw`` (same, value given as JSON text),
``override`` (always set; the last matching rule wins), ``override-raw``, ``filter``
(delete paths). A rule applies when one of its ``models[]`` entries matches: ``name``
glob (``*``) against the upstream model, the requested model without its thinking
suffix, or the requested model with it; ``protocol`` (target), ``from-protocol``
(client), ``headers`` globs, and ``match`` / ``not-match`` / ``exist`` / ``not-exist``
predicates on the body being built.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import orjson

from cliproxy.models.thinking.suffix import split_model_suffix

from . import paths
from .paths import MISSING, Path

# isinstance tuples made once (``A | B`` in a test builds a union each time it runs)
_NODES = (dict, list)
_TEXTS = (str, bytes)
_NUMBERS = (int, float)

if TYPE_CHECKING:
    from cliproxy.config.payload import PayloadConfig, PayloadModelRule

__all__ = ["PayloadRules", "glob_match"]


@lru_cache(maxsize=1024)
def _glob(pattern: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(piece) for piece in pattern.split("*")), re.DOTALL)


def glob_match(pattern: str, value: str) -> bool:
    """CPA's wildcard match: ``*`` is any run of characters, everything else literal."""
    pattern, value = pattern.strip(), value.strip()
    if not pattern:
        return False
    return pattern == "*" or _glob(pattern).fullmatch(value) is not None


def _from_protocol(name: str) -> str:
    name = name.strip().lower()
    return "responses" if name in ("openai-response", "openai-responses", "response") else name


@dataclass(frozen=True, slots=True)
class _Value:
    """A param value; containers are kept as JSON so every body gets its own copy."""

    scalar: Any = None
    encoded: bytes | None = None

    @classmethod
    def of(cls, value: Any) -> _Value:
        if isinstance(value, _NODES):
            return cls(encoded=orjson.dumps(value))
        return cls(scalar=value)

    @classmethod
    def raw(cls, value: Any) -> _Value | None:
        if value is None:
            return None
        if not isinstance(value, _TEXTS):
            return cls.of(value)
        try:
            return cls.of(orjson.loads(value))
        except orjson.JSONDecodeError:
            return None

    def fresh(self) -> Any:
        return orjson.loads(self.encoded) if self.encoded is not None else self.scalar


@dataclass(frozen=True, slots=True)
class _Matcher:
    """One ``models[]`` entry."""

    name: str
    protocol: str
    from_protocol: str
    headers: tuple[tuple[str, str], ...]
    match: tuple[tuple[Path, Any], ...]
    not_match: tuple[tuple[Path, Any], ...]
    exist: tuple[Path, ...]
    not_exist: tuple[Path, ...]

    @classmethod
    def build(cls, entry: PayloadModelRule) -> _Matcher:
        return cls(
            name=entry.name.strip(),
            protocol=entry.protocol.strip().lower(),
            from_protocol=_from_protocol(entry.from_protocol),
            headers=tuple((k.strip(), v) for k, v in entry.headers.items() if k.strip()),
            match=_conditions(entry.match),
            not_match=_conditions(entry.not_match),
            exist=tuple(paths.parse(p.strip()) for p in entry.exist if p.strip()),
            not_exist=tuple(paths.parse(p.strip()) for p in entry.not_exist if p.strip()),
        )


def _conditions(items: Iterable[Mapping[str, Any]]) -> tuple[tuple[Path, Any], ...]:
    return tuple((paths.parse(k.strip()), v) for item in items for k, v in item.items() if k.strip())


@dataclass(frozen=True, slots=True)
class _Rule:
    matchers: tuple[_Matcher, ...]
    params: tuple[tuple[Path, _Value | None], ...]


def _rules(section: Iterable[Any], kind: str = "value") -> tuple[_Rule, ...]:
    """Compile one section; ``kind`` is ``value``, ``raw`` (JSON text) or ``filter``."""
    out: list[_Rule] = []
    for rule in section:
        params: tuple[tuple[Path, _Value | None], ...]
        if kind == "filter":
            params = tuple((paths.parse(p.strip()), None) for p in rule.params if p.strip())
        else:
            encode = _Value.raw if kind == "raw" else _Value.of
            params = tuple((paths.parse(p.strip()), encode(v)) for p, v in rule.params.items() if p.strip())
        out.append(_Rule(tuple(_Matcher.build(m) for m in rule.models), params))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class _Request:
    """What a matcher looks at besides the body."""

    candidates: tuple[str, ...]
    protocol: str
    from_protocol: str
    headers: Mapping[str, str]
    root: Path


class PayloadRules:
    """The compiled ``payload:`` section. Build with :meth:`from_config` on each reload."""

    __slots__ = ("default", "default_raw", "filter", "override", "override_raw")

    def __init__(
        self,
        default: tuple[_Rule, ...] = (),
        default_raw: tuple[_Rule, ...] = (),
        override: tuple[_Rule, ...] = (),
        override_raw: tuple[_Rule, ...] = (),
        filter: tuple[_Rule, ...] = (),
    ) -> None:
        self.default = default
        self.default_raw = default_raw
        self.override = override
        self.override_raw = override_raw
        self.filter = filter

    @classmethod
    def from_config(cls, cfg: PayloadConfig | None) -> PayloadRules:
        """Compile a ``PayloadConfig`` (``None`` gives no rules)."""
        if cfg is None:
            return cls()
        return cls(
            _rules(cfg.default),
            _rules(cfg.default_raw, "raw"),
            _rules(cfg.override),
            _rules(cfg.override_raw, "raw"),
            _rules(cfg.filter, "filter"),
        )

    def __bool__(self) -> bool:
        return bool(self.default or self.default_raw or self.override or self.override_raw or self.filter)

    def apply(
        self,
        body: dict[str, Any],
        *,
        model: str,
        requested_model: str,
        protocol: str,
        from_protocol: str,
        headers: Mapping[str, str],
        original: Mapping[str, Any] | None = None,
        root: str = "",
        tracked: Path = (),
    ) -> bool:
        """Apply every rule to ``body`` in place; whether a rule set or removed ``tracked``
        (a parsed path, ``()``: none) or a path inside it (CPA's
        ``ApplyPayloadConfigWithRequestTracked``: the member is the rules' then, not the
        provider's to add).

        ``model`` is the upstream model, ``requested_model`` what the client asked for
        (alias, maybe with a thinking suffix); ``protocol`` the target protocol id and
        ``from_protocol`` the client's. ``original`` is the translated body before thinking
        was applied, against which ``default`` checks a path is missing (``body`` itself
        when not given). ``root`` prefixes every path (``"request"`` for wrapped bodies).
        """
        if not self:
            return False
        candidates = _candidates(model, requested_model)
        if not candidates:
            return False
        req = _Request(
            candidates,
            protocol.strip().lower(),
            _from_protocol(from_protocol),
            headers,
            paths.parse(root) if root.strip() else (),
        )
        source = body if original is None else original
        done: set[Path] = set()
        touched: list[Path] = []
        for section in (self.default, self.default_raw):
            self._defaults(section, body, source, req, done)
        for section in (self.override, self.override_raw):
            self._overrides(section, body, req, touched)
        self._filters(body, req, touched)
        if not tracked:
            return False
        size = len(tracked)
        return any(path[:size] == tracked for path in (*done, *touched))

    def _defaults(
        self, rules: tuple[_Rule, ...], body: dict[str, Any], source: Any, req: _Request, done: set[Path]
    ) -> None:
        for rule in rules:
            if not _rule_matches(rule, body, req):
                continue
            for path, value in rule.params:
                if value is None:
                    continue
                for target in paths.resolve(body, req.root + path):
                    if target in done or paths.get(source, target) is not MISSING:
                        continue
                    if paths.set_value(body, target, value.fresh()):
                        done.add(target)

    def _overrides(
        self, rules: tuple[_Rule, ...], body: dict[str, Any], req: _Request, touched: list[Path]
    ) -> None:
        for rule in rules:
            if not _rule_matches(rule, body, req):
                continue
            for path, value in rule.params:
                if value is None:
                    continue
                for target in paths.resolve(body, req.root + path):
                    if paths.set_value(body, target, value.fresh()):
                        touched.append(target)

    def _filters(self, body: dict[str, Any], req: _Request, touched: list[Path]) -> None:
        for rule in self.filter:
            if not _rule_matches(rule, body, req):
                continue
            for path, _ in rule.params:
                # Last first, so deleting one array element does not shift the others.
                for target in reversed(paths.resolve(body, req.root + path)):
                    paths.delete(body, target)
                    touched.append(target)


def _candidates(model: str, requested: str) -> tuple[str, ...]:
    out: list[str] = []
    seen: set[str] = set()
    base, suffix = split_model_suffix(requested.strip())
    for name in (model, base, requested if suffix is not None else ""):
        name = name.strip()
        if name and name.lower() not in seen:
            seen.add(name.lower())
            out.append(name)
    return tuple(out)


def _rule_matches(rule: _Rule, body: dict[str, Any], req: _Request) -> bool:
    return any(_matcher_matches(m, model, body, req) for model in req.candidates for m in rule.matchers)


def _matcher_matches(m: _Matcher, model: str, body: dict[str, Any], req: _Request) -> bool:
    if not m.name:
        return False
    if m.protocol and req.protocol and m.protocol != req.protocol:
        return False
    if m.from_protocol and m.from_protocol != req.from_protocol:
        return False
    if not _headers_match(m.headers, req.headers) or not glob_match(m.name, model):
        return False
    return _conditions_hold(m, body, req.root)


def _headers_match(wanted: tuple[tuple[str, str], ...], headers: Mapping[str, str]) -> bool:
    for key, pattern in wanted:
        values = _header_values(headers, key)
        if not any(glob_match(pattern, value) for value in values):
            return False
    return True


def _header_values(headers: Mapping[str, str], key: str) -> list[str]:
    getall = getattr(headers, "getall", None)
    if getall is not None:
        return list(getall(key, ()))
    lowered = key.lower()
    return [v for k, v in headers.items() if k.lower() == lowered]


def _conditions_hold(m: _Matcher, body: dict[str, Any], root: Path) -> bool:
    return (
        all(_value_at(body, root + p, v) for p, v in m.match)
        and not any(_value_at(body, root + p, v) for p, v in m.not_match)
        and all(_present(body, root + p) for p in m.exist)
        and not any(_present(body, root + p) for p in m.not_exist)
    )


def _value_at(body: Any, path: Path, expected: Any) -> bool:
    return any(_json_equal(paths.get(body, p), expected) for p in paths.resolve(body, path))


def _present(body: Any, path: Path) -> bool:
    return any(paths.get(body, p) not in (MISSING, None) for p in paths.resolve(body, path))


def _json_equal(a: Any, b: Any) -> bool:
    """Equality as JSON sees it: booleans are not numbers, 1 equals 1.0."""
    if a is MISSING:
        return False
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, _NUMBERS) and isinstance(b, _NUMBERS):
        return float(a) == float(b)
    return type(a) is type(b) and bool(a == b)

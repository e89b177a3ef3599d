"""The remote model catalog: CPA's ``models.json``, fetched at start and every 3 hours.

CPA (``internal/registry/model_updater.go``) starts from the catalog built into the binary
and, unless run with ``-local-model``, fetches ``models.json`` from the first of its
sources that answers (the ``router-for-me/models`` repository, then
``models.router-for.me``); a fetched catalog replaces the current one and the providers
whose sections changed get their models registered again. When every source fails
(offline, a firewall) the current catalog stays and one WARNING line says so.

``models.json`` is CPA's format: one array per section (``claude``, ``gemini``, ``vertex``,
``gemini-cli``, ``aistudio``, ``codex-free``/``-team``/``-plus``/``-pro``, ``kimi``,
``antigravity``, ``xai``) of CPA's ``ModelInfo`` objects. A section with a null entry, an
entry without id or a duplicate id makes the whole document invalid (the next source is
tried), as in CPA. One difference: a section missing from the fetched document keeps the
packaged one here (CPA would serve no models for it until the next refresh). The Codex
image models and xAI's image and video models are built in, whatever the fetched document
says (CPA's ``WithCodexBuiltins`` / ``WithXAIBuiltins``).

The same updater, on the same schedule, fetches the Codex client template catalog
(CPA's ``codex_client_models.json``, :mod:`cliproxy.models.codex_templates`) from the same
places (the file beside each ``models.json``): the first valid one replaces the one held,
and a failed or invalid fetch keeps it (one WARNING). It is held in memory only, like the
model catalog (no disk cache): until a fetch succeeds there is none, and the Codex CLI's
catalog is served empty (:mod:`cliproxy.models.codex_client` says why).

``CLIPROXY_MODELS_URLS`` (comma-separated) replaces the list of sources, for a mirror or
an air-gapped copy; the Codex client catalog is then looked for beside each. A ``file://``
URL is read from the disk (``file:///srv/models/models.json``: the Codex client catalog
is ``/srv/models/codex_client_models.json``), so the Codex CLI can get its templates with
no network; it is read at start and every 3 hours, like a remote source.

With ``-local-model`` CPA fetches nothing and serves the two catalogs built into its
binary. cliproxy packages the model catalog but not the Codex client one, so in that mode
(:meth:`CatalogUpdater.load_local`) the Codex client catalog is read once, at start, from
the ``file://`` sources only: the copy on disk stands in for CPA's built-in one. No other
source is asked, nothing is read again, and the model catalog stays the packaged one
(a ``models.json`` beside the file is not read, as CPA reads only its built-in one).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit
from urllib.request import url2pathname

import aiohttp
import orjson

from .catalog import Catalog, ModelInfo, ThinkingSupport
from .codex_templates import CodexTemplates, parse_codex_templates

__all__ = [
    "CODEX_CLIENT_FILE",
    "FETCH_TIMEOUT",
    "MODELS_URLS",
    "REFRESH_INTERVAL",
    "URLS_ENV",
    "CatalogUpdater",
    "changed_families",
    "codex_client_urls",
    "local_urls",
    "parse_models_json",
    "with_builtins",
]

log = logging.getLogger(__name__)

MODELS_URLS = (
    "https://raw.githubusercontent.com/router-for-me/models/refs/heads/main/models.json",
    "https://models.router-for.me/models.json",
)
URLS_ENV = "CLIPROXY_MODELS_URLS"
REFRESH_INTERVAL = 3 * 3600.0
FETCH_TIMEOUT = 30.0
_MAX_BYTES = 16 << 20
CODEX_CLIENT_FILE = "codex_client_models.json"
_T = TypeVar("_T")
_CODEX_CLIENT_MAX_BYTES = 8 << 20  # CPA's limit

# section -> (owned_by, type) defaults when an entry leaves them out
SECTIONS: Mapping[str, tuple[str, str]] = {
    "claude": ("anthropic", "claude"),
    "gemini": ("google", "gemini"),
    "vertex": ("google", "gemini"),
    "gemini-cli": ("google", "gemini"),
    "aistudio": ("google", "gemini"),
    "codex-free": ("openai", "openai"),
    "codex-team": ("openai", "openai"),
    "codex-plus": ("openai", "openai"),
    "codex-pro": ("openai", "openai"),
    "kimi": ("moonshot", "kimi"),
    "antigravity": ("antigravity", "antigravity"),
    "xai": ("xai", "xai"),
}
# CPA's provider names for the families whose models changed (the Codex plans are one)
_PROVIDER_OF = {"codex-free": "codex", "codex-team": "codex", "codex-plus": "codex", "codex-pro": "codex"}


def parse_models_json(raw: bytes) -> dict[str, list[ModelInfo]]:
    """CPA's ``models.json`` as catalog families; ``ValueError`` says what is wrong."""
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise ValueError("not a JSON object of model sections")
    families: dict[str, list[ModelInfo]] = {}
    for section, (owned_by, kind) in SECTIONS.items():
        entries = doc.get(section)
        if entries is None:
            continue
        if not isinstance(entries, list):
            raise ValueError(f"{section} is not an array")
        if not entries:
            log.warning("models catalog: the %s section is empty; it serves no models", section)
        families[section] = _section(section, entries, owned_by, kind)
    if not families:
        raise ValueError("no known model section")
    return families


def _section(section: str, entries: list[Any], owned_by: str, kind: str) -> list[ModelInfo]:
    seen: set[str] = set()
    out: list[ModelInfo] = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise ValueError(f"{section}[{i}] is not an object")
        model_id = str(entry.get("id") or "").strip()
        if not model_id:
            raise ValueError(f"{section}[{i}] has an empty id")
        if model_id in seen:
            raise ValueError(f"{section} lists the model id {model_id!r} twice")
        seen.add(model_id)
        out.append(_model(model_id, entry, owned_by, kind))
    return out


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


def _model(model_id: str, entry: Mapping[str, Any], owned_by: str, kind: str) -> ModelInfo:
    """One of CPA's ``ModelInfo`` JSON objects (``context_length`` or Gemini's
    ``inputTokenLimit``, ``max_completion_tokens`` or ``outputTokenLimit``...;
    ``config.override_header`` is the model's forced upstream headers)."""
    thinking = entry.get("thinking")
    extra = entry.get("config")
    headers = extra.get("override_header") if isinstance(extra, Mapping) else None
    return ModelInfo(
        id=model_id,
        display_name=str(entry.get("display_name") or model_id),
        owned_by=str(entry.get("owned_by") or owned_by),
        type=str(entry.get("type") or kind),
        created=_int(entry.get("created")),
        version=str(entry.get("version") or ""),
        description=str(entry.get("description") or ""),
        context_window=_int(entry.get("context_length")) or _int(entry.get("inputTokenLimit")),
        max_output=_int(entry.get("max_completion_tokens")) or _int(entry.get("outputTokenLimit")),
        methods=_strings(entry.get("supportedGenerationMethods")),
        parameters=_strings(entry.get("supported_parameters")),
        input_modalities=_strings(entry.get("supportedInputModalities")),
        output_modalities=_strings(entry.get("supportedOutputModalities")),
        thinking=ThinkingSupport.from_data(thinking) if isinstance(thinking, Mapping) else None,
        upstream_headers=(
            {str(k).lower(): str(v) for k, v in headers.items()} if isinstance(headers, Mapping) else {}
        ),
    )


# CPA's WithCodexBuiltins / WithXAIBuiltins: models that never depend on models.json
_IMAGES = ("gpt-image-1.5", "gpt-image-2")
BUILTINS: Mapping[str, tuple[str, ...]] = {
    **{plan: _IMAGES for plan in ("codex-free", "codex-team", "codex-plus", "codex-pro")},
    "xai": (
        "grok-imagine-image",
        "grok-imagine-image-quality",
        "grok-imagine-image-2.0",
        "grok-imagine-video",
        "grok-imagine-video-1.5",
        "grok-imagine-video-1.5-preview",
    ),
}


def with_builtins(families: dict[str, list[ModelInfo]], packaged: Catalog) -> dict[str, list[ModelInfo]]:
    """``families`` with the packaged built-in models of each family put back (one with
    the same id is replaced in place, the others appended), as CPA does."""
    for family, ids in BUILTINS.items():
        models = families.get(family)
        if models is None:
            continue
        builtins = {m.id: m for m in packaged.family(family) if m.id in ids}
        index = {m.id: i for i, m in enumerate(models)}
        for model_id in ids:
            info = builtins.get(model_id)
            if info is None:
                continue
            if model_id in index:
                models[index[model_id]] = info
            else:
                models.append(info)
    return families


def changed_families(old: Catalog, new: Catalog) -> list[str]:
    """CPA's ``detectChangedProviders``: the providers whose sections differ (the Codex
    plans count as ``codex``; a Gemini change is ``gemini`` and ``gemini-interactions``)."""
    changed: list[str] = []
    for family in dict.fromkeys((*old.families, *new.families)):
        if old.family(family) == new.family(family):
            continue
        names = (
            ["gemini", "gemini-interactions"] if family == "gemini" else [_PROVIDER_OF.get(family, family)]
        )
        changed += [name for name in names if name not in changed]
    return changed


def configured_urls() -> tuple[str, ...]:
    """The sources to try, in order (``CLIPROXY_MODELS_URLS`` when set)."""
    raw = os.environ.get(URLS_ENV, "")
    urls = tuple(u.strip() for u in raw.split(",") if u.strip())
    return urls or MODELS_URLS


def local_urls(urls: Sequence[str] | None = None) -> tuple[str, ...]:
    """The ``file://`` sources among ``urls`` (the configured ones when ``None``)."""
    return tuple(u for u in (configured_urls() if urls is None else urls) if u.startswith("file:"))


def codex_client_urls(model_urls: Sequence[str]) -> tuple[str, ...]:
    """The Codex client catalog beside each ``models.json`` source, once each (for CPA's
    two sources, CPA's two Codex client catalog URLs)."""
    siblings = (url.rsplit("/", 1)[0] + "/" + CODEX_CLIENT_FILE for url in model_urls if "/" in url)
    return tuple(dict.fromkeys(siblings))


class CatalogUpdater:
    """Fetches the remote catalog once at start, then every ``interval`` seconds, and
    hands each catalog that differs from ``current()`` to ``apply`` (with the changed
    provider names); fetches the Codex client template catalog alongside and holds the
    last valid one in :attr:`codex_templates`. The task is the caller's to stop
    (:meth:`stop`)."""

    def __init__(
        self,
        current: Callable[[], Catalog],
        apply: Callable[[Catalog, list[str]], None],
        *,
        urls: Sequence[str] | None = None,
        interval: float = REFRESH_INTERVAL,
        timeout: float = FETCH_TIMEOUT,
    ) -> None:
        self.current = current
        self.apply = apply
        self.urls = tuple(urls) if urls is not None else configured_urls()
        self.interval = interval
        self.timeout = timeout
        self.refreshes = 0  # completed fetches (tests and the log read it)
        self.codex_urls = codex_client_urls(self.urls)
        self.codex_templates: CodexTemplates | None = None
        self.codex_refreshes = 0  # completed Codex client catalog fetches
        self._codex_raw = b""
        self.packaged = Catalog.load()  # the built-in models come from here
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def load_local(self) -> bool:
        """``-local-model``: the Codex client catalog read once from the ``file://`` sources
        (the copy CPA builds into its binary, which cliproxy does not ship); no other source
        is asked and no task is started. Whether a catalog was loaded (a missing or invalid
        file is one WARNING, as a failed fetch is)."""
        self.codex_urls = codex_client_urls(local_urls(self.urls))
        if not self.codex_urls:
            return False
        label = "local Codex client model catalog"
        try:
            return await asyncio.wait_for(self.refresh_codex_templates(label), self.timeout)
        except TimeoutError:
            log.warning("%s: reading %s took over %gs", label, ", ".join(self.codex_urls), self.timeout)
            return False

    async def _run(self) -> None:
        await self._both("startup")
        log.info("periodic model refresh started (every %s)", _hours(self.interval))
        while True:
            await asyncio.sleep(self.interval)
            await self._both("periodic")

    async def _both(self, when: str) -> None:
        """The two catalogs at once (CPA runs two updaters): neither waits for the other's
        sources to time out."""
        await asyncio.gather(
            self.refresh(f"{when} model refresh"),
            self.refresh_codex_templates(f"{when} Codex client model refresh"),
        )

    async def refresh(self, label: str = "model refresh") -> bool:
        """One fetch; whether a new catalog was applied."""
        fetched = await self.fetch()
        if fetched is None:
            return False
        families, url = fetched
        old = self.current()
        new = old.replaced(with_builtins(families, self.packaged))
        self.refreshes += 1
        changed = changed_families(old, new)
        if not changed:
            log.info("%s completed from %s, no changes detected", label, url)
            return False
        log.info("%s completed from %s, changes detected for providers: %s", label, url, ", ".join(changed))
        self.apply(new, changed)
        return True

    async def fetch(self) -> tuple[dict[str, list[ModelInfo]], str] | None:
        """The first source's valid catalog and its URL; ``None`` (one WARNING) when none."""
        found, failures = await self._first_valid(self.urls, parse_models_json, _MAX_BYTES, "models.json")
        if found is None:
            log.warning(
                "remote model catalog unreachable (offline?): keeping the current model catalog "
                "(the embedded one until a fetch succeeds); tried %s",
                "; ".join(failures),
            )
        return found

    async def refresh_codex_templates(self, label: str = "Codex client model refresh") -> bool:
        """One fetch of the Codex client template catalog; whether it changed the one held."""
        found, failures = await self._first_valid(
            self.codex_urls, _parse_codex, _CODEX_CLIENT_MAX_BYTES, CODEX_CLIENT_FILE
        )
        if found is None:
            kept = "keeping the current one" if self.codex_templates else "the Codex CLI catalog stays empty"
            log.warning(
                "%s: no valid catalog from any source, %s; tried %s", label, kept, "; ".join(failures)
            )
            return False
        (raw, templates), url = found
        self.codex_refreshes += 1
        if raw == self._codex_raw:
            log.info("%s completed from %s, no changes detected", label, url)
            return False
        self._codex_raw, self.codex_templates = raw, templates
        log.info("%s completed from %s, catalog updated (%d templates)", label, url, len(templates.entries))
        return True

    async def _first_valid(
        self, urls: Sequence[str], parse: Callable[[bytes], _T], limit: int, name: str
    ) -> tuple[tuple[_T, str] | None, list[str]]:
        """The first of ``urls`` whose body (at most ``limit`` bytes) ``parse`` accepts, with
        its URL; otherwise ``None`` and why each failed."""
        failures: list[str] = []
        timeout = aiohttp.ClientTimeout(total=self.timeout, sock_connect=min(self.timeout, 10.0))
        async with aiohttp.ClientSession(timeout=timeout, trust_env=True) as session:
            for url in urls:
                try:
                    raw = await _read(session, url, limit)
                except _Unavailable as exc:
                    failures.append(f"{url}: {exc}")
                    continue
                except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                    failures.append(f"{url}: {type(exc).__name__} {exc}".rstrip())
                    continue
                if len(raw) > limit:
                    failures.append(f"{url}: larger than {limit >> 20} MiB")
                    continue
                try:
                    return (parse(raw), url), failures
                except ValueError as exc:
                    log.warning("%s from %s is invalid: %s", name, url, exc)
                    failures.append(f"{url}: invalid ({exc})")
        return None, failures


class _Unavailable(Exception):
    """A source answered, but not with a document (its status says why)."""


async def _read(session: aiohttp.ClientSession, url: str, limit: int) -> bytes:
    """At most ``limit + 1`` bytes of ``url``: over HTTP(S), or from the disk for a
    ``file://`` URL (an air-gapped copy)."""
    if url.startswith("file:"):
        return await asyncio.to_thread(_read_file, Path(url2pathname(urlsplit(url).path)), limit + 1)
    async with session.get(url) as resp:
        if resp.status != 200:
            raise _Unavailable(f"HTTP {resp.status}")
        return await resp.content.read(limit + 1)


def _read_file(path: Path, size: int) -> bytes:
    with path.open("rb") as f:
        return f.read(size)


def _parse_codex(raw: bytes) -> tuple[bytes, CodexTemplates]:
    return raw, parse_codex_templates(raw)


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:g}h" if seconds >= 3600 else f"{seconds:g}s"

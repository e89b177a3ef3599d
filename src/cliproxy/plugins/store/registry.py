"""The plugin store's registry document: sources, plugins, install plans, versions.

A registry is ``{"schema_version": 1|2, "plugins": [...]}`` (CPA's
``internal/pluginstore/registry.go``). A plugin installs from its GitHub releases
(``github-release``, the default) or, in schema 2 only, from ``direct`` artifacts, one per
``goos``/``goarch`` with a sha256 and an optional size. Every check here is pure; the
network lives in :mod:`cliproxy.plugins.store.client`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from cliproxy.plugins.store.versions import normalize_version

__all__ = [
    "DIRECT",
    "GITHUB_RELEASE",
    "Artifact",
    "InstallPlan",
    "Plugin",
    "Registry",
    "Source",
    "StoreError",
    "VersionEntry",
    "github_repository_parts",
    "normalize_goarch",
    "normalize_goos",
    "parse_registry",
    "valid_plugin_id",
    "valid_plugin_version",
    "validate_artifact",
    "validate_install_plan",
    "validate_plugin",
]

DEFAULT_REGISTRY_URL = (
    "https://raw.githubusercontent.com/router-for-me/CLIProxyAPI-Plugins-Store/main/registry.json"
)
DEFAULT_SOURCE_NAME = "Official"
GITHUB_RELEASE = "github-release"
DIRECT = "direct"

_VERSION_RE = re.compile(r"^[0-9][0-9A-Za-z.+-]*$")
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_SENSITIVE = frozenset({"token", "access_token", "access_key", "secret", "secret_key", "api_key"})


class StoreError(Exception):
    """A plugin store failure; ``str()`` is the message shown to the operator (no secret)."""


@dataclass(frozen=True, slots=True)
class Source:
    id: str
    name: str
    url: str

    def as_json(self) -> dict[str, str]:
        return {"id": self.id, "name": self.name, "url": self.url}


@dataclass(slots=True)
class Artifact:
    goos: str = ""
    goarch: str = ""
    url: str = ""
    sha256: str = ""
    size: int = 0


@dataclass(slots=True)
class InstallPlan:
    type: str = ""
    artifacts: list[Artifact] = field(default_factory=list)


@dataclass(slots=True)
class VersionEntry:
    version: str
    install: InstallPlan = field(default_factory=InstallPlan)


@dataclass(slots=True)
class Plugin:
    id: str = ""
    name: str = ""
    description: str = ""
    author: str = ""
    version: str = ""
    versions: list[VersionEntry] = field(default_factory=list)
    repository: str = ""
    logo: str = ""
    homepage: str = ""
    license: str = ""
    tags: list[str] = field(default_factory=list)
    install: InstallPlan = field(default_factory=InstallPlan)
    auth_required: bool = False

    @property
    def install_type(self) -> str:
        return self.install.type.strip().lower() or GITHUB_RELEASE

    def platforms(self) -> list[dict[str, str]]:
        """The ``goos``/``goarch`` pairs a direct plugin ships (none for a GitHub one)."""
        seen: list[dict[str, str]] = []
        for art in self.artifacts():
            pair = {"goos": art.goos, "goarch": art.goarch}
            if art.goos and art.goarch and pair not in seen:
                seen.append(pair)
        return seen

    def artifacts(self) -> list[Artifact]:
        """A direct plugin's artifacts, its pinned versions' included."""
        if self.install_type != DIRECT:
            return []
        out = list(normalize_plan(self.install).artifacts)
        for entry in self.versions:
            out.extend(normalize_plan(entry.install).artifacts)
        return out


@dataclass(slots=True)
class Registry:
    schema_version: int
    plugins: list[Plugin]

    def plugin(self, plugin_id: str) -> Plugin | None:
        plugin_id = plugin_id.strip()
        return next((p for p in self.plugins if p.id == plugin_id), None)


# ---------------------------------------------------------------- parsing


def _text(obj: dict[str, Any], key: str) -> str:
    value = obj.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise StoreError(f"decode registry: field {key} must be a string")
    return value.strip()


def _list(obj: dict[str, Any], key: str) -> list[Any]:
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise StoreError(f"decode registry: field {key} must be an array")
    return value


def _object(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise StoreError(f"decode registry: {what} must be an object")
    return value


def parse_plan(value: Any) -> InstallPlan:
    obj = _object(value, "install")
    arts = []
    for item in _list(obj, "artifacts"):
        a = _object(item, "artifact")
        size = a.get("size") or 0
        if not isinstance(size, int) or isinstance(size, bool):
            raise StoreError("decode registry: artifact size must be an integer")
        arts.append(Artifact(_text(a, "goos"), _text(a, "goarch"), _text(a, "url"), _text(a, "sha256"), size))
    return normalize_plan(InstallPlan(_text(obj, "type"), arts))


def parse_plugin(value: Any) -> Plugin:
    obj = _object(value, "plugin")
    tags = _list(obj, "tags")
    if not all(isinstance(t, str) for t in tags):
        raise StoreError("decode registry: tags must be strings")
    versions = []
    for item in _list(obj, "versions"):
        v = _object(item, "version")
        versions.append(VersionEntry(normalize_version(_text(v, "version")), parse_plan(v.get("install"))))
    return Plugin(
        id=_text(obj, "id"),
        name=_text(obj, "name"),
        description=_text(obj, "description"),
        author=_text(obj, "author"),
        version=_text(obj, "version"),
        versions=versions,
        repository=_text(obj, "repository"),
        logo=_text(obj, "logo"),
        homepage=_text(obj, "homepage"),
        license=_text(obj, "license"),
        tags=[t.strip() for t in tags],
        install=parse_plan(obj.get("install")),
        auth_required=obj.get("auth_required") is True,
    )


def parse_registry(data: Any) -> Registry:
    """A decoded registry document, validated; :class:`StoreError` says what is wrong."""
    obj = _object(data, "registry")
    schema = obj.get("schema_version", 0)
    if not isinstance(schema, int) or isinstance(schema, bool):
        raise StoreError("decode registry: schema_version must be an integer")
    registry = Registry(schema, [parse_plugin(p) for p in _list(obj, "plugins")])
    validate_registry(registry)
    return registry


# ---------------------------------------------------------------- validation


def validate_registry(registry: Registry) -> None:
    if registry.schema_version not in (1, 2):
        raise StoreError(f"unsupported schema_version {registry.schema_version}")
    seen: set[str] = set()
    for index, plugin in enumerate(registry.plugins):
        if registry.schema_version == 1 and plugin.install_type == DIRECT:
            raise StoreError(f"plugins[{index}]: direct install requires schema_version 2")
        try:
            validate_plugin(plugin)
        except StoreError as exc:
            raise StoreError(f"plugins[{index}]: {exc}") from None
        if plugin.id in seen:
            raise StoreError(f"plugins[{index}]: duplicate plugin id {plugin.id!r}")
        seen.add(plugin.id)


def validate_plugin(plugin: Plugin) -> None:
    kind = plugin.install_type
    required = {
        "id": plugin.id,
        "name": plugin.name,
        "description": plugin.description,
        "author": plugin.author,
    }
    if kind == GITHUB_RELEASE:
        required["repository"] = plugin.repository
    for name, value in required.items():
        if not value.strip():
            raise StoreError(f"missing required field {name}")
    if not valid_plugin_id(plugin.id.strip()):
        raise StoreError(f"invalid plugin id {plugin.id!r}")
    # the version is optional (the newest release decides); when present it must be valid
    if plugin.version.strip() and not valid_plugin_version(plugin.version.strip()):
        raise StoreError(f"invalid plugin version {plugin.version!r}")
    if kind == GITHUB_RELEASE:
        github_repository_parts(plugin.repository)
    elif kind == DIRECT:
        if not plugin.version.strip():
            raise StoreError("missing required field version")
        validate_install_plan(plugin.install)
        _validate_versions(plugin)
    else:
        raise StoreError(f"unsupported install type {plugin.install.type!r}")


def _validate_versions(plugin: Plugin) -> None:
    seen: set[str] = set()
    for index, entry in enumerate(plugin.versions):
        version = normalize_version(entry.version)
        if not valid_plugin_version(version):
            raise StoreError(f"versions[{index}]: invalid plugin version {version!r}")
        if version in seen:
            raise StoreError(f"versions[{index}]: duplicate plugin version {version!r}")
        seen.add(version)
        plan = normalize_plan(entry.install)
        kind = plan.type or plugin.install_type
        if kind != plugin.install_type:
            raise StoreError(
                f"versions[{index}]: install type {kind!r} does not match plugin install type {plugin.install_type!r}"
            )
        try:
            validate_install_plan(InstallPlan(kind, plan.artifacts))
        except StoreError as exc:
            raise StoreError(f"versions[{index}]: {exc}") from None


def normalize_plan(plan: InstallPlan) -> InstallPlan:
    arts = [
        Artifact(
            normalize_goos(a.goos),
            normalize_goarch(a.goarch),
            a.url.strip(),
            a.sha256.strip().lower(),
            a.size,
        )
        for a in plan.artifacts
    ]
    return InstallPlan(plan.type.strip().lower(), arts)


def validate_install_plan(plan: InstallPlan) -> None:
    plan = normalize_plan(plan)
    if not plan.type:
        raise StoreError("missing install type")
    if plan.type not in (DIRECT, GITHUB_RELEASE):
        raise StoreError(f"unsupported install type {plan.type!r}")
    if plan.type != DIRECT:
        return
    if not plan.artifacts:
        raise StoreError("direct install requires at least one artifact")
    for index, art in enumerate(plan.artifacts):
        try:
            validate_artifact(art)
        except StoreError as exc:
            raise StoreError(f"artifacts[{index}]: {exc}") from None


def validate_artifact(art: Artifact) -> None:
    if not normalize_goos(art.goos):
        raise StoreError("missing goos")
    if not normalize_goarch(art.goarch):
        raise StoreError("missing goarch")
    url = art.url.strip()
    if not url:
        raise StoreError("missing url")
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        raise StoreError("invalid artifact url")
    if parts.scheme not in ("http", "https"):
        raise StoreError("artifact url must use http or https")
    if has_sensitive_query(url):
        raise StoreError("artifact url contains sensitive query parameter")
    digest = art.sha256.strip().lower()
    if not digest:
        raise StoreError("missing sha256")
    if len(digest) != 64:
        raise StoreError("invalid sha256 length")
    if not _HEX64.match(digest):
        raise StoreError("invalid sha256: not hexadecimal")
    if art.size < 0:
        raise StoreError("invalid size")


def has_sensitive_query(url: str) -> bool:
    query = urlsplit(url).query
    return bool(query) and any(
        k.strip().lower() in _SENSITIVE for k, _ in parse_qsl(query, keep_blank_values=True)
    )


def normalize_goos(goos: str) -> str:
    goos = goos.strip().lower()
    return "darwin" if goos in ("mac", "macos", "osx") else goos


def normalize_goarch(goarch: str) -> str:
    goarch = goarch.strip().lower()
    return {"x64": "amd64", "x86_64": "amd64", "aarch64": "arm64"}.get(goarch, goarch)


def valid_plugin_version(version: str) -> bool:
    return bool(version) and not version.startswith("v") and bool(_VERSION_RE.match(version))


def valid_plugin_id(plugin_id: str) -> bool:
    return bool(_ID_RE.match(plugin_id))


def github_repository_parts(repository: str) -> tuple[str, str]:
    """``(owner, repo)`` of ``https://github.com/{owner}/{repo}``; anything else is refused."""
    bad = StoreError("repository must be https://github.com/{owner}/{repo}")
    try:
        parts = urlsplit(repository.strip())
    except ValueError:
        raise bad from None
    if parts.scheme != "https" or parts.netloc != "github.com" or parts.query or parts.fragment:
        raise bad
    segments = parts.path.strip("/").split("/")
    if len(segments) != 2 or not all(segments):
        raise bad
    owner, repo = unquote(segments[0]), unquote(segments[1])
    if repo.endswith(".git"):
        raise bad
    return owner, repo

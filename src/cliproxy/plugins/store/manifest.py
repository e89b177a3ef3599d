"""The ``store`` manifest written under ``plugins.configs.<id>`` after an install.

It pins what was installed (version and release tag, or direct artifacts) and where from
(source id, name, URL), so a later listing knows the installed source and discovery loads
the pinned version (CPA: ``internal/pluginstore/manifest.go``). Keys are CPA's YAML ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from cliproxy.plugins.store.registry import (
    DIRECT,
    GITHUB_RELEASE,
    Artifact,
    InstallPlan,
    Plugin,
    Source,
    StoreError,
    has_sensitive_query,
    normalize_plan,
    valid_plugin_id,
    valid_plugin_version,
    validate_install_plan,
    validate_plugin,
)
from cliproxy.plugins.store.versions import normalize_version

__all__ = ["Manifest", "manifest_from_plugin", "manifest_from_release", "release_version"]


def release_version(tag: str) -> str:
    """The plugin version a release tag names (one leading ``v`` dropped), validated."""
    version = normalize_version(tag)
    if not valid_plugin_version(version):
        raise StoreError(f"invalid release tag {tag!r}")
    return version


@dataclass(slots=True)
class Manifest:
    id: str = ""
    name: str = ""
    description: str = ""
    author: str = ""
    version: str = ""
    release_tag: str = ""
    repository: str = ""
    logo: str = ""
    homepage: str = ""
    license: str = ""
    tags: list[str] = field(default_factory=list)
    source_id: str = ""
    source_name: str = ""
    source_url: str = ""
    install: InstallPlan = field(default_factory=InstallPlan)
    schema_version: int = 0

    @property
    def install_type(self) -> str:
        return self.install.type.strip().lower() or GITHUB_RELEASE

    def plugin(self) -> Plugin:
        return Plugin(
            id=self.id.strip(),
            name=self.name.strip(),
            description=self.description.strip(),
            author=self.author.strip(),
            version=self.version.strip(),
            repository=self.repository.strip(),
            logo=self.logo.strip(),
            homepage=self.homepage.strip(),
            license=self.license.strip(),
            tags=list(self.tags),
            install=normalize_plan(self.install),
        )

    def to_config(self) -> dict[str, Any]:
        """The YAML mapping (CPA's keys, empty ones left out)."""
        plan: dict[str, Any] = {}
        if self.install.type:
            plan["type"] = self.install.type
        if self.install.artifacts:
            plan["artifacts"] = [
                {
                    k: v
                    for k, v in (
                        ("goos", a.goos),
                        ("goarch", a.goarch),
                        ("url", a.url),
                        ("sha256", a.sha256),
                        ("size", a.size),
                    )
                    if v
                }
                for a in self.install.artifacts
            ]
        pairs: list[tuple[str, Any]] = [
            ("schema-version", self.schema_version), ("id", self.id), ("name", self.name),
            ("description", self.description), ("author", self.author), ("version", self.version),
            ("release-tag", self.release_tag), ("repository", self.repository), ("logo", self.logo),
            ("homepage", self.homepage), ("license", self.license), ("tags", list(self.tags)),
            ("source-id", self.source_id), ("source-name", self.source_name), ("source-url", self.source_url),
            ("install", plan),
        ]  # fmt: skip
        return {k: v for k, v in pairs if v}

    @classmethod
    def from_config(cls, value: Any) -> Manifest:
        """A manifest read back from ``plugins.configs.<id>.store`` (lenient: wrong types are empty)."""
        obj = value if isinstance(value, dict) else {}

        def text(key: str) -> str:
            item = obj.get(key)
            return (
                str(item).strip()
                if isinstance(item, (str, int, float)) and not isinstance(item, bool)
                else ""
            )

        raw_plan = obj.get("install")
        plan: dict[str, Any] = raw_plan if isinstance(raw_plan, dict) else {}
        arts = [
            Artifact(str(a.get("goos", "")), str(a.get("goarch", "")), str(a.get("url", "")),
                     str(a.get("sha256", "")), int(a.get("size") or 0))
            for a in plan.get("artifacts") or [] if isinstance(a, dict)
        ]  # fmt: skip
        raw_tags = obj.get("tags")
        tags: list[Any] = raw_tags if isinstance(raw_tags, list) else []
        schema = obj.get("schema-version")
        return cls(
            id=text("id"), name=text("name"), description=text("description"), author=text("author"),
            version=text("version"), release_tag=text("release-tag"), repository=text("repository"),
            logo=text("logo"), homepage=text("homepage"), license=text("license"), tags=[str(t) for t in tags],
            source_id=text("source-id"), source_name=text("source-name"), source_url=text("source-url"),
            install=InstallPlan(str(plan.get("type", "")), arts),
            schema_version=schema if isinstance(schema, int) and not isinstance(schema, bool) else 0,
        )  # fmt: skip

    def validate(self) -> None:
        version = self.version.strip()
        if not version:
            raise StoreError("missing required field version")
        if not valid_plugin_version(normalize_version(version)):
            raise StoreError(f"invalid plugin version {self.version!r}")
        if self.install_type == DIRECT:
            self._validate_direct()
        elif self.install_type == GITHUB_RELEASE:
            tag = self.release_tag.strip()
            if not tag:
                raise StoreError("missing required field release-tag")
            plugin = self.plugin()
            plugin.install = InstallPlan(GITHUB_RELEASE)
            validate_plugin(plugin)
            resolved = release_version(tag)
            if resolved != normalize_version(version):
                raise StoreError(
                    f"release-tag {tag!r} resolves version {resolved!r}, want {normalize_version(version)!r}"
                )
        else:
            raise StoreError(f"unsupported install type {self.install.type!r}")

    def _validate_direct(self) -> None:
        if self.schema_version not in (0, 2):
            raise StoreError(f"unsupported schema-version {self.schema_version}")
        if not self.id.strip():
            raise StoreError("missing required field id")
        if not valid_plugin_id(self.id.strip()):
            raise StoreError(f"invalid plugin id {self.id!r}")
        plan = normalize_plan(self.install)
        plan.type = DIRECT
        if plan.artifacts:
            validate_install_plan(plan)
            for index, art in enumerate(plan.artifacts):
                parts = urlsplit(art.url)
                if parts.username is not None or parts.password is not None:
                    raise StoreError(f"artifacts[{index}]: pinned artifact url must not contain credentials")
                if parts.query or parts.fragment:
                    raise StoreError(
                        f"artifacts[{index}]: pinned artifact url must not contain query or fragment"
                    )
            return
        url = self.source_url.strip()
        if not url:
            raise StoreError("missing required field source-url")
        parts = urlsplit(url)
        if not parts.scheme or not parts.netloc:
            raise StoreError("invalid source-url")
        if parts.scheme not in ("http", "https"):
            raise StoreError("source-url must use http or https")
        if has_sensitive_query(url):
            raise StoreError("source-url contains sensitive query parameter")


def _base(source: Source, plugin: Plugin, **fields: Any) -> Manifest:
    return Manifest(
        id=plugin.id.strip(), name=plugin.name.strip(), description=plugin.description.strip(),
        author=plugin.author.strip(), logo=plugin.logo.strip(), homepage=plugin.homepage.strip(),
        license=plugin.license.strip(), tags=list(plugin.tags), source_id=source.id.strip(),
        source_name=source.name.strip(), source_url=source.url.strip(), **fields,
    )  # fmt: skip


def manifest_from_release(source: Source, plugin: Plugin, tag: str) -> Manifest:
    """The manifest of a GitHub release install, pinned to ``tag``."""
    return _base(
        source, plugin, version=release_version(tag), release_tag=tag.strip(),
        repository=plugin.repository.strip(), install=InstallPlan(GITHUB_RELEASE),
    )  # fmt: skip


def manifest_from_plugin(source: Source, plugin: Plugin) -> Manifest:
    """The manifest of a direct plugin at its ``version`` with its artifacts (schema 2)."""
    validate_plugin(plugin)
    if plugin.install_type == GITHUB_RELEASE:
        raise StoreError("github-release manifest requires a resolved release")
    if plugin.install_type != DIRECT:
        raise StoreError(f"unsupported install type {plugin.install.type!r}")
    manifest = _base(source, plugin, schema_version=2, version=plugin.version.strip(),
                     install=normalize_plan(plugin.install))  # fmt: skip
    manifest.validate()
    return manifest

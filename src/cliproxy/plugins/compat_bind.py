"""Auth files of a type a plugin auth provider owns but no plugin executor serves, read by
that plugin (``auth.parse``) before the pool takes them.

CPA's file synthesizer hands every auth file to the plugin parser of its type; a plugin
usually answers with a ``base_url`` (and an ``api_key``) among the auth's attributes so
that the built-in OpenAI-compatible executor serves it (``credentials.compat_auth``), its
refresh going back to the plugin (``plugins.compat_refresh``). Here such an answer merges
into the file's credential as for a file a plugin executor serves
(``plugins.models.bind_plugin_auths``): several ``Auths`` become that many credentials,
one handled with none becomes none; the attributes' ``base_url`` and ``api_key`` become
the endpoint and key the OpenAI-compatible provider sends. A file already bound to a
plugin executor, or of a built-in provider, is left as it is.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from cliproxy.credentials.record import Credential
from cliproxy.plugins import abi
from cliproxy.plugins.host import PluginHost, Record
from cliproxy.plugins.models import VIRTUAL, apply_auth_data, parse_auth_file, virtual_credential
from cliproxy.providers import registry as builtin

__all__ = ["parse_compat_auths", "take_endpoint"]


async def parse_compat_auths(
    host: PluginHost, creds: Iterable[Credential], config: Any, *, timeout: float | None = None
) -> list[Credential]:
    """``creds`` with every file of an auth provider's type (and no plugin executor's)
    replaced by what the plugin's ``auth.parse`` made of it; ``timeout``: the seconds the
    call may take. A file the plugin does not handle stays as read."""
    parsers: dict[str, Record] = {}
    for rec in host.active("auth_provider"):
        ident = (await host.identifier(rec, abi.AUTH_IDENTIFIER)).lower()
        if ident:
            parsers.setdefault(ident, rec)
    out: list[Credential] = []
    for cred in creds:
        parser = parsers.get(cred.provider) if _parseable(cred) else None
        auths = await parse_auth_file(host, parser, cred, config, timeout) if parser is not None else None
        if auths is None:
            out.append(cred)
            continue
        if len(auths) == 1:
            apply_auth_data(cred, auths[0])
            cred.id = str(abi.ci_get(auths[0], "ID", "") or "").strip() or cred.id
            bound = [cred]
        else:
            bound = [virtual_credential(cred, auth, n) for n, auth in enumerate(auths)]
        for one in bound:
            take_endpoint(one)
        out += bound
    return out


def _parseable(cred: Credential) -> bool:
    attrs = cred.attributes
    if cred.path is None or attrs.get("plugin") or attrs.get(VIRTUAL):
        return False
    return builtin.get(cred.provider) is None


def take_endpoint(cred: Credential) -> None:
    """The ``base_url`` and ``api_key`` a plugin set among ``cred``'s attributes, as the
    endpoint and key the OpenAI-compatible provider sends (CPA's executor reads them there)."""
    if base := cred.attributes.get("base_url", "").strip():
        cred.base_url = base
    if key := cred.attributes.get("api_key", "").strip():
        cred.api_key = key

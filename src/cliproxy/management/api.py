"""The ``/v0/management`` endpoint table: every native route, in one tuple.

Each endpoint module (``management/*_api.py``) lists its ``Route`` entries in ``ROUTES``;
this module gathers them. ``cliproxy.server.management`` mounts them on an aiohttp
sub-application, so aiohttp's router matches paths and methods. What no route matches
is answered there too: ``GET /<provider>-auth-url`` for a provider only a plugin knows
(:func:`unrouted_login`), then the plugins' own management routes, then 501.
"""

from __future__ import annotations

from cliproxy.management import (
    auth_files_api,
    config_api,
    keys_api,
    keys_policy_api,
    logs_api,
    oauth_api,
    ops_api,
    plugins_api,
    release_api,
    route_api,
    store_api,
    usage_api,
)
from cliproxy.management.types import Handler, Route

__all__ = ["PREFIX", "ROUTES", "unrouted_login"]

PREFIX = "/v0/management"

ROUTES: tuple[Route, ...] = (
    *plugins_api.ROUTES,
    *config_api.ROUTES,
    *keys_api.ROUTES,
    *keys_policy_api.ROUTES,
    *auth_files_api.ROUTES,
    *ops_api.ROUTES,
    *oauth_api.ROUTES,
    *logs_api.ROUTES,
    *usage_api.ROUTES,
    *release_api.ROUTES,
    *store_api.ROUTES,
    *route_api.ROUTES,
)


def unrouted_login(method: str, path: str) -> tuple[Handler, dict[str, str]] | None:
    """The handler and params for ``GET /<provider>-auth-url`` (``path`` below
    :data:`PREFIX`) that no native route serves: a login only a plugin may offer."""
    if method != "GET" or not path.endswith("-auth-url") or path.count("/") != 1:
        return None
    return oauth_api.plugin_auth_url, {"provider": path[1 : -len("-auth-url")]}

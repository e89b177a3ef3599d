"""Single-value config switches: ``GET`` answers ``{"<name>": value}``, ``PUT``/``PATCH``
take ``{"value": ...}`` (CPA's shapes); ``/proxy-url`` also has ``DELETE``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from cliproxy.config import ConfigDocument
from cliproxy.config.sections import routing_strategy
from cliproxy.management.config_edit import invalid_body, object_body, save
from cliproxy.management.types import ApiError, Req, Resp, Route

__all__ = ["ROUTES", "SCALARS", "Scalar"]


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_str(value: Any) -> bool:
    return isinstance(value, str)


def _at_least_zero(value: Any) -> Any:
    return max(value, 0)


def _error_logs(value: Any) -> Any:
    return 10 if value < 0 else value


def _strategy(value: Any) -> Any:
    normalized = routing_strategy(value)
    if normalized is None:
        raise ApiError(400, "invalid strategy")
    return normalized


def _same(value: Any) -> Any:
    return value


def _shown_strategy(config: Any) -> Any:
    # CPA answers a strategy it does not know as written (the proxy runs round-robin)
    return config.routing.unknown_strategy.strip() or config.routing.strategy


@dataclass(frozen=True, slots=True)
class Scalar:
    """One switch: its URL path, the key of its GET answer, its YAML key path."""

    path: str
    key: str
    yaml: tuple[str, ...]
    accepts: Callable[[Any], bool]
    clean: Callable[[Any], Any] = _same
    shown: Callable[[Any], Any] | None = None  # the GET value, when not the config's attribute

    @property
    def attr(self) -> Callable[[Any], Any]:
        return self.shown or attrgetter(".".join(part.replace("-", "_") for part in self.yaml))


def _switch(name: str) -> Scalar:
    return Scalar(f"/{name}", name, (name,), _is_bool)


def _number(name: str, clean: Callable[[Any], Any] = _same) -> Scalar:
    return Scalar(f"/{name}", name, (name,), _is_int, clean)


SCALARS: tuple[Scalar, ...] = (
    _switch("debug"),
    _switch("logging-to-file"),
    _number("logs-max-total-size-mb", _at_least_zero),
    _number("error-logs-max-files", _error_logs),
    _switch("usage-statistics-enabled"),
    Scalar("/proxy-url", "proxy-url", ("proxy-url",), _is_str),
    _switch("request-log"),
    _switch("ws-auth"),
    _number("request-retry"),
    _number("max-retry-credentials"),
    _number("max-retry-interval"),
    _switch("force-model-prefix"),
    Scalar("/routing/strategy", "strategy", ("routing", "strategy"), _is_str, _strategy, _shown_strategy),
    Scalar(
        "/quota-exceeded/switch-project", "switch-project", ("quota-exceeded", "switch-project"), _is_bool
    ),
    Scalar(
        "/quota-exceeded/switch-preview-model",
        "switch-preview-model",
        ("quota-exceeded", "switch-preview-model"),
        _is_bool,
    ),
)


def _getter(scalar: Scalar) -> Callable[[Req], Any]:
    async def get(req: Req) -> Resp:
        return Resp(200, {scalar.key: scalar.attr(req.service.config)})

    return get


def _putter(scalar: Scalar) -> Callable[[Req], Any]:
    async def put(req: Req) -> Resp:
        value = object_body(req).get("value")
        if value is None or not scalar.accepts(value):
            raise invalid_body()
        value = scalar.clean(value)

        def edit(doc: ConfigDocument) -> None:
            doc.set(list(scalar.yaml), value)

        return await save(req, edit)

    return put


async def _delete_proxy_url(req: Req) -> Resp:
    def edit(doc: ConfigDocument) -> None:
        doc.delete(["proxy-url"])

    return await save(req, edit)


def _routes() -> list[Route]:
    routes = []
    for scalar in SCALARS:
        put = _putter(scalar)
        routes += [
            Route("GET", scalar.path, _getter(scalar)),
            Route("PUT", scalar.path, put),
            Route("PATCH", scalar.path, put),
        ]
    routes.append(Route("DELETE", "/proxy-url", _delete_proxy_url))
    return routes


ROUTES: list[Route] = _routes()

"""Prometheus metrics (``metrics: {enabled: true}``), with ``prometheus-client``.

One ``CollectorRegistry`` per service (never the process-global one, so two proxies in
one process keep their own numbers). Request metrics are fed from finished requests
(``observe``); the credential state gauge is filled when ``/metrics`` is scraped. The
names are listed in ``docs/usage.md``.

Under ``workers: N`` the supervisor gives its workers one ``PROMETHEUS_MULTIPROC_DIR``
(:data:`MULTIPROC_ENV`): prometheus-client then keeps every worker's counters and
histograms in files there, and a scrape, whichever worker answers it, sums the files of
every worker, including those of a worker that died and was restarted, so the counters
only grow. The credential gauge is not summed: the scraped worker computes it from the
shared state and adds it to the answer.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

__all__ = ["CONTENT_TYPE", "MULTIPROC_ENV", "Metrics"]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"  # prometheus-client's own name for it

CONTENT_TYPE = CONTENT_TYPE_LATEST

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
_TOKEN_KINDS = ("input", "output", "cached", "cache_creation", "reasoning")
STATES = ("active", "cooling", "disabled")


class _CredentialStates:
    """The ``cliproxy_credentials`` gauge as a collector: the counts the last scrape set,
    never written to the multiprocess files (each worker would keep its own stale view)."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str], int] = {}

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "cliproxy_credentials", "Credentials by state.", labels=("provider", "state")
        )
        for (provider, state), count in sorted(self.counts.items()):
            family.add_metric((provider, state), count)
        yield family


class Metrics:
    """Every metric the proxy exports, registered on its own registry."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.requests = Counter(
            "cliproxy_requests", "Finished client requests.", ("model", "provider", "status"), registry=r
        )
        self.tokens = Counter(
            "cliproxy_tokens", "Tokens reported by upstreams.", ("model", "provider", "kind"), registry=r
        )
        self.duration = Histogram(
            "cliproxy_request_duration_seconds",
            "Whole request time, from the request read to the last byte.",
            ("provider",),
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.upstream_latency = Histogram(
            "cliproxy_upstream_latency_seconds",
            "Time from sending an upstream request to its response headers, per attempt.",
            ("provider",),
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.ttfb = Histogram(
            "cliproxy_ttfb_seconds",
            "Time to the first byte of a successful answer.",
            ("provider",),
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.attempts = Counter(
            "cliproxy_upstream_attempts", "Upstream attempts by outcome.", ("provider", "outcome"), registry=r
        )
        self.failovers = Counter(
            "cliproxy_failovers", "Attempts that moved on to another credential.", ("provider",), registry=r
        )
        self.cooldowns = Counter(
            "cliproxy_cooldown_events", "Credentials put in cooldown.", ("provider", "scope"), registry=r
        )
        self.credentials = _CredentialStates()
        r.register(self.credentials)
        self._multiproc = os.environ.get(MULTIPROC_ENV, "")
        self.plugin_calls = Histogram(
            "cliproxy_plugin_call_seconds",
            "Plugin call latency.",
            ("plugin", "method"),
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5),
            registry=r,
        )
        self._children: dict[tuple[Any, ...], Any] = {}

    def _child(self, metric: Any, *labels: str) -> Any:
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def observe(
        self,
        *,
        model: str,
        provider: str,
        status: int,
        tokens: tuple[int, int, int, int, int, int],
        duration: float,
        ttfb: float | None,
        attempts: Iterable[tuple[str, float | None, bool]],
        failovers: int,
    ) -> None:
        """One finished request. ``attempts``: (provider, upstream latency or None, ok)."""
        prov = provider or "none"
        self._child(self.requests, model or "none", prov, str(status)).inc()
        for kind, n in zip(_TOKEN_KINDS, tokens, strict=False):
            if n:
                self._child(self.tokens, model or "none", prov, kind).inc(n)
        self._child(self.duration, prov).observe(duration)
        if ttfb is not None:
            self._child(self.ttfb, prov).observe(ttfb)
        for a_prov, latency, ok in attempts:
            self._child(self.attempts, a_prov or "none", "ok" if ok else "error").inc()
            if latency is not None:
                self._child(self.upstream_latency, a_prov or "none").observe(latency)
        if failovers:
            self._child(self.failovers, prov).inc(failovers)

    def cooled(self, provider: str, scope: str) -> None:
        self._child(self.cooldowns, provider or "none", scope).inc()

    def plugin_call(self, plugin: str, method: str, seconds: float) -> None:
        self._child(self.plugin_calls, plugin, method).observe(seconds)

    def set_credential_states(self, counts: dict[tuple[str, str], int]) -> None:
        """``counts``: (provider, state) -> credentials; every state of a provider is set."""
        providers = {p for p, _ in counts}
        self.credentials.counts = {(p, s): counts.get((p, s), 0) for p in providers for s in STATES}

    def render(self) -> bytes:
        if not self._multiproc:
            return generate_latest(self.registry)
        every = CollectorRegistry()  # every worker's counters and histograms, summed
        MultiProcessCollector(every, self._multiproc)
        live = CollectorRegistry()
        live.register(self.credentials)
        return generate_latest(every) + generate_latest(live)

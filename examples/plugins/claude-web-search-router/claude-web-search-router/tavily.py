"""The Tavily backend: a search through the host's HTTP client (proxy-aware, logged)."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field

from cliproxy.plugins.api import Host, PluginError


@dataclass(frozen=True, slots=True)
class Hit:
    title: str
    url: str
    snippet: str = ""


@dataclass(frozen=True, slots=True)
class Found:
    answer: str = ""
    hits: list[Hit] = field(default_factory=list)


class Tavily:
    """``POST {base_url}/search``; the API keys take turns."""

    def __init__(self, host: Host, base_url: str, keys: list[str]) -> None:
        self._host, self._url, self._keys = host, base_url + "/search", keys
        self._turn = itertools.count()

    async def search(self, query: str, max_results: int) -> Found:
        if not self._keys:
            raise PluginError("tavily: no tavily_api_keys configured", http_status=503)
        key = self._keys[next(self._turn) % len(self._keys)]
        body = {
            "api_key": key,
            "query": query,
            "search_depth": "basic",
            "max_results": max_results,
            "include_answer": True,
        }
        resp = await self._host.http.do("POST", self._url, {"Content-Type": ["application/json"]}, body)
        if not 200 <= resp.status_code < 300:
            text = resp.body[:300].decode("utf-8", "replace")
            raise PluginError(f"tavily: status {resp.status_code}: {text}", http_status=resp.status_code)
        try:
            data = json.loads(resp.body)
        except ValueError as exc:
            raise PluginError(f"tavily: answer is not JSON: {exc}", http_status=502) from exc
        hits = [
            Hit(str(r.get("title") or ""), str(r.get("url") or ""), str(r.get("content") or ""))
            for r in data.get("results") or []
            if isinstance(r, dict)
        ]
        return Found(str(data.get("answer") or ""), hits)

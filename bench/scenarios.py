"""What the benchmark sends: the scenarios, their request bodies and the proxy config.

A scenario is a client format calling a model that the proxy routes to one kind of
fake upstream. The same upstream call is also made directly to the fake ("direct") and
through the bare floor, so the proxy's figures are its added cost over both.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

API_KEY = "bench-key"
SYSTEM = "You are terse."
PROMPT = "Say hi."

# upstream kind -> (model at the upstream, alias clients ask the proxy for)
MODELS = {
    "openai": ("gpt-4o-mini", "bench-gpt"),
    "claude": ("claude-sonnet-4-6", "bench-claude"),
    "gemini": ("gemini-2.5-flash", "bench-gemini"),
}
CLIENT_PATHS = {"openai": "/v1/chat/completions", "claude": "/v1/messages", "responses": "/v1/responses"}


@dataclass(frozen=True, slots=True)
class Request:
    """One HTTP call: path (with query), headers and JSON body bytes."""

    path: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    client: str  # openai | claude | responses
    upstream: str  # openai | claude | gemini
    reference: str  # the passthrough scenario a translation is compared with

    @property
    def passthrough(self) -> bool:
        return self.client == self.upstream

    def proxy_request(self, stream: bool) -> Request:
        """The call a client makes to the proxy."""
        return Request(
            CLIENT_PATHS[self.client],
            client_headers(self.client),
            client_body(self.client, MODELS[self.upstream][1], stream),
        )

    def direct_request(self, stream: bool) -> Request:
        """The same generation asked of the fake directly, in the upstream's format."""
        return upstream_request(self.upstream, stream)


SCENARIOS = [
    Scenario("passthrough OpenAI", "openai", "openai", "passthrough OpenAI"),
    Scenario("passthrough Claude", "claude", "claude", "passthrough Claude"),
    Scenario("Claude -> OpenAI", "claude", "openai", "passthrough OpenAI"),
    Scenario("OpenAI -> Gemini", "openai", "gemini", "passthrough OpenAI"),
    Scenario("OpenAI -> Claude", "openai", "claude", "passthrough OpenAI"),
    Scenario("Responses -> Claude", "responses", "claude", "passthrough Claude"),
]
BY_NAME = {s.name: s for s in SCENARIOS}


def find(name: str) -> Scenario:
    """A scenario by name, forgiving case, spaces and arrows (``claude-openai``)."""
    key = _slug(name)
    for scenario in SCENARIOS:
        if _slug(scenario.name) == key:
            return scenario
    raise SystemExit(f"unknown scenario {name!r}; choose one of: {', '.join(BY_NAME)}")


def _slug(text: str) -> str:
    return "".join(ch for ch in text.lower().replace("passthrough", "pt") if ch.isalnum())


def client_headers(fmt: str) -> dict[str, str]:
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {API_KEY}"}
    if fmt == "claude":
        headers |= {"x-api-key": API_KEY, "anthropic-version": "2023-06-01"}
    return headers


def client_body(fmt: str, model: str, stream: bool) -> bytes:
    if fmt == "openai":
        body: dict = {
            "model": model,
            "max_tokens": 64,
            "stream": stream,
            "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": PROMPT}],
        }
        if stream:
            body["stream_options"] = {"include_usage": True}
    elif fmt == "claude":
        body = {
            "model": model,
            "max_tokens": 64,
            "system": SYSTEM,
            "stream": stream,
            "messages": [{"role": "user", "content": PROMPT}],
        }
    else:
        body = {
            "model": model,
            "instructions": SYSTEM,
            "input": PROMPT,
            "max_output_tokens": 64,
            "stream": stream,
        }
    return orjson.dumps(body)


def upstream_request(kind: str, stream: bool) -> Request:
    model = MODELS[kind][0]
    if kind != "gemini":
        return Request(CLIENT_PATHS[kind], client_headers(kind), client_body(kind, model, stream))
    body = {
        "contents": [{"role": "user", "parts": [{"text": PROMPT}]}],
        "systemInstruction": {"parts": [{"text": SYSTEM}]},
        "generationConfig": {"maxOutputTokens": 64},
    }
    method = "streamGenerateContent?alt=sse" if stream else "generateContent"
    return Request(
        f"/v1beta/models/{model}:{method}", {"Content-Type": "application/json"}, orjson.dumps(body)
    )


def proxy_config(fake_url: str, port: int, auth_dir: str) -> str:
    """The proxy's config.yaml: every model routed to the fake; stream shape headers copied."""
    copy = '{"x-bench-chunks": "$x-bench-chunks", "x-bench-delay-ms": "$x-bench-delay-ms"}'
    (gpt, gpt_alias), (claude, claude_alias), (gem, gem_alias) = (
        MODELS[k] for k in ("openai", "claude", "gemini")
    )
    return f"""host: "127.0.0.1"
port: {port}
auth-dir: "{auth_dir}"
api-keys: ["{API_KEY}"]
openai-compatibility:
  - name: benchfake
    base-url: "{fake_url}/v1"
    headers: {copy}
    api-key-entries:
      - api-key: "sk-bench"
    models:
      - {{name: "{gpt}", alias: "{gpt_alias}"}}
claude-api-key:
  - api-key: "sk-ant-bench"
    base-url: "{fake_url}"
    headers: {copy}
    models:
      - {{name: "{claude}", alias: "{claude_alias}"}}
gemini-api-key:
  - api-key: "gem-bench"
    base-url: "{fake_url}"
    headers: {copy}
    models:
      - {{name: "{gem}", alias: "{gem_alias}"}}
"""

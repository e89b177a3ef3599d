"""ChatGPT / Codex sign-in: authorization code with PKCE and a local callback, as the
Codex CLI and CPA's ``-codex-login`` do it.

1. the browser opens ``auth.openai.com/oauth/authorize`` with the Codex CLI's client id,
   the redirect URI ``http://localhost:1455/auth/callback``, the scopes ``openid email
   profile offline_access``, the S256 challenge, a state, ``prompt=login``,
   ``id_token_add_organizations=true`` and ``codex_cli_simplified_flow=true``;
2. the callback brings ``code`` and ``state``;
3. the code is exchanged at ``auth.openai.com/oauth/token`` (form body, with the
   verifier and the same redirect URI);
4. the ``id_token`` names the account: ``email``, and under
   ``https://api.openai.com/auth`` the ``chatgpt_account_id`` and ``chatgpt_plan_type``.

The file is CPA's ``codex-[<hash8>-]<email>[-<plan>].json`` (``hash8``: the first 8 hex
digits of SHA-256 of the account id) with ``id_token``, ``access_token``,
``refresh_token``, ``account_id``, ``last_refresh``, ``email``, ``type``, ``expired``,
``disabled``; the device-code flow (:mod:`.codex_device`) writes the same file.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal
from urllib.parse import urlencode

from cliproxy.providers.http import HttpClient, proxy_key

from . import endpoints
from .base import AuthStart, LoginError
from .codex_device import codex_credential
from .core import check_state, new_state, pkce_pair, token_request

__all__ = ["CodexLogin"]

PROVIDER = "codex"


class CodexLogin:
    """The Codex callback sign-in (a :class:`~cliproxy.credentials.login.callback.CallbackFlow`)."""

    provider = PROVIDER
    flow: Literal["callback", "device"] = "callback"

    def __init__(self, http: HttpClient, *, proxy: str = "", clock: Callable[[], float] = time.time) -> None:
        self.http = http
        self.proxy = proxy_key(None, proxy)
        self.clock = clock
        self.default_port = int(endpoints.CLIENTS[PROVIDER]["port"])

    def redirect_uri_for(self, port: int) -> str:
        """Always the registered ``http://localhost:1455/auth/callback`` (OpenAI accepts no
        other); CPA keeps it when the callback port is moved."""
        return endpoints.CLIENTS[PROVIDER]["redirect_uri"]

    async def start(self, *, redirect_uri: str = "") -> AuthStart:
        client = endpoints.CLIENTS[PROVIDER]
        pkce, state = pkce_pair(), new_state()
        redirect = redirect_uri or client["redirect_uri"]
        query = {
            "client_id": client["client_id"],
            "response_type": "code",
            "redirect_uri": redirect,
            "scope": client["scope"],
            "state": state,
            "code_challenge": pkce.challenge,
            "code_challenge_method": "S256",
            "prompt": "login",
            "id_token_add_organizations": "true",
            "codex_cli_simplified_flow": "true",
        }
        url = endpoints.url(PROVIDER, "authorize") + "?" + urlencode(sorted(query.items()))
        return AuthStart(
            provider=PROVIDER,
            state=state,
            flow="callback",
            url=url,
            redirect_uri=redirect,
            secrets={"code_verifier": pkce.verifier},
        )

    async def finish(
        self, started: AuthStart, *, code: str = "", state: str = ""
    ) -> tuple[str, dict[str, Any]]:
        check_state(started, state)
        if not code.strip():
            raise LoginError("bad_response", "the callback carries no authorization code", provider=PROVIDER)
        form = {
            "grant_type": "authorization_code",
            "client_id": endpoints.CLIENTS[PROVIDER]["client_id"],
            "code": code.strip(),
            "redirect_uri": started.redirect_uri or endpoints.CLIENTS[PROVIDER]["redirect_uri"],
            "code_verifier": started.secrets.get("code_verifier", ""),
        }
        tokens = await token_request(
            self.http,
            endpoints.url(PROVIDER, "token"),
            provider=PROVIDER,
            body=urlencode(sorted(form.items())).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
            proxy=self.proxy,
        )
        name, record = codex_credential(tokens, self.clock())
        return name, dict(sorted(record.items()))

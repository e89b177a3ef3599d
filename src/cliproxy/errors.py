"""The error tree of cliproxy.

Errors are raised anywhere; they are rendered into a client's own error shape only at
the server edge (``cliproxy.server.errors``)::

    CliproxyError
     ├── RequestError          400 — the client sent something we cannot serve
     │    ├── ModelNotFoundError   400 model_not_found
     │    └── UnsupportedError     501 — a route or feature not built yet
     ├── AccessError           401/403 — client key missing, wrong, or unsafe config
     ├── ConfigError           a config file that cannot be loaded (key path + reason)
     ├── ConfigFileMissingError 409 — the config file was deleted while the proxy runs
     ├── ConfigSaveError       500 — a config edit could not be written (read-only, disk full)
     ├── ConcurrencyLimitError 429 — every credential is at its max-concurrency, no wait left
     └── UpstreamError         an upstream answered with an error or could not be reached
          ├── CooldownError        429 model_cooldown — every credential is cooling down
          └── NoCredentialError    503 — no credential can serve the model
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = [
    "AccessError",
    "CliproxyError",
    "ConcurrencyLimitError",
    "ConfigError",
    "ConfigFileMissingError",
    "ConfigSaveError",
    "CooldownError",
    "ModelNotFoundError",
    "NoCredentialError",
    "RequestError",
    "UnsupportedError",
    "UpstreamError",
    "clip",
]

ECHO_LIMIT = 200  # characters of a client-supplied value repeated in an error message


def clip(value: str, limit: int = ECHO_LIMIT) -> str:
    """``value`` cut to ``limit`` characters, saying how much was left out.

    Use it on every client-supplied value an error message repeats (model names, method
    names...): a 1 MB model name must not come back as a 1 MB error.
    """
    if len(value) <= limit:
        return value
    return f"{value[:limit]}…(+{len(value) - limit} chars)"


class CliproxyError(Exception):
    """Base of every error cliproxy raises on purpose."""

    status: int = 500
    error_type: str | None = None  # overrides the status-derived type when set
    code: str | None = None
    # headers the error answer carries (a key policy's rate headers, routing explain);
    # server/errors.py copies them onto the rendered answer
    response_headers: dict[str, str] | None = None

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


class RequestError(CliproxyError):
    """The client's request is malformed or asks for something we cannot do (400)."""

    status = 400

    def __init__(
        self, message: str, *, param: str | None = None, code: str | None = None, status: int | None = None
    ) -> None:
        super().__init__(message, status=status)
        self.param = param
        if code is not None:
            self.code = code


class ModelNotFoundError(RequestError):
    """No provider serves the requested model."""

    code = "model_not_found"

    def __init__(self, model: str) -> None:
        super().__init__(f"unknown provider for model {clip(model)}", param="model")
        self.model = model


class UnsupportedError(RequestError):
    """A route or feature that is not built yet (501)."""

    status = 501
    code = "not_implemented"


class AccessError(CliproxyError):
    """The client may not use the proxy: key missing, invalid, or unsafe example keys."""

    status = 401


class ConfigError(CliproxyError):
    """A config file failed to load. ``path`` is the dotted key path, when known."""

    def __init__(self, message: str, *, path: str | None = None, file: str | None = None) -> None:
        where = f"{path}: " if path else ""
        super().__init__(f"{where}{message}")
        self.path = path
        self.file = file
        self.reason = message


class ConfigFileMissingError(CliproxyError):
    """A config write found no file to edit: it was deleted while the proxy runs (409).

    Nothing is written; the running config stays. ``file`` is where the file was."""

    status = 409
    code = "config_file_missing"

    def __init__(self, file: str) -> None:
        super().__init__(
            f"the config file {file} is gone (deleted while the proxy runs); nothing was "
            "changed. Restore the file, or send the whole file with PUT "
            "/v0/management/config.yaml, which recreates it"
        )
        self.file = file


class ConfigSaveError(CliproxyError):
    """A config edit could not be written (a read-only file system, a full disk): 500, as
    CPA's ``failed to save config: ...``. The file on disk and the running config stay."""

    status = 500
    code = "config_save_failed"

    def __init__(self, exc: OSError) -> None:
        super().__init__(f"failed to save config: {exc.strerror or exc}")


class ConcurrencyLimitError(CliproxyError):
    """Every credential that serves the model is at its ``max-concurrency`` and the request
    cannot wait (the queue is full, or it waited ``max-wait``): 429 with Retry-After. Not an
    ``UpstreamError``: nothing was sent upstream and no credential is to blame."""

    status = 429

    def __init__(self, message: str, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        # the server edge adds these to the error answer (cliproxy.server.errors)
        self.response_headers = {"Retry-After": str(max(1, int(retry_after + 0.999)))}


# the longest wait an upstream may name, in seconds (Go's longest Duration, as
# providers.retry bounds Retry-After)
_LONGEST_WAIT = 9223372036.0


class UpstreamError(CliproxyError):
    """An upstream answered with an error status, or could not be reached.

    ``body`` is the upstream's error body (bytes, passed to the client verbatim when it
    is JSON, as CPA does); ``retry_after`` is in seconds when the upstream said when to
    come back; ``credential_id`` names the credential that got the error.

    A provider that knows more than the status says marks the scope (CPA's
    request-scoped and credential-scoped errors): ``request_scoped``, the request is at
    fault and the account is fine (the error goes to the client at once: no cooldown, no
    other credential); ``credential_scoped``, the whole account is exhausted, not one
    model (a 429 then cools every model of the credential); ``oversized``, the request
    alone is over a limit of this account (its tokens per minute) that another account
    may not share: nothing cools, the next credential is tried, no retry round runs.
    """

    request_scoped = False
    credential_scoped = False
    oversized = False

    def __init__(
        self,
        message: str,
        *,
        status: int = 502,
        body: bytes | None = None,
        retry_after: float | None = None,
        headers: Mapping[str, str] | None = None,
        credential_id: str | None = None,
        request_scoped: bool = False,
        credential_scoped: bool = False,
    ) -> None:
        super().__init__(message, status=status)
        self.body = body
        # a wait no clock can add (inf, NaN, past Go's longest Duration, ~292 years: an
        # upstream's reset header or body gone wrong) is no hint, as providers.retry reads
        # Retry-After: it cooled the key for ever and wrote a Retry-After of hundreds of
        # digits, or (inf) made the client's answer a 500
        self.retry_after = retry_after if retry_after is None or retry_after <= _LONGEST_WAIT else None
        self.headers = dict(headers or {})
        self.credential_id = credential_id
        if request_scoped:
            self.request_scoped = True
        if credential_scoped:
            self.credential_scoped = True


class CooldownError(UpstreamError):
    """Every credential that serves the model is cooling down (429 model_cooldown)."""

    code = "model_cooldown"

    def __init__(self, model: str, reset_seconds: float, provider: str = "") -> None:
        secs = max(1, int(reset_seconds + 0.999))
        super().__init__(
            f"All credentials for model {clip(model)} are cooling down; retry after {secs}s",
            status=429,
            retry_after=secs,
        )
        self.model = model
        self.reset_seconds = secs
        self.provider = provider


class NoCredentialError(UpstreamError):
    """No credential is available for the model (503)."""

    def __init__(self, model: str, providers: list[str] | None = None) -> None:
        plist = ",".join(providers or []) or "unknown"
        detail = f"no auth available (providers={plist}, model={clip(model.strip()) or 'unknown'})"
        if providers and "claude" in providers:  # CPA's hint: Claude keys and sessions are checked there
            detail += "; check Claude auth/key session and cooldown state via /v0/management/auth-files"
        super().__init__(detail, status=503)
        self.model = model

"""scheduler: choose the credential for each request yourself.

Only the highest-priority scheduler plugin is asked. ``request.candidates`` are the
credentials the proxy would pick from (already filtered for the model, cooldowns and
priority tier). In order: ``deny`` refuses every request, ``delegate`` hands the choice
back to a built-in strategy, ``auth_id`` picks that credential when it is a candidate;
anything else leaves the pick to the configured routing strategy.
"""

from __future__ import annotations

from typing import Any, ClassVar

from cliproxy.plugins.api import ConfigField, Host, PickDecision, PickRequest, Plugin, PluginError, Scheduler

BUILT_IN = ("fill-first", "round-robin")


class ExampleScheduler(Plugin, Scheduler):
    name = "scheduler"
    version = "1.0.0"
    author = "cliproxy"
    github_repository = "https://github.com/cliproxy/cliproxy"
    config_fields: ClassVar[list[ConfigField]] = [
        ConfigField("auth_id", "string", description="The credential id to pick."),
        ConfigField("delegate", "enum", ["", *BUILT_IN], "Let a built-in strategy pick."),
        ConfigField("deny", "boolean", description="Refuse every request (403)."),
        ConfigField("deny_status", "integer", description="The status a denied client sees (403)."),
    ]

    async def configure(self, config: dict[str, Any], host: Host) -> None:
        self.auth_id = str(config.get("auth_id") or "").strip()
        self.delegate = str(config.get("delegate") or "").strip().lower()
        self.deny = config.get("deny") is True
        self.deny_status = int(config.get("deny_status") or 403)

    async def pick(self, request: PickRequest) -> PickDecision | None:
        if self.deny:  # an error denies the request; the client sees http_status
            raise PluginError(
                f"the scheduler plugin denies {request.model}",
                http_status=self.deny_status,
                code="scheduler_denied",
            )
        if self.delegate in BUILT_IN:
            return PickDecision.delegate(self.delegate)
        if self.delegate:
            return None  # an unknown strategy: not handled
        if any(c.id == self.auth_id for c in request.candidates):
            return PickDecision.auth(self.auth_id)
        return None


plugin = ExampleScheduler()

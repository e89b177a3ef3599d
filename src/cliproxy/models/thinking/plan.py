"""Thinking for one route, looked up once: ``resolve_thinking`` then ``apply_thinking``.

What those two functions decide from the model's capabilities, the client format and
the target protocol (the applier, the body readers, whether the model thinks at all) does
not change between requests of a route, so :class:`ThinkingPlan` decides it when it is
built and :meth:`ThinkingPlan.apply` does only what depends on the request::

    plan = ThinkingPlan(caps, "openai", "claude", same_provider=False)
    plan.apply(upstream_body, client_body, suffix, "claude-sonnet-4-5")

The result is the two functions' (``tests/models/test_thinking_matrix.py`` runs the whole
thinking matrix through both).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cliproxy.translate.summary import body_summary_intent

from .appliers import APPLIERS
from .apply import REREAD_TARGETS, apply_checked, strip_thinking, user_defined_setting
from .canonical import ThinkingCaps
from .extract import gate_of, reader_for
from .resolve import adaptive_setting, adaptive_top, body_format, settle_thinking
from .suffix import parse_suffix_value

_BODY_FORMATS = {"responses": "openai-response"}  # CPA's from-protocol -> its body format

__all__ = ["ThinkingPlan", "summary_thinking"]


class ThinkingPlan:
    """:func:`resolve_thinking` + :func:`apply_thinking` for one (caps, client, target)."""

    __slots__ = (
        "adaptive_top",
        "applier",
        "caps",
        "checked",
        "client_key",
        "idle",
        "mirror",
        "quiet",
        "read_client",
        "read_upstream",
        "reread",
        "same",
        "source",
        "target",
        "thinks",
    )

    def __init__(
        self, caps: ThinkingCaps | None, client_format: str, target: str, same_provider: bool
    ) -> None:
        self.caps = caps
        self.source = client_format
        self.target = target
        self.same = same_provider
        self.applier = APPLIERS.get(target)  # None: the target is left alone
        # validated against the model (known, not user-defined); else written as asked
        self.checked = caps is not None and not caps.user_defined
        self.thinks = caps is not None and caps.supported  # False: thinking fields are stripped
        self.read_client = reader_for(body_format(client_format, target))
        self.read_upstream = reader_for(target)
        self.client_key = gate_of(self.read_client)  # a client body without it has no setting
        # an upstream body that is the client's (pass-through) reads as the client's did
        self.mirror = self.read_client is not None and self.read_client is self.read_upstream
        # an unknown or user-defined model takes a level the translator wrote as a budget
        self.reread = not self.checked and target in REREAD_TARGETS and self.read_upstream is not None
        # no setting asked: nothing to write
        self.idle = (not self.checked and not self.reread) or self.applier is None
        # nothing asked of a model that thinks: only a setting the translator wrote is checked
        # (Claude also gets thinking for a summary-only request: the whole path)
        self.quiet = self.thinks and self.read_upstream is not None and target != "claude"
        # a Claude client's adaptive thinking with no effort: a Gemini model's largest budget
        # (CPA's translator writes it; for another target the translator's level is fitted)
        self.adaptive_top = adaptive_top(caps, client_format, target)

    def apply(
        self,
        body: dict[str, Any],
        client_body: Mapping[str, Any],
        suffix: str | None,
        model: str,
        untouched: bool = False,
        owned: bool = False,
    ) -> None:
        """The request's setting (``model(suffix)`` first, then ``client_body``), checked
        against the model, written into the upstream ``body`` in place; raises
        ``ThinkingError`` (400) as :func:`resolve_thinking` does. ``untouched``: ``body``
        carries the client's top-level fields as they came (a pass-through body).
        ``owned``: a request normalizer took out the summary thinking written before it
        (``summary_first``): no Claude summary is written again."""
        cfg = parse_suffix_value(suffix) if suffix else None
        if cfg is None and self.read_client is not None:
            key = self.client_key
            if key is None or key in client_body:
                cfg = self.read_client(client_body, self.source)
                if cfg is None and self.adaptive_top:
                    cfg = adaptive_setting(self.adaptive_top, client_body)
            elif self.idle or (untouched and self.mirror and self.thinks):
                return  # nothing asked, and the upstream body has no setting to re-check either
            elif self.quiet and self.read_upstream(body, self.target) is None:  # type: ignore[misc]
                return  # nothing asked, and the translator wrote no setting to re-check
        caps = self.caps
        if not self.checked or caps is None:  # unknown or user-defined model: as asked
            if cfg is None and self.reread:
                cfg = self.read_upstream(body, self.target)  # type: ignore[misc]
            if cfg is not None and self.applier is not None:
                self.applier(body, user_defined_setting(cfg, self.target), None, model)
            return
        if cfg is not None:
            cfg = settle_thinking(
                cfg, caps, self.same, self.target, self.source
            )  # may raise, as resolve does
        if self.applier is None:
            return
        if not self.thinks:
            strip_thinking(body, self.target)
        else:
            apply_checked(body, cfg, self.target, model, caps, self.applier, self.read_upstream)
            if self.target == "claude" and not owned:
                if cfg is None and "thinking" not in body:
                    summary_thinking(body, client_body, self.source, caps)
                elif cfg is not None:
                    summary_display(body, client_body, self.source)


def summary_display(body: dict[str, Any], client_body: Mapping[str, Any], source: str) -> None:
    """Claude thinking a suffix turned on shows or hides its reasoning as the client's body
    said (a Responses ``summary: null`` is ``omitted``), as CPA's summary step does after
    the suffix; a display already written, or thinking turned off, is left alone."""
    thinking = body.get("thinking")
    if type(thinking) is not dict or "display" in thinking or thinking.get("type") == "disabled":
        return
    intent = body_summary_intent(client_body, _BODY_FORMATS.get(source, source))
    if intent is not None:
        thinking["display"] = "summarized" if intent else "omitted"


def summary_thinking(
    body: dict[str, Any], client_body: Mapping[str, Any], source: str, caps: ThinkingCaps
) -> None:
    """A client that asked only to see the reasoning (a Responses ``summary: auto``, no
    effort) gets Claude thinking it can be shown, as CPA turns it on for the model
    (``enableClaudeThinkingForSummary``): adaptive on a model with levels, else enabled at
    its minimum budget when ``max_tokens`` leaves room; ``display`` summarized."""
    if body_summary_intent(client_body, _BODY_FORMATS.get(source, source)) is not True:
        return
    if caps.levels:
        body["thinking"] = {"type": "adaptive", "display": "summarized"}
        return
    max_tokens = body.get("max_tokens")
    if caps.min <= 0 or (type(max_tokens) is int and max_tokens <= caps.min):
        return
    body["thinking"] = {"type": "enabled", "budget_tokens": caps.min, "display": "summarized"}

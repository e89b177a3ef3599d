"""Payload rules: each kind, each predicate, ordering, and the path engine."""

from __future__ import annotations

from typing import Any

import pytest
from multidict import CIMultiDict

from cliproxy.config.payload import PayloadConfig
from cliproxy.models.payload import PayloadRules, glob_match
from cliproxy.models.payload import paths as P


def rules(data: dict[str, Any]) -> PayloadRules:
    cfg = PayloadConfig.model_validate(data)
    cfg.drop_invalid_raw_rules()
    return PayloadRules.from_config(cfg)


def run(
    r: PayloadRules,
    body: dict[str, Any],
    *,
    model: str = "gpt-5",
    requested: str = "",
    protocol: str = "codex",
    from_protocol: str = "openai",
    headers: Any = None,
    original: dict | None = None,
    root: str = "",
) -> dict[str, Any]:
    r.apply(
        body,
        model=model,
        requested_model=requested or model,
        protocol=protocol,
        from_protocol=from_protocol,
        headers=headers or {},
        original=original,
        root=root,
    )
    return body


def one(kind: str, params: Any, **model: Any) -> PayloadRules:
    entry = {"name": "gpt-*", **model}
    return rules({kind: [{"models": [entry], "params": params}]})


# --- kinds and ordering ------------------------------------------------------------


def test_no_rules_is_falsy_and_leaves_body_alone():
    r = PayloadRules.from_config(None)
    body = {"a": 1}
    assert not r
    assert run(r, body) == {"a": 1}


def test_default_sets_missing_only():
    r = one("default", {"temperature": 0.5, "reasoning.effort": "high"})
    assert run(r, {"temperature": 1}) == {"temperature": 1, "reasoning": {"effort": "high"}}


def test_default_null_in_body_counts_as_present():
    r = one("default", {"temperature": 0.5})
    assert run(r, {"temperature": None}) == {"temperature": None}


def test_default_checks_the_original_body():
    r = one("default", {"reasoning.effort": "low"})
    body = {"reasoning": {"effort": "high"}}
    assert run(r, body, original={}) == {"reasoning": {"effort": "low"}}


def test_default_first_matching_rule_wins():
    r = rules(
        {
            "default": [
                {"models": [{"name": "gpt-*"}], "params": {"x": 1}},
                {"models": [{"name": "*"}], "params": {"x": 2, "y": 2}},
            ]
        }
    )
    assert run(r, {}) == {"x": 1, "y": 2}


def test_default_raw_parses_json_and_yields_to_default():
    r = rules(
        {
            "default": [{"models": [{"name": "*"}], "params": {"a": "plain"}}],
            "default-raw": [
                {"models": [{"name": "*"}], "params": {"a": '{"no": 1}', "b": '{"k": [1, 2]}', "c": '"s"'}}
            ],
        }
    )
    assert run(r, {}) == {"a": "plain", "b": {"k": [1, 2]}, "c": "s"}


def test_invalid_raw_rule_is_dropped():
    r = rules({"default-raw": [{"models": [{"name": "*"}], "params": {"a": "{not json"}}]})
    assert not r


def test_override_last_rule_wins():
    r = rules(
        {
            "override": [
                {"models": [{"name": "*"}], "params": {"x": 1}},
                {"models": [{"name": "gpt-*"}], "params": {"x": 2}},
            ]
        }
    )
    assert run(r, {"x": 0}) == {"x": 2}


def test_override_raw_after_override():
    r = rules(
        {
            "override": [{"models": [{"name": "*"}], "params": {"x": 1}}],
            "override-raw": [{"models": [{"name": "*"}], "params": {"x": "[true, null]"}}],
        }
    )
    assert run(r, {}) == {"x": [True, None]}


def test_filter_runs_last_and_deletes():
    r = rules(
        {
            "override": [{"models": [{"name": "*"}], "params": {"drop.me": 1, "keep": 1}}],
            "filter": [{"models": [{"name": "*"}], "params": ["drop", "absent.path"]}],
        }
    )
    assert run(r, {}) == {"keep": 1}


def test_override_values_are_fresh_per_body():
    r = one("override", {"meta": {"tags": ["a"]}})
    first = run(r, {})
    first["meta"]["tags"].append("b")
    assert run(r, {}) == {"meta": {"tags": ["a"]}}


def test_rule_without_models_never_applies():
    r = rules({"override": [{"models": [], "params": {"x": 1}}]})
    assert run(r, {}) == {}


def test_root_prefixes_paths_and_conditions():
    r = one("override", {"generationConfig.temperature": 0}, exist=["generationConfig"])
    body = {"request": {"generationConfig": {}}}
    assert run(r, body, root="request") == {"request": {"generationConfig": {"temperature": 0}}}


# --- model names and protocols -----------------------------------------------------


@pytest.mark.parametrize(
    ("model", "requested", "applies"),
    [
        ("gpt-5", "gpt-5", True),
        ("claude-x", "gpt-alias", True),  # the requested alias matches
        ("claude-x", "gpt-alias(high)", True),  # suffix stripped
        ("claude-x", "claude-y", False),
    ],
)
def test_models_glob_matches_upstream_or_requested(model, requested, applies):
    r = one("override", {"x": 1})
    assert ("x" in run(r, {}, model=model, requested=requested)) is applies


def test_name_with_suffix_matches_requested_with_suffix():
    r = rules({"override": [{"models": [{"name": "m(high)"}], "params": {"x": 1}}]})
    assert run(r, {}, model="m", requested="m(high)") == {"x": 1}
    assert run(r, {}, model="m", requested="m") == {}


@pytest.mark.parametrize(("protocol", "applies"), [("codex", True), ("CODEX", True), ("claude", False)])
def test_protocol(protocol, applies):
    r = one("override", {"x": 1}, protocol="codex")
    assert ("x" in run(r, {}, protocol=protocol.lower())) is applies


@pytest.mark.parametrize(
    ("from_protocol", "applies"),
    [("openai-response", True), ("responses", True), ("openai", False), ("", False)],
)
def test_from_protocol(from_protocol, applies):
    """CPA: TestApplyPayloadConfigWithRequest_FromProtocolGateUsesSourceProtocol."""
    r = one("override", {"x": 1}, **{"from-protocol": "responses"})
    assert ("x" in run(r, {}, from_protocol=from_protocol)) is applies


@pytest.mark.parametrize(
    ("headers", "applies"),
    [
        ({"X-Client-Tier": "tenant-a-region-eu"}, True),
        ({"x-client-tier": "tenant-a-region-eu"}, True),
        (CIMultiDict([("X-CLIENT-TIER", "nope"), ("x-client-tier", "tenant-b-region-us")]), True),
        ({"X-Client-Tier": "other"}, False),
        ({}, False),
    ],
)
def test_headers(headers, applies):
    """CPA: TestApplyPayloadConfigWithRequest_HeaderGateRequiresWildcardMatch."""
    r = one("override", {"x": 1}, headers={"X-Client-Tier": "tenant-*-region-*"})
    assert ("x" in run(r, {}, headers=headers)) is applies


# --- body predicates ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "applies"),
    [
        ({"metadata": {"client": "codex"}}, True),
        ({"metadata": {"client": "other"}}, False),
        ({}, False),
    ],
)
def test_match(body, applies):
    r = one("override", {"x": 1}, match=[{"metadata.client": "codex"}])
    assert ("x" in run(r, body)) is applies


@pytest.mark.parametrize(
    ("body", "expected", "applies"),
    [
        ({"n": 1.0}, 1, True),
        ({"n": True}, 1, False),
        ({"n": 1}, True, False),
        ({"o": {"a": [1, "x"]}}, {"a": [1, "x"]}, True),
    ],
)
def test_match_compares_as_json(body, expected, applies):
    key = next(iter(body))
    r = one("override", {"x": 1}, match=[{key: expected}])
    assert ("x" in run(r, body)) is applies


@pytest.mark.parametrize(
    ("body", "applies"),
    [({"metadata": {"mode": "dev"}}, False), ({"metadata": {"mode": "prod"}}, True), ({}, True)],
)
def test_not_match(body, applies):
    r = one("override", {"x": 1}, **{"not-match": [{"metadata.mode": "dev"}]})
    assert ("x" in run(r, body)) is applies


@pytest.mark.parametrize(
    ("body", "applies"),
    [
        ({"tools": [{"type": "function"}, {"type": "web_search"}]}, True),
        ({"tools": [{"type": "function"}]}, False),
        ({"tools": []}, False),
        ({}, False),
    ],
)
def test_exist_with_query(body, applies):
    r = one("override", {"x": 1}, exist=['tools.#(type=="web_search").type'])
    assert ("x" in run(r, body)) is applies


@pytest.mark.parametrize(
    ("condition", "applies"),
    [
        ({"match": [{"metadata.client": "codex"}]}, False),
        ({"not-match": [{"metadata.mode": "dev"}]}, False),
        ({"exist": ["metadata.missing"]}, False),
        ({"exist": ["metadata.null_value"]}, False),
        ({"not-exist": ["metadata.client"]}, False),
        ({"exist": ["metadata.client"]}, True),
    ],
    ids=[
        "match-mismatch",
        "not-match-matched",
        "exist-missing",
        "exist-null",
        "not-exist-present",
        "control",
    ],
)
def test_a_failed_condition_skips_the_rule(condition, applies):
    """CPA: TestApplyPayloadConfigWithRequest_PayloadConditionsSkipRule (a null counts as absent)."""
    body = {"model": "gpt-5.4", "metadata": {"client": "other", "mode": "dev", "null_value": None}}
    assert ("x" in run(one("override", {"x": 1}, **condition), body)) is applies


@pytest.mark.parametrize(
    ("body", "applies"),
    [
        ({"metadata": {"disable_payload": None}}, True),
        ({"metadata": {"disable_payload": False}}, False),
        ({}, True),
    ],
)
def test_not_exist(body, applies):
    r = one("override", {"x": 1}, **{"not-exist": ["metadata.disable_payload"]})
    assert ("x" in run(r, body)) is applies


def test_all_predicates_together():
    """CPA: TestApplyPayloadConfigWithRequest_PayloadConditionsNarrowRule."""
    r = one(
        "default",
        {"x": 1},
        protocol="codex",
        headers={"UA": "codex*"},
        match=[{"a": 1}],
        **{"not-match": [{"b": 2}], "exist": ["c"], "not-exist": ["d"]},
    )
    hit = {"a": 1, "b": 3, "c": 0}
    assert run(r, dict(hit), headers={"ua": "codex-cli"}) == {**hit, "x": 1}
    assert "x" not in run(r, {**hit, "d": 1}, headers={"ua": "codex-cli"})


# --- queries in param paths --------------------------------------------------------


def test_override_first_query_match():
    r = one("override", {'tools.#(type=="web_search").search_context_size': "high"})
    body = {"tools": [{"type": "web_search"}, {"type": "web_search"}]}
    assert run(r, body)["tools"] == [
        {"type": "web_search", "search_context_size": "high"},
        {"type": "web_search"},
    ]


def test_override_all_query_matches():
    r = one("override", {'tools.#(type=="web_search")#.strict': True})
    body = {"tools": [{"type": "web_search"}, {"type": "function"}, {"type": "web_search"}]}
    assert [t.get("strict") for t in run(r, body)["tools"]] == [True, None, True]


def test_filter_all_query_matches_keeps_the_rest_in_order():
    r = one("filter", ['tools.#(type=="image_generation")#'])
    body = {
        "tools": [{"type": "image_generation"}, {"type": "a"}, {"type": "image_generation"}, {"type": "b"}]
    }
    assert run(r, body) == {"tools": [{"type": "a"}, {"type": "b"}]}


def test_query_without_match_writes_nothing():
    r = one("override", {'tools.#(type=="x").y': 1})
    assert run(r, {"tools": [{"type": "a"}]}) == {"tools": [{"type": "a"}]}


# --- the path engine ---------------------------------------------------------------

DOC = {
    "a": {"b.c": 1, "list": [10, {"k": "v"}]},
    "n": [{"age": 30, "name": "Dale", "nets": ["fb", "tw"]}, {"age": 50, "name": "Roger", "nets": ["ig"]}],
}


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("a.b\\.c", 1),
        ("a.list.0", 10),
        ("a.list.1.k", "v"),
        ("a.list.#", 2),
        ("a.list.5", P.MISSING),
        ("a.missing", P.MISSING),
        ("n.#(age>40).name", "Roger"),
        ("n.#(age>=30).name", "Dale"),
        ('n.#(name%"D*").age', 30),
        ('n.#(name!%"D*").age', 50),
        ('n.#(nets.#(=="ig")).name', "Roger"),
        ('n.#(age<40 && name=="Dale").age', 30),
        ('n.#(age>100 || name=="Roger").age', 50),
        ("n.#(age!=30).name", "Roger"),
        ("n.#(nets).age", 30),
        ('n.#(name=="Nobody").age', P.MISSING),
    ],
)
def test_get(path, value):
    found = [P.get(DOC, p) for p in P.resolve(DOC, P.parse(path))]
    assert (found[0] if found else P.MISSING) == value


@pytest.mark.parametrize(
    ("doc", "path", "value", "expected"),
    [
        ({}, "a.b", 1, {"a": {"b": 1}}),
        ({}, "a.0", 1, {"a": [1]}),
        ({}, "a.2", 1, {"a": [None, None, 1]}),
        ({"a": [1]}, "a.-1", 2, {"a": [1, 2]}),
        ({}, "a.:1", 2, {"a": {"1": 2}}),
        ({"a": 5}, "a.b", 1, {"a": {"b": 1}}),
        ({"a": [1, 2]}, "a.1", 9, {"a": [1, 9]}),
    ],
)
def test_set(doc, path, value, expected):
    assert P.set_value(doc, P.parse(path), value)
    assert doc == expected


def test_set_refuses_a_key_on_a_list():
    doc: dict = {"a": [1]}
    assert not P.set_value(doc, P.parse("a.key"), 1)
    assert doc == {"a": [1]}


@pytest.mark.parametrize(
    ("path", "removed", "expected"),
    [
        ("a.b", True, {"a": {}, "l": [1, 2]}),
        ("l.0", True, {"a": {"b": 1}, "l": [2]}),
        ("l.5", False, {"a": {"b": 1}, "l": [1, 2]}),
        ("x.y", False, {"a": {"b": 1}, "l": [1, 2]}),
    ],
)
def test_delete(path, removed, expected):
    doc = {"a": {"b": 1}, "l": [1, 2]}
    assert P.delete(doc, P.parse(path)) is removed
    assert doc == expected


@pytest.mark.parametrize(
    ("pattern", "value", "ok"),
    [
        ("*", "anything", True),
        ("gpt-*", "gpt-5", True),
        ("*-5", "gpt-5", True),
        ("gemini-*-pro", "gemini-2.5-pro", True),
        ("gpt-5", "GPT-5", False),
        ("", "x", False),
        ("a.c", "abc", False),
        ("gpt-?", "gpt-5", False),
    ],
)
def test_glob_match(pattern, value, ok):
    assert glob_match(pattern, value) is ok


def test_writes_and_deletes_never_reach_containers_shared_with_another_body():
    # an attempt's body owns its top-level objects but shares arrays (messages, tools)
    # with the client's request: a rule must copy what it changes, not write through
    client = {"messages": [{"role": "user", "content": "hi", "cache": {"t": 1}}], "tools": [{"n": 1}]}
    attempt = dict(client)
    assert P.set_value(attempt, P.parse("messages.0.content"), "changed")
    assert P.set_value(attempt, P.parse("tools.-1"), {"n": 2})
    assert P.delete(attempt, P.parse("messages.0.cache.t"))
    assert attempt["messages"][0] == {"role": "user", "content": "changed", "cache": {}}
    assert attempt["tools"] == [{"n": 1}, {"n": 2}]
    assert client == {"messages": [{"role": "user", "content": "hi", "cache": {"t": 1}}], "tools": [{"n": 1}]}
    assert not P.delete(attempt, P.parse("messages.5"))  # nothing there: nothing copied or removed


# --- "#": every element ------------------------------------------------------------


def test_override_writes_every_element():
    """CPA TestApplyPayloadConfigProjectionOverrideWritesEveryMatch: ``items.#.value``
    sets ``value`` on each element of ``items``."""
    r = one("override", {"items.#.value": [1, 2]})
    assert run(r, {"items": [{"value": 1}, {"value": 2}]}) == {
        "items": [{"value": [1, 2]}, {"value": [1, 2]}]
    }


def test_override_raw_writes_every_element():
    """CPA TestApplyPayloadConfigProjectionOverrideRawWritesEveryMatch."""
    r = one("override-raw", {"items.#.value": "[1,2]"})
    assert run(r, {"items": [{"value": 1}, {}]}) == {"items": [{"value": [1, 2]}, {"value": [1, 2]}]}


def test_every_element_default_and_filter():
    """Per element: a default fills the elements that lack the field, a filter removes it
    from each; no array, nothing happens; a ``#`` as the last part stays the array's
    length. (CPA checks a default's ``items.#.value`` once, as a projection: with one
    element holding the field, it writes none; here each element is its own field.)"""
    r = one("default", {"tools.#.strict": True})
    body = {"tools": [{"name": "a"}, {"name": "b", "strict": False}]}
    assert run(r, body)["tools"] == [{"name": "a", "strict": True}, {"name": "b", "strict": False}]
    r = one("filter", ["tools.#.cache_control"])
    body = {"tools": [{"name": "a", "cache_control": {}}, {"name": "b"}]}
    assert run(r, body) == {"tools": [{"name": "a"}, {"name": "b"}]}
    r = one("override", {"tools.#.x": 1})
    assert run(r, {"tools": {"not": "an array"}}) == {"tools": {"not": "an array"}}
    assert P.get({"tools": [1, 2, 3]}, P.parse("tools.#")) == 3
    assert P.resolve({"a": [{"b": 1}, {"b": 2}]}, P.parse("a.#.b")) == [("a", "0", "b"), ("a", "1", "b")]

"""Parsing api-keys entries (CPA's plain strings unchanged), periods, and the cost of a usage."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from cliproxy.config import Config
from cliproxy.formats import ir
from cliproxy.policies.prices import PriceTable
from cliproxy.policies.rules import build_access, period_tag


def test_plain_strings_load_as_in_cpa():
    config = Config.model_validate({"api-keys": [" k1 ", "k2", "k1"]})
    assert config.api_keys == ["k1", "k2"] and config.client_keys == []
    assert build_access(config).policies == {}


def test_mixed_entries():
    config = Config.model_validate(
        {
            "api-keys": [
                "plain",
                {"key": "sk-a", "models": "gpt-*", "rpm": 5, "expires-at": dt.date(2027, 1, 31)},
                {"key-hash": "sha256:00", "budget": {"cost": 1.5, "period": "week"}},
            ]
        }
    )
    assert config.api_keys == ["plain", "sk-a"]
    a, h = config.client_keys
    assert a.models == ["gpt-*"] and a.expires_at == dt.datetime(2027, 2, 1, tzinfo=dt.UTC).timestamp()
    assert h.budget is not None and h.budget.period == "week"
    access = build_access(config)
    assert set(access.policies) == {"sk-a"} and access.required


@pytest.mark.parametrize(
    ("entry", "needle"),
    [
        ({"rpm": 1}, "needs key or key-hash"),
        ({"key": "a", "key-hash": "sha256:0"}, "not both"),
        ({"key": "a", "rpm": -2}, "rpm"),
        ({"key": "a", "expires-at": "next week"}, "expires-at"),
        ({"key": "a", "budget": {"period": "year"}}, "period"),
    ],
)
def test_bad_entries_name_the_problem(entry, needle):
    with pytest.raises(ValidationError) as err:
        Config.model_validate({"api-keys": ["ok", entry]})
    assert "api-keys[1]" in str(err.value) and needle in str(err.value)


def test_periods_are_utc_calendar_periods():
    now = dt.datetime(2026, 12, 3, 15, 0, tzinfo=dt.UTC).timestamp()  # a Thursday
    assert period_tag("day", now) == ("d:2026-12-03", dt.datetime(2026, 12, 4, tzinfo=dt.UTC).timestamp())
    assert period_tag("week", now)[0] == "w:2026-11-30"
    assert period_tag("month", now) == ("m:2026-12-01", dt.datetime(2027, 1, 1, tzinfo=dt.UTC).timestamp())
    assert period_tag("total", now) == ("total", 0.0)


def test_cost_uses_the_token_split_and_the_most_specific_price():
    table = PriceTable()
    # claude-sonnet-4*: $3 in, $0.3 cache read, $3.75 cache write, $15 out (per million)
    usage = ir.Usage(
        input_tokens=1_000_000, output_tokens=100_000, cache_read_tokens=400_000, cache_write_tokens=100_000
    )
    assert table.cost("claude-sonnet-4-6", usage) == pytest.approx(
        0.5 * 3 + 0.4 * 0.3 + 0.1 * 3.75 + 0.1 * 15
    )
    mini = ir.Usage(input_tokens=1_000_000, output_tokens=1_000_000, reasoning_tokens=500_000)
    assert table.cost("gpt-5-mini", mini) == pytest.approx(0.25 + 2.0)  # not gpt-5*'s price
    assert table.cost("unknown-model", mini) == 0.0


def test_config_prices_override_packaged_ones():
    config = Config.model_validate({"model-prices": {"gpt-5*": {"input": 2, "output": 20, "reasoning": 40}}})
    table = PriceTable(config.model_prices)
    usage = ir.Usage(input_tokens=1_000_000, output_tokens=1_000_000, reasoning_tokens=250_000)
    assert table.cost("GPT-5.4", usage) == pytest.approx(2 + 0.75 * 20 + 0.25 * 40)

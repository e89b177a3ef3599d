"""The benchmark regression gate's comparison (bench/gate.py): pure functions, no servers."""

from __future__ import annotations

import json

import pytest

from tests import bench_modules
from tests.bench_modules import BENCH

gate = bench_modules.load("gate")

BASE = {
    "metrics": {
        "req/s proxy / floor": {"value": 0.8, "better": "higher"},
        "added us/req proxy / floor": {"value": 2.0, "better": "lower"},
    }
}


def test_same_ratios_pass() -> None:
    assert gate.compare(BASE, {"req/s proxy / floor": 0.8, "added us/req proxy / floor": 2.0}) == []


def test_small_drift_within_tolerance_passes() -> None:
    # 10% fewer req/s and a 15% larger cost ratio: both within the 15% band
    assert gate.compare(BASE, {"req/s proxy / floor": 0.72, "added us/req proxy / floor": 2.3}) == []


def test_higher_is_better_ratio_that_fell_fails_and_is_named() -> None:
    failures = gate.compare(BASE, {"req/s proxy / floor": 0.64, "added us/req proxy / floor": 2.0})
    assert len(failures) == 1
    assert failures[0].startswith("req/s proxy / floor: 0.640 vs baseline 0.800")
    assert "-20%" in failures[0]


def test_lower_is_better_ratio_that_rose_fails() -> None:
    # limit = 2.0 / 0.85 = 2.353: 2.4 is worse by more than 15% of the reciprocal
    failures = gate.compare(BASE, {"req/s proxy / floor": 0.9, "added us/req proxy / floor": 2.4})
    assert [f.split(":")[0] for f in failures] == ["added us/req proxy / floor"]
    assert "lower is better" in failures[0]


def test_better_than_baseline_never_fails() -> None:
    assert gate.compare(BASE, {"req/s proxy / floor": 3.0, "added us/req proxy / floor": 0.1}) == []


@pytest.mark.parametrize("value", [None, float("nan")])
def test_unmeasured_metric_fails(value: float | None) -> None:
    current = {"added us/req proxy / floor": 2.0}
    if value is not None:
        current["req/s proxy / floor"] = value
    failures = gate.compare(BASE, current)
    assert failures == ["req/s proxy / floor: not measured (baseline 0.800)"]


def test_metric_only_in_current_is_ignored_and_tolerance_is_a_parameter() -> None:
    current = {"req/s proxy / floor": 0.7, "added us/req proxy / floor": 2.0, "new ratio": 0.0}
    assert gate.compare(BASE, current) == []
    assert len(gate.compare(BASE, current, tolerance=0.05)) == 1


def _nonstream(rps: float, cpu: float) -> dict[str, float]:
    return {"rps": rps, "cpu_us": cpu}


def _stream(ttfb: float, cpu: float) -> dict[str, float]:
    return {"ttfb_p50": ttfb, "cpu_us": cpu}


BEST = {
    "direct": _nonstream(10_000, 10),
    "floor": _nonstream(5_000, 100),
    "pfloor": _nonstream(8_000, 20),
    "proxy|passthrough OpenAI": _nonstream(4_000, 150),
    "proxy|Claude -> OpenAI": _nonstream(2_000, 300),
    "stream|direct": _stream(1.0, 50),
    "stream|floor": _stream(2.0, 400),
    "stream|pfloor": _stream(1.5, 100),
    "stream|proxy|passthrough OpenAI": _stream(3.0, 600),
    "stream|proxy|Claude -> OpenAI": _stream(3.0, 900),
}


def test_ratios_from_best_results() -> None:
    best = BEST
    values = {name: v for name, (v, _) in gate.ratios(best).items()}
    assert values["req/s proxy / floor (passthrough OpenAI, c=16)"] == pytest.approx(0.8)
    assert values["req/s proxy / protocol floor (passthrough OpenAI, c=16)"] == pytest.approx(0.5)
    # added: proxy 250 - 100 = 150 us, floor 200 - 100 = 100 us, protocol floor 125 - 100 = 25 us
    assert values["added us/req proxy / floor (passthrough OpenAI)"] == pytest.approx(1.5)
    assert values["added us/req proxy / protocol floor (passthrough OpenAI)"] == pytest.approx(6.0)
    assert values["added us/req Claude -> OpenAI / passthrough OpenAI"] == pytest.approx(400 / 150)
    assert values["stream TTFB p50 proxy / floor (passthrough OpenAI)"] == pytest.approx(1.5)
    assert values["CPU us/req proxy / protocol floor (Claude -> OpenAI)"] == pytest.approx(15.0)
    assert values["CPU us/stream proxy / protocol floor (50 chunks, Claude -> OpenAI)"] == pytest.approx(9.0)


def test_median_over_rounds_ignores_one_disturbed_round() -> None:
    slow_proxy = {**BEST, "proxy|passthrough OpenAI": _nonstream(1_000, 150)}  # a round gone wrong
    fast_proxy = {**BEST, "proxy|passthrough OpenAI": _nonstream(4_400, 150)}
    values = gate.median_ratios([BEST, slow_proxy, fast_proxy])
    assert values["req/s proxy / floor (passthrough OpenAI, c=16)"] == (pytest.approx(0.8), "higher")


def test_committed_baseline_is_well_formed() -> None:
    doc = json.loads((BENCH / "baseline.json").read_text())
    assert doc["metrics"], "bench/baseline.json has no metrics"
    for name, entry in doc["metrics"].items():
        assert entry["better"] in ("higher", "lower"), name
        assert entry["value"] > 0, name
    # every ratio the gate measures is in the baseline (and nothing else), with its direction
    measured = gate.ratios(BEST)
    assert set(doc["metrics"]) == set(measured)
    assert all(doc["metrics"][n]["better"] == better for n, (_, better) in measured.items())
    assert gate.compare(doc, {n: e["value"] for n, e in doc["metrics"].items()}) == []
    for name, entry in doc["metrics"].items():  # a band of its own only where it is wider
        assert (
            gate.TOLERANCE < entry.get("tolerance", 1.0) <= gate.MAX_TOLERANCE or "tolerance" not in entry
        ), name


def _baseline_of(results: dict[str, dict]) -> dict:
    return {"metrics": {n: {"value": v, "better": b} for n, (v, b) in gate.ratios(results).items()}}


class Rounds:
    """A measurement source for ``gate.check``: hands out the given rounds in order and
    records how many each call asked for."""

    def __init__(self, rounds: list[dict[str, dict]]) -> None:
        self.left = list(rounds)
        self.asked: list[int] = []

    def __call__(self, n: int) -> list[dict[str, dict]]:
        self.asked.append(n)
        taken, self.left = self.left[:n], self.left[n:]
        assert len(taken) == n, "the check asked for more rounds than the test planned"
        return taken


SLOW_TTFB = {**BEST, "stream|proxy|passthrough OpenAI": _stream(4.0, 600)}  # TTFB ratio 2.0 vs 1.5


def test_check_passing_rounds_are_not_measured_again() -> None:
    source = Rounds([BEST] * gate.ROUNDS)
    failures, rounds = gate.check(_baseline_of(BEST), source)
    assert failures == [] and len(rounds) == gate.ROUNDS
    assert source.asked == [gate.ROUNDS]


def test_check_a_stray_failure_is_measured_again_and_passes() -> None:
    """Three of the first five rounds slow (their median fails), the five after them not:
    the median over ten passes, and no failure is reported."""
    first = [SLOW_TTFB, BEST, SLOW_TTFB, BEST, SLOW_TTFB]
    assert gate.compare(_baseline_of(BEST), gate._values(first)) != []
    source = Rounds(first + [BEST] * gate.CONFIRM_ROUNDS)
    failures, rounds = gate.check(_baseline_of(BEST), source)
    assert failures == []
    assert source.asked == [gate.ROUNDS, gate.CONFIRM_ROUNDS] and len(rounds) == 10


def test_check_a_regression_that_stays_is_reported_over_all_rounds() -> None:
    source = Rounds([SLOW_TTFB] * (gate.ROUNDS + gate.CONFIRM_ROUNDS))
    failures, rounds = gate.check(_baseline_of(BEST), source)
    assert [f.split(":")[0] for f in failures] == [
        "stream TTFB p50 proxy / direct (passthrough OpenAI)",
        "stream TTFB p50 proxy / floor (passthrough OpenAI)",
    ]
    assert "4.000 vs baseline 3.000" in failures[0] and "2.000 vs baseline 1.500" in failures[1]
    assert source.asked == [gate.ROUNDS, gate.CONFIRM_ROUNDS] and len(rounds) == 10


def test_a_metric_band_of_its_own_replaces_the_tolerance() -> None:
    base = {
        "metrics": {
            "steady": {"value": 1.0, "better": "lower"},
            "noisy": {"value": 1.0, "better": "lower", "tolerance": 0.4},
        }
    }
    # limits: steady 1 / 0.85 = 1.176; noisy 1 / 0.6 = 1.667
    assert gate.compare(base, {"steady": 1.15, "noisy": 1.6}) == []
    failures = gate.compare(base, {"steady": 1.2, "noisy": 1.7})
    assert [f.split(":")[0] for f in failures] == ["noisy", "steady"]
    assert "limit 1.667" in failures[0]


def _spread(ttfb_values: list[float]) -> list[dict[str, dict]]:
    """Rounds alike but for the passthrough stream's TTFB (the floor's stays 2.0)."""
    return [{**BEST, "stream|proxy|passthrough OpenAI": _stream(v, 600)} for v in ttfb_values]


def test_tolerances_widen_only_the_ratios_that_spread() -> None:
    # TTFB 2.0 to 4.0 over 15 rounds: its two ratios spread widely; nothing else moves
    rounds = _spread([2.0 + 2.0 * i / 14 for i in range(15)])
    bands = gate.tolerances(rounds)
    assert set(bands) == {
        "stream TTFB p50 proxy / floor (passthrough OpenAI)",
        "stream TTFB p50 proxy / direct (passthrough OpenAI)",
    }
    # quartiles 2.43 and 3.57 (statistics.quantiles) of a median 3.0: sigma 0.282 relative;
    # 2.5 x 1.2533 x 0.282 x sqrt(1/15 + 1/10) = 0.361 of a rise, a band of 0.361 / 1.361
    # for a lower-is-better ratio
    assert bands["stream TTFB p50 proxy / floor (passthrough OpenAI)"] == pytest.approx(0.265, abs=0.002)
    assert all(gate.TOLERANCE < b <= gate.MAX_TOLERANCE for b in bands.values())


def test_tolerances_need_rounds_and_are_capped() -> None:
    assert gate.tolerances(_spread([2.0, 4.0, 3.0])) == {}  # too few rounds to tell a spread
    wild = gate.tolerances(_spread([0.5, 9.0] * 8), verdict_rounds=2)
    assert wild and all(b == gate.MAX_TOLERANCE for b in wild.values())
    assert gate.tolerances([BEST] * 15) == {}  # nothing spreads: the tolerance stands


def test_a_baseline_from_another_cpu_is_named() -> None:
    """The protocol-floor ratios move with the CPU (the same code: CPU x3.56 the floor's on
    an AMD EPYC, x5.35 on an Intel Xeon): --check says so rather than let a FAIL pass for a
    regression."""
    note = gate.other_cpu({"cpu": "AMD EPYC", **BASE}, "Intel(R) Xeon(R) Processor")
    assert note is not None and "AMD EPYC" in note and "Intel(R) Xeon(R) Processor" in note
    assert "bench/ab.py" in note
    assert gate.other_cpu({"cpu": "AMD EPYC", **BASE}, "AMD EPYC") is None
    assert gate.other_cpu(BASE, "AMD EPYC") is None  # a baseline that does not say


def test_the_committed_baseline_names_its_cpu() -> None:
    assert json.loads((BENCH / "baseline.json").read_text()).get("cpu")

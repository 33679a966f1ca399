"""The estimator validated by simulation: known hourly flows, observed as a team would.

A smaller, seeded run of bench/bench_flows_estimator.py (which does 1,000+ replications per
scenario). The 95% interval must hold the truth about 95% of the time where the model's
assumptions hold, and the estimator must say so where they do not.
"""

from __future__ import annotations

import numpy as np
import pytest

from mobility.flows.estimation import ASSUME_NEAREST, ASSUME_UNSEEN_WEEKDAY
from mobility.flows.simulation import FlowPattern, Schedule, coverage_run

REPS = 200


@pytest.mark.parametrize(
    "scenario, period",
    [
        ("day-shift+24h", "month"),
        ("day-shift+24h", "week"),
        ("24h-patchy", "week"),
        ("rotating-shifts", "month"),
    ],
)
def test_the_95_percent_interval_holds_the_truth_about_95_percent_of_the_time(scenario, period):
    result = coverage_run(scenario, period=period, reps=REPS, seed=20240601, n_boot=400)
    assert result.replications == REPS
    assert 0.90 <= result.coverage <= 0.99, result
    assert abs(result.mean_relative_bias) < 0.02, result


def test_every_hour_observed_is_exact():
    result = coverage_run("full-time", period="month", reps=20, seed=1, n_boot=100)
    assert result.coverage == 1.0 and result.mean_relative_width == 0.0 and result.methods == {"exact": 20}


def test_never_observed_nights_miss_the_truth_and_every_estimate_says_it_is_an_assumption():
    # The honest failure: nothing tells the estimator how quiet the nights are.
    result = coverage_run("day-shift-no-nights", period="month", reps=50, seed=3, n_boot=200)
    assert result.coverage < 0.5
    assert all(ASSUME_NEAREST in method for method in result.methods)


def test_a_quiet_sunday_never_observed_is_flagged():
    result = coverage_run("quiet-sunday", period="month", reps=30, seed=4, n_boot=200)
    assert result.mean_relative_bias > 0.02  # Sunday is taken for a Saturday
    assert all(ASSUME_UNSEEN_WEEKDAY in method for method in result.methods)


def test_the_simulated_flow_has_the_features_it_claims():
    pattern = FlowPattern()
    rng = np.random.default_rng(0)
    truth = pattern.draw(7 * 52, rng)
    daily = truth.sum(axis=1)
    assert pattern.hour_profile().sum() == pytest.approx(1.0)
    assert daily.mean() == pytest.approx(pattern.daily_mean * 1.09, rel=0.1)  # weekday factors + market day
    thursdays = daily[3::7].mean() / np.delete(daily, np.s_[3::7]).mean()
    assert thursdays > 1.3  # market day
    hourly = truth[:, 10]
    assert hourly.var() > 2 * hourly.mean()  # overdispersed
    mask = Schedule().observe(7 * 52, rng)
    assert not mask[:, 20].any() and not mask[6::7].any()  # no nights, no Sundays
    assert 0.85 < mask[:, 10].mean() / (6 / 7) < 0.95  # 10% of days missed

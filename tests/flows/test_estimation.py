"""The flow estimator: the properties every estimate must have, and how counts become an hour grid."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mobility.flows.estimation import (
    ASSUME_NEAREST,
    ASSUME_OTHER_DAY,
    ASSUME_PROFILE,
    ASSUME_UNSEEN_WEEKDAY,
    METHOD_EXACT,
    HourGrid,
    NoObservation,
    Record,
    build_grid,
    covered_hours,
    estimate_total,
    hour_blocks,
    profile_from_grid,
)

MONDAY = dt.date(2024, 3, 4)


@st.composite
def grids(draw, full: bool = False):
    """A period of 1–31 days with non-negative counts and any observed pattern (at least one hour)."""
    days = draw(st.integers(1, 31))
    start = MONDAY + dt.timedelta(days=draw(st.integers(0, 6)))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    if full:
        observed = np.ones((days, 24), dtype=bool)
    else:
        style = draw(st.sampled_from(["random", "schedule", "sparse"]))
        if style == "random":
            observed = rng.random((days, 24)) < draw(st.floats(0.05, 1.0))
        elif style == "schedule":
            first = draw(st.integers(0, 20))
            observed = np.zeros((days, 24), dtype=bool)
            observed[:, first : first + draw(st.integers(1, 24 - first))] = True
            observed[rng.random(days) < 0.2] = False
        else:
            observed = np.zeros((days, 24), dtype=bool)
            observed[rng.integers(days), rng.integers(24)] = True
        if not observed.any():
            observed[0, 12] = True
    scale = draw(st.sampled_from([0.0, 0.3, 5.0, 200.0]))
    counts = np.where(observed, rng.negative_binomial(2, 2 / (2 + scale), size=(days, 24)), 0).astype(float)
    return HourGrid(start=start, observed=observed, counts=counts)


@given(grid=grids(), seed=st.integers(0, 1000))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_every_estimate_is_ordered_non_negative_and_at_least_the_observed_count(grid, seed):
    result = estimate_total(grid, n_boot=200, seed=seed)
    assert 0 <= result.lower <= result.estimate <= result.upper
    assert result.estimate >= result.observed - 1e-9
    assert result.lower >= result.observed - 1e-9
    assert result.observed == pytest.approx(grid.counts[grid.observed].sum())
    assert 0 <= result.coverage <= 1
    assert result.coverage == pytest.approx(grid.observed.sum() / (grid.days * 24))
    assert np.isfinite([result.estimate, result.lower, result.upper]).all()
    assert len(result.method) <= 64


@given(grid=grids(full=True), seed=st.integers(0, 1000))
@settings(max_examples=40, deadline=None)
def test_every_hour_observed_gives_the_count_with_a_zero_width_interval(grid, seed):
    result = estimate_total(grid, n_boot=200, seed=seed)
    assert result.estimate == result.lower == result.upper == result.observed == grid.counts.sum()
    assert result.coverage == 1.0
    assert result.method == METHOD_EXACT and not result.model_based


@given(grid=grids(), seed=st.integers(0, 1000))
@settings(max_examples=30, deadline=None)
def test_the_same_seed_gives_the_same_interval(grid, seed):
    a = estimate_total(grid, n_boot=100, seed=seed)
    b = estimate_total(grid, n_boot=100, seed=seed)
    assert (a.estimate, a.lower, a.upper) == (b.estimate, b.lower, b.upper)


def _grid(days: int, hours, value: float = 10.0, start: dt.date = MONDAY) -> HourGrid:
    observed = np.zeros((days, 24), dtype=bool)
    observed[:, list(hours)] = True
    return HourGrid(start=start, observed=observed, counts=np.where(observed, value, 0.0))


def test_a_period_with_no_observed_hour_has_no_estimate():
    with pytest.raises(NoObservation):
        estimate_total(_grid(7, []))


def test_an_observed_zero_is_zero_not_missing():
    # Every hour observed, nobody crossed: the estimate is exactly 0, not a guess.
    grid = HourGrid(start=MONDAY, observed=np.ones((7, 24), dtype=bool), counts=np.zeros((7, 24)))
    result = estimate_total(grid)
    assert (result.estimate, result.lower, result.upper) == (0, 0, 0)


def test_a_missed_day_is_filled_from_the_other_days_of_its_type():
    # 4 weeks, 24 hours a day, 10 people an hour on weekdays, 4 at weekends; one Tuesday missed.
    days = 28
    counts = np.full((days, 24), 10.0)
    weekend = [(MONDAY + dt.timedelta(days=d)).weekday() >= 5 for d in range(days)]
    counts[weekend] = 4.0
    observed = np.ones((days, 24), dtype=bool)
    observed[1] = False
    result = estimate_total(HourGrid(start=MONDAY, observed=observed, counts=np.where(observed, counts, 0)))
    assert result.estimate == pytest.approx(counts.sum())
    assert result.lower == result.upper == pytest.approx(counts.sum())  # no day-to-day noise at all
    assert result.coverage == pytest.approx(27 / 28)
    assert result.method == "strata-ratio"


def test_never_observed_nights_are_flagged_as_an_assumption():
    result = estimate_total(_grid(28, range(6, 18)), n_boot=200, seed=1)
    assert ASSUME_NEAREST in result.assumptions and result.model_based
    assert "nearest" in result.method
    assert result.imputed_hours == 28 * 12 and 0 < result.imputed_share < 1


def test_nights_seen_in_the_history_come_from_the_profile_not_the_nearest_hour():
    # History: day shifts, and one 24-hour count a week showing quiet nights (1 an hour vs 10).
    weeks = 8
    truth = np.full((weeks * 7, 24), 1.0)
    truth[:, 6:18] = 10.0
    observed = np.zeros_like(truth, dtype=bool)
    observed[:, 6:18] = True
    observed[2::7] = True  # every Wednesday, 24 hours
    history = HourGrid(start=MONDAY, observed=observed, counts=np.where(observed, truth, 0.0))
    profile = profile_from_grid(history)
    assert profile.values[0, 2] == pytest.approx(1.0) and profile.values[0, 10] == pytest.approx(10.0)
    # The target week has no 24-hour count.
    week = _grid(7, range(6, 18), start=MONDAY + dt.timedelta(weeks=weeks))
    result = estimate_total(week, profile=profile, n_boot=200, seed=2)
    assert ASSUME_PROFILE in result.assumptions and ASSUME_NEAREST not in result.assumptions
    # Weekend nights were never counted: borrowed from weekdays, and said so.
    assert ASSUME_OTHER_DAY in result.assumptions
    assert result.estimate == pytest.approx(7 * (12 * 10 + 12 * 1))


def test_a_weekday_never_observed_in_a_month_is_flagged():
    grid = _grid(28, range(24))
    sundays = [d for d in range(28) if (MONDAY + dt.timedelta(days=d)).weekday() == 6]
    observed = grid.observed.copy()
    observed[sundays] = False
    result = estimate_total(HourGrid(start=MONDAY, observed=observed, counts=np.where(observed, 10.0, 0.0)))
    assert ASSUME_UNSEEN_WEEKDAY in result.assumptions and result.unseen_weekdays == ("Sun",)


def test_hour_blocks_never_mix_seen_and_unseen_hours():
    seen = np.zeros(24, dtype=bool)
    seen[6:18] = True
    blocks = hour_blocks(seen, 4)
    assert [list(b) for b in blocks][:2] == [[0, 1, 2], [3, 4, 5]]
    assert all(len(set(seen[b])) == 1 for b in blocks)
    assert all(len(b) <= 4 for b in blocks) and sorted(np.concatenate(blocks)) == list(range(24))


@pytest.mark.parametrize(
    "record, schedule, cells",
    [
        (Record(MONDAY, 8, 1), (), [(0, 8)]),
        (Record(MONDAY, 6, 4), (), [(0, 6), (0, 7), (0, 8), (0, 9)]),
        # A night shift runs on into the next day.
        (Record(MONDAY, 22, 4), (), [(0, 22), (0, 23), (1, 0), (1, 1)]),
        # A shift or day total with no hour: the scheduled hours.
        (Record(MONDAY, None, 12), (8, 9, 10), [(0, 8), (0, 9), (0, 10)]),
        # … or, with no schedule, the whole day (24 h, or 1 h = the source said nothing) …
        (Record(MONDAY, None, 1), (), [(0, h) for h in range(24)]),
        # … or a daytime shift of that length from 06:00.
        (Record(MONDAY, None, 3), (), [(0, 6), (0, 7), (0, 8)]),
    ],
)
def test_the_hours_a_count_covers(record, schedule, cells):
    assert covered_hours(record, schedule) == cells


def test_a_shift_total_is_spread_over_its_hours_and_a_scheduled_hour_without_count_is_zero():
    grid = build_grid(
        start=MONDAY,
        end=MONDAY + dt.timedelta(days=2),
        counts=[Record(MONDAY, 8, 4, 40.0), Record(MONDAY, 16, 1, 3.0)],
        reports=[Record(MONDAY, 8, 4), Record(MONDAY, 16, 1), Record(MONDAY, 20, 1)],
        schedule_hours=range(8, 18),
    )
    assert grid.counts[0, 8:12].tolist() == [10.0] * 4
    assert grid.counts[0, 16] == 3.0
    assert grid.observed[0, 8:18].all() and grid.counts[0, 12:16].sum() == 0  # observed zeros
    assert grid.observed[0, 20]  # a report outside the schedule: the team was there
    assert not grid.observed[1].any() and not grid.observed[2].any()  # no report: unobserved
    assert grid.counts.sum() == 43.0


def test_a_day_total_without_hours_covers_the_schedule():
    grid = build_grid(
        start=MONDAY,
        end=MONDAY,
        counts=[Record(MONDAY, None, 1, 120.0)],
        reports=[Record(MONDAY, None, 1)],
        schedule_hours=range(6, 18),
    )
    assert grid.observed[0].sum() == 12 and grid.counts[0, 6:18].tolist() == [10.0] * 12


def test_negative_counts_are_refused():
    grid = _grid(1, [3])
    bad = HourGrid(start=grid.start, observed=grid.observed, counts=-grid.counts)
    with pytest.raises(ValueError):
        estimate_total(bad)

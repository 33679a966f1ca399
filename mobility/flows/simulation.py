"""Validation of the flow estimator by simulation: known hourly flows, a team's observation hours.

Each replication draws a true hourly flow for a history of weeks and a target period (an ISO week
or a calendar month), observes it as a team would (a schedule, missed days, occasional missed
hours), builds the FMP's hour-of-day profile from everything observed, estimates the period's
total and asks whether the 95% interval holds the truth. ``coverage_run`` repeats that and
reports the empirical coverage, the bias and the width; bench/bench_flows_estimator.py runs every
scenario 1,000+ times and docs/flows-estimates.md holds the figures.

The true flow (per direction) has, on purpose, what real crossings have: an hour-of-day curve
with a morning and an afternoon peak and a quieter night, weekday factors, a market day, a day
effect shared by every hour of a day (gamma, so hours of one day are correlated), an occasional
surge lasting a few days, and overdispersed negative-binomial hourly counts.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
from dataclasses import dataclass, field, replace

import numpy as np

from .estimation import HOURS, NoObservation, estimate_total, profile_from_grid
from .estimation import HourGrid as Grid

# The first simulated day is a Monday, so weeks line up with ISO weeks.
ORIGIN = dt.date(2024, 1, 1)
HISTORY_WEEKS = 12


@dataclass(frozen=True)
class FlowPattern:
    """The true hourly flow of one direction at one FMP."""

    daily_mean: float = 400.0
    night_share: float = 0.10  # share of a day's flow between 20:00 and 06:00
    weekday_factors: tuple[float, ...] = (1.0, 0.95, 1.0, 1.0, 1.1, 1.0, 1.0)  # Mon … Sun
    market_weekday: int | None = 3  # Thursday
    market_factor: float = 1.6
    day_cv: float = 0.25  # coefficient of variation of the day effect
    dispersion: float = 4.0  # negative-binomial size of an hourly count (smaller = more overdispersed)
    surge_probability: float = 0.015  # chance that a surge starts on a day
    surge_factor: float = 2.5
    surge_days: int = 3

    def hour_profile(self) -> np.ndarray:
        """Share of the day's flow in each hour: peaks at 09:00 and 16:00, ``night_share`` at night."""
        hours = np.arange(HOURS)
        day = np.exp(-((hours - 9) ** 2) / (2 * 2.5**2)) + 0.8 * np.exp(-((hours - 16) ** 2) / (2 * 2.5**2))
        night = (hours < 6) | (hours >= 20)
        shape = np.where(night, 0.0, day)
        shape = shape / shape.sum() * (1 - self.night_share)
        # The night is not flat either: quieter towards 03:00.
        night_shape = 1.0 + 0.6 * np.cos((hours - 3) / 24 * 2 * math.pi + math.pi)
        shape = np.where(night, night_shape / night_shape[night].sum() * self.night_share, shape)
        return shape

    def draw(self, days: int, rng: np.random.Generator, start: dt.date = ORIGIN) -> np.ndarray:
        """True hourly counts, (days, 24)."""
        weekdays = (np.arange(days) + start.weekday()) % 7
        level = self.daily_mean * np.asarray(self.weekday_factors)[weekdays]
        if self.market_weekday is not None:
            level = np.where(weekdays == self.market_weekday, level * self.market_factor, level)
        shape = 1.0 / self.day_cv**2
        level = level * rng.gamma(shape, 1.0 / shape, size=days)
        surge = np.ones(days)
        for day in np.flatnonzero(rng.random(days) < self.surge_probability):
            surge[day : day + self.surge_days] = self.surge_factor
        mean = (level * surge)[:, None] * self.hour_profile()[None, :]
        k = self.dispersion
        return rng.negative_binomial(k, k / (k + mean)).astype(float)


@dataclass(frozen=True)
class Schedule:
    """When a team observes: hours (or weekly rotating shifts), weekdays, and what it misses."""

    hours: tuple[int, ...] = tuple(range(6, 18))
    weekdays: tuple[int, ...] = (0, 1, 2, 3, 4, 5)  # Mon–Sat
    # Weekly rotation of shifts (week 1 the first, week 2 the second, …); replaces ``hours``.
    rotation: tuple[tuple[int, ...], ...] = ()
    missed_day_probability: float = 0.10
    missed_hour_probability: float = 0.02
    # A 24-hour count on this weekday every ``full_day_every`` weeks (DTM's "24-hour count").
    full_day_every: int | None = None
    full_day_weekday: int = 2

    def observe(self, days: int, rng: np.random.Generator, start: dt.date = ORIGIN) -> np.ndarray:
        """The observed mask, (days, 24)."""
        mask = np.zeros((days, HOURS), dtype=bool)
        weekdays = (np.arange(days) + start.weekday()) % 7
        for day in range(days):
            week = day // 7
            if weekdays[day] in self.weekdays:
                hours = self.rotation[week % len(self.rotation)] if self.rotation else self.hours
                for hour in hours:
                    # A night shift runs past midnight into the next day.
                    mask[day, hour % HOURS] = True
            if (
                self.full_day_every
                and week % self.full_day_every == 0
                and weekdays[day] == self.full_day_weekday
            ):
                mask[day] = True
        missed = rng.random(days) < self.missed_day_probability
        mask[missed] = False
        mask &= rng.random((days, HOURS)) >= self.missed_hour_probability
        return mask


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    pattern: FlowPattern = field(default_factory=FlowPattern)
    schedule: Schedule = field(default_factory=Schedule)


SHIFTS_8H = (tuple(range(6, 14)), tuple(range(14, 22)), (22, 23, 0, 1, 2, 3, 4, 5))

SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in [
        Scenario(
            "day-shift+24h",
            "06–18 Mon–Sat, 10% of days missed, a 24-hour count every 4th Wednesday",
            schedule=Schedule(full_day_every=4),
        ),
        Scenario(
            "rotating-shifts",
            "8-hour shifts rotating weekly (06–14, 14–22, 22–06), Mon–Sat, 10% of days missed",
            schedule=Schedule(rotation=SHIFTS_8H),
        ),
        Scenario(
            "24h-patchy",
            "a 24/7 post that misses 25% of its days at random",
            schedule=Schedule(hours=tuple(range(24)), weekdays=tuple(range(7)), missed_day_probability=0.25),
        ),
        Scenario(
            "day-shift-no-nights",
            "06–18 Mon–Sat, 10% of days missed, nights never observed (10% of the flow is at night)",
            schedule=Schedule(),
        ),
        Scenario(
            "quiet-sunday",
            "as day-shift+24h, but Sunday's flow is half of Saturday's and Sunday is never observed",
            pattern=FlowPattern(weekday_factors=(1.0, 0.95, 1.0, 1.0, 1.1, 1.0, 0.5)),
            schedule=Schedule(full_day_every=4),
        ),
        Scenario(
            "full-time",
            "every hour observed (the estimate must be the count, with a zero-width interval)",
            schedule=Schedule(
                hours=tuple(range(24)),
                weekdays=tuple(range(7)),
                missed_day_probability=0.0,
                missed_hour_probability=0.0,
            ),
        ),
    ]
}


def period_bounds(period: str, history_weeks: int = HISTORY_WEEKS) -> tuple[dt.date, dt.date]:
    """The target period after the history: the next ISO week, or the next whole calendar month."""
    after = ORIGIN + dt.timedelta(weeks=history_weeks)
    if period == "week":
        return after, after + dt.timedelta(days=6)
    if period == "month":
        first = after.replace(day=1)
        if first < after:
            first = (first + dt.timedelta(days=32)).replace(day=1)
        last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
        return first, last
    raise ValueError(f"period must be week or month, not {period!r}")


@dataclass(frozen=True)
class Replication:
    truth: float
    observed: float
    estimate: float
    lower: float
    upper: float
    coverage: float
    method: str

    @property
    def covered(self) -> bool:
        return self.lower <= self.truth <= self.upper


def replicate(
    scenario: Scenario, *, period: str, rng: np.random.Generator, n_boot: int = 1000
) -> Replication | None:
    """One simulated period: truth, observation, estimate (None when nothing was observed)."""
    start, end = period_bounds(period)
    days = (end - ORIGIN).days + 1
    truth = scenario.pattern.draw(days, rng)
    mask = scenario.schedule.observe(days, rng)
    history = Grid(start=ORIGIN, observed=mask, counts=np.where(mask, truth, 0.0))
    profile = profile_from_grid(history)
    target = history.window(start, end)
    try:
        result = estimate_total(target, profile=profile, n_boot=n_boot, seed=int(rng.integers(2**32)))
    except NoObservation:
        return None
    offset = (start - ORIGIN).days
    return Replication(
        truth=float(truth[offset:].sum()),
        observed=result.observed,
        estimate=result.estimate,
        lower=result.lower,
        upper=result.upper,
        coverage=result.coverage,
        method=result.method,
    )


@dataclass(frozen=True)
class CoverageResult:
    scenario: str
    period: str
    replications: int
    covered: int
    mean_hours_coverage: float
    mean_relative_bias: float  # (estimate − truth) / truth
    mean_relative_width: float  # (upper − lower) / truth
    methods: dict[str, int]

    @property
    def coverage(self) -> float:
        return self.covered / self.replications if self.replications else float("nan")


def coverage_run(
    scenario: Scenario | str, *, period: str, reps: int, seed: int = 0, n_boot: int = 1000
) -> CoverageResult:
    """Empirical coverage of the 95% interval over ``reps`` replications (seeded, reproducible)."""
    if isinstance(scenario, str):
        scenario = SCENARIOS[scenario]
    rng = np.random.default_rng(seed)
    runs = [r for r in (replicate(scenario, period=period, rng=rng, n_boot=n_boot) for _ in range(reps)) if r]
    methods: dict[str, int] = {}
    for r in runs:
        methods[r.method] = methods.get(r.method, 0) + 1
    n = len(runs)
    return CoverageResult(
        scenario=scenario.name,
        period=period,
        replications=n,
        covered=sum(r.covered for r in runs),
        mean_hours_coverage=float(np.mean([r.coverage for r in runs])) if n else float("nan"),
        mean_relative_bias=float(np.mean([(r.estimate - r.truth) / r.truth for r in runs if r.truth]))
        if n
        else float("nan"),
        mean_relative_width=float(np.mean([(r.upper - r.lower) / r.truth for r in runs if r.truth]))
        if n
        else float("nan"),
        methods=methods,
    )


def with_pattern(scenario: Scenario, **changes) -> Scenario:
    """The scenario with some of its flow pattern changed (for sensitivity runs)."""
    return replace(scenario, pattern=replace(scenario.pattern, **changes))

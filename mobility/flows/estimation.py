"""Estimated total flows from counts made during observation hours (pure numpy, no Django).

A flow monitoring team counts people crossing only during the hours it is there. This module
estimates the TOTAL flow over every hour of a period (an ISO week or a calendar month) for one
flow monitoring point (FMP) and one direction, with a 95% interval and the coverage (share of the
period's hours that were observed). docs/flows-estimates.md states the model in full; in short:

* **Grid.** The period is a grid of days × 24 hours. Each cell is observed (its count is known,
  and an observed hour with no crossing is 0, not missing) or not.
* **Profile.** The FMP's hour-of-day profile per day type, fitted on its whole history as
  count(day, hour) ≈ level(day) × profile(day type, hour) (``profile_from_grid``).
* **Strata** = day type (weekday Mon–Fri, weekend Sat–Sun) × hour block. Hour blocks are runs of
  at most ``block_hours`` hours cut from the hours of day observed on some day of the period, and
  separately from the hours never observed, so a block never mixes the two.
* **Stratified ratio estimator.** In a stratum observed on at least ``min_stratum_days`` days, the
  ratio of its observed count to the profile mass of its observed hours, times the profile mass of
  its unobserved hours, predicts them (with a flat profile this is the plain expansion of the mean
  hourly count). The estimate is the observed total plus that prediction: never below what was
  counted, and equal to it when every hour was observed.
* **Strata not (or too thinly) observed** — nights, a day type the team never works — take the
  pooled ratio of their day type (or of the whole period) times the profile. That rests on the
  profile's shape, and where the profile itself had to be borrowed from the other day type or from
  the nearest observed hour, on an assumption; each is named in ``assumptions`` and ``method``.
* **Interval.** An approximate Bayesian bootstrap over observed DAYS (the cluster, so the
  correlation of the hours of a day is kept): per replicate, the observed days of each day type
  are resampled with replacement into a donor pool, and each day with unobserved hours takes a
  donor from it whose hour-by-hour ratios to the prediction scale its own. This carries the
  uncertainty of the ratios and the noise of the unobserved hours themselves. A day-level jitter
  calibrated on Student's t with n − 1 degrees of freedom corrects the too-narrow spread of a
  handful of donors. The 2.5% and 97.5% percentiles of the replicate totals give the interval.
  Seeded, so a re-run gives the same interval.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from statistics import NormalDist

import numpy as np

HOURS = 24
# Day type of each weekday (0 = Monday): Mon–Fri are weekdays (0), Sat–Sun the weekend (1).
DAY_TYPES: tuple[int, ...] = (0, 0, 0, 0, 0, 1, 1)
DAY_TYPE_NAMES: tuple[str, ...] = ("weekday", "weekend")
BLOCK_HOURS = 4
# A stratum observed on fewer days than this borrows the pooled ratio × profile; a day type observed
# on fewer days draws its donor days from every observed day.
MIN_STRATUM_DAYS = 3
N_BOOT = 1000
LEVEL = 0.95
# Hours of a count whose hour is unknown and the FMP has no schedule: a daytime shift from 06:00.
DEFAULT_SHIFT_START = 6

WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

# Short codes of the assumptions, as they appear in ``method`` (FlowEstimate.method, 64 chars).
ASSUME_PROFILE = "profile"  # some strata from the pooled ratio × the FMP's hour-of-day profile
ASSUME_OTHER_DAY = "other-day"  # … where the profile was borrowed from the other day type
ASSUME_NEAREST = "nearest"  # … where the profile hour was never observed: nearest hour assumed
ASSUME_UNSEEN_WEEKDAY = "unseen-weekday"  # a weekday seen ≥ twice in the period, never observed

METHOD_EXACT = "exact"
METHOD_RATIO = "strata-ratio"


class NoObservation(ValueError):
    """The period has no observed hour: there is nothing to expand."""


@dataclass(frozen=True)
class HourGrid:
    """Counts of one FMP and direction on consecutive days × 24 hours, and which cells were observed."""

    start: dt.date
    observed: np.ndarray  # bool, (days, 24)
    counts: np.ndarray  # float, (days, 24); 0 where not observed

    def __post_init__(self):
        if (
            self.observed.shape != self.counts.shape
            or self.observed.ndim != 2
            or self.observed.shape[1] != HOURS
        ):
            raise ValueError("observed and counts must both be (days, 24) arrays")

    @property
    def days(self) -> int:
        return int(self.observed.shape[0])

    @property
    def end(self) -> dt.date:
        return self.start + dt.timedelta(days=self.days - 1)

    def weekdays(self) -> np.ndarray:
        first = self.start.weekday()
        return (np.arange(self.days) + first) % 7

    def window(self, start: dt.date, end: dt.date) -> HourGrid:
        """The part of the grid from start to end (inclusive); days outside the grid are unobserved."""
        days = (end - start).days + 1
        observed = np.zeros((days, HOURS), dtype=bool)
        counts = np.zeros((days, HOURS), dtype=float)
        offset = (start - self.start).days
        lo, hi = max(0, offset), min(self.days, offset + days)
        if lo < hi:
            observed[lo - offset : hi - offset] = self.observed[lo:hi]
            counts[lo - offset : hi - offset] = self.counts[lo:hi]
        return HourGrid(start=start, observed=observed, counts=counts)


@dataclass(frozen=True)
class Record:
    """One count (or an aggregate of counts) as the registry holds it."""

    date: dt.date
    hour_start: int | None
    period_hours: int
    individuals: float = 0.0


def covered_hours(record: Record, schedule_hours: Sequence[int] = ()) -> list[tuple[int, int]]:
    """The (day offset from record.date, hour) cells a count covers.

    * ``hour_start`` given: ``period_hours`` hours from it; a shift past midnight goes on into the
      next day (a 22:00 + 8 h night shift covers 22–23 on its date and 0–5 on the next).
    * ``hour_start`` unknown (a shift or day total): the FMP's scheduled hours when it has a
      schedule; otherwise the whole day when ``period_hours`` is 24 or 1 (1 is the default, i.e. the
      source said nothing, and a count by date is then read as the day's count), else a daytime
      shift of ``period_hours`` hours from 06:00.
    """
    hours = max(1, min(HOURS, int(record.period_hours or 1)))
    if record.hour_start is not None:
        start = int(record.hour_start)
        return [divmod(start + i, HOURS) for i in range(hours)]
    if schedule_hours:
        return [(0, int(h)) for h in sorted(set(schedule_hours))]
    if hours in (1, HOURS):
        return [(0, h) for h in range(HOURS)]
    start = min(DEFAULT_SHIFT_START, HOURS - hours)
    return [(0, start + i) for i in range(hours)]


def build_grid(
    *,
    start: dt.date,
    end: dt.date,
    counts: Iterable[Record],
    reports: Iterable[Record] = (),
    schedule_hours: Sequence[int] = (),
) -> HourGrid:
    """The observed grid of one direction from the FMP's records.

    ``counts`` are the records of the direction being estimated (their individuals are spread
    evenly over the hours each covers). ``reports`` are every record of the FMP on any direction:
    a day with at least one report is observed on the scheduled hours (an hour with no count is an
    observed zero) and on every hour a report covers. A day with no report at all is unobserved.
    """
    days = (end - start).days + 1
    if days < 1:
        raise ValueError("end is before start")
    observed = np.zeros((days, HOURS), dtype=bool)
    values = np.zeros((days, HOURS), dtype=float)
    schedule = sorted({int(h) for h in schedule_hours})

    def cells(record: Record):
        base = (record.date - start).days
        for day_offset, hour in covered_hours(record, schedule):
            day = base + day_offset
            if 0 <= day < days:
                yield day, hour

    for record in reports:
        day = (record.date - start).days
        if 0 <= day < days and schedule:
            observed[day, schedule] = True
        for day, hour in cells(record):
            observed[day, hour] = True
    for record in counts:
        day = (record.date - start).days
        if 0 <= day < days and schedule:
            observed[day, schedule] = True
        covered = covered_hours(record, schedule)
        share = float(record.individuals) / len(covered)
        for day, hour in cells(record):
            observed[day, hour] = True
            values[day, hour] += share
    values[~observed] = 0.0
    return HourGrid(start=start, observed=observed, counts=values)


# Where a profile value comes from (Profile.source).
SOURCE_OBSERVED, SOURCE_OTHER_DAY, SOURCE_NEAREST = 0, 1, 2
PROFILE_ITERATIONS = 20


@dataclass(frozen=True)
class Profile:
    """The FMP's hour-of-day profile: expected count per hour on an average day of each day type.

    ``source`` says, per day type and hour, whether the value was observed (0), borrowed from the
    other day type (1) or from the nearest observed hour because that hour was never observed (2).
    """

    values: np.ndarray  # float, (day types, 24)
    source: np.ndarray  # int, (day types, 24)


def profile_from_grid(grid: HourGrid, day_types: Sequence[int] = DAY_TYPES) -> Profile:
    """Fit count(day, hour) ≈ level(day) × profile(day type, hour) on the observed cells.

    The fit alternates the two (the Poisson maximum-likelihood fit of a day × hour model), so an
    hour observed only on a few days (a monthly 24-hour count) is judged against those days' own
    level, not against the average day. Hours a day type never observed take the other day type's
    value scaled by the ratio of the two over the hours both observed; hours never observed at all
    take the nearest observed hour's value (an assumption, marked in ``source``).
    """
    types = np.asarray(day_types)[grid.weekdays()]
    n_types = int(max(day_types)) + 1
    observed = grid.observed
    counts = np.where(observed, grid.counts, 0.0)
    has = observed.any(axis=1)
    level = np.ones(grid.days)
    values = np.full((n_types, HOURS), np.nan)
    for _ in range(PROFILE_ITERATIONS):
        for t in range(n_types):
            rows = (types == t) & has
            exposure = (observed[rows] * level[rows, None]).sum(axis=0)
            with np.errstate(invalid="ignore", divide="ignore"):
                values[t] = np.where(exposure > 0, counts[rows].sum(axis=0) / exposure, np.nan)
        expected = np.where(observed, np.nan_to_num(values[types]), 0.0).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            new_level = np.where(expected > 0, counts.sum(axis=1) / expected, 1.0)
        for t in range(n_types):
            rows = (types == t) & has
            if rows.any():
                # Keep the average observed day of each type at level 1, so values are counts per hour.
                mean = new_level[rows].mean()
                if mean > 0:
                    new_level[rows] /= mean
        if np.allclose(new_level, level, rtol=1e-6, atol=1e-9):
            level = new_level
            break
        level = new_level

    source = np.where(np.isnan(values), -1, SOURCE_OBSERVED)
    filled = values.copy()
    for t in range(n_types):
        for other in range(n_types):
            missing = (other != t) & np.isnan(filled[t]) & ~np.isnan(values[other])
            if other == t or not missing.any():
                continue
            both = ~np.isnan(values[t]) & ~np.isnan(values[other])
            base = values[other][both].sum()
            scale = values[t][both].sum() / base if both.any() and base > 0 else 1.0
            filled[t, missing] = values[other, missing] * scale
            source[t, missing] = SOURCE_OTHER_DAY
    for t in range(n_types):
        known = np.flatnonzero(~np.isnan(filled[t]))
        for hour in np.flatnonzero(np.isnan(filled[t])):
            if known.size == 0:
                filled[t, hour] = 1.0  # nothing observed at all: flat
            else:
                distance = np.array([_circular_distance(hour, h) for h in known])
                filled[t, hour] = filled[t, known[distance == distance.min()]].mean()
            source[t, hour] = SOURCE_NEAREST
    return Profile(values=filled, source=source)


@dataclass(frozen=True)
class Estimate:
    """An estimated total with its 95% interval; ``assumptions`` names what rests on a model."""

    observed: float
    estimate: float
    lower: float
    upper: float
    hours_observed: int
    hours_total: int
    method: str
    # Hours of the period predicted from the profile rather than from their own stratum, and the
    # share of the estimate they carry.
    imputed_hours: int = 0
    imputed_share: float = 0.0
    assumptions: tuple[str, ...] = field(default_factory=tuple)
    unseen_weekdays: tuple[str, ...] = field(default_factory=tuple)

    @property
    def coverage(self) -> float:
        return self.hours_observed / self.hours_total if self.hours_total else 0.0

    @property
    def model_based(self) -> bool:
        """True when part of the interval rests on an assumption, not on observed hours alone."""
        return bool(self.assumptions)


def hour_blocks(seen: np.ndarray, block_hours: int = BLOCK_HOURS) -> list[np.ndarray]:
    """Split hours 0–23 into runs of equal ``seen`` value, each cut into near-equal blocks ≤ block_hours."""
    blocks: list[np.ndarray] = []
    start = 0
    for hour in range(1, HOURS + 1):
        if hour == HOURS or seen[hour] != seen[start]:
            parts = -(-(hour - start) // block_hours)
            blocks.extend(np.array_split(np.arange(start, hour), parts))
            start = hour
    return blocks


def _circular_distance(a: float, b: float) -> float:
    d = abs(a - b) % HOURS
    return min(d, HOURS - d)


def estimate_total(
    grid: HourGrid,
    *,
    profile: Profile | None = None,
    day_types: Sequence[int] = DAY_TYPES,
    block_hours: int = BLOCK_HOURS,
    min_stratum_days: int = MIN_STRATUM_DAYS,
    n_boot: int = N_BOOT,
    level: float = LEVEL,
    seed: int | None = None,
) -> Estimate:
    """The stratified ratio estimate of the grid's total, with a day-cluster bootstrap interval.

    ``profile`` is the FMP's longer-run hour-of-day profile (``profile_from_grid`` over its whole
    history); without one, the period's own grid is used. Raises NoObservation when no hour was
    observed.
    """
    observed = grid.observed
    counts = np.where(observed, grid.counts, 0.0)
    if np.any(counts < 0) or not np.all(np.isfinite(counts)):
        raise ValueError("counts must be finite and not negative")
    days = grid.days
    hours_total = days * HOURS
    hours_observed = int(observed.sum())
    observed_total = float(counts.sum())
    if hours_observed == 0:
        raise NoObservation("no hour of the period was observed")
    if hours_observed == hours_total:
        return Estimate(
            observed=observed_total,
            estimate=observed_total,
            lower=observed_total,
            upper=observed_total,
            hours_observed=hours_observed,
            hours_total=hours_total,
            method=METHOD_EXACT,
        )
    if profile is None:
        profile = profile_from_grid(grid, day_types)

    weekdays = grid.weekdays()
    types = np.asarray(day_types)[weekdays]
    n_types = int(max(day_types)) + 1
    # Profile weights of every cell; a small floor keeps a zero-profile hour from dividing by zero.
    weight = np.maximum(profile.values[types], 0.0) + 1e-9  # (days, 24)

    # Strata: day type × hour block; blocks never mix hours seen in the period with hours never seen.
    blocks = hour_blocks(observed.any(axis=0), block_hours)
    k = len(blocks)
    member = np.zeros((HOURS, k))
    for j, hours in enumerate(blocks):
        member[hours, j] = 1.0
    obs_weight = (weight * observed) @ member  # (days, k): profile mass of the observed hours
    unobs_weight = (weight * ~observed) @ member  # … of the unobserved hours
    obs_sum = counts @ member  # (days, k)
    obs_days = (observed.astype(float) @ member) > 0  # (days, k): day observed in block

    day_observed = observed.any(axis=1)
    type_days = np.array([int((day_observed & (types == t)).sum()) for t in range(n_types)])

    # Ratio of observed counts to profile mass: per stratum, per day type, and over the period.
    def ratio(rows: np.ndarray, cols=slice(None)) -> float:
        mass = obs_weight[rows][:, cols].sum()
        return float(obs_sum[rows][:, cols].sum() / mass) if mass > 0 else 0.0

    pooled_all = ratio(day_observed)
    rate = np.zeros((n_types, k))
    own = np.zeros((n_types, k), dtype=bool)  # stratum estimated from its own observed days
    for t in range(n_types):
        rows = types == t
        # A weekly period has only two weekend days: both observed is enough.
        enough = min(min_stratum_days, int(rows.sum()))
        pooled = ratio(rows & day_observed) if type_days[t] >= enough else pooled_all
        for j in range(k):
            if enough and obs_days[rows, j].sum() >= enough:
                rate[t, j] = ratio(rows, j)
                own[t, j] = True
            else:
                rate[t, j] = pooled

    prediction = unobs_weight * rate[types]  # (days, k): expected count of the unobserved hours
    estimate = observed_total + float(prediction.sum())
    unobs_hours = (~observed).astype(float) @ member  # (days, k)
    borrowed = ~own[types] & (unobs_hours > 0)  # (days, k): predicted from the pooled ratio × profile
    imputed_hours = int((unobs_hours * borrowed).sum())
    imputed_share = float((prediction * borrowed).sum() / estimate) if estimate > 0 else 0.0

    assumptions: list[str] = []
    if imputed_hours:
        assumptions.append(ASSUME_PROFILE)
        # Which profile hours those predictions rest on.
        cells = (~observed) & (borrowed.astype(float) @ member.T > 0)
        sources = profile.source[types][cells]
        if (sources == SOURCE_OTHER_DAY).any():
            assumptions.append(ASSUME_OTHER_DAY)
        if (sources == SOURCE_NEAREST).any():
            assumptions.append(ASSUME_NEAREST)
    occurrences = np.bincount(weekdays, minlength=7)
    seen_weekdays = np.bincount(weekdays[day_observed], minlength=7)
    unseen_weekdays = tuple(
        WEEKDAY_NAMES[w] for w in range(7) if occurrences[w] >= 2 and seen_weekdays[w] == 0
    )
    if unseen_weekdays:
        assumptions.append(ASSUME_UNSEEN_WEEKDAY)

    # Each observed day's ratio to what the strata expect of it, hour by hour where it observed
    # the hour, else its block's ratio, else its whole day's. A donor day scales a recipient
    # day's unobserved hours by these, so one missed hour gets one hour's noise and a missed day
    # a whole day's.
    block_of_hour = np.zeros(HOURS, dtype=int)
    for j, hours in enumerate(blocks):
        block_of_hour[hours] = j
    cell_rate = rate[types][:, block_of_hour]  # (days, 24)
    cell_prediction = np.where(observed, 0.0, weight * cell_rate)
    cell_expected = np.where(observed, weight * cell_rate, 0.0)
    block_expected = cell_expected @ member
    with np.errstate(invalid="ignore", divide="ignore"):
        day_ratio = np.where(
            block_expected.sum(axis=1) > 0, obs_sum.sum(axis=1) / block_expected.sum(axis=1), 1.0
        )
        block_ratio = np.where(block_expected > 1e-6, obs_sum / block_expected, np.nan)[:, block_of_hour]
        hour_ratio = np.where(cell_expected > 1e-6, counts / cell_expected, np.nan)
    factor = np.where(np.isnan(block_ratio), day_ratio[:, None], block_ratio)
    factor = np.where(np.isnan(hour_ratio), factor, hour_ratio)

    rng = np.random.default_rng(seed)
    replicate = np.full(n_boot, observed_total)
    observed_days = np.flatnonzero(day_observed)
    z = NormalDist().inv_cdf(1.0 - (1.0 - level) / 2.0)
    for t in range(n_types):
        recipients = np.flatnonzero((types == t) & (cell_prediction.sum(axis=1) > 0))
        if recipients.size == 0:
            continue
        own_days = observed_days[types[observed_days] == t]
        # Too few days of this type to resample: donors come from every observed day (their
        # ratios are relative, so comparable), as the pooled ratio did.
        candidates = own_days if own_days.size >= min_stratum_days else observed_days
        n = candidates.size
        # Approximate Bayesian bootstrap: resample the observed days into a pool (the uncertainty
        # of the means), then draw each recipient day's donor from the pool (its own noise).
        pool = candidates[rng.integers(n, size=(n_boot, n))]
        pick = rng.integers(n, size=(n_boot, recipients.size))
        donors = np.take_along_axis(pool, pick, axis=1)  # (n_boot, recipients)
        # Small-sample correction: n donors span too narrow a range for a new day (a new day falls
        # outside the range of 5 others one time in three). A day-level jitter with the spread of
        # the donors' day ratios, scaled so that the interval widens as Student's t does with n − 1
        # degrees of freedom, smooths and widens the donor distribution.
        spread = (
            float(np.std(day_ratio[candidates], ddof=1)) if n > 1 else float(day_ratio[candidates].mean())
        )
        bandwidth = math.sqrt(
            max((_t_quantile(1.0 - (1.0 - level) / 2.0, max(n - 1, 1)) / z) ** 2 - 1.0, 0.0)
        )
        jitter = np.maximum(1.0 + bandwidth * spread * rng.standard_normal((n_boot, recipients.size)), 0.0)
        # contribution[r, e]: recipient r's unobserved hours as donor day e would have had them.
        contribution = cell_prediction[recipients] @ factor.T  # (recipients, days)
        replicate += (contribution[np.arange(recipients.size)[None, :], donors] * jitter).sum(axis=1)

    alpha = (1.0 - level) / 2.0
    lower, upper = np.quantile(replicate, [alpha, 1.0 - alpha])
    # A percentile interval of a very skewed replicate set can miss the point estimate; widen it.
    lower = max(observed_total, min(float(lower), estimate))
    upper = max(float(upper), estimate)
    return Estimate(
        observed=observed_total,
        estimate=estimate,
        lower=lower,
        upper=upper,
        hours_observed=hours_observed,
        hours_total=hours_total,
        method="+".join([METHOD_RATIO, *assumptions]),
        imputed_hours=imputed_hours,
        imputed_share=imputed_share,
        assumptions=tuple(assumptions),
        unseen_weekdays=unseen_weekdays,
    )


def _t_quantile(p: float, df: int) -> float:
    """Student's t quantile (Cornish–Fisher expansion in 1/df; within 2% for df ≥ 2, exact enough here)."""
    z = NormalDist().inv_cdf(p)
    if df >= 1000:
        return z
    v = float(df)
    terms = [
        z,
        (z**3 + z) / (4 * v),
        (5 * z**5 + 16 * z**3 + 3 * z) / (96 * v**2),
        (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * v**3),
        (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / (92160 * v**4),
    ]
    return float(sum(terms))

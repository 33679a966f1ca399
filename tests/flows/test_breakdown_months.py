"""Per-FMP breakdowns are monthly; a reader's days inside a month come from the counts.

Whatever the range asked for and whatever periods are published, ``selectors.breakdown`` over some
FMPs must give exactly the sums of the counts on the days the reader may read.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from django.contrib.auth.models import AnonymousUser
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mobility.flows import selectors
from mobility.flows.models import FlowCount, FlowMonitoringPoint, FlowPublication
from mobility.flows.services import summaries_rebuild
from mobility.flows.visibility import split_months

pytestmark = pytest.mark.django_db

START = dt.date(2024, 1, 25)  # counts from late January to early April: partial and whole months
DAYS = 75
NATIONS = ["ZAF", "MOZ", "MWI"]


@pytest.fixture
def counts(operation):
    points = [
        FlowMonitoringPoint.objects.create(
            operation=operation, code=f"F{i}", name=f"Point {i}", country_iso3="MOZ"
        )
        for i in range(3)
    ]
    rows = []
    for day in range(DAYS):
        for i, fmp in enumerate(points):
            for direction in ("in", "out"):
                rows.append(
                    FlowCount(
                        operation=operation,
                        fmp=fmp,
                        record_id=f"{day}-{direction}",
                        date=START + dt.timedelta(days=day),
                        direction=direction,
                        individuals=1 + (day * 7 + i * 3) % 11,
                        nationality=NATIONS[(day + i) % 3],
                    )
                )
    FlowCount.objects.bulk_create(rows)
    summaries_rebuild(operation_id=operation.pk)
    return points


def expected(points, readable, date_from, date_to, direction) -> Counter:
    sums: Counter = Counter()
    for count in FlowCount.objects.filter(fmp__in=points):
        if date_from and count.date < date_from or date_to and count.date > date_to:
            continue
        if direction and count.direction != direction:
            continue
        if readable is not None and not any(a <= count.date <= b for a, b in readable):
            continue
        sums[count.nationality] += count.individuals
    return +sums


day = st.integers(min_value=-10, max_value=DAYS + 10).map(lambda n: START + dt.timedelta(days=n))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    date_from=st.none() | day,
    date_to=st.none() | day,
    published=st.lists(st.tuples(day, st.integers(min_value=0, max_value=40)), max_size=3),
    which=st.sampled_from([(0,), (1, 2), (0, 1, 2)]),
    direction=st.sampled_from([None, "in", "out"]),
    public=st.booleans(),
)
def test_breakdowns_over_points_equal_the_counts_of_the_readable_days(
    counts, operation, viewer, date_from, date_to, published, which, direction, public
):
    FlowPublication.objects.filter(operation=operation).delete()
    for low, length in published:
        FlowPublication.objects.create(
            operation=operation, date_from=low, date_to=low + dt.timedelta(days=length)
        )
    points = [counts[i] for i in which]
    user = AnonymousUser() if public else viewer
    readable = [(low, low + dt.timedelta(days=length)) for low, length in published] if public else None
    found = selectors._breakdown_sums(
        operation=operation,
        user=user,
        dimension="nationality",
        fmp_ids=[p.pk for p in points],
        date_from=date_from,
        date_to=date_to,
        direction=direction,
    )
    assert +Counter({value: people for value, (_records, people) in found.items()}) == expected(
        points, readable, date_from, date_to, direction
    )


@given(
    a=st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2030, 12, 31)),
    length=st.integers(min_value=0, max_value=400),
)
def test_split_months_covers_every_day_once(a, length):
    b = a + dt.timedelta(days=length)
    months, days = split_months(a, b, None)
    covered = []
    for first, last in months:
        month = first
        while month <= last:
            following = (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
            covered += [month + dt.timedelta(days=i) for i in range((following - month).days)]
            month = following
    for low, high in days:
        covered += [low + dt.timedelta(days=i) for i in range((high - low).days + 1)]
    assert sorted(covered) == [a + dt.timedelta(days=i) for i in range(length + 1)]
    assert all(first.day == 1 and last.day == 1 for first, last in months)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    published=st.lists(st.tuples(day, st.integers(min_value=0, max_value=40)), max_size=3),
    public=st.booleans(),
)
def test_the_points_list_sums_the_counts_of_the_readable_days(counts, operation, viewer, published, public):
    """Whole readable months from FlowMonthly, the rest from the daily rows: the counts' own sums."""
    FlowPublication.objects.filter(operation=operation).delete()
    for low, length in published:
        FlowPublication.objects.create(
            operation=operation, date_from=low, date_to=low + dt.timedelta(days=length)
        )
    readable = [(low, low + dt.timedelta(days=length)) for low, length in published] if public else None
    want: dict[str, tuple] = {}
    for fmp in counts:
        days = [
            (c.date, c.individuals)
            for c in FlowCount.objects.filter(fmp=fmp)
            if readable is None or any(a <= c.date <= b for a, b in readable)
        ]
        want[fmp.code] = (
            max((d for d, _n in days), default=None),
            len(days),
            sum(n for _d, n in days),
        )
    rows = selectors.fmp_list(operation=operation, user=AnonymousUser() if public else viewer)
    assert {r.fmp.code: (r.last_count, r.records, r.individuals) for r in rows} == want

"""The "as of" rule: any sequence of status changes (corrections and backdated records included) gives
the right status on every date, the same in the database as in plain Python, and the counts per day
equal the per-day "as of" answers."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mobility.restrictions.models import OperationalStatus, PoEStatus, PointOfEntry
from mobility.restrictions.selectors import (
    NO_STATUS,
    STATUS_KEYS,
    Audience,
    points_as_of,
    status_counts_by_day,
    status_on,
    statuses_as_of,
)
from mobility.restrictions.services import status_record

START = dt.date(2026, 1, 1)
SPAN = 20  # days the records fall on; the checks run a few days beyond both ends
STATUSES = OperationalStatus.values

# One record: (point index, day offset, status, published) — in the order they are recorded.
records_strategy = st.lists(
    st.tuples(st.integers(0, 2), st.integers(0, SPAN), st.sampled_from(STATUSES), st.booleans()),
    max_size=25,
)
HYPOTHESIS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _points(operation) -> list[PointOfEntry]:
    return [
        PointOfEntry.objects.get_or_create(
            operation=operation,
            code=f"P{i}",
            defaults={"name": f"Point {i}", "type": "land_border", "country_iso3": "MOZ"},
        )[0]
        for i in range(3)
    ]


def _store(points, records) -> list[PoEStatus]:
    PoEStatus.objects.filter(poe__in=points).delete()
    stored = []
    for index, offset, status, published in records:
        # One by one, as users record them: a later record gets a higher id.
        stored.append(
            PoEStatus.objects.create(
                poe=points[index],
                effective_from=START + dt.timedelta(days=offset),
                status=status,
                published=published,
            )
        )
    return stored


def _days():
    return [START + dt.timedelta(days=d) for d in range(-2, SPAN + 3)]


@pytest.mark.django_db
@HYPOTHESIS
@given(records=records_strategy)
def test_the_database_agrees_with_the_python_rule_on_every_date(operation, records):
    points = _points(operation)
    stored = _store(points, records)
    for day in _days():
        annotated = {
            p.pk: p.status_id for p in statuses_as_of(PointOfEntry.objects.filter(operation=operation), day)
        }
        public = {
            p.pk: p.status_id
            for p in statuses_as_of(
                PointOfEntry.objects.filter(operation=operation), day, published_only=True
            )
        }
        for point in points:
            mine = [s for s in stored if s.poe_id == point.pk]
            expected = status_on(mine, day)
            assert annotated[point.pk] == (expected.pk if expected else None), (day, point.code)
            expected_public = status_on([s for s in mine if s.published], day)
            assert public[point.pk] == (expected_public.pk if expected_public else None), (day, point.code)


@pytest.mark.django_db
@HYPOTHESIS
@given(records=records_strategy)
def test_counts_per_day_equal_the_per_day_as_of_answers(operation, records):
    points = _points(operation)
    _store(points, records)
    first, last = _days()[0], _days()[-1]
    for audience in (Audience.internal(), Audience.public()):
        counts = status_counts_by_day(date_from=first, date_to=last, audience=audience, operation=operation)
        assert [row["date"] for row in counts] == _days()
        for row in counts:
            pairs = points_as_of(day=row["date"], audience=audience, operation=operation)
            expected = Counter(s.status if s else NO_STATUS for _p, s in pairs)
            assert {k: row[k] for k in STATUS_KEYS} == {k: expected.get(k, 0) for k in STATUS_KEYS}


def test_status_on_picks_the_newest_record_of_the_latest_date():
    class R:
        def __init__(self, pk, day, status):
            self.pk, self.effective_from, self.status = pk, dt.date.fromisoformat(day), status

    records = [R(1, "2026-01-05", "open"), R(2, "2026-01-10", "closed"), R(3, "2026-01-05", "partial")]
    assert status_on(records, dt.date(2026, 1, 4)) is None
    assert status_on(records, dt.date(2026, 1, 5)).pk == 3  # the correction of the 5th wins
    assert status_on(records, dt.date(2026, 1, 9)).pk == 3
    assert status_on(records, dt.date(2026, 1, 10)).pk == 2


def test_a_correction_replaces_the_record_of_its_date_and_history_stays(ressano):
    day = dt.date(2026, 3, 1)
    first, _ = status_record(poe=ressano, effective_from=day, status="closed")
    correction, created = status_record(
        poe=ressano, effective_from=day, status="partial", restriction="entry"
    )
    assert created and correction.pk != first.pk
    assert PoEStatus.objects.filter(poe=ressano).count() == 2  # nothing edited in place
    (pair,) = points_as_of(day=day, audience=Audience.internal(), operation=ressano.operation)
    assert pair[1].pk == correction.pk


def test_a_status_recorded_again_unchanged_is_stored_once(ressano):
    day = dt.date(2026, 3, 1)
    status_record(poe=ressano, effective_from=day, status="closed", measures=["testing", "quarantine"])
    _record, created = status_record(
        poe=ressano, effective_from=day, status="closed", measures=["quarantine", "testing"]
    )
    assert not created
    assert PoEStatus.objects.filter(poe=ressano).count() == 1


def test_counts_over_a_long_range_take_one_query_for_the_records(ressano, django_assert_max_num_queries):
    for month in range(1, 13):
        status_record(poe=ressano, effective_from=dt.date(2025, month, 1), status=STATUSES[month % 3])
    with django_assert_max_num_queries(2):
        rows = status_counts_by_day(
            date_from=dt.date(2025, 1, 1), date_to=dt.date(2025, 12, 31), audience=Audience.internal()
        )
    assert len(rows) == 365
    assert rows[0][STATUSES[1]] == 1 and rows[-1][STATUSES[0]] == 1

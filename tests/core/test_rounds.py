"""An information officer moves a round through its lifecycle; skipping a state is refused and logged nowhere."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from mobility.core.models import AuditEntry, Round
from mobility.core.services import (
    ROUND_NOT_PUBLISHED,
    ROUND_SKIPS_STATE,
    round_advance,
    round_correct,
    round_create,
)

pytestmark = pytest.mark.django_db

S = Round.Status


@pytest.fixture
def round1(operation):
    return round_create(
        operation=operation, number=1, start_date=dt.date(2026, 1, 1), end_date=dt.date(2026, 1, 31)
    )


def test_a_round_goes_planned_collecting_validating_published(round1, data_manager):
    for state in (S.COLLECTING, S.VALIDATING, S.PUBLISHED):
        round_advance(round=round1, to=state, by=data_manager)
    round1.refresh_from_db()
    assert round1.status == S.PUBLISHED
    assert round1.published_at is not None
    moves = list(AuditEntry.objects.filter(action="round.advance").values_list("detail", flat=True))
    assert [(m["from"], m["to"]) for m in reversed(moves)] == [
        ("planned", "collecting"),
        ("collecting", "validating"),
        ("validating", "published"),
    ]
    assert AuditEntry.objects.filter(action="round.advance", user=data_manager).count() == 3


@pytest.mark.parametrize(
    "path, target",
    [
        ([], S.VALIDATING),
        ([], S.PUBLISHED),
        ([S.COLLECTING], S.PUBLISHED),
        ([S.COLLECTING, S.VALIDATING, S.PUBLISHED], S.COLLECTING),
        ([S.COLLECTING], S.PLANNED),
    ],
)
def test_a_transition_that_skips_a_state_is_refused(round1, path, target):
    for state in path:
        round_advance(round=round1, to=state)
    before = AuditEntry.objects.count()
    with pytest.raises(ValidationError) as err:
        round_advance(round=round1, to=target)
    current = path[-1] if path else S.PLANNED
    allowed = ", ".join(Round.TRANSITIONS[current]) or "nothing (it is final)"
    assert err.value.messages == [ROUND_SKIPS_STATE.format(number=1, current=current, allowed=allowed)]
    round1.refresh_from_db()
    assert round1.status == current
    assert AuditEntry.objects.count() == before


def test_validating_can_go_back_to_collecting(round1):
    round_advance(round=round1, to=S.COLLECTING)
    round_advance(round=round1, to=S.VALIDATING)
    round_advance(round=round1, to=S.COLLECTING)
    assert Round.objects.get(pk=round1.pk).status == S.COLLECTING


def test_a_correction_is_a_new_version_and_supersedes_the_published_one_when_published(round1):
    for state in (S.COLLECTING, S.VALIDATING, S.PUBLISHED):
        round_advance(round=round1, to=state)
    correction = round_correct(round=round1, reason="admin2 totals swapped for Ancuabe and Balama")
    assert (correction.number, correction.version, correction.status) == (1, 2, S.VALIDATING)
    assert Round.objects.get(pk=round1.pk).status == S.PUBLISHED  # still the public figure until replaced
    round_advance(round=correction, to=S.PUBLISHED)
    assert Round.objects.get(pk=round1.pk).status == S.SUPERSEDED
    assert Round.objects.filter(operation=round1.operation, number=1, status=S.PUBLISHED).get().version == 2


def test_only_a_published_round_can_be_corrected(round1):
    with pytest.raises(ValidationError) as err:
        round_correct(round=round1, reason="typo")
    assert err.value.messages == [ROUND_NOT_PUBLISHED.format(number=1, current="planned")]


def test_a_round_cannot_end_before_it_starts(operation):
    with pytest.raises(ValidationError):
        round_create(
            operation=operation, number=2, start_date=dt.date(2026, 2, 1), end_date=dt.date(2026, 1, 1)
        )
    assert not Round.objects.filter(number=2).exists()


def test_the_same_round_number_twice_is_refused(round1, operation):
    with pytest.raises(ValidationError):
        round_create(
            operation=operation, number=1, start_date=dt.date(2026, 3, 1), end_date=dt.date(2026, 3, 2)
        )

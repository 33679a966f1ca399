"""`mobility demo` (what `make demo` runs) loads every module's demo, registration included, and a
second run adds nothing."""

import io

import pytest
from django.core.management import call_command

from mobility.registration.models import Household, MatchPair


@pytest.mark.heavy
@pytest.mark.django_db(transaction=True)
def test_the_demo_loads_everything_and_a_second_run_adds_nothing():
    out = io.StringIO()
    call_command("demo", "--quiet", stdout=out)
    text = out.getvalue()
    assert "Demo loaded." in text
    assert Household.objects.count() == 312
    pending = MatchPair.objects.filter(status=MatchPair.Status.PENDING).count()
    assert pending >= 1 and f"{pending} waiting for review" in text
    call_command("demo", "--quiet", stdout=io.StringIO())
    assert Household.objects.count() == 312
    assert MatchPair.objects.filter(status=MatchPair.Status.PENDING).count() == pending

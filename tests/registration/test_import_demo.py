"""The demo registry: about 300 invented Cabo Delgado households through the real write path, a
catalogue with entitlements, planted near-duplicates, and a re-run that adds nothing."""

from __future__ import annotations

import pytest

from mobility.gazetteer.models import Location
from mobility.registration.demo import HOUSEHOLDS, PLANTED, PREFIX, registration_demo
from mobility.registration.models import Entitlement, Household, Individual, Item
from tests.gazetteer.gazetteer_fixtures import moz_gazetteer_fixture  # noqa: F401

pytestmark = pytest.mark.django_db


def test_the_demo_registry(operation, admin_user, moz_gazetteer):
    Location.objects.create(
        code="MOZ-SITE-METUGE-01", type=Location.Type.SITE, name="Metuge site", country_iso3="MOZ",
        operation=operation, admin1_code="MZ01", admin2_code="MZ0109", admin3_code="MZ010901",
    )  # fmt: skip
    stored = registration_demo(operation, by=admin_user)
    assert stored["households"] == HOUSEHOLDS + PLANTED == Household.objects.count()
    assert stored["households_created"] == stored["households"]
    assert Individual.objects.count() == stored["individuals"] > 2 * HOUSEHOLDS
    households = Household.objects.filter(operation=operation)
    assert not households.exclude(admin1_pcode="MZ01").exists()  # all in Cabo Delgado, p-coded
    assert households.filter(site__code="MOZ-SITE-METUGE-01").count() > HOUSEHOLDS // 5
    assert all(h.members.filter(relationship="head").count() == 1 for h in households)
    assert set(Item.objects.values_list("code", flat=True)) == {
        "NFI-KIT",
        "FOOD-BASKET",
        "SHELTER-KIT",
        "HYGIENE-KIT",
    }
    assert Entitlement.objects.get(item__code="FOOD-BASKET").period_days == 30
    # Planted: the head of another household again, spelled or dated a little differently.
    planted = Individual.objects.filter(reference__startswith=f"{PREFIX}-R")
    assert planted.count() == PLANTED
    families = {p.family_name for p in Individual.objects.filter(relationship="head").exclude(pk__in=planted)}
    assert sum(p.family_name in families for p in planted) >= PLANTED // 2
    assert Individual.objects.exclude(other_names=[]).exists()  # some have an Arabic-script alias
    again = registration_demo(operation, by=admin_user)
    assert (again["households_created"], again["households_updated"]) == (0, 0)
    assert Household.objects.count() == stored["households"]

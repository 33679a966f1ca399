"""Shared set-up for the verification and assistance tests: granted users, sites, households, clusters."""

from __future__ import annotations

import datetime as dt

from mobility.core.models import Membership, Role
from mobility.gazetteer.models import Location
from mobility.registration.models import DedupCluster, Household, Individual, RegistrationGrant
from tests.registration.factories import household_make

PASSWORD = "a-long-test-password"
DAY = dt.date(2026, 5, 12)


def granted(django_user_model, operation, username: str, *, role=Role.ENUMERATOR, capabilities=()):
    """A member of the operation holding these registration capabilities."""
    user = django_user_model.objects.create_user(username=username, password=PASSWORD)
    Membership.objects.create(user=user, operation=operation, role=role)
    if capabilities:
        RegistrationGrant.objects.create(user=user, operation=operation, capabilities=list(capabilities))
    return user


def site_make(operation, code="CD-SITE-01", *, name="25 de Junho", admin1="MZ01", admin2="MZ0101"):
    return Location.objects.create(
        code=code,
        type=Location.Type.SITE,
        name=name,
        country_iso3=operation.country_iso3,
        operation=operation,
        admin1_code=admin1,
        admin2_code=admin2,
    )


def family(operation, reference, *, children=2, site_code="", location_pcode="", head=None, **household):
    """A household with a head and ``children`` children (registered through households_write)."""
    extra = {"household_size": str(1 + children), **household}
    if site_code:
        extra["site_code"] = site_code
    if location_pcode:
        extra["location_pcode"] = location_pcode
    return household_make(
        operation,
        reference,
        head=head,
        members=[
            {"age": str(4 + i), "given_name": f"Child{i}", "family_name": reference} for i in range(children)
        ],
        **extra,
    )


def same_person(*households: Household) -> DedupCluster:
    """Put the heads of these households in one dedup cluster (as the dedup engine would)."""
    cluster = DedupCluster.objects.create(operation=households[0].operation)
    for hh in households:
        Individual.objects.filter(household=hh, relationship="head").update(cluster=cluster)
    return cluster


def merged(source: Household, into: Household) -> None:
    """Merge the head of ``source`` into the head of ``into`` (as a reviewer's merge would)."""
    target = Individual.objects.get(household=into, relationship="head")
    Individual.objects.filter(household=source, relationship="head").update(merged_into=target)

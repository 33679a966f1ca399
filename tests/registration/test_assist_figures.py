"""Aggregates of assistance and of the registry: counts by area, item, month, sex and age; small cells hidden."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from mobility.core.models import Role
from mobility.registration import assistance as a
from mobility.registration import assistance_figures as f
from mobility.registration import verification as v
from mobility.registration.models import AssistanceFigure, Capability
from tests.registration.assist_helpers import DAY, family, granted, site_make

MAY = dt.date(2026, 5, 1)


@pytest.fixture
def manager(django_user_model, operation):
    return granted(
        django_user_model,
        operation,
        "supervisor",
        role=Role.DATA_MANAGER,
        capabilities=[Capability.DISTRIBUTE, Capability.VERIFY],
    )


@pytest.fixture
def assisted(operation, manager):
    """Six households of three at a site in Ancuabe, one in Balama: all received an NFI kit in May."""
    ancuabe = site_make(operation, "CD-01", admin2="MZ0101")
    balama = site_make(operation, "CD-02", name="Balama camp", admin2="MZ0102")
    nfi = a.item_create(operation=operation, code="NFI", name="NFI kit", by=manager)
    a.entitlement_set(operation=operation, item=nfi, period_days=90, by=manager)
    households = [family(operation, f"HH-{i}", site_code=ancuabe.code) for i in range(6)]
    households.append(family(operation, "HH-B", site_code=balama.code))
    for i, hh in enumerate(households):
        a.distribution_record(
            operation=operation,
            household=hh,
            item=nfi,
            quantity=1,
            distributed_on=DAY,
            reference=f"D-{i}",
            by=manager,
        )
    return households


def cells(figures, **match):
    return [x for x in figures if all(getattr(x, k) == v for k, v in match.items())]


def test_exact_figures_count_households_and_their_people_by_area_sex_and_age(operation, assisted):
    figures, report = f.assistance_figures(
        operation=operation, date_from=MAY, date_to=dt.date(2026, 5, 31), exact=True
    )
    assert report == {}
    totals = {
        (x.admin_level, x.admin2_code): (x.households, x.individuals)
        for x in cells(figures, gender="all", age_range="all")
    }
    assert totals == {(1, ""): (7, 21), (2, "MZ0101"): (6, 18), (2, "MZ0102"): (1, 3)}
    # Heads: women born 1988 (18-59); children: boys aged 4 and 5 in 2026.
    level1 = {(x.gender, x.age_range): x.individuals for x in cells(figures, admin_level=1)}
    assert level1 == {
        ("all", "all"): 21,
        ("f", "all"): 7,
        ("m", "all"): 14,
        ("f", "18-59"): 7,
        ("m", "0-4"): 7,
        ("m", "5-11"): 7,
    }
    assert all(x.month == MAY and x.item_code == "NFI" and not x.suppressed for x in figures)


def test_small_cells_are_suppressed_and_so_is_the_cell_that_would_reveal_them(operation, assisted):
    figures, report = f.assistance_figures(operation=operation, date_from=MAY, date_to=dt.date(2026, 5, 31))
    by_area = {(x.admin_level, x.admin2_code): x for x in cells(figures, gender="all", age_range="all")}
    assert (by_area[(1, "")].households, by_area[(1, "")].individuals) == (7, 21)
    balama, ancuabe = by_area[(2, "MZ0102")], by_area[(2, "MZ0101")]
    assert balama.suppressed and balama.households is None and balama.individuals is None
    # Ancuabe alone is large, but with the admin-1 total it would give Balama away.
    assert ancuabe.suppressed and ancuabe.individuals is None
    assert report["threshold"] == 5 and report["suppressed_total"] >= 2
    published = [x.individuals for x in figures if not x.suppressed and x.individuals is not None]
    assert published and all(n == 0 or n >= 5 for n in published)
    table = f.figures_table(figures)
    assert [(r["admin_level"], r["households"], r["f"], r["m"]) for r in table][0] == (1, 7, 7, 14)


def test_publishing_freezes_the_month_and_needs_a_data_manager(
    django_user_model, operation, assisted, manager
):
    distributor = granted(django_user_model, operation, "dist", capabilities=[Capability.DISTRIBUTE])
    with pytest.raises(PermissionDenied):
        f.assistance_publish(operation=operation, period="2026-05", by=distributor)
    with pytest.raises(ValidationError) as exc:
        f.assistance_publish(operation=operation, period="May 2026", by=manager)
    assert exc.value.messages == [str(f.PERIOD_INVALID.format(value="May 2026"))]
    publication = f.assistance_publish(operation=operation, period="2026-05", by=manager)
    assert (publication.period_start, publication.period_end) == (MAY, dt.date(2026, 5, 31))
    count = publication.figures.count()
    assert count and publication.registry.exists()
    again = f.assistance_publish(operation=operation, period="2026-05", by=manager)
    assert again.pk == publication.pk and AssistanceFigure.objects.count() == count


def test_registry_figures_follow_verification_and_hide_small_statuses(operation, assisted, manager):
    round_ = v.round_open(operation=operation, name="May", site="CD-01", started_on=MAY, by=manager)
    v.verification_record(round=round_, household=assisted[0], outcome="moved", verified_on=DAY, by=manager)
    exact, _ = f.registry_figures(operation=operation, exact=True)
    rows = {(c.admin_level, c.admin2_code, c.status): (c.households, c.individuals) for c in exact}
    assert rows[(2, "MZ0101", "active")] == (5, 15)
    assert rows[(2, "MZ0101", "moved")] == (1, 3)
    assert rows[(1, "", "all")] == (7, 21)
    public, report = f.registry_figures(operation=operation)
    hidden = {(c.admin_level, c.admin2_code, c.status) for c in public if c.suppressed}
    assert (2, "MZ0101", "moved") in hidden and (2, "MZ0102", "all") in hidden
    assert all(c.individuals is None and c.households is None for c in public if c.suppressed)
    assert report["suppressed_total"] >= len(hidden) // 2

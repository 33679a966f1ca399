"""An IMO imports multi-sectoral site assessments: sites become gazetteer locations, figures and typed indicators are stored once."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from mobility.core import imports
from mobility.core.models import ImportJob
from mobility.core.services import round_create
from mobility.gazetteer.models import Location
from mobility.tracking.importers.sites import (
    ROW_HOUSEHOLDS_EXCEED,
    ROW_NO_POPULATION,
    ROW_NOT_CHOICE,
    ROW_NOT_NUMBER,
    ROW_NOT_YES_NO,
    ROW_OUT_OF_RANGE,
    ROW_ROUND_UNKNOWN,
    ROW_SITE_TWICE,
    SITES_BAD_SECTOR,
    SITES_KIND,
    indicator_kind,
)
from mobility.tracking.models import AreaFigure, Assessment, IndicatorValue, PopulationFigure
from tests.gazetteer.gazetteer_fixtures import moz_gazetteer_fixture  # noqa: F401

pytestmark = pytest.mark.django_db
SAMPLE = Path(__file__).parent / "data" / "sa_moz_sites.csv"
HEADER = "site_code,site_name,admin1_code,admin2_code,reporting_round,site_type,accessibility,idp_households,idp_individuals"


@pytest.fixture
def rounds(operation):
    return [
        round_create(
            operation=operation, number=1, start_date=dt.date(2026, 1, 5), end_date=dt.date(2026, 1, 31)
        ),
        round_create(
            operation=operation, number=2, start_date=dt.date(2026, 3, 2), end_date=dt.date(2026, 3, 31)
        ),
    ]


def run_file(path, operation, **kw):
    return imports.run(imports.job_create(kind=SITES_KIND, source=path, operation=operation, **kw))


def write_csv(tmp_path, *rows, header=HEADER):
    path = tmp_path / "sa.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def test_the_sample_file_makes_sites_assessments_figures_and_indicators(operation, moz_gazetteer, rounds):
    job = run_file(SAMPLE, operation)
    assert job.status == ImportJob.Status.SUCCEEDED, [e.text for e in job.row_errors.all()]
    assert (job.rows_read, job.created) == (5, 5)
    assert job.summary["sites"] == {"created": 3, "updated": 0, "unchanged": 0}
    site = Location.objects.get(code="MZ-CD-S001")
    assert (site.type, site.admin2_code, site.operation_id) == ("site", "MZ0109", operation.pk)
    latest = Assessment.objects.get(place_key="MZ-CD-S001", round=rounds[1])
    assert latest.assessment_type == "SA" and latest.location_id == site.pk
    assert latest.site_profile == {
        "type": "resettlement_site",
        "management": "government",
        "accessibility": "accessible",
        "management_agency_name": "INGD",
    }
    idp = latest.figures.get(population_group="IDP")
    assert (idp.households, idp.individuals, idp.males, idp.females) == (1302, 6214, 2760, 3454)
    values = {(i.sector, i.indicator): i for i in latest.indicators.all()}
    assert values[("wash", "water_source")].value_text == "borehole"
    assert values[("wash", "water_litres_per_person_day")].value_number == 14.0
    assert values[("health", "facility_on_site")].value_boolean is True
    assert values[("protection", "lighting")].value_text == "adequate"
    assert ("site", "notes") not in values  # empty cell in round 2
    first = Assessment.objects.get(place_key="MZ-CD-S001", round=rounds[0])
    notes = first.indicators.get(sector="site", indicator="notes")
    assert (notes.kind, notes.value_text) == ("text", "Water point repaired in January")
    ntokota = Assessment.objects.get(place_key="MZ-CD-S002", round=rounds[0])
    assert ntokota.figures.get(population_group="HOST").individuals == 300
    # Sites add up into their district's analytics cell for the SA tool.
    cell = AreaFigure.objects.get(
        round=rounds[0], assessment_type="SA", population_group="IDP", pcode="MZ0109"
    )
    assert cell.individuals == 5860 + 4015


def test_importing_the_same_file_again_changes_nothing(operation, moz_gazetteer, rounds):
    run_file(SAMPLE, operation)
    job = run_file(SAMPLE, operation)
    assert (job.created, job.updated, job.unchanged) == (0, 0, 5)
    assert job.summary["sites"] == {"created": 0, "updated": 0, "unchanged": 3}
    assert Assessment.objects.count() == 5 and PopulationFigure.objects.count() == 7
    assert (
        IndicatorValue.objects.count()
        == IndicatorValue.objects.values("assessment", "sector", "indicator").distinct().count()
    )


def test_a_value_that_does_not_fit_its_indicator_names_the_column(operation, moz_gazetteer, rounds, tmp_path):
    header = (
        HEADER
        + ",wash.water_source,health.facility_distance_km,protection.safe_spaces,education.children_in_school_pct"
    )
    good = "S1,Site one,MZ01,MZ0109,1,Planned camp,Accessible,10,50,borehole,2.5,yes,40"
    rows = [
        good,
        "S2,Site two,MZ01,MZ0109,1,Planned camp,Accessible,10,50,lemonade,2.5,yes,40",
        "S3,Site three,MZ01,MZ0109,1,Planned camp,Accessible,10,50,borehole,far,yes,40",
        "S4,Site four,MZ01,MZ0109,1,Planned camp,Accessible,10,50,borehole,2.5,maybe,40",
        "S5,Site five,MZ01,MZ0109,1,Planned camp,Accessible,10,50,borehole,2.5,no,140",
    ]
    job = run_file(write_csv(tmp_path, *rows, header=header), operation)
    assert job.status == ImportJob.Status.FAILED
    errors = {(e.row, e.column): e.message for e in job.row_errors.all()}
    assert errors == {
        (3, "wash.water_source"): ROW_NOT_CHOICE.format(
            allowed="piped, borehole, protected_well, unprotected_well, surface_water, water_trucking, other"
        ),
        (4, "health.facility_distance_km"): ROW_NOT_NUMBER,
        (5, "protection.safe_spaces"): ROW_NOT_YES_NO,
        (6, "education.children_in_school_pct"): ROW_OUT_OF_RANGE.format(low=0, high=100),
    }
    assert not Assessment.objects.exists() and not Location.objects.exists()


@pytest.mark.parametrize(
    ("row", "column", "message"),
    [
        ("S1,Site,MZ01,MZ0109,7,Planned camp,Accessible,10,50", "reporting_round", "round 7 does not exist"),
        ("S1,Site,MZ01,MZ0109,1,Palace,Accessible,10,50", "site_type", "is not a site type"),
        ("S1,Site,MZ01,MZ0109,1,Planned camp,By helicopter,10,50", "accessibility", "is not a accessibility"),
        ("S1,Site,MZ01,MZ0109,1,Planned camp,Accessible,60,50", "idp_households", "exceed individuals"),
        ("S1,Site,MZ01,MZ0109,1,Planned camp,Accessible,10,-50", "idp_individuals", "is negative"),
        ("S1,Site,MZ01,MZ0199,1,Planned camp,Accessible,10,50", "admin2_code", "MZ0199"),
        ("S1,Site,MZ01,MZ0109,1,Planned camp,Accessible,,", "idp_individuals", ROW_NO_POPULATION),
        (",Site,MZ01,MZ0109,1,Planned camp,Accessible,10,50", "site_code", "is required"),
    ],
)
def test_a_bad_row_rejects_the_file(operation, moz_gazetteer, rounds, tmp_path, row, column, message):
    job = run_file(write_csv(tmp_path, "S0,Fine,MZ01,MZ0109,1,camp,yes,1,5", row), operation)
    errors = list(job.row_errors.all())
    assert job.status == ImportJob.Status.FAILED
    assert [(e.row, e.column) for e in errors] == [(3, column)], [e.text for e in errors]
    assert message in errors[0].message
    assert not Assessment.objects.exists()


def test_constants_for_duplicates_and_households(operation, moz_gazetteer, rounds, tmp_path):
    job = run_file(
        write_csv(tmp_path, "S1,Site,MZ01,MZ0109,1,camp,yes,1,5", "S1,Site,MZ01,MZ0109,1,camp,yes,9,5"),
        operation,
    )
    errors = {(e.row, e.column): e.message for e in job.row_errors.all()}
    assert errors == {(3, "idp_households"): ROW_HOUSEHOLDS_EXCEED.format(households=9, individuals=5)}
    job = run_file(
        write_csv(tmp_path, "S1,Site,MZ01,MZ0109,1,camp,yes,1,5", "S1,Site,MZ01,MZ0109,1,camp,yes,1,6"),
        operation,
    )
    errors = {(e.row, e.column): e.message for e in job.row_errors.all()}
    assert errors == {(3, "site_code"): ROW_SITE_TWICE.format(code="S1", number=1, first=2)}
    assert ROW_ROUND_UNKNOWN.format(number=7, operation="X").startswith("round 7")


def test_an_unknown_sector_column_refuses_the_file(operation, moz_gazetteer, rounds, tmp_path):
    path = write_csv(tmp_path, "S1,Site,MZ01,MZ0109,1,camp,yes,1,5,3", header=HEADER + ",weather.rain_mm")
    job = run_file(path, operation)
    assert job.status == ImportJob.Status.FAILED
    assert job.error == SITES_BAD_SECTOR.format(
        column="weather.rain_mm",
        sector="weather",
        allowed="wash, food, health, livelihoods, protection, shelter, communication, education, site",
    )


@pytest.mark.parametrize(
    ("values", "kind"),
    [(["yes", "No", ""], "boolean"), (["1.5", "3"], "number"), (["3", "many"], "text"), (["", ""], "text")],
)
def test_an_unknown_indicator_takes_its_kind_from_its_values(values, kind):
    assert indicator_kind("food", "made_up", values)["kind"] == kind


def test_round_can_come_from_the_job_profile(operation, moz_gazetteer, rounds, tmp_path):
    header = HEADER.replace("reporting_round,", "")
    path = write_csv(tmp_path, "S1,Site,MZ01,MZ0109,camp,yes,1,5", header=header)
    job = run_file(path, operation, profile={"round": 2})
    assert job.status == ImportJob.Status.SUCCEEDED, [e.text for e in job.row_errors.all()]
    assessment = Assessment.objects.get()
    assert assessment.round == rounds[1] and assessment.reporting_date == dt.date(2026, 3, 31)

"""Importing the registry of points and their status history: row/column errors, nothing stored
half-way, re-imports that update and never duplicate."""

from __future__ import annotations

import datetime as dt

import openpyxl
import pytest

from mobility.core.imports import job_create, run
from mobility.core.models import ImportJob
from mobility.restrictions.importers.common import COLUMNS_MISSING, INT_NEGATIVE
from mobility.restrictions.importers.points import IATA_NOT_AIRPORT, PCODE_UNKNOWN, WARN_NO_GAZETTEER
from mobility.restrictions.importers.statuses import POE_UNKNOWN
from mobility.restrictions.models import PoEStatus, PointOfEntry
from tests.conftest import DEMO_DATA
from tests.restrictions.conftest import import_job, write_csv

POINTS_HEADER = [
    "code",
    "name",
    "type",
    "country",
    "border_country",
    "iata_code",
    "admin1_code",
    "admin2_code",
    "latitude",
    "longitude",
]
POINTS = [
    ["MOZ-RG", "Ressano Garcia", "land_border", "MOZ", "ZAF", "", "MZ05", "MZ0507", "-25.4426", "31.9917"],
    [
        "MOZ-MPM",
        "Maputo International Airport",
        "Airport",
        "MOZ",
        "",
        "MPM",
        "MZ06",
        "MZ0601",
        "-25.9208",
        "32.5726",
    ],
    [
        "MOZ-BEW",
        "Port of Beira",
        "Blue border crossing (sea, river, lake)",
        "Mozambique",
        "",
        "",
        "MZ09",
        "MZ0906",
        "",
        "",
    ],
]
STATUS_HEADER = [
    "poe_code",
    "effective_from",
    "status",
    "restriction",
    "affected_groups",
    "measures",
    "daily_inflow",
    "daily_outflow",
    "notes",
    "source",
]
STATUSES = [
    ["MOZ-RG", "2026-05-04", "open", "none", "", "medical_screening", "5200", "4800", "", "IOM DTM Maputo"],
    [
        "MOZ-RG",
        "2026-06-15",
        "Partially open",
        "entry",
        "irregular_migrants",
        "medical_screening; documentation",
        "3,100",
        "4600",
        "Cholera alert",
        "IOM DTM Maputo",
    ],
    [
        "MOZ-RG",
        "2026-06-15",
        "closed",
        "both",
        "all",
        "medical_screening",
        "0",
        "0",
        "Correction: closed",
        "IOM DTM Maputo",
    ],
    ["MOZ-MPM", "2026-05-04", "open", "none", "", "", "1400", "1350", "", "Airport authority"],
]


@pytest.fixture
def moz_gazetteer(db):
    job = run(
        job_create(
            kind="gazetteer.cod",
            source=DEMO_DATA / "moz_adm0-3_pcodes_ocha_2019.csv",
            profile={"country": "MOZ"},
        )
    )
    assert job.status == ImportJob.Status.SUCCEEDED, job.error


@pytest.fixture
def registry(operation, moz_gazetteer, tmp_path):
    job = import_job(
        "restrictions.points", write_csv(tmp_path / "points.csv", POINTS_HEADER, POINTS), operation
    )
    assert job.status == ImportJob.Status.SUCCEEDED, job.error
    return job


def test_the_registry_imports_labels_and_names_and_checks_p_codes(registry, operation):
    assert (registry.created, registry.updated, registry.unchanged) == (3, 0, 0)
    points = {p.code: p for p in PointOfEntry.objects.filter(operation=operation)}
    assert points["MOZ-MPM"].type == "airport" and points["MOZ-MPM"].iata_code == "MPM"
    assert points["MOZ-BEW"].type == "blue_border" and points["MOZ-BEW"].country_iso3 == "MOZ"
    assert points["MOZ-RG"].border_country_iso3 == "ZAF" and points["MOZ-RG"].latitude == pytest.approx(
        -25.4426
    )
    assert not registry.summary.get("warnings")


def test_a_registry_re_import_updates_and_never_duplicates(registry, operation, tmp_path):
    again = import_job("restrictions.points", write_csv(tmp_path / "p.csv", POINTS_HEADER, POINTS), operation)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    renamed = [row[:] for row in POINTS]
    renamed[0][1] = "Ressano Garcia / Lebombo"
    third = import_job(
        "restrictions.points", write_csv(tmp_path / "p2.csv", POINTS_HEADER, renamed), operation
    )
    assert (third.created, third.updated, third.unchanged) == (0, 1, 2)
    assert PointOfEntry.objects.filter(operation=operation).count() == 3
    assert PointOfEntry.objects.get(code="MOZ-RG").name == "Ressano Garcia / Lebombo"


def test_the_registry_reads_xlsx(operation, tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(POINTS_HEADER)
    sheet.append(["MOZ-NEG", "Negomano", "land border", "MOZ", "TZA", "", "MZ01", "MZ0112", -11.44, 38.487])
    book.save(tmp_path / "points.xlsx")
    job = import_job("restrictions.points", tmp_path / "points.xlsx", operation)
    assert job.status == ImportJob.Status.SUCCEEDED, job.error
    poe = PointOfEntry.objects.get(code="MOZ-NEG")
    assert (poe.type, poe.border_country_iso3, poe.longitude) == ("land_border", "TZA", pytest.approx(38.487))
    # No MOZ gazetteer in this test: the p-codes are kept, with a warning saying they were not checked.
    assert job.summary["warnings"] == [str(WARN_NO_GAZETTEER.format(country="MOZ"))]


def test_bad_registry_rows_are_named_by_row_and_column_and_nothing_is_stored(
    operation, moz_gazetteer, tmp_path
):
    rows = [
        POINTS[0],
        ["MOZ-X1", "Somewhere", "checkpoint", "MOZ", "", "", "", "", "", ""],
        ["MOZ-X2", "Road", "land_border", "MOZ", "", "ABC", "", "", "", ""],
        ["MOZ-X3", "Lake", "blue_border", "Atlantis", "", "", "MZ99", "", "95", "34"],
        ["MOZ-RG", "Again", "land_border", "MOZ", "", "", "", "", "", ""],
    ]
    job = import_job("restrictions.points", write_csv(tmp_path / "bad.csv", POINTS_HEADER, rows), operation)
    assert job.status == ImportJob.Status.FAILED
    errors = {(e.row, e.column): e for e in job.row_errors.all()}
    assert (3, "type") in errors and errors[(3, "type")].value == "checkpoint"
    assert errors[(4, "iata_code")].message == str(IATA_NOT_AIRPORT.format(type="land_border"))
    assert (5, "country") in errors and (5, "latitude") in errors
    assert errors[(6, "code")].message == "code MOZ-RG is already used on row 2"
    assert job.rejected == 4
    assert not PointOfEntry.objects.exists()


def test_an_unknown_p_code_is_an_error_when_the_gazetteer_is_loaded(operation, moz_gazetteer, tmp_path):
    rows = [["MOZ-RG", "Ressano Garcia", "land_border", "MOZ", "ZAF", "", "MZ05", "MZ9999", "", ""]]
    job = import_job("restrictions.points", write_csv(tmp_path / "p.csv", POINTS_HEADER, rows), operation)
    (error,) = job.row_errors.all()
    assert (error.row, error.column, error.value) == (2, "admin2_code", "MZ9999")
    assert error.message == str(PCODE_UNKNOWN.format(level=2, country="MOZ"))


def test_a_file_without_a_required_column_fails_whole(operation, tmp_path):
    path = write_csv(tmp_path / "p.csv", ["code", "name", "country"], [["A", "B", "MOZ"]])
    job = import_job("restrictions.points", path, operation)
    assert job.status == ImportJob.Status.FAILED
    assert job.error == str(COLUMNS_MISSING.format(columns='"type"', found="code, name, country"))


def test_an_import_needs_an_operation(tmp_path, db):
    job = import_job("restrictions.points", write_csv(tmp_path / "p.csv", POINTS_HEADER, POINTS), None)
    assert job.status == ImportJob.Status.FAILED and "--operation" in job.error


def test_a_viewer_may_not_import(operation, viewer, tmp_path):
    job = import_job(
        "restrictions.points", write_csv(tmp_path / "p.csv", POINTS_HEADER, POINTS), operation, by=viewer
    )
    assert job.status == ImportJob.Status.FAILED and not PointOfEntry.objects.exists()


def test_a_status_history_imports_with_its_corrections(registry, operation, tmp_path):
    job = import_job(
        "restrictions.statuses", write_csv(tmp_path / "s.csv", STATUS_HEADER, STATUSES), operation
    )
    assert job.status == ImportJob.Status.SUCCEEDED, job.error
    assert (job.created, job.unchanged, job.summary["corrections"]) == (4, 0, 1)
    june = PoEStatus.objects.filter(poe__code="MOZ-RG", effective_from=dt.date(2026, 6, 15)).order_by("pk")
    assert [s.status for s in june] == ["partial", "closed"]
    first = june[0]
    assert first.measures == ["medical_screening", "documentation"]
    assert first.affected_groups == ["irregular_migrants"] and first.daily_inflow == 3100
    assert not first.published and first.job_id == job.pk


def test_re_importing_the_same_history_stores_nothing_new(registry, operation, tmp_path):
    path = write_csv(tmp_path / "s.csv", STATUS_HEADER, STATUSES)
    import_job("restrictions.statuses", path, operation)
    again = import_job("restrictions.statuses", path, operation)
    assert (again.created, again.unchanged, again.summary["corrections"]) == (0, 4, 0)
    assert PoEStatus.objects.count() == 4


def test_bad_status_rows_are_named_and_nothing_is_stored(registry, operation, tmp_path):
    rows = [
        STATUSES[0],
        ["MOZ-ZZ", "2026-05-04", "open", "", "", "", "", "", "", ""],
        ["MOZ-RG", "04/05/2026", "half open", "", "", "curfew", "-3", "", "", ""],
    ]
    job = import_job("restrictions.statuses", write_csv(tmp_path / "s.csv", STATUS_HEADER, rows), operation)
    assert job.status == ImportJob.Status.FAILED
    texts = [e.text for e in job.row_errors.all()]
    assert f'row 3, column poe_code: "MOZ-ZZ" {POE_UNKNOWN}' in texts
    assert 'row 4, column effective_from: "04/05/2026" is not a date in the form YYYY-MM-DD' in texts
    assert f'row 4, column daily_inflow: "-3" {INT_NEGATIVE}' in texts
    assert any(t.startswith('row 4, column status: "half open"') for t in texts)
    assert any(t.startswith('row 4, column measures: "curfew"') for t in texts)
    assert not PoEStatus.objects.exists()

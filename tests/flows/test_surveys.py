"""Flow survey interviews import from CSV: coded fields, the rest as answers, never a name or a phone."""

from __future__ import annotations

import datetime as dt

import pytest

from mobility.core import imports
from mobility.core.models import ImportJob
from mobility.flows.importers.surveys import KIND
from mobility.flows.models import FlowSurvey
from mobility.flows.points import PointRow, points_write
from mobility.flows.surveys import (
    PERSONAL_COLUMN,
    PERSONAL_VALUES,
    ROW_COUNTRY,
    ROW_FMP_UNKNOWN,
    ROW_NOT_CHOICE,
    ROW_OUT_OF_RANGE,
    ROW_PCODE_UNKNOWN,
    ROW_RECORD_TWICE,
    personal_columns,
)
from tests.gazetteer.gazetteer_fixtures import moz_gazetteer_fixture  # noqa: F401

pytestmark = pytest.mark.django_db

HEADER = (
    "record_id,fmp_code,date,direction,sex,age,nationality,from_country,from_admin1,to_country,to_admin1,"
    "reason,intended_duration,transport,travelling_with,needs,first_time_crossing,days_travelling"
)
ROWS = [
    "S-001,MOZ-FMP-NAMOTO,2026-02-03,in,f,34,MOZ,TZA,,MOZ,MZ01,return,permanent,foot,4,food;shelter,no,2",
    "S-002,MOZ-FMP-NAMOTO,03/02/2026,Out (leaving),Male,27,Mozambique,MOZ,MZ01,Tanzania,,Conflict / insecurity,"
    "1m_6m,Boat,0,health,yes,",
    "S-003,MOZ-FMP-MUEDA,2026-02-04,,,,,,,,,,,,,,,",
]


@pytest.fixture
def points(operation):
    return points_write(
        operation=operation,
        rows=[
            PointRow(code="MOZ-FMP-NAMOTO", name="Namoto", country_iso3="MOZ", border_country_iso3="TZA"),
            PointRow(code="MOZ-FMP-MUEDA", name="Mueda bus station", type="bus_station", country_iso3="MOZ"),
        ],
    )


def write(tmp_path, *rows, header=HEADER, name="surveys.csv"):
    path = tmp_path / name
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def run(path, operation):
    return imports.run(imports.job_create(kind=KIND, source=path, operation=operation))


def errors(job) -> list[str]:
    return [e.text for e in job.row_errors.all()]


def test_interviews_keep_coded_fields_and_the_other_answers(operation, points, moz_gazetteer, tmp_path):
    job = run(write(tmp_path, *ROWS), operation)
    assert job.status == ImportJob.Status.SUCCEEDED, errors(job)
    assert (job.rows_read, job.created) == (3, 3)
    first = FlowSurvey.objects.get(record_id="S-001")
    assert (first.fmp.code, first.date, first.direction, first.sex, first.age) == (
        "MOZ-FMP-NAMOTO",
        dt.date(2026, 2, 3),
        "in",
        "f",
        34,
    )
    assert (first.from_country, first.to_country, first.to_admin1) == ("TZA", "MOZ", "MZ01")
    assert (first.reason, first.intended_duration, first.transport, first.travelling_with) == (
        "return",
        "permanent",
        "foot",
        4,
    )
    assert first.needs == ["food", "shelter"]
    assert first.answers == {"first_time_crossing": "no", "days_travelling": "2"}
    second = FlowSurvey.objects.get(record_id="S-002")
    assert (second.direction, second.sex, second.nationality, second.to_country) == ("out", "m", "MOZ", "TZA")
    assert (second.reason, second.transport, second.date) == ("conflict", "boat", dt.date(2026, 2, 3))
    bare = FlowSurvey.objects.get(record_id="S-003")
    assert (bare.direction, bare.reason, bare.age, bare.needs, bare.answers) == ("", "unknown", None, [], {})


def test_a_reimport_updates_never_duplicates(operation, points, moz_gazetteer, tmp_path):
    run(write(tmp_path, *ROWS), operation)
    again = run(write(tmp_path, *ROWS, name="again.csv"), operation)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    changed = run(write(tmp_path, ROWS[0].replace(",34,", ",35,"), name="changed.csv"), operation)
    assert (changed.created, changed.updated, changed.unchanged) == (0, 1, 0)
    assert FlowSurvey.objects.count() == 3 and FlowSurvey.objects.get(record_id="S-001").age == 35


def test_bad_rows_name_row_and_column_and_store_nothing(operation, points, moz_gazetteer, tmp_path):
    path = write(
        tmp_path,
        ROWS[0],
        "S-010,MOZ-FMP-NOWHERE,2026-02-03,in,f,30,MOZ,,,,,,,,,,,",  # row 3
        "S-011,MOZ-FMP-MUEDA,2026-02-03,sideways,f,130,Atlantis,,,MOZ,MZ99,,,,,,,",  # row 4
        ROWS[0],  # row 5: S-001 again
    )
    job = run(path, operation)
    assert job.status == ImportJob.Status.FAILED
    texts = errors(job)
    assert f'row 3, column fmp_code: "MOZ-FMP-NOWHERE" {ROW_FMP_UNKNOWN}' in texts
    assert f'row 4, column direction: "sideways" {ROW_NOT_CHOICE.format(allowed="in, out")}' in texts
    assert f'row 4, column age: "130" {ROW_OUT_OF_RANGE.format(low=0, high=120)}' in texts
    assert f'row 4, column nationality: "Atlantis" {ROW_COUNTRY}' in texts
    assert f'row 4, column to_admin1: "MZ99" {ROW_PCODE_UNKNOWN.format(country="MOZ")}' in texts
    assert (
        f"row 5, column record_id: {ROW_RECORD_TWICE.format(record_id='S-001', fmp='MOZ-FMP-NAMOTO', first=2)}"
        in texts
    )
    assert not FlowSurvey.objects.exists()


@pytest.mark.parametrize(
    "column",
    ["respondent_name", "Full name", "nome", "phone_number", "Telephone", "e-mail", "whatsapp"],
)
def test_a_name_or_phone_column_refuses_the_file(operation, points, tmp_path, column):
    job = run(write(tmp_path, ROWS[0] + ",x", header=HEADER + f",{column}"), operation)
    assert job.status == ImportJob.Status.FAILED
    assert job.error.startswith(f'Column "{column}" looks like')
    assert not FlowSurvey.objects.exists()


def test_a_column_of_phone_numbers_refuses_the_file_without_showing_them(operation, points, tmp_path):
    rows = [ROWS[0] + ",+258 84 123 4567", ROWS[1] + ",+258 82 765 4321"]
    job = run(write(tmp_path, *rows, header=HEADER + ",reach_me"), operation)
    assert job.status == ImportJob.Status.FAILED
    assert job.error == PERSONAL_VALUES.format(column="reach_me")
    assert "4567" not in job.error and not job.row_errors.filter(value__contains="4567").exists()


def test_place_names_are_not_personal():
    assert personal_columns(["fmp_name", "village_name", "from_admin1_name", "team_name", "needs"]) == []
    assert len(personal_columns(["enumerator_name", "contact"])) == 2
    assert personal_columns(["head_of_household_name"]) == [
        PERSONAL_COLUMN.format(column="head_of_household_name", what="a person's name")
    ]

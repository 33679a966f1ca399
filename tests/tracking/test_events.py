"""An IMO imports an ETT report (one row per group movement): every row is checked, it is stored whole or not at all, and again never twice."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from mobility.core import imports
from mobility.core.models import ImportJob
from mobility.gazetteer.models import MatchReview
from mobility.tracking.events import (
    EVENT_TYPE_UNKNOWN,
    event_type_from_text,
    event_upsert,
    movement_upsert,
    needs_from_text,
    shelter_from_text,
)
from mobility.tracking.importers.events import (
    EVENTS_KIND,
    EVENTS_NO_GAZETTEER,
    ROW_BAD_DATE,
    ROW_BAD_EVENT_TYPE,
    ROW_BAD_SHELTER,
    ROW_EVENT_DIFFERS,
    ROW_FUTURE_DATE,
    ROW_MOVEMENT_DUPLICATE,
    ROW_NAME_NOT_MATCHED,
    ROW_NEGATIVE,
    ROW_NOT_INTEGER,
    ROW_PCODE_NOT_INSIDE,
    ROW_PCODE_UNKNOWN,
    ROW_REQUIRED,
)
from mobility.tracking.models import Event, EventType, GroupMovement
from tests.gazetteer.gazetteer_fixtures import moz_gazetteer_fixture  # noqa: F401

pytestmark = pytest.mark.django_db
DATA = Path(__file__).parent / "data"
SAMPLE = DATA / "ett_moz_cabo_delgado.csv"
HEADER = (
    "event_code,event_type,event_date,event_admin2_code,movement_code,households,individuals,"
    "from_admin2_code,from_admin2_name,to_admin2_code,to_admin2_name,shelter,initial_needs"
)


def run_file(path, operation, **kw):
    job = imports.job_create(kind=EVENTS_KIND, source=path, operation=operation, **kw)
    return imports.run(job)


def write_csv(tmp_path, *rows, header=HEADER):
    path = tmp_path / "ett.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Armed attack", "conflict"),
        ("Insecurity", "conflict"),
        ("Ataque armado", "conflict"),
        ("Floods", "flood"),
        ("Cheias", "flood"),
        ("Inondation", "flood"),
        ("Cyclone Freddy", "cyclone"),
        ("Tropical storm Ana", "cyclone"),
        ("Seca", "drought"),
        ("Fire in the site", "fire"),
        ("Incêndio", "fire"),
        ("Forced eviction", "eviction"),
        ("earthquake", "earthquake"),
        ("flood", "flood"),
        ("Something else", None),
        ("", None),
    ],
)
def test_event_types_are_mapped_from_free_text(text, code):
    assert event_type_from_text(text) == code


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Host family", "host_family"),
        ("Familia de acolhimento", "host_family"),
        ("Centro de acomodação", "collective_centre"),
        ("Tent", "emergency_shelter"),
        ("open_air", "open_air"),
        ("", ""),
        ("Palace", None),
    ],
)
def test_shelter_is_mapped_from_free_text(text, code):
    assert shelter_from_text(text) == code


def test_needs_become_sector_codes_in_order():
    assert needs_from_text("Food; Shelter, WASH; food") == (["food", "shelter", "wash"], [])
    assert needs_from_text("NFI | Água")[0] == ["shelter", "wash"]
    assert needs_from_text("food; spaceships") == (["food"], ["spaceships"])


def test_the_sample_report_imports_with_places_types_and_totals(operation, moz_gazetteer):
    job = run_file(SAMPLE, operation)
    assert job.status == ImportJob.Status.SUCCEEDED, (
        job.error,
        list(job.row_errors.values_list("message", flat=True)),
    )
    assert (job.rows_read, job.created) == (6, 6)
    assert job.summary["events"] == {"created": 4, "updated": 0, "unchanged": 0}
    attack = Event.objects.get(code="MOZ-ETT-2026-031")
    assert attack.event_type == EventType.CONFLICT and attack.date == dt.date(2026, 2, 3)
    assert (attack.admin1_code, attack.admin2_code) == ("MZ01", "MZ0110")
    arrivals = {}
    for code, n in attack.movements.values_list("to_admin2_code", "individuals"):
        arrivals[code] = arrivals.get(code, 0) + n
    assert arrivals == {"MZ0109": 1034 + 466, "MZ0104": 865}  # "Cidade de Pemba" and "Metuge" matched
    pemba = attack.movements.get(code="031-02")
    assert (pemba.shelter, pemba.initial_needs) == ("host_family", ["food", "health"])
    # Event place taken from the first movement's origin when the event columns are empty; DD/MM/YYYY dates.
    macomia = Event.objects.get(code="MOZ-ETT-2026-032")
    assert (macomia.admin2_code, macomia.date) == ("MZ0106", dt.date(2026, 2, 4))
    assert Event.objects.get(code="MOZ-ETT-2026-033").event_type == "flood"
    assert Event.objects.get(code="MOZ-ETT-2026-034").event_type == "cyclone"


def test_importing_the_same_report_again_changes_nothing(operation, moz_gazetteer):
    run_file(SAMPLE, operation)
    job = run_file(SAMPLE, operation)
    assert job.status == ImportJob.Status.SUCCEEDED
    assert (job.created, job.updated, job.unchanged) == (0, 0, 6)
    assert Event.objects.count() == 4 and GroupMovement.objects.count() == 6


def test_a_corrected_row_updates_its_movement(operation, moz_gazetteer, tmp_path):
    run_file(SAMPLE, operation)
    text = SAMPLE.read_text(encoding="utf-8").replace(",212,1034,", ",212,1100,")
    fixed = tmp_path / "ett_fixed.csv"
    fixed.write_text(text, encoding="utf-8")
    job = run_file(fixed, operation)
    assert (job.created, job.updated, job.unchanged) == (0, 1, 5)
    assert GroupMovement.objects.get(code="031-01").individuals == 1100


@pytest.mark.parametrize(
    ("row", "column", "message"),
    [
        (
            "E1,Volcano of doubt,2026-02-03,MZ0110,m1,10,50,MZ0110,,MZ0109,,,",
            "event_type",
            ROW_BAD_EVENT_TYPE.split(";")[0],
        ),
        ("E1,Armed attack,3 Feb,MZ0110,m1,10,50,MZ0110,,MZ0109,,,", "event_date", ROW_BAD_DATE),
        ("E1,Armed attack,2099-01-01,MZ0110,m1,10,50,MZ0110,,MZ0109,,,", "event_date", ROW_FUTURE_DATE),
        ("E1,Armed attack,2026-02-03,MZ0110,m1,10,-3,MZ0110,,MZ0109,,,", "individuals", ROW_NEGATIVE),
        ("E1,Armed attack,2026-02-03,MZ0110,m1,10,12.5,MZ0110,,MZ0109,,,", "individuals", ROW_NOT_INTEGER),
        ("E1,Armed attack,2026-02-03,MZ0110,m1,10,,MZ0110,,MZ0109,,,", "individuals", ROW_REQUIRED),
        ("E1,Armed attack,2026-02-03,MZ0110,m1,ten,50,MZ0110,,MZ0109,,,", "households", ROW_NOT_INTEGER),
        (
            "E1,Armed attack,2026-02-03,MZ0110,m1,10,50,MZ9999,,MZ0109,,,",
            "from_admin2_code",
            "is not a p-code",
        ),
        (
            "E1,Armed attack,2026-02-03,MZ0110,m1,10,50,MZ0110,,MZ0109,,Palace,",
            "shelter",
            ROW_BAD_SHELTER.split(";")[0],
        ),
        (
            "E1,Armed attack,2026-02-03,MZ0110,m1,10,50,MZ0110,,MZ0109,,,Food; spaceships",
            "initial_needs",
            "is not a sector",
        ),
        (
            "E1,Armed attack,2026-02-03,MZ0110,m1,10,50,MZ0110,,,Atlantis,,",
            "to_admin2_name",
            "could not be matched",
        ),
        (",Armed attack,2026-02-03,MZ0110,m1,10,50,MZ0110,,MZ0109,,,", "event_code", ROW_REQUIRED),
    ],
)
def test_a_bad_row_rejects_the_file_naming_row_and_column(
    operation, moz_gazetteer, tmp_path, row, column, message
):
    good = "E0,Floods,2026-02-01,MZ0111,m1,5,20,MZ0111,,MZ0111,,Tent,WASH"
    job = run_file(write_csv(tmp_path, good, row), operation)
    assert job.status == ImportJob.Status.FAILED
    errors = list(job.row_errors.all())
    assert [(e.row, e.column) for e in errors] == [(3, column)], [e.text for e in errors]
    assert message in errors[0].message
    assert Event.objects.count() == 0 and GroupMovement.objects.count() == 0


def test_rows_of_one_event_must_agree_and_codes_must_nest(operation, moz_gazetteer, tmp_path):
    rows = [
        "E1,Armed attack,2026-02-03,MZ0110,m1,10,50,MZ0110,,MZ0109,,,",
        "E1,Floods,2026-02-03,MZ0110,m2,10,50,MZ0110,,MZ0109,,,",
        "E1,Armed attack,2026-02-03,MZ0110,m1,10,50,MZ0110,,MZ0104,,,",
    ]
    job = run_file(write_csv(tmp_path, *rows), operation)
    messages = {(e.row, e.column): e.message for e in job.row_errors.all()}
    assert messages == {
        (3, "event_type"): ROW_EVENT_DIFFERS.format(first=2, value="conflict"),
        (4, "movement_code"): ROW_MOVEMENT_DUPLICATE.format(first=2),
    }
    path = write_csv(
        tmp_path,
        "E3,Floods,2026-02-03,MZ0110,m1,10,50,MZ02,MZ0110,,MZ0109,,,",
        header=HEADER.replace("from_admin2_code", "from_admin1_code,from_admin2_code"),
    )
    job = run_file(path, operation)
    errors = {(e.row, e.column): e.message for e in job.row_errors.all()}
    assert errors == {(2, "from_admin1_code"): ROW_PCODE_NOT_INSIDE.format(pcode="MZ0110", parent="MZ02")}
    assert ROW_PCODE_UNKNOWN.format(country="MOZ") == "is not a p-code of the current MOZ gazetteer"


def test_names_are_matched_and_unmatched_names_go_to_the_review_list(operation, moz_gazetteer, tmp_path):
    rows = [
        "E1,Armed attack,2026-02-03,,m1,10,50,,Mocímboa da Praia,,Metuge,,",
        "E1,Armed attack,2026-02-03,,m2,10,50,,Mocímboa da Praia,,Pembaa Town Centre XYZ,,",
    ]
    job = run_file(write_csv(tmp_path, *rows), operation)
    assert job.status == ImportJob.Status.FAILED
    errors = list(job.row_errors.all())
    assert [(e.row, e.column) for e in errors] == [(3, "to_admin2_name")]
    assert errors[0].message.startswith(ROW_NAME_NOT_MATCHED.split("(")[0].format(level=2))
    review = MatchReview.objects.get(provider_name="Pembaa Town Centre XYZ")
    assert review.level == 2 and review.import_job_id == job.pk
    # Without the bad row, the names resolve to p-codes.
    job = run_file(write_csv(tmp_path, rows[0]), operation)
    assert job.status == ImportJob.Status.SUCCEEDED
    movement = GroupMovement.objects.get()
    assert (movement.from_admin2_code, movement.to_admin2_code, movement.to_admin1_code) == (
        "MZ0110",
        "MZ0109",
        "MZ01",
    )
    assert movement.event.admin2_code == "MZ0110"


def test_rows_without_movement_code_that_repeat_a_group_are_summed_once(operation, moz_gazetteer, tmp_path):
    rows = [
        "E1,Armed attack,2026-02-03,MZ0110,,10,50,MZ0110,,MZ0109,,Tent,",
        "E1,Armed attack,2026-02-03,MZ0110,,5,20,MZ0110,,MZ0109,,Tent,",
        "E1,Armed attack,2026-02-03,MZ0110,,5,30,MZ0110,,MZ0104,,Tent,",
    ]
    path = write_csv(tmp_path, *rows)
    run_file(path, operation)
    job = run_file(path, operation)
    assert job.unchanged == 2
    assert sorted(GroupMovement.objects.values_list("individuals", flat=True)) == [30, 70]


def test_an_operation_without_a_gazetteer_is_refused(operation):
    job = run_file(SAMPLE, operation)
    assert job.status == ImportJob.Status.FAILED
    assert job.error == EVENTS_NO_GAZETTEER.format(country="MOZ")


def test_services_refuse_values_outside_the_vocabularies(operation):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as exc:
        event_upsert(operation=operation, code="X", event_type="meteor", date=dt.date(2026, 1, 1))
    assert exc.value.messages == [
        EVENT_TYPE_UNKNOWN.format(value="meteor", allowed=", ".join(EventType.values))
    ]
    event, outcome = event_upsert(operation=operation, code="X", event_type="fire", date=dt.date(2026, 1, 1))
    assert outcome == "created"
    assert (
        event_upsert(operation=operation, code="X", event_type="fire", date=dt.date(2026, 1, 1))[1]
        == "unchanged"
    )
    with pytest.raises(ValidationError):
        movement_upsert(event=event, code="1", individuals=5, shelter="palace")
    movement, outcome = movement_upsert(event=event, code="1", individuals=5, initial_needs=["food"])
    assert outcome == "created" and movement.initial_needs == ["food"]

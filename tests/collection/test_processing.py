"""Accepted submissions become domain rows through the file importers: never lost, never counted twice."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib

import pytest

from mobility.collection import services, xforms
from mobility.collection.bindings import binding_save
from mobility.collection.builtin_forms import BASELINE, ETT, SITE, builtin_publish
from mobility.collection.models import Submission, SubmissionOutput
from mobility.collection.processing import (
    CORRECTION_IN_REPEAT,
    FLAG_PLACE_TAKEN,
    NO_ENTRIES,
    form_pending_process,
    form_reprocess,
    submission_correct,
    submission_errors,
    submission_process,
)
from mobility.collection.services import submission_receive
from mobility.core.models import AuditEntry, ImportJob, Round
from mobility.core.services import round_advance, round_create
from mobility.tracking.models import Assessment, Event, GroupMovement, PopulationFigure
from mobility.tracking.services import ROUND_CLOSED
from tests.gazetteer.gazetteer_fixtures import moz_gazetteer_fixture  # noqa: F401

_CONVERTED: dict = {}


@pytest.fixture
def cached_conversion(monkeypatch):
    """Convert each workbook once per session: pyxform runs ODK Validate (about a second a form).

    The conversion itself is tested in test_builtin_forms and test_xforms.
    """

    def convert(data: bytes, name: str):
        key = (hashlib.sha256(data).hexdigest(), name)
        if key not in _CONVERTED:
            _CONVERTED[key] = xforms.xlsform_convert(data, name)
        return copy.deepcopy(_CONVERTED[key])

    monkeypatch.setattr(services, "xlsform_convert", convert)


pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("cached_conversion")]

# Cabo Delgado › Ancuabe › Ancuabe Sede, and Cabo Delgado › Balama › Balama Sede (OCHA COD 2019)
ANCUABE_SEDE = ("MZ01", "MZ0101", "MZ010101")
BALAMA_SEDE = ("MZ01", "MZ0102", "MZ010201")


def instance(form_id: str, version: str, instance_id: str, body: dict, deprecated: str = "") -> bytes:
    return xforms.instance_build(form_id, version, instance_id, body, deprecated)


def group(population_group="IDP", households=120, individuals=540, males=250, females=290, **extra) -> dict:
    return {
        "population_group": population_group,
        "households": households,
        "individuals": individuals,
        "males": males,
        "females": females,
        "displacement_reason": extra.get("reason", "conflict" if population_group != "HOST" else ""),
        "origin_admin1": extra.get("origin", "MZ01" if population_group in ("IDP", "RET-IDP") else ""),
        "shelter_type": extra.get("shelter", "host_family"),
    }


def baseline_xml(
    instance_id, *, groups, place=ANCUABE_SEDE, deprecated="", kind="BA", site=("", "")
) -> bytes:
    body = {
        "start": "2026-01-20T09:00:00.000+02:00",
        "end": "2026-01-20T09:40:00.000+02:00",
        "deviceid": "collect:test-device-1",
        "today": "2026-01-20",
        "location": {
            "admin1": place[0],
            "admin2": place[1],
            "admin3": place[2],
            "assessment_type": kind,
            "site_code": site[0],
            "site_name": site[1],
            "gps": "-12.97 39.86 0 5",
        },
        "reporting_date": "2026-01-20",
        "key_informants": 4,
        "groups": groups,
    }
    return instance(BASELINE.form_id, BASELINE.version, instance_id, body, deprecated)


@pytest.fixture
def round1(operation):
    return round_create(
        operation=operation, number=1, start_date=dt.date(2026, 1, 1), end_date=dt.date(2026, 1, 31)
    )


@pytest.fixture
def baseline(operation, moz_gazetteer, round1):
    return builtin_publish(operation=operation, key="baseline", round_number=1)


@pytest.fixture
def send(operation, enumerator, django_capture_on_commit_callbacks):
    """Receive a submission as OpenRosa does; processing runs after the commit (the huey task)."""

    def send(raw: bytes, process: bool = True) -> Submission:
        with django_capture_on_commit_callbacks(execute=process):
            received = submission_receive(operation=operation, raw=raw, by=enumerator)
        return Submission.objects.get(pk=received.submission.pk)

    return send


def figures() -> dict:
    return {
        (f.assessment.place_key, f.population_group): (f.individuals, f.households, f.males, f.females)
        for f in PopulationFigure.objects.select_related("assessment")
    }


def test_a_submission_becomes_an_assessment_with_its_figures(baseline, send):
    submission = send(baseline_xml("uuid:b1", groups=[group(), group("RET-IDP", 30, 150, None, None)]))
    assert submission.status == Submission.Status.PROCESSED, submission.error
    assessment = Assessment.objects.get()
    assert (assessment.place_key, assessment.admin_level, assessment.assessment_type) == ("MZ010101", 3, "BA")
    assert (assessment.admin2_code, assessment.round.number, assessment.key_informants) == ("MZ0101", 1, 4)
    assert figures() == {
        ("MZ010101", "IDP"): (540, 120, 250, 290),
        ("MZ010101", "RET-IDP"): (150, 30, None, None),
    }
    idp = PopulationFigure.objects.get(population_group="IDP")
    assert idp.shelter == {"host_family": 540}
    assert idp.breakdowns.get().displacement_reason == "conflict"
    assert submission.import_job.kind == "tracking.template" and submission.import_job.status == "succeeded"
    assert submission.binding == baseline.binding and submission.processed_at is not None
    assert list(submission.outputs.values_list("model", "object_id")) == [
        ("tracking.assessment", assessment.pk)
    ]


def test_a_negative_count_needs_attention_naming_row_column_and_field(baseline, send):
    bad = send(baseline_xml("uuid:b1", groups=[group(), group("RET-IDP", 1, -3, None, None)]))
    assert bad.status == Submission.Status.NEEDS_ATTENTION
    assert (
        'row 2 (groups #2), column individuals (form field groups/individuals): "-3" is negative' in bad.error
    )
    assert [e.text for e in submission_errors(bad)] == [bad.error]
    assert Assessment.objects.count() == 0 and not bad.outputs.exists()
    # A failing submission blocks no other.
    good = send(baseline_xml("uuid:b2", place=BALAMA_SEDE, groups=[group(individuals=64, households=15)]))
    assert good.status == Submission.Status.PROCESSED
    assert figures() == {("MZ010201", "IDP"): (64, 15, 250, 290)}


def test_a_repeat_without_entries_needs_attention(baseline, send):
    submission = send(baseline_xml("uuid:b1", groups=[]))
    assert submission.status == Submission.Status.NEEDS_ATTENTION
    assert submission.error == NO_ENTRIES.format(repeat="groups")


def test_a_correction_keeps_the_original_and_processes_the_submission(baseline, send, data_manager):
    bad = send(baseline_xml("uuid:b1", groups=[group(), group("RET-IDP", 1, -3, None, None)]))
    corrected = submission_correct(
        submission=bad, corrections={"groups[2]/individuals": "30"}, by=data_manager
    )
    assert corrected.status == Submission.Status.PROCESSED, corrected.error
    assert figures()[("MZ010101", "RET-IDP")] == (30, 1, None, None)
    # The original stays as received; the correction is kept apart and audited without its value.
    assert corrected.data["groups"][1]["groups/individuals"] == "-3" and b"-3" in bytes(corrected.raw)
    assert corrected.values["groups"][1]["groups/individuals"] == "30"
    assert corrected.corrected_by == data_manager
    entry = AuditEntry.objects.get(action="collection.submission_correct")
    assert entry.detail == {"fields": ["groups[2]/individuals"]} and "30" not in str(entry.detail)


def test_a_correction_must_name_a_field_of_the_form(baseline, send, data_manager):
    from django.core.exceptions import ValidationError

    submission = send(baseline_xml("uuid:b1", groups=[group()]))
    with pytest.raises(ValidationError) as raised:
        submission_correct(submission=submission, corrections={"groups/individuals": "3"}, by=data_manager)
    assert raised.value.messages == [
        CORRECTION_IN_REPEAT.format(path="groups/individuals", repeat="groups", name="individuals")
    ]


def test_reprocessing_a_form_is_idempotent(baseline, send):
    send(baseline_xml("uuid:b1", groups=[group(), group("HOST", 200, 900, 400, 500)]))
    send(baseline_xml("uuid:b2", place=BALAMA_SEDE, groups=[group(individuals=64, households=15)]))
    send(baseline_xml("uuid:b3", place=("MZ01", "MZ0102", "MZ999999"), groups=[group()]))
    form = baseline.version.form
    first = form_reprocess(form=form)
    second = form_reprocess(form=form)
    assert (first.submissions, first.processed, first.attention) == (3, 2, 1)
    assert (second.created, second.updated, second.removed, second.unchanged) == (0, 0, 0, 2)
    assert (second.processed, second.attention) == (2, 1)
    assert Assessment.objects.count() == 2 and SubmissionOutput.objects.count() == 2


def test_reprocessing_after_a_mapping_change_updates_every_row_once(baseline, send):
    send(baseline_xml("uuid:b1", groups=[group(shelter="camp")]))
    send(baseline_xml("uuid:b2", place=BALAMA_SEDE, groups=[group(shelter="camp")]))
    form = baseline.version.form
    mapping = {k: v for k, v in baseline.binding.mapping.items() if k != "shelter_type"}
    binding_save(form=form, target="tracking.template", mapping=mapping, constants={"round": 1})
    changed = form_reprocess(form=form)
    assert (changed.updated, changed.created, changed.unchanged) == (2, 0, 0)
    assert [f.shelter for f in PopulationFigure.objects.all()] == [{}, {}]
    again = form_reprocess(form=form)
    assert (again.updated, again.created, again.unchanged) == (0, 0, 2)
    assert set(Submission.objects.values_list("binding__version", flat=True)) == {2}


def test_an_edit_replaces_the_rows_of_the_version_it_edits(baseline, send):
    first = send(baseline_xml("uuid:b1", groups=[group(), group("RET-IDP", 30, 150, None, None)]))
    edit = send(
        baseline_xml("uuid:b2", deprecated="uuid:b1", groups=[group(individuals=600, households=130)])
    )
    assert edit.status == Submission.Status.PROCESSED, edit.error
    assert figures() == {("MZ010101", "IDP"): (600, 130, 250, 290)}  # the returnees the edit dropped are gone
    first.refresh_from_db()
    assert first.status == Submission.Status.SUPERSEDED and not first.outputs.exists()
    assert edit.outputs.count() == 1 and Assessment.objects.count() == 1


def test_an_edit_that_changes_the_place_removes_the_old_place(baseline, send):
    send(baseline_xml("uuid:b1", groups=[group()]))
    other = send(baseline_xml("uuid:o1", place=("MZ01", "MZ0101", "MZ010102"), groups=[group(individuals=7)]))
    edit = send(baseline_xml("uuid:b2", deprecated="uuid:b1", place=BALAMA_SEDE, groups=[group()]))
    assert edit.status == Submission.Status.PROCESSED, edit.error
    assert sorted(Assessment.objects.values_list("place_key", flat=True)) == ["MZ010102", "MZ010201"]
    assert other.outputs.count() == 1  # another submission's rows are not touched
    round_ = Round.objects.get()
    from mobility.tracking.models import AreaFigure

    # The analytics follow: Ancuabe (MZ0101) now counts only the other submission's 7 IDPs.
    assert AreaFigure.objects.get(round=round_, pcode="MZ0101", population_group="IDP").individuals == 7


@pytest.mark.parametrize("newest_first", [False, True])
def test_two_submissions_for_one_place_count_the_latest(baseline, send, newest_first):
    older = send(baseline_xml("uuid:old", groups=[group(individuals=500)]), process=False)
    newer = send(baseline_xml("uuid:new", groups=[group(individuals=640)]), process=False)
    Submission.objects.filter(pk=older.pk).update(submitted_at=newer.submitted_at - dt.timedelta(hours=2))
    for submission in [newer, older] if newest_first else [older, newer]:
        submission_process(Submission.objects.get(pk=submission.pk))
    older.refresh_from_db()
    newer.refresh_from_db()
    assert figures() == {("MZ010101", "IDP"): (640, 120, 250, 290)}
    assert newer.status == Submission.Status.PROCESSED and newer.outputs.count() == 1
    assert older.status == Submission.Status.NEEDS_ATTENTION and not older.outputs.exists()
    assert "uuid:new" in older.error and [f["code"] for f in older.flags] == [FLAG_PLACE_TAKEN]
    # Correcting the older one's place counts it too, at its own place, and clears the flag.
    corrected = submission_correct(submission=older, corrections={"location/admin3": "MZ010102"}, by=None)
    assert corrected.status == Submission.Status.PROCESSED and corrected.flags == []
    assert figures()[("MZ010102", "IDP")][0] == 500


def test_a_place_freed_by_an_edit_goes_to_the_submission_that_lost_it(baseline, send):
    older = send(baseline_xml("uuid:old", groups=[group(individuals=500)]))
    newer = send(baseline_xml("uuid:new", groups=[group(individuals=640)]))
    older.refresh_from_db()
    assert older.status == Submission.Status.NEEDS_ATTENTION
    # The newer one was about another place after all: the older one is counted again.
    send(
        baseline_xml(
            "uuid:new2", deprecated=newer.instance_id, place=BALAMA_SEDE, groups=[group(individuals=640)]
        )
    )
    older.refresh_from_db()
    assert older.status == Submission.Status.PROCESSED and older.flags == []
    assert figures() == {("MZ010101", "IDP"): (500, 120, 250, 290), ("MZ010201", "IDP"): (640, 120, 250, 290)}


def test_a_submission_to_a_published_round_needs_attention(baseline, send, round1):
    for status in ("collecting", "validating", "published"):
        round_advance(round=round1, to=status)
    submission = send(baseline_xml("uuid:b1", groups=[group()]))
    assert submission.status == Submission.Status.NEEDS_ATTENTION
    assert submission.error == ROUND_CLOSED.format(number=1, operation=round1.operation, status="published")
    assert Assessment.objects.count() == 0


def _state():
    from mobility.tracking.models import FigureBreakdown

    return (
        figures(),
        sorted(Assessment.objects.values_list("place_key", "source", "source_ref")),
        sorted(FigureBreakdown.objects.values_list("figure__assessment__place_key", "source_ref")),
        sorted(Submission.objects.values_list("instance_id", "status")),
        sorted(SubmissionOutput.objects.values_list("submission__instance_id", "model")),
    )


def test_a_batch_gives_what_one_at_a_time_gives(baseline, send):
    places = [("MZ01", "MZ0101", f"MZ01010{n}") for n in (1, 2)] + [BALAMA_SEDE]
    raws = [
        baseline_xml(f"uuid:p{n}", place=place, groups=[group(individuals=100 + n)])
        for n, place in enumerate(places)
    ]
    raws.append(baseline_xml("uuid:bad", place=BALAMA_SEDE, groups=[group(individuals=-3)]))
    raws.append(baseline_xml("uuid:again", place=ANCUABE_SEDE, groups=[group(individuals=999)]))
    raws.append(baseline_xml("uuid:named", place=("MZ01", "MZ0102", "MZ999999"), groups=[group()]))
    submissions = [send(raw, process=False) for raw in raws]
    counts = form_pending_process(baseline.version.form)
    assert counts.submissions == 6 and counts.attention == 3  # bad, the older of Ancuabe Sede, unknown code
    batched = _state()
    # The same submissions, one job each, in the order they came.
    SubmissionOutput.objects.all().delete()
    Assessment.objects.all().delete()
    Submission.objects.update(status=Submission.Status.RECEIVED, flags=[], error="")
    for submission in submissions:
        submission_process(Submission.objects.get(pk=submission.pk))
    assert _state() == batched
    assert batched[0][("MZ010101", "IDP")][0] == 999


def test_queued_submissions_share_a_job(baseline, send):
    places = [("MZ01", "MZ0101", f"MZ01010{n}") for n in (1, 2, 3)] + [
        ("MZ01", "MZ0102", f"MZ01020{n}") for n in (1, 2)
    ]
    for n, place in enumerate(places):
        send(baseline_xml(f"uuid:q{n}", place=place, groups=[group()]), process=False)
    jobs_before = ImportJob.objects.count()
    form_pending_process(baseline.version.form)
    assert ImportJob.objects.count() - jobs_before == 1
    assert set(Submission.objects.values_list("status", flat=True)) == {Submission.Status.PROCESSED}
    assert SubmissionOutput.objects.count() == 5


def test_a_worker_finding_the_form_busy_leaves_its_submission_to_the_busy_one(baseline, send):
    from mobility.collection.processing import _form_lock

    form = baseline.version.form
    submission = send(baseline_xml("uuid:w1", groups=[group()]), process=False)
    with _form_lock(form.pk, wait=True):
        assert form_pending_process(form).submissions == 0  # another worker holds the form
    submission.refresh_from_db()
    assert submission.status == Submission.Status.RECEIVED
    assert form_pending_process(form).processed == 1


# --- emergency event tracking and site assessments ----------------------------------------------------


def movement(individuals=300, households=60, origin=("MZ01", "MZ0110"), to=("MZ01", "MZ0101"), **extra):
    return {
        "population_group": extra.get("group", "IDP"),
        "households": households,
        "individuals": individuals,
        "from_admin1": origin[0],
        "from_admin2": origin[1],
        "from_admin3": "",
        "to_admin1": to[0],
        "to_admin2": to[1],
        "to_admin3": "",
        "shelter": extra.get("shelter", "host_family"),
        "initial_needs": extra.get("needs", "food wash"),
    }


def ett_xml(instance_id, *, movements, code="ETT-7f3a9c21", deprecated="") -> bytes:
    body = {
        "start": "2026-02-03T08:00:00.000+02:00",
        "end": "2026-02-03T08:20:00.000+02:00",
        "deviceid": "collect:test-device-2",
        "today": "2026-02-03",
        "gps": "-11.34 40.35 0 8",
        "event": {
            "event_ref": "",
            "event_uid": "7f3a9c21-55aa-4b1e-9d3c-0a1b2c3d4e5f",
            "event_code": code,
            "event_type": "conflict",
            "event_date": "2026-02-02",
            "event_description": "Attack on the village at night",
            "event_admin1": "MZ01",
            "event_admin2": "MZ0110",
            "event_admin3": "",
        },
        "movements": movements,
    }
    return instance(ETT.form_id, ETT.version, instance_id, body, deprecated)


def test_an_ett_report_becomes_an_event_and_its_edit_replaces_the_movements(operation, moz_gazetteer, send):
    builtin_publish(operation=operation, key="ett")
    first = send(ett_xml("uuid:e1", movements=[movement(), movement(40, 8, to=("MZ01", "MZ0102"))]))
    assert first.status == Submission.Status.PROCESSED, first.error
    event = Event.objects.get()
    assert (event.code, event.event_type, event.admin2_code) == ("ETT-7f3a9c21", "conflict", "MZ0110")
    assert sorted(GroupMovement.objects.values_list("individuals", flat=True)) == [40, 300]
    assert GroupMovement.objects.get(individuals=300).initial_needs == ["food", "wash"]
    edit = send(ett_xml("uuid:e2", deprecated="uuid:e1", movements=[movement(320, 64)]))
    assert edit.status == Submission.Status.PROCESSED, edit.error
    assert list(GroupMovement.objects.values_list("individuals", flat=True)) == [320]
    assert Event.objects.get().pk == event.pk and edit.outputs.count() == 2


def site_xml(instance_id, *, code="MZ0101-S001", idp=(80, 350)) -> bytes:
    body = {
        "start": "2026-01-21T10:00:00.000+02:00",
        "end": "2026-01-21T10:50:00.000+02:00",
        "deviceid": "collect:test-device-3",
        "today": "2026-01-21",
        "site": {
            "admin1": "MZ01",
            "admin2": "MZ0101",
            "admin3": "MZ010101",
            "site_code": code,
            "site_name": "Nanjua",
            "gps": "-12.9712 39.8421 0 5",
            "site_type": "spontaneous_site",
            "management_agency": "government",
            "management_agency_name": "INGD",
            "accessibility": "partially_accessible",
        },
        "reporting_date": "2026-01-21",
        "key_informants": 3,
        "population": {"groups_present": "IDP", "idp_households": idp[0], "idp_individuals": idp[1]},
        "sector_wash": {"wash_water_source": "borehole", "wash_open_defecation": "yes"},
        "sector_health": {"health_facility_distance_km": "4.5"},
    }
    return instance(SITE.form_id, SITE.version, instance_id, body)


def test_a_site_assessment_submission_becomes_a_site_and_its_assessment(
    operation, moz_gazetteer, round1, send
):
    builtin_publish(operation=operation, key="site", round_number=1)
    submission = send(site_xml("uuid:s1"))
    assert submission.status == Submission.Status.PROCESSED, submission.error
    assessment = Assessment.objects.get()
    assert (assessment.assessment_type, assessment.place_key, assessment.admin2_code) == (
        "SA",
        "MZ0101-S001",
        "MZ0101",
    )
    assert assessment.location.latitude == pytest.approx(-12.9712)
    assert assessment.site_profile["type"] == "spontaneous_site"
    indicators = {(i.sector, i.indicator): i for i in assessment.indicators.all()}
    assert indicators[("wash", "water_source")].value_text == "borehole"
    assert indicators[("wash", "open_defecation")].value_boolean is True
    assert indicators[("health", "facility_distance_km")].value_number == 4.5
    assert figures() == {("MZ0101-S001", "IDP"): (350, 80, None, None)}


def test_the_safety_net_processes_submissions_left_queued(baseline, send):
    """A submission whose processing never ran (the worker died) is picked up by the periodic task."""
    from mobility.collection import tasks

    submission = send(baseline_xml("uuid:forgotten", groups=[group()]), process=False)
    assert submission.status == Submission.Status.RECEIVED
    assert tasks.process_forgotten_submissions.call_local() == []  # too recent: its worker may be on it
    Submission.objects.filter(pk=submission.pk).update(
        received_at=submission.received_at - dt.timedelta(minutes=2)
    )
    assert tasks.process_forgotten_submissions.call_local() == [submission.form_id]
    submission.refresh_from_db()
    assert submission.status == Submission.Status.PROCESSED, submission.error

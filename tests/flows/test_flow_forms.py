"""Counts and interviews collected on phones become flow counts and flow surveys through the importers."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

import mobility.flows.importers.forms  # noqa: F401  (registers flows.form-counts)
import mobility.flows.importers.surveys  # noqa: F401  (registers flows.surveys)
from mobility.collection import xforms
from mobility.collection.bindings import binding_save
from mobility.collection.models import Submission, SubmissionOutput
from mobility.collection.processing import form_reprocess, submission_errors
from mobility.collection.services import form_publish, submission_receive
from mobility.flows.counts import COUNT_NEGATIVE
from mobility.flows.models import FlowCount, FlowDaily, FlowSurvey
from mobility.flows.points import PointRow, points_write
from tests.collection.forms import xlsform

pytestmark = pytest.mark.django_db

TALLY_ID, TALLY_VERSION = "fmp_tally", "2026020101"
SURVEY_ID, SURVEY_VERSION = "fmp_survey", "2026020101"


def tally_form() -> bytes:
    return xlsform(
        [
            ["type", "name", "label"],
            ["start", "start", ""],
            ["end", "end", ""],
            ["select_one fmp", "fmp", "Flow monitoring point"],
            ["date", "obs_date", "Date"],
            ["integer", "hour", "Hour the count started"],
            ["select_one direction", "direction", "Direction"],
            ["begin_repeat", "groups", "Groups crossing"],
            ["select_one country", "nationality", "Nationality"],
            ["select_one transport", "transport", "Transport"],
            ["integer", "people", "People in the group"],
            ["integer", "women", "Women 18-59"],
            ["end_repeat", "groups", ""],
        ],
        [
            ["list_name", "name", "label"],
            ["fmp", "MOZ-FMP-NAMOTO", "Namoto"],
            ["fmp", "MOZ-FMP-NEGOMANO", "Negomano"],
            ["direction", "in", "In"],
            ["direction", "out", "Out"],
            ["country", "MOZ", "Mozambique"],
            ["country", "TZA", "Tanzania"],
            ["transport", "foot", "On foot"],
            ["transport", "boat", "Boat"],
        ],
        {"form_id": TALLY_ID, "form_title": "FMP hourly tally", "version": TALLY_VERSION},
    )


def survey_form() -> bytes:
    return xlsform(
        [
            ["type", "name", "label"],
            ["select_one fmp", "fmp", "Flow monitoring point"],
            ["date", "interview_date", "Date"],
            ["select_one sex", "sex", "Sex"],
            ["integer", "age", "Age"],
            ["select_multiple need", "needs", "Needs"],
            ["select_one yesno", "first_time", "First time crossing here?"],
            ["text", "respondent_name", "Name (for follow-up)"],
        ],
        [
            ["list_name", "name", "label"],
            ["fmp", "MOZ-FMP-NAMOTO", "Namoto"],
            ["sex", "f", "Female"],
            ["sex", "m", "Male"],
            ["need", "food", "Food"],
            ["need", "shelter", "Shelter"],
            ["need", "health", "Health"],
            ["yesno", "yes", "Yes"],
            ["yesno", "no", "No"],
        ],
        {"form_id": SURVEY_ID, "form_title": "FMP survey", "version": SURVEY_VERSION},
    )


@pytest.fixture
def points(operation):
    return points_write(
        operation=operation,
        rows=[
            PointRow(code="MOZ-FMP-NAMOTO", name="Namoto", country_iso3="MOZ", border_country_iso3="TZA"),
            PointRow(code="MOZ-FMP-NEGOMANO", name="Negomano", country_iso3="MOZ", border_country_iso3="TZA"),
        ],
    )


@pytest.fixture
def tally(operation, points, data_manager):
    form = form_publish(operation=operation, data=tally_form(), filename="fmp_tally.xlsx").form
    binding_save(
        form=form,
        target="flows.counts",
        mapping={
            "fmp_code": "fmp",
            "date": "obs_date",
            "hour_start": "hour",
            "direction": "direction",
            "nationality": "nationality",
            "transport": "transport",
            "individuals": "people",
            "females_18_59": "women",
        },
        constants={"period_hours": 1},
        by=data_manager,
    )
    return form


@pytest.fixture
def send(operation, enumerator, django_capture_on_commit_callbacks):
    def send(raw: bytes) -> Submission:
        with django_capture_on_commit_callbacks(execute=True):
            received = submission_receive(operation=operation, raw=raw, by=enumerator)
        return Submission.objects.get(pk=received.submission.pk)

    return send


def tally_xml(instance_id, groups, *, deprecated="", fmp="MOZ-FMP-NAMOTO", direction="in") -> bytes:
    body = {
        "start": "2026-02-03T08:00:00.000+02:00",
        "end": "2026-02-03T09:00:00.000+02:00",
        "fmp": fmp,
        "obs_date": "2026-02-03",
        "hour": 8,
        "direction": direction,
        "groups": [
            {"nationality": nat, "transport": how, "people": people, "women": women}
            for nat, how, people, women in groups
        ],
    }
    return xforms.instance_build(TALLY_ID, TALLY_VERSION, instance_id, body, deprecated)


def daily(direction="in") -> int:
    return FlowDaily.objects.get(
        fmp__code="MOZ-FMP-NAMOTO", date=dt.date(2026, 2, 3), direction=direction
    ).individuals


def test_a_tally_submission_becomes_one_count_per_group(tally, send):
    submission = send(tally_xml("uuid:t1", [("MOZ", "foot", 6, 2), ("TZA", "boat", 11, 3)]))
    assert submission.status == Submission.Status.PROCESSED, submission.error
    counts = {c.record_id: c for c in FlowCount.objects.all()}
    assert set(counts) == {"uuid:t1#1", "uuid:t1#2"}
    first = counts["uuid:t1#1"]
    assert (first.fmp.code, first.date, first.hour_start, first.period_hours, first.direction) == (
        "MOZ-FMP-NAMOTO",
        dt.date(2026, 2, 3),
        8,
        1,
        "in",
    )
    assert (first.nationality, first.transport, first.individuals, first.females_18_59) == (
        "MOZ",
        "foot",
        6,
        2,
    )
    assert first.job_id == submission.import_job_id
    assert daily() == 17  # the summaries follow the submission
    assert SubmissionOutput.objects.filter(submission=submission, model="flows.flowcount").count() == 2


def test_an_edit_replaces_the_counts_of_the_version_it_edits(tally, send):
    send(tally_xml("uuid:t1", [("MOZ", "foot", 6, 2), ("TZA", "boat", 11, 3)]))
    edit = send(tally_xml("uuid:t2", [("MOZ", "foot", 7, 2)], deprecated="uuid:t1"))
    assert edit.status == Submission.Status.PROCESSED, edit.error
    assert list(FlowCount.objects.values_list("record_id", "individuals")) == [("uuid:t1#1", 7)]
    assert daily() == 7
    assert SubmissionOutput.objects.filter(submission=edit).count() == 1


def test_reprocessing_changes_nothing(tally, send):
    send(tally_xml("uuid:t1", [("MOZ", "foot", 6, 2), ("TZA", "boat", 11, 3)]))
    send(tally_xml("uuid:t3", [("TZA", "foot", 4, 1)], direction="out"))
    counts = form_reprocess(form=tally)
    assert (counts.processed, counts.created, counts.updated, counts.unchanged) == (2, 0, 0, 3)
    assert FlowCount.objects.count() == 3 and daily("out") == 4


def test_a_bad_count_needs_attention_naming_row_column_and_field(tally, send):
    submission = send(tally_xml("uuid:t4", [("MOZ", "foot", 6, 2), ("TZA", "boat", -3, 0)]))
    assert submission.status == Submission.Status.NEEDS_ATTENTION
    texts = [e.text for e in submission_errors(submission)]
    assert f'row 2 (groups #2), column individuals (form field groups/people): "-3" {COUNT_NEGATIVE}' in texts
    assert not FlowCount.objects.exists()


def survey_xml(instance_id, *, age=31, needs="food health", name="") -> bytes:
    body = {
        "fmp": "MOZ-FMP-NAMOTO",
        "interview_date": "2026-02-04",
        "sex": "f",
        "age": age,
        "needs": needs,
        "first_time": "yes",
        "respondent_name": name,
    }
    return xforms.instance_build(SURVEY_ID, SURVEY_VERSION, instance_id, body)


@pytest.fixture
def survey(operation, points):
    return form_publish(operation=operation, data=survey_form(), filename="fmp_survey.xlsx").form


def test_an_interview_becomes_a_flow_survey_with_its_answers(survey, send):
    binding_save(
        form=survey,
        target="flows.surveys",
        mapping={
            "fmp_code": "fmp",
            "date": "interview_date",
            "sex": "sex",
            "age": "age",
            "needs": "needs",
            "first_time_crossing": "first_time",
        },
        constants={"direction": "in"},
    )
    submission = send(survey_xml("uuid:s1"))
    assert submission.status == Submission.Status.PROCESSED, submission.error
    interview = FlowSurvey.objects.get()
    assert (interview.record_id, interview.date, interview.direction, interview.sex, interview.age) == (
        "uuid:s1",
        dt.date(2026, 2, 4),
        "in",
        "f",
        31,
    )
    assert interview.needs == ["food", "health"]
    assert interview.answers == {"first_time_crossing": "yes"}
    again = send(
        survey_xml("uuid:s2", age=32).replace(
            b"</instanceID>", b"</instanceID><deprecatedID>uuid:s1</deprecatedID>"
        )
    )
    assert again.status == Submission.Status.PROCESSED, again.error
    assert list(FlowSurvey.objects.values_list("record_id", "age")) == [("uuid:s1", 32)]


def test_a_survey_binding_refuses_a_name_column(survey):
    with pytest.raises(ValidationError, match='"respondent_name" is not a column of flows.surveys'):
        binding_save(
            form=survey,
            target="flows.surveys",
            mapping={"fmp_code": "fmp", "date": "interview_date", "respondent_name": "respondent_name"},
        )

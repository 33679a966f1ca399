"""Exactly-once receive: the core rules every door (OpenRosa, Kobo, Central) relies on."""

import pytest

from mobility.collection.models import Submission, SubmissionConflict
from mobility.collection.services import Outcome, SubmissionRefused, Upload, form_publish, submission_receive

from .forms import instance_xml, simple_xlsform

pytestmark = pytest.mark.django_db


@pytest.fixture
def form_version(operation, data_manager):
    return form_publish(
        operation=operation, data=simple_xlsform(), filename="household_visit.xlsx", by=data_manager
    )


def test_publish_same_workbook_twice_returns_the_stored_version(operation, form_version):
    again = form_publish(operation=operation, data=simple_xlsform(), filename="household_visit.xlsx")
    assert again.pk == form_version.pk
    assert form_version.form.xml_form_id == "household_visit"
    assert form_version.version == "2026112501"


def test_resend_stores_nothing_new(operation, form_version, enumerator):
    raw = instance_xml("uuid:a1", people=4)
    first = submission_receive(operation=operation, raw=raw, by=enumerator)
    second = submission_receive(operation=operation, raw=raw, by=enumerator)
    assert (first.outcome, second.outcome) == (Outcome.CREATED, Outcome.DUPLICATE)
    assert Submission.objects.count() == 1
    assert first.submission.data["people"] == "4"


def test_different_body_same_instance_is_kept_as_conflict(operation, form_version, enumerator):
    submission_receive(operation=operation, raw=instance_xml("uuid:a1", people=4), by=enumerator)
    result = submission_receive(operation=operation, raw=instance_xml("uuid:a1", people=5), by=enumerator)
    assert result.outcome == Outcome.CONFLICT
    assert Submission.objects.count() == 1
    conflict = SubmissionConflict.objects.get()
    assert b"<people>5</people>" in bytes(conflict.raw)


def test_edit_supersedes_the_earlier_instance(operation, form_version, enumerator):
    submission_receive(operation=operation, raw=instance_xml("uuid:a1", people=4), by=enumerator)
    edit = submission_receive(
        operation=operation, raw=instance_xml("uuid:a2", people=6, deprecated="uuid:a1"), by=enumerator
    )
    assert edit.outcome == Outcome.EDIT
    old = Submission.objects.get(instance_id="uuid:a1")
    assert old.superseded_by_id == edit.submission.pk and old.status == Submission.Status.SUPERSEDED
    assert edit.submission.root_id == "uuid:a1"


def test_split_posts_add_attachments_to_one_submission(operation, form_version, enumerator):
    raw = instance_xml("uuid:a1", people=4)
    submission_receive(
        operation=operation,
        raw=raw,
        by=enumerator,
        incomplete=True,
        attachments=[Upload("a.jpg", b"\xff\xd8one", "image/jpeg")],
    )
    second = submission_receive(
        operation=operation,
        raw=raw,
        by=enumerator,
        attachments=[Upload("b.jpg", b"\xff\xd8two", "image/jpeg")],
    )
    stored = Submission.objects.get()
    assert second.attachments_added == 1 and not stored.incomplete
    assert sorted(stored.attachments.values_list("name", flat=True)) == ["a.jpg", "b.jpg"]


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"<data id='household_visit'><people>1</people>", "not well-formed"),
        (
            b"<?xml version='1.0'?><!DOCTYPE d [<!ENTITY a 'aaaa'>]><data id='household_visit'>&a;</data>",
            "DTD",
        ),
        (b"<data><meta><instanceID>uuid:x</instanceID></meta></data>", "no id attribute"),
        (b"<data id='household_visit'><people>1</people></data>", "no meta/instanceID"),
    ],
)
def test_bad_instances_are_refused_with_a_clear_message(operation, form_version, raw, message):
    with pytest.raises(SubmissionRefused, match=message):
        submission_receive(operation=operation, raw=raw)
    assert Submission.objects.count() == 0


def test_unknown_and_closed_forms_are_refused(operation, form_version):
    from mobility.collection.services import form_state_set

    with pytest.raises(SubmissionRefused, match="No form") as info:
        submission_receive(operation=operation, raw=instance_xml("uuid:z", form_id="nope"))
    assert info.value.status == 404
    form_state_set(form=form_version.form, state="closed")
    with pytest.raises(SubmissionRefused, match="closed"):
        submission_receive(operation=operation, raw=instance_xml("uuid:z"))

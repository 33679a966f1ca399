"""Registration from phones: a form bound to registration.households makes one household per
submission and one member per repeat entry, through OpenRosa submission processing; re-sent and
edited submissions update, never duplicate; and the raw submissions, which are personal records,
are shown only to users granted registration access."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

import mobility.registration.importers  # noqa: F401  (registers registration.individuals)
from mobility.collection import xforms
from mobility.collection.bindings import binding_save
from mobility.collection.models import Binding, Submission, SubmissionOutput
from mobility.collection.processing import form_reprocess, submission_errors
from mobility.collection.services import form_publish, submission_receive
from mobility.registration import access
from mobility.registration.forms_binding import BINDING_NEEDS_GRANT, TARGET
from mobility.registration.importers.individuals import IMPORT_NOT_GRANTED
from mobility.registration.models import AccessLog, Household, Individual
from mobility.registration.records import ROW_DOB_FUTURE
from mobility.registration.services import HH_NO_HEAD
from tests.collection.forms import xlsform
from tests.registration.importing import registrar_fixture  # noqa: F401

pytestmark = pytest.mark.django_db

FORM_ID, VERSION = "hh_registration", "2026110101"
NAMES = ("Amina", "Saide", "Zaituni", "Abdul", "Nhamússua", "محمد")


def registration_form() -> bytes:
    return xlsform(
        [
            ["type", "name", "label", "personal_data"],
            ["start", "start", "", ""],
            ["end", "end", "", ""],
            ["select_one place", "place", "Where does the household live now?", ""],
            ["integer", "hh_size", "How many people live in the household?", ""],
            ["text", "phone", "Contact phone", "yes"],
            ["select_one yesno", "consent", "Consent to register?", ""],
            ["begin_repeat", "members", "Members", ""],
            ["text", "given", "Given name", "yes"],
            ["text", "family", "Family name", "yes"],
            ["select_one sex", "sex", "Sex", ""],
            ["select_one rel", "rel", "Relationship to the head", ""],
            ["date", "dob", "Date of birth (if known)", "yes"],
            ["integer", "age", "Age in years (if no date)", ""],
            ["end_repeat", "members", "", ""],
        ],
        [
            ["list_name", "name", "label"],
            ["place", "MZ010901", "Metuge Sede"],
            ["place", "MZ011101", "Mapupulo"],
            ["yesno", "yes", "Yes"],
            ["yesno", "no", "No"],
            ["sex", "f", "Female"],
            ["sex", "m", "Male"],
            ["rel", "head", "Head"],
            ["rel", "spouse", "Spouse"],
            ["rel", "child", "Child"],
        ],
        {"form_id": FORM_ID, "form_title": "Household registration", "version": VERSION},
    )


MAPPING = {
    "location_pcode": "place",
    "household_size": "hh_size",
    "phone": "phone",
    "consent": "consent",
    "given_name": "given",
    "family_name": "family",
    "sex": "sex",
    "relationship": "rel",
    "date_of_birth": "dob",
    "age": "age",
}


@pytest.fixture
def form(operation):
    return form_publish(operation=operation, data=registration_form(), filename="hh_registration.xlsx").form


@pytest.fixture
def bound(form, registrar):
    binding_save(form=form, target=TARGET, mapping=MAPPING, by=registrar)
    return form


@pytest.fixture
def send(operation, enumerator, django_capture_on_commit_callbacks):
    def send(raw: bytes) -> Submission:
        with django_capture_on_commit_callbacks(execute=True):
            received = submission_receive(operation=operation, raw=raw, by=enumerator)
        return Submission.objects.get(pk=received.submission.pk)

    return send


HEAD = {"given": "Amina", "family": "Saide", "sex": "f", "rel": "head", "dob": "1988-05-17"}
CHILD = {"given": "Zaituni", "family": "Saide", "sex": "f", "rel": "child", "age": 7}
SON = {"given": "Abdul", "family": "Saide", "sex": "m", "rel": "child", "age": 4}


def household_xml(instance_id, members, *, deprecated="", size=3, phone="+258841234567") -> bytes:
    body = {
        "start": "2026-10-20T09:00:00.000+02:00",
        "end": "2026-10-20T09:25:00.000+02:00",
        "place": "MZ010901",
        "hh_size": size,
        "phone": phone,
        "consent": "yes",
        "members": [dict(m) for m in members],
    }
    return xforms.instance_build(FORM_ID, VERSION, instance_id, body, deprecated)


def test_a_submission_becomes_one_household_with_one_row_per_member(bound, send):
    submission = send(household_xml("uuid:r1", [HEAD, CHILD, SON]))
    assert submission.status == Submission.Status.PROCESSED, submission.error
    household = Household.objects.get()
    assert (household.reference, household.size, household.location_pcode, household.source) == (
        "uuid:r1",
        3,
        "MZ010901",
        Household.Source.FORM,
    )
    assert household.phone == "+258841234567" and household.consent
    members = {m.reference: m for m in household.members.all()}
    assert set(members) == {"uuid:r1#1", "uuid:r1#2", "uuid:r1#3"}
    assert (members["uuid:r1#1"].given_name, members["uuid:r1#1"].relationship) == ("Amina", "head")
    assert members["uuid:r1#2"].dob_estimated and members["uuid:r1#2"].birth_year == dt.date.today().year - 7
    assert SubmissionOutput.objects.filter(submission=submission).count() == 4  # household + 3 people
    assert submission.import_job.summary["individuals_created"] == 3


def test_a_re_sent_submission_and_a_reprocess_change_nothing(bound, send):
    send(household_xml("uuid:r1", [HEAD, CHILD]))
    again = send(household_xml("uuid:r1", [HEAD, CHILD]))  # the phone sends it once more
    assert Submission.objects.count() == 1 and again.status == Submission.Status.PROCESSED
    counts = form_reprocess(form=bound)
    assert (counts.processed, counts.created, counts.updated, counts.unchanged) == (1, 0, 0, 1)
    assert Household.objects.count() == 1 and Individual.objects.count() == 2


def test_an_edit_updates_the_household_in_place_and_drops_the_removed_member(bound, send):
    send(household_xml("uuid:r1", [HEAD, CHILD, SON]))
    edit = send(household_xml("uuid:r2", [HEAD, {**CHILD, "given": "Zaitune"}], deprecated="uuid:r1", size=2))
    assert edit.status == Submission.Status.PROCESSED, edit.error
    household = Household.objects.get()
    assert household.reference == "uuid:r1" and household.size == 2
    assert sorted(household.members.values_list("reference", flat=True)) == ["uuid:r1#1", "uuid:r1#2"]
    assert Individual.objects.get(reference="uuid:r1#2").given_name == "Zaitune"
    assert not SubmissionOutput.objects.filter(submission__instance_id="uuid:r1").exists()


def test_a_bad_submission_needs_attention_and_stores_nothing(bound, send):
    future = (dt.date.today() + dt.timedelta(days=10)).isoformat()
    submission = send(
        household_xml("uuid:bad", [{**HEAD, "rel": "spouse"}, {**CHILD, "dob": future, "age": ""}])
    )
    assert submission.status == Submission.Status.NEEDS_ATTENTION
    texts = [e.text for e in submission_errors(submission)]
    assert texts == [f"row 2 (members #2), column date_of_birth (form field members/dob): {ROW_DOB_FUTURE}"]
    assert future not in submission.error
    assert not Household.objects.exists()
    fixed = send(household_xml("uuid:nohead", [{**HEAD, "rel": "spouse"}, CHILD]))
    assert fixed.status == Submission.Status.NEEDS_ATTENTION
    assert HH_NO_HEAD.format(reference="uuid:nohead") in fixed.error
    assert not any(name in fixed.error for name in NAMES)


def test_mapped_household_and_member_ids_are_the_references(form, registrar, send):
    form_publish(
        operation=form.operation,
        data=xlsform(
            [
                ["type", "name", "label", "calculation"],
                ["text", "card", "Registration card number", ""],
                ["begin_repeat", "members", "Members", ""],
                ["calculate", "member_id", "", "once(uuid())"],
                ["text", "given", "Given name", ""],
                ["select_one sex", "sex", "Sex", ""],
                ["select_one rel", "rel", "Relationship", ""],
                ["end_repeat", "members", "", ""],
            ],
            [
                ["list_name", "name", "label"],
                ["sex", "f", "Female"],
                ["sex", "m", "Male"],
                ["rel", "head", "Head"],
                ["rel", "child", "Child"],
            ],
            {"form_id": "hh_card", "form_title": "Card registration", "version": "1"},
        ),
        filename="hh_card.xlsx",
    )
    card_form = form.operation.forms.get(xml_form_id="hh_card")
    binding_save(
        form=card_form,
        target=TARGET,
        mapping={
            "household_id": "card",
            "individual_id": "member_id",
            "given_name": "given",
            "sex": "sex",
            "relationship": "rel",
        },
        by=registrar,
    )

    def card(instance_id, members, deprecated=""):
        body = {"card": "MET-0042", "members": members}
        return xforms.instance_build("hh_card", "1", instance_id, body, deprecated)

    rosa = {"member_id": "uuid:m-rosa", "given": "Rosa", "sex": "f", "rel": "head"}
    tito = {"member_id": "uuid:m-tito", "given": "Tito", "sex": "m", "rel": "child"}
    lia = {"member_id": "uuid:m-lia", "given": "Lia", "sex": "f", "rel": "child"}
    assert send(card("uuid:c1", [rosa, tito, lia])).status == Submission.Status.PROCESSED
    household = Household.objects.get()
    assert household.reference == "MET-0042" and household.registered_by == registrar
    # An edit removes the second member: the third keeps its own id and values.
    assert send(card("uuid:c2", [rosa, lia], deprecated="uuid:c1")).status == Submission.Status.PROCESSED
    people = dict(Individual.objects.values_list("reference", "given_name"))
    assert people == {"uuid:m-rosa": "Rosa", "uuid:m-lia": "Lia"}


def test_binding_to_registration_needs_the_register_capability(client, form, data_manager):
    with pytest.raises(PermissionDenied, match=BINDING_NEEDS_GRANT):
        binding_save(form=form, target=TARGET, mapping=MAPPING, by=data_manager)
    client.force_login(data_manager)
    post = {"target": TARGET, "column_0": "sex", "path_0": "members/sex"}
    response = client.post(reverse("collection:binding", args=[form.pk]), post, follow=True)
    assert BINDING_NEEDS_GRANT in response.content.decode()
    assert not Binding.objects.exists()


def test_submissions_are_not_written_once_the_binding_authors_grant_is_revoked(
    bound, send, registrar, admin_user, operation
):
    access.grant_set(operation=operation, user=registrar, capabilities=[], by=admin_user)
    submission = send(household_xml("uuid:r9", [HEAD]))
    assert submission.status == Submission.Status.NEEDS_ATTENTION
    assert str(IMPORT_NOT_GRANTED.format(user=registrar, operation=operation)) in submission.error
    assert not Household.objects.exists()


# --- the raw submissions are personal records --------------------------------------------------


def _get(client, user, name, *args, **params):
    client.force_login(user)
    return client.get(reverse(name, args=args), params)


@pytest.fixture
def other_manager(django_user_model, operation):
    """A data manager of the operation with no registration grant."""
    from mobility.core.models import Membership, Role

    user = django_user_model.objects.create_user(username="imo2", password="a-long-test-password")
    Membership.objects.create(user=user, operation=operation, role=Role.DATA_MANAGER)
    return user


def test_collection_pages_refuse_registration_submissions_without_a_grant(
    client, bound, send, other_manager, viewer
):
    submission = send(household_xml("uuid:r1", [HEAD, CHILD]))
    for user in (viewer, other_manager):
        assert _get(client, user, "collection:submission", submission.pk).status_code == 403
        assert _get(client, user, "collection:submissions", bound.pk).status_code == 403
        assert _get(client, user, "collection:submissions_geojson", bound.pk).status_code == 403
        assert _get(client, user, "collection:submissions_export", bound.pk, fmt="csv").status_code == 403
    assert AccessLog.objects.filter(action=AccessLog.Action.DENIED, user=viewer).count() == 4


def test_a_granted_user_sees_a_submission_and_the_look_is_logged(
    client, bound, send, registrar, admin_user, operation
):
    submission = send(household_xml("uuid:r1", [HEAD, CHILD]))
    response = _get(client, registrar, "collection:submission", submission.pk)
    assert response.status_code == 200 and "Amina" in response.content.decode()
    log = AccessLog.objects.get(action=AccessLog.Action.VIEW, user=registrar)
    assert (log.object_type, log.object_id) == ("collection.submission", str(submission.pk))
    # Lists leave the server only with an export grant.
    assert _get(client, registrar, "collection:submissions_export", bound.pk, fmt="csv").status_code == 403
    access.grant_set(
        operation=operation, user=registrar, capabilities=["register", "view", "export"], by=admin_user
    )
    client.logout()
    response = _get(client, registrar, "collection:submissions_export", bound.pk, fmt="xlsx")
    assert response.status_code == 200 and response.content.startswith(b"PK")
    assert AccessLog.objects.filter(action=AccessLog.Action.EXPORT, user=registrar).count() == 1


def test_the_central_api_refuses_registration_submissions_without_an_export_grant(
    client, bound, send, other_manager, registrar, admin_user, operation
):
    send(household_xml("uuid:r1", [HEAD, CHILD]))
    url = f"/v1/projects/{bound.operation_id}/forms/{FORM_ID}.svc/Submissions"
    client.force_login(other_manager)
    response = client.get(url)
    assert response.status_code == 403 and "Amina" not in response.content.decode()
    nested = client.get(f"/v1/projects/{bound.operation_id}/forms/{FORM_ID}.svc/Submissions.members")
    assert nested.status_code == 403 and "Zaituni" not in nested.content.decode()
    client.force_login(registrar)  # register and view, but no export
    assert client.get(url).status_code == 403
    access.grant_set(operation=operation, user=registrar, capabilities=["view", "export"], by=admin_user)
    rows = client.get(url).json()["value"]
    assert [r["__id"] for r in rows] == ["uuid:r1"]
    assert AccessLog.objects.filter(action=AccessLog.Action.EXPORT, user=registrar).count() == 1


def test_other_forms_are_untouched(client, operation, data_manager):
    from tests.collection.forms import instance_xml, simple_xlsform

    form = form_publish(operation=operation, data=simple_xlsform(), filename="hv.xlsx").form
    submission = submission_receive(
        operation=operation, raw=instance_xml("uuid:x1"), by=data_manager
    ).submission
    assert _get(client, data_manager, "collection:submission", submission.pk).status_code == 200
    assert _get(client, data_manager, "collection:submissions", form.pk).status_code == 200
    assert not AccessLog.objects.exists()

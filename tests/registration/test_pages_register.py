"""Registering and correcting a household on its page: the file import's checks, field by field.

The page posts a household form and a member formset; the values go through ``records.*_parse`` and
``services.households_write``, so a mistake shows the same error as in a file, at its field, and
nothing is stored until every field is right.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from mobility.registration.forms import REFERENCE_TAKEN
from mobility.registration.models import AccessLog, Capability, Household, Individual
from mobility.registration.records import ROW_DOB_FUTURE, ROW_NO_NAME, ROW_NOT_PHONE, ROW_WG
from mobility.registration.services import HH_NO_HEAD, HH_PCODE_UNKNOWN, HH_SIZE_SMALLER
from tests.gazetteer.gazetteer_fixtures import moz_gazetteer_fixture  # noqa: F401

from .pages_world import MARKER_DOCUMENT, MARKER_FAMILY, MARKER_GIVEN, grant, marked_household

pytestmark = pytest.mark.django_db

MEMBER_FIELDS = [
    "individual_id", "given_name", "family_name", "other_names", "relationship", "sex", "date_of_birth",
    "age", "dob_estimated", "wg_seeing", "wg_hearing", "wg_walking", "wg_cognition", "wg_selfcare",
    "wg_communication", "document_type", "document_number",
]  # fmt: skip


def post_data(household: dict, members: list[dict], *, initial: int = 0, action: str = "save") -> dict:
    data = {
        "member-TOTAL_FORMS": str(len(members)),
        "member-INITIAL_FORMS": str(initial),
        "member-MIN_NUM_FORMS": "0",
        "member-MAX_NUM_FORMS": "100",
        "action": action,
        "population_group": "IDP",
        **household,
    }
    for i, person in enumerate(members):
        for name in MEMBER_FIELDS:
            value = person.get(name, "")
            if name == "dob_estimated" and not value:
                continue
            data[f"member-{i}-{name}"] = value
    return data


HEAD = {
    "given_name": MARKER_GIVEN,
    "family_name": MARKER_FAMILY,
    "relationship": "head",
    "sex": "f",
    "date_of_birth": "1985-04-02",
    "document_type": "national_id",
    "document_number": MARKER_DOCUMENT,
    "wg_walking": "3",
}
CHILD = {"given_name": "Tino", "family_name": MARKER_FAMILY, "relationship": "child", "sex": "m", "age": "7"}
HOUSEHOLD = {
    "household_size": "3",
    "phone": "+258 84 555 0101",
    "consent": "on",
    "consent_scope": ["registration", "assistance"],
    "specific_needs": ["single_parent"],
    "displacement_date": "2024-03-10",
}


@pytest.fixture
def registrar(viewer, operation, admin_user):
    return grant(operation, viewer, Capability.REGISTER, Capability.VIEW, by=admin_user)


def new_url(operation):
    return reverse("registration:household_new", args=[operation.slug])


def test_the_empty_form_offers_a_head_and_two_more_members(client, operation, registrar):
    client.force_login(registrar)
    response = client.get(new_url(operation))
    assert response.status_code == 200
    members = response.context["members"]
    assert len(members.forms) == 3
    assert members.forms[0].initial["relationship"] == "head"
    assert 'id="member-template"' in response.content.decode()


def test_registering_a_household_stores_it_encrypted_and_opens_its_page(client, operation, registrar):
    client.force_login(registrar)
    response = client.post(new_url(operation), post_data(HOUSEHOLD, [HEAD, CHILD, {}]))
    assert response.status_code == 302, response.context and response.context["household_form"].errors
    household = Household.objects.get(operation=operation)
    assert response["Location"] == reverse(
        "registration:household", args=[operation.slug, household.reference]
    )
    assert household.reference.startswith("HH-") and household.source == Household.Source.WEB
    assert (household.size, household.phone, household.consent) == (3, "+258845550101", True)
    assert household.consent_scope == ["assistance", "registration"]
    assert household.specific_needs == ["single_parent"]
    assert household.displacement_date == dt.date(2024, 3, 10)
    assert household.registered_by == registrar
    head, child = household.members.order_by("id")
    assert (head.given_name, head.relationship, head.has_disability) == (MARKER_GIVEN, "head", True)
    assert head.documents.get().number == MARKER_DOCUMENT
    assert (child.reference, child.dob_estimated, child.birth_year) == (
        f"{household.reference}-2",
        True,
        timezone.localdate().year - 7,
    )
    log = AccessLog.objects.get(action=AccessLog.Action.EDIT)
    assert (log.user, log.object_id, log.purpose) == (registrar, str(household.pk), "registration")
    page = client.get(response["Location"]).content.decode()
    assert MARKER_GIVEN in page and "Tino" in page


def test_a_reference_typed_by_the_registrar_is_kept(client, operation, registrar):
    client.force_login(registrar)
    client.post(new_url(operation), post_data({**HOUSEHOLD, "household_id": "CARD-0042"}, [HEAD]))
    assert Household.objects.get().reference == "CARD-0042"
    assert Individual.objects.get().reference == "CARD-0042-1"


def test_bad_input_shows_each_error_at_its_field_and_stores_nothing(client, operation, registrar):
    client.force_login(registrar)
    future = (timezone.localdate() + dt.timedelta(days=30)).isoformat()
    members = [
        {**HEAD, "wg_walking": "7"},
        {**CHILD, "age": "", "date_of_birth": future},
        {"relationship": "child", "sex": "f"},  # no name at all
    ]
    response = client.post(new_url(operation), post_data({**HOUSEHOLD, "phone": "12ab"}, members))
    assert response.status_code == 200
    assert Household.objects.count() == 0 and Individual.objects.count() == 0
    household_form, forms = response.context["household_form"], response.context["members"].forms
    assert household_form.errors["phone"] == [str(ROW_NOT_PHONE)]
    assert forms[0].errors["wg_walking"] == [str(ROW_WG)]
    assert forms[1].errors["date_of_birth"] == [str(ROW_DOB_FUTURE)]
    assert forms[2].errors["given_name"] == [str(ROW_NO_NAME)]
    html = response.content.decode()
    assert "4 problems: nothing was saved." in html
    assert not AccessLog.objects.filter(action=AccessLog.Action.EDIT).exists()


def test_household_checks_come_from_the_batch_write(client, operation, registrar):
    client.force_login(registrar)
    no_head = [{**HEAD, "relationship": "spouse"}, CHILD]
    response = client.post(
        new_url(operation), post_data({**HOUSEHOLD, "household_id": "HH-9", "household_size": "1"}, no_head)
    )
    assert Household.objects.count() == 0
    forms = response.context["members"].forms
    assert forms[0].errors["relationship"] == [str(HH_NO_HEAD.format(reference="HH-9"))]
    assert response.context["household_form"].errors["household_size"] == [
        str(HH_SIZE_SMALLER.format(reference="HH-9", size=1, members=2))
    ]


def test_an_unknown_pcode_is_refused_at_its_field(client, operation, registrar, moz_gazetteer):
    client.force_login(registrar)
    response = client.post(new_url(operation), post_data({**HOUSEHOLD, "location_pcode": "MZ9999"}, [HEAD]))
    assert Household.objects.count() == 0
    assert response.context["household_form"].errors["location_pcode"] == [
        str(HH_PCODE_UNKNOWN.format(value="MZ9999", country="MOZ"))
    ]
    client.post(new_url(operation), post_data({**HOUSEHOLD, "location_pcode": "mz010101"}, [HEAD]))
    household = Household.objects.get()
    assert (household.location_pcode, household.admin2_pcode, household.admin1_pcode) == (
        "MZ010101",
        "MZ0101",
        "MZ01",
    )


def test_a_reference_already_registered_is_refused(client, operation, registrar):
    marked_household(operation, "CARD-1")
    client.force_login(registrar)
    response = client.post(new_url(operation), post_data({**HOUSEHOLD, "household_id": "CARD-1"}, [HEAD]))
    assert response.context["household_form"].errors["household_id"] == [
        str(REFERENCE_TAKEN.format(reference="CARD-1"))
    ]
    assert Household.objects.count() == 1 and Individual.objects.count() == 2


def test_adding_a_member_without_javascript_keeps_what_was_typed(client, operation, registrar):
    client.force_login(registrar)
    response = client.post(new_url(operation), post_data(HOUSEHOLD, [HEAD], action="add_member"))
    assert response.status_code == 200 and Household.objects.count() == 0
    forms = response.context["members"].forms
    assert len(forms) == 2
    assert forms[0]["given_name"].value() == MARKER_GIVEN and not forms[1]["given_name"].value()


def test_correcting_a_household_updates_it_and_adds_a_member(client, operation, registrar):
    household = marked_household(operation, "HH-EDIT")
    client.force_login(registrar)
    url = reverse("registration:household_edit", args=[operation.slug, "HH-EDIT"])
    response = client.get(url)
    assert response.status_code == 200
    initial = [f.initial for f in response.context["members"].forms]
    assert [i.get("individual_id") for i in initial] == ["HH-EDIT-1", "HH-EDIT-2", None]
    assert AccessLog.objects.filter(action=AccessLog.Action.VIEW, purpose="correction").count() == 1
    members = [
        {**initial[0], "family_name": "Corrected", "dob_estimated": ""},
        {**initial[1]},
        {"given_name": "Nova", "family_name": "Pessoa", "relationship": "grandchild", "sex": "f", "age": "1"},
    ]
    household_values = {
        k: v for k, v in response.context["household_form"].initial.items() if v not in (None, "")
    }
    household_values["household_size"] = "4"
    response = client.post(url, post_data(household_values, members, initial=3))
    assert response.status_code == 302
    household.refresh_from_db()
    assert household.size == 4 and Household.objects.count() == 1
    assert list(household.members.order_by("id").values_list("reference", flat=True)) == [
        "HH-EDIT-1",
        "HH-EDIT-2",
        "HH-EDIT-3",
    ]
    assert household.members.get(reference="HH-EDIT-1").family_name == "Corrected"
    assert household.members.get(reference="HH-EDIT-1").given_name == MARKER_GIVEN


def test_registering_needs_the_register_grant(client, operation, viewer, admin_user):
    grant(operation, viewer, Capability.VIEW, by=admin_user)
    client.force_login(viewer)
    response = client.post(new_url(operation), post_data(HOUSEHOLD, [HEAD]))
    assert response.status_code == 403 and Household.objects.count() == 0


def test_a_registrar_without_view_goes_back_to_an_empty_form(client, operation, viewer, admin_user):
    grant(operation, viewer, Capability.REGISTER, by=admin_user)
    client.force_login(viewer)
    response = client.post(new_url(operation), post_data(HOUSEHOLD, [HEAD]))
    assert response["Location"] == new_url(operation)
    assert Household.objects.count() == 1


def test_new_people_are_sent_to_the_incremental_matching(client, operation, registrar, monkeypatch):
    import sys
    import types

    calls = []
    fake = types.ModuleType("mobility.registration.dedup_app")
    fake.after_households_written = lambda operation, ids: calls.append((operation, ids))
    monkeypatch.setitem(sys.modules, "mobility.registration.dedup_app", fake)
    client.force_login(registrar)
    client.post(new_url(operation), post_data(HOUSEHOLD, [HEAD, CHILD]))
    assert calls == [(operation, list(Individual.objects.order_by("pk").values_list("pk", flat=True)))]


def test_a_failed_matching_keeps_the_household_and_says_so(client, operation, registrar, monkeypatch):
    import sys
    import types

    from mobility.registration.views import MATCHING_FAILED

    def broken(operation, ids):
        raise RuntimeError(MARKER_GIVEN)  # whatever it says, the page does not repeat it

    fake = types.ModuleType("mobility.registration.dedup_app")
    fake.after_households_written = broken
    monkeypatch.setitem(sys.modules, "mobility.registration.dedup_app", fake)
    client.force_login(registrar)
    response = client.post(new_url(operation), post_data(HOUSEHOLD, [HEAD]), follow=True)
    assert Household.objects.count() == 1
    messages = [str(m) for m in response.context["messages"]]
    assert str(MATCHING_FAILED) in messages

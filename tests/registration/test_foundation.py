"""The registration foundation: encryption at rest, keyed hashes, grants, and the batch write."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection

from mobility.registration import access, crypto
from mobility.registration.models import Capability, Household, Individual
from mobility.registration.records import household_parse, individual_parse
from mobility.registration.services import HH_NO_HEAD, BatchInvalid, HouseholdBatchItem, households_write

TODAY = dt.date(2026, 11, 1)


def batch(*rows):
    items: dict[str, HouseholdBatchItem] = {}
    for number, raw in enumerate(rows, start=2):
        person, errors = individual_parse(raw, row=number, today=TODAY)
        assert not errors, errors
        hh, errors = household_parse(raw, row=number, today=TODAY)
        assert not errors, errors
        items.setdefault(hh.reference, HouseholdBatchItem(household=hh, members=[])).members.append(person)
    return list(items.values())


HEAD = {
    "household_id": "HH-1",
    "individual_id": "P-1",
    "relationship": "head",
    "given_name": "Amina",
    "family_name": "Saíde",
    "sex": "f",
    "date_of_birth": "1990-03-04",
    "phone": "+258 84 123 4567",
    "document_type": "national_id",
    "document_number": "110100123456B",
    "household_size": "3",
}
CHILD = {
    **{k: "" for k in HEAD},
    "household_id": "HH-1",
    "individual_id": "P-2",
    "relationship": "child",
    "given_name": "Zaituni",
    "family_name": "Saíde",
    "sex": "f",
    "age": "7",
}


@pytest.mark.django_db
def test_personal_values_are_encrypted_at_rest_and_read_back(operation):
    households_write(operation=operation, items=batch(HEAD, CHILD))
    person = Individual.objects.get(reference="P-1")
    assert (person.given_name, person.family_name, person.date_of_birth) == ("Amina", "Saíde", "1990-03-04")
    assert person.birth_year == 1990
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT given_name, family_name, date_of_birth FROM registration_individual WHERE reference = %s",
            ["P-1"],
        )
        stored = cursor.fetchone()
        cursor.execute("SELECT phone FROM registration_household")
        phone = cursor.fetchone()[0]
    assert all(v.startswith(crypto.TOKEN_PREFIX) for v in stored)
    assert "Amina" not in "".join(stored) and "4567" not in phone
    assert Household.objects.get().phone == "+258841234567"
    assert Household.objects.filter(phone_hash=crypto.keyed_hash("+258-84-123-4567", "phone")).exists()


@pytest.mark.django_db
def test_a_token_moved_to_another_column_does_not_decrypt(operation):
    households_write(operation=operation, items=batch(HEAD))
    with connection.cursor() as cursor:
        cursor.execute("UPDATE registration_individual SET family_name = given_name")
    with pytest.raises(crypto.DecryptionError):
        Individual.objects.get(reference="P-1")


@pytest.mark.django_db
def test_resending_a_household_updates_and_never_duplicates(operation):
    households_write(operation=operation, items=batch(HEAD, CHILD))
    again = households_write(operation=operation, items=batch(HEAD, CHILD))
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1)
    changed = households_write(operation=operation, items=batch({**HEAD, "family_name": "Saide"}, CHILD))
    assert (changed.updated, changed.individuals_created) == (1, 0)
    assert Individual.objects.count() == 2 and Household.objects.count() == 1


@pytest.mark.django_db
def test_a_household_without_head_stores_nothing(operation):
    with pytest.raises(BatchInvalid) as caught:
        households_write(operation=operation, items=batch(CHILD))
    assert caught.value.errors[0].message == str(HH_NO_HEAD.format(reference="HH-1"))
    assert caught.value.errors[0].row == 2 and caught.value.errors[0].column == "relationship"
    assert not Individual.objects.exists()


@pytest.mark.django_db
def test_membership_alone_gives_no_personal_access(operation, admin_user, data_manager):
    assert not access.personal_can(data_manager, operation, Capability.VIEW)
    with pytest.raises(PermissionDenied):
        access.require(data_manager, operation, Capability.VIEW)
    access.grant_set(operation=operation, user=data_manager, capabilities=["view", "register"], by=admin_user)
    assert access.personal_can(data_manager, operation, Capability.VIEW)
    assert not access.personal_can(data_manager, operation, Capability.DISTRIBUTE)
    with pytest.raises(PermissionDenied):
        access.grant_set(operation=operation, user=admin_user, capabilities=["view"], by=data_manager)

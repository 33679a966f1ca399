"""Erasure on request and retention: personal fields gone, aggregates unchanged, audited without values."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Count, Sum
from django.utils import timezone

from mobility.core.models import AuditEntry
from mobility.registration import access, protection
from mobility.registration.models import (
    AccessLog,
    Distribution,
    Household,
    IdentityDocument,
    Individual,
    Item,
    MatchPair,
    RecordStatus,
)
from tests.registration.factories import household_make

SECRETS = ["Graça", "Macuácua", "Gracinha", "840000777", "MZ-DOC-7781", "Rua 5", "1979-02-03"]


def _family(operation, reference="HH-ERASE", *, by=None):
    return household_make(
        operation,
        reference,
        by=by,
        head={
            "given_name": "Graça",
            "family_name": "Macuácua",
            "other_names": "Gracinha",
            "date_of_birth": "1979-02-03",
            "phone": "+258 84 000 0777",
            "address": "Rua 5, Pemba",
            "specific_needs": "single_parent",
            "document_type": "national_id",
            "document_number": "MZ-DOC-7781",
            "wg_seeing": "4",
        },
        members=[
            {"given_name": "Tomás", "family_name": "Macuácua", "sex": "m", "age": "9"},
            {"given_name": "Lúcia", "family_name": "Macuácua", "sex": "f", "age": "4"},
        ],
    )


def _aggregates(operation) -> dict:
    """What dashboards count: households and people by area, sex, birth year; distributions by item."""
    return {
        "households": list(
            Household.objects.filter(operation=operation)
            .values("admin2_pcode", "location_pcode", "population_group")
            .annotate(n=Count("id"), people=Sum("size"))
            .order_by("admin2_pcode", "location_pcode", "population_group")
        ),
        "people": list(
            Individual.objects.filter(operation=operation)
            .values("sex", "birth_year", "has_disability", "relationship")
            .annotate(n=Count("id"))
            .order_by("sex", "birth_year", "has_disability", "relationship")
        ),
        "distributions": list(
            Distribution.objects.filter(operation=operation)
            .values("item__code")
            .annotate(n=Count("id"), q=Sum("quantity"))
            .order_by("item__code")
        ),
    }


def _distribute(operation, household, reference, *, override_reason=""):
    item, _ = Item.objects.get_or_create(operation=operation, code="NFI", defaults={"name": "NFI kit"})
    return Distribution.objects.create(
        operation=operation,
        household=household,
        item=item,
        quantity=1,
        distributed_on=dt.date(2026, 10, 1),
        reference=reference,
        override_reason=override_reason,
    )


def _raw_row(table: str, pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table} WHERE id = %s", [pk])  # noqa: S608
        return json.dumps(cursor.fetchone(), default=str)


def _no_secret_in(text: str):
    for secret in SECRETS:
        assert secret.lower() not in text.lower(), secret


@pytest.fixture
def eraser(db, django_user_model, operation, admin_user):
    from mobility.core.models import Membership, Role

    user = django_user_model.objects.create_user(username="dpo", password="a-long-test-password")
    Membership.objects.create(user=user, operation=operation, role=Role.DATA_MANAGER)
    access.grant_set(operation=operation, user=user, capabilities=["erase", "view"], by=admin_user)
    return user


@pytest.mark.django_db
def test_erasing_a_household_blanks_every_personal_field_and_keeps_the_counts(operation, eraser):
    household = _family(operation)
    other = _family(operation, "HH-KEEP")
    _distribute(operation, household, "D-1")
    _distribute(operation, household, "D-2", override_reason="Graça lost her first kit")
    before = _aggregates(operation)

    counts = protection.erase_household(household=household, by=eraser, reason="request DPO-2026-117")

    assert (counts.households, counts.individuals, counts.documents) == (1, 3, 1)
    assert _aggregates(operation) == before
    household.refresh_from_db()
    assert household.status == RecordStatus.ERASED and household.status_changed_at is not None
    assert (household.phone, household.phone_hash, household.address, household.specific_needs) == (
        "",
        "",
        "",
        [],
    )
    for person in household.members.all():
        assert person.status == RecordStatus.ERASED
        assert (person.given_name, person.family_name, person.date_of_birth, person.name_hash) == (
            "",
            "",
            "",
            "",
        )
        assert (person.other_names, person.disability) == ([], {})
        _no_secret_in(_raw_row("registration_individual", person.pk))
    head = household.members.get(relationship="head")
    assert (head.birth_year, head.sex, head.has_disability) == (1979, "f", True)  # kept for counts
    assert not IdentityDocument.objects.filter(individual__household=household).exists()
    _no_secret_in(_raw_row("registration_household", household.pk))
    assert set(
        Distribution.objects.filter(household=household).values_list("override_reason", flat=True)
    ) == {
        "",
        protection.ERASED_TEXT,
    }
    # The other household is untouched.
    assert other.members.get(relationship="head").given_name == "Graça"
    # Audited: who, why, which ids; never a value.
    entry = AuditEntry.objects.get(action="registration.erase")
    assert entry.user == eraser and entry.detail["reason"] == "request DPO-2026-117"
    assert sorted(entry.detail["individuals"]) == sorted(household.members.values_list("pk", flat=True))
    log = AccessLog.objects.get(action=AccessLog.Action.ERASE)
    assert log.records == 3 and log.purpose == "erasure"
    _no_secret_in(json.dumps(entry.detail) + json.dumps(log.detail))


@pytest.mark.django_db
def test_erasing_twice_is_a_no_op(operation, eraser):
    household = _family(operation)
    protection.erase_household(household=household, by=eraser, reason="request 1")
    again = protection.erase_household(household=household, by=eraser, reason="request 1")
    assert (again.households, again.individuals) == (0, 0)
    assert AuditEntry.objects.filter(action="registration.erase").count() == 1


@pytest.mark.django_db
def test_erasure_needs_the_erase_capability(operation, data_manager, admin_user):
    household = _family(operation)
    access.grant_set(operation=operation, user=data_manager, capabilities=["view"], by=admin_user)
    with pytest.raises(PermissionDenied):
        protection.erase_household(household=household, by=data_manager, reason="request 2")
    assert household.members.get(relationship="head").given_name == "Graça"
    assert AccessLog.objects.filter(action=AccessLog.Action.DENIED, user=data_manager).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "reason", ["", "   ", "Graca asked on the phone", "call 840000777", "doc mz-doc-7781"]
)
def test_a_reason_quoting_the_person_or_missing_is_refused(operation, eraser, reason):
    household = _family(operation)
    with pytest.raises(ValidationError) as caught:
        protection.erase_household(household=household, by=eraser, reason=reason)
    assert caught.value.messages[0] in (protection.ERASE_REASON_MISSING, protection.ERASE_REASON_PERSONAL)
    _no_secret_in(caught.value.messages[0])
    assert Household.objects.get(pk=household.pk).status == RecordStatus.ACTIVE


@pytest.mark.django_db
def test_erasing_one_person_keeps_the_household_until_the_last_one(operation, eraser):
    household = _family(operation)
    child = household.members.get(reference=f"{household.reference}-2")
    counts = protection.erase_individual(individual=child, by=eraser, reason="request 3")
    assert (counts.households, counts.individuals) == (0, 1)
    household.refresh_from_db()
    assert household.status == RecordStatus.ACTIVE and household.phone == "+258840000777"
    assert household.members.get(pk=child.pk).given_name == ""
    for person in household.members.exclude(pk=child.pk):
        protection.erase_individual(individual=person, by=eraser, reason="request 3")
    household.refresh_from_db()
    assert household.status == RecordStatus.ERASED and household.phone == ""


@pytest.mark.django_db
def test_records_merged_into_the_person_go_with_them_and_pending_pairs_leave_the_queue(operation, eraser):
    household = _family(operation)
    head = household.members.get(relationship="head")
    twin = _family(operation, "HH-TWIN").members.get(relationship="head")
    Individual.objects.filter(pk=twin.pk).update(merged_into=head)
    bystander = _family(operation, "HH-OTHER").members.get(relationship="head")
    pending = MatchPair.objects.create(
        operation=operation, left=head, right=bystander, match_probability=0.7, match_weight=2
    )
    low, high = sorted([twin.pk, bystander.pk])
    decided = MatchPair.objects.create(
        operation=operation,
        left_id=low,
        right_id=high,
        match_probability=0.6,
        match_weight=1,
        status=MatchPair.Status.NOT_DUPLICATE,
    )
    counts = protection.erase_individual(individual=head, by=eraser, reason="request 4")
    assert sorted(counts.individual_ids) == sorted([head.pk, twin.pk])
    assert Individual.objects.get(pk=twin.pk).given_name == ""
    assert Individual.objects.get(pk=bystander.pk).given_name == "Graça"
    assert not MatchPair.objects.filter(pk=pending.pk).exists()
    assert MatchPair.objects.filter(pk=decided.pk).exists()


@pytest.mark.django_db
def test_erasure_hooks_are_told_which_records_went(operation, eraser):
    seen = []

    def hook(op, households, individuals):
        seen.append((op.pk, sorted(households), sorted(individuals)))

    protection.on_erase(hook)
    try:
        household = _family(operation)
        protection.erase_household(household=household, by=eraser, reason="request 5")
    finally:
        protection.ERASURE_HOOKS.remove(hook)
    assert seen == [(operation.pk, [household.pk], sorted(household.members.values_list("pk", flat=True)))]


@pytest.mark.django_db
def test_erasure_works_without_the_key_that_sealed_the_values(operation, monkeypatch):
    """A lost key must not block an erasure (the values are unreadable, but they still go)."""
    from mobility.registration import crypto

    household = _family(operation)
    monkeypatch.setenv("MOBILITY_FIELD_KEYS", crypto.new_key())
    crypto.reset_keys()
    try:
        protection.erase_household(household=household, by=None, reason="request 6")
        assert Household.objects.get(pk=household.pk).phone == ""
    finally:
        monkeypatch.undo()
        crypto.reset_keys()


@pytest.mark.django_db
def test_a_resent_household_does_not_bring_erased_values_back(operation, eraser):
    household = _family(operation)
    protection.erase_household(household=household, by=eraser, reason="request 7")
    _family(operation)  # the same rows again (a re-sent form, a re-imported file)
    household.refresh_from_db()
    assert household.status == RecordStatus.ERASED and household.phone == ""
    assert set(household.members.values_list("given_name", flat=True)) == {""}
    assert household.members.count() == 3


# --- the command ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_erase_command(operation, viewer):
    household = _family(operation)
    with pytest.raises(CommandError, match="no registration access in this operation for this purpose"):
        call_command(
            "registration", "erase", "--operation", operation.slug, "--household", household.reference,
            "--reason", "request 8", "--user", "reader",
        )  # fmt: skip
    child = household.members.get(reference=f"{household.reference}-3")
    out = io.StringIO()
    call_command(
        "registration", "erase", "--operation", operation.slug, "--individual", child.reference,
        "--reason", "request 8", stdout=out,
    )  # fmt: skip
    assert "erased: households 0, individuals 1, identity documents deleted 0" in out.getvalue()
    call_command(
        "registration", "erase", "--operation", operation.slug, "--household", household.reference,
        "--reason", "request 8", stdout=out,
    )  # fmt: skip
    assert "erased: households 1, individuals 2, identity documents deleted 1" in out.getvalue()
    entry = AuditEntry.objects.filter(action="registration.erase").first()
    assert entry.user is None  # the command line
    with pytest.raises(CommandError, match="either --household REF or --individual REF"):
        call_command("registration", "erase", "--operation", operation.slug, "--reason", "x")
    with pytest.raises(CommandError, match="Household HH-NONE is not in operation"):
        call_command(
            "registration", "erase", "--operation", operation.slug, "--household", "HH-NONE", "--reason", "x"
        )
    with pytest.raises(CommandError, match="No operation"):
        call_command(
            "registration", "erase", "--operation", "nowhere", "--household", "HH-1", "--reason", "x"
        )


# --- retention -------------------------------------------------------------------------------


def _closed(operation, reference, status, days_ago):
    household = _family(operation, reference)
    when = timezone.now() - dt.timedelta(days=days_ago)
    Household.objects.filter(pk=household.pk).update(status=status, status_changed_at=when)
    return household


@pytest.mark.django_db
def test_purge_erases_records_closed_longer_than_the_retention_period(operation):
    today = timezone.localdate()
    old_closed = _closed(operation, "HH-C", RecordStatus.CLOSED, 400)
    old_moved = _closed(operation, "HH-M", RecordStatus.MOVED, 400)
    old_missing = _closed(operation, "HH-N", RecordStatus.NOT_FOUND, 400)
    recent = _closed(operation, "HH-R", RecordStatus.CLOSED, 100)
    active = _family(operation, "HH-A")
    Household.objects.filter(pk=active.pk).update(status_changed_at=timezone.now() - dt.timedelta(days=900))
    left = active.members.get(reference="HH-A-2")
    Individual.objects.filter(pk=left.pk).update(
        status=RecordStatus.CLOSED, updated_at=timezone.now() - dt.timedelta(days=400)
    )
    before = _aggregates(operation)

    out = io.StringIO()
    call_command("registration", "purge", "--operation", operation.slug, "--quiet", stdout=out)
    assert "has no retention period" in out.getvalue()
    call_command("registration", "retention", "--operation", operation.slug, "--days", "365", stdout=out)
    assert "erased 365 days after closing" in out.getvalue()

    out = io.StringIO()
    call_command("registration", "purge", "--operation", operation.slug, "--dry-run", stdout=out)
    text = out.getvalue()
    assert "households 3, individuals of other households 1" in text
    assert "household HH-C (closed)" in text and "individual HH-A-2 (closed)" in text
    assert Household.objects.get(pk=old_closed.pk).phone  # nothing changed yet

    out = io.StringIO()
    call_command("registration", "purge", "--operation", operation.slug, "--quiet", stdout=out)
    assert "erased (closed before " in out.getvalue()
    assert "households 3, individuals 10, identity documents deleted 3" in out.getvalue()
    for h in (old_closed, old_moved, old_missing):
        assert Household.objects.get(pk=h.pk).status == RecordStatus.ERASED
    for h in (recent, active):
        assert Household.objects.get(pk=h.pk).phone == "+258840000777"
    assert Individual.objects.get(pk=left.pk).given_name == ""
    assert active.members.get(relationship="head").given_name == "Graça"
    assert _aggregates(operation) == before
    assert AuditEntry.objects.filter(
        action="registration.erase", detail__reason__startswith="retention"
    ).exists()

    _, counts = protection.purge_closed(operation=operation, today=today)
    assert (counts.households, counts.individuals) == (0, 0)  # nothing left to purge


@pytest.mark.django_db
def test_retention_period_is_checked_and_can_be_removed(operation, viewer):
    with pytest.raises(ValidationError):
        protection.retention_set(operation=operation, days=0)
    with pytest.raises(PermissionDenied):
        protection.retention_set(operation=operation, days=30, by=viewer)
    out = io.StringIO()
    call_command("registration", "retention", "--operation", operation.slug, "--days", "30", stdout=out)
    call_command("registration", "retention", "--operation", operation.slug, "--keep", stdout=out)
    assert out.getvalue().strip().endswith("closed records are kept (no retention period)")
    with pytest.raises(CommandError, match="whole number of days"):
        call_command("registration", "retention", "--operation", operation.slug, "--days", "-4")

"""Recording assistance: entitlements, refusals for the household and its duplicates, audited overrides."""

import datetime as dt
import logging

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from mobility.core.models import AuditEntry, Role
from mobility.registration import assistance as a
from mobility.registration.models import AccessLog, Capability, Distribution
from tests.registration.assist_helpers import DAY, family, granted, merged, same_person, site_make

LATER = DAY + dt.timedelta(days=20)


@pytest.fixture
def manager(django_user_model, operation):
    """A data manager who may also record assistance: sets the catalogue and overrides refusals."""
    return granted(
        django_user_model,
        operation,
        "supervisor",
        role=Role.DATA_MANAGER,
        capabilities=[Capability.DISTRIBUTE],
    )


@pytest.fixture
def distributor(django_user_model, operation):
    return granted(django_user_model, operation, "distributor", capabilities=[Capability.DISTRIBUTE])


@pytest.fixture
def site(operation):
    return site_make(operation)


@pytest.fixture
def nfi(operation, manager):
    item = a.item_create(operation=operation, code="nfi", name="NFI kit", by=manager)
    a.entitlement_set(operation=operation, item=item, quantity=1, period_days=90, by=manager)
    return item


@pytest.fixture
def food(operation, manager):
    item = a.item_create(operation=operation, code="FOOD", name="Food basket", unit="basket", by=manager)
    a.entitlement_set(operation=operation, item=item, quantity=2, per_person=True, period_days=30, by=manager)
    return item


def give(operation, household, item, by, *, reference, on=DAY, quantity=1, **kw):
    return a.distribution_record(
        operation=operation,
        household=household,
        item=item,
        quantity=quantity,
        distributed_on=on,
        reference=reference,
        by=by,
        **kw,
    )


def test_a_second_distribution_of_the_same_item_in_the_period_is_refused(operation, site, nfi, distributor):
    hh = family(operation, "HH-1", site_code=site.code)
    first = give(operation, hh, nfi, distributor, reference="D-1", site=site.code, distributor="IOM")
    assert (first.write_state, first.admin1_pcode, first.admin2_pcode) == ("created", "MZ01", "MZ0101")
    with pytest.raises(a.DistributionRefused) as exc:
        give(operation, hh, nfi, distributor, reference="D-2", on=LATER)
    assert exc.value.messages == [str(a.ALREADY_RECEIVED.format(item="NFI", date=DAY, period_days=90))]
    assert exc.value.reasons == ["already_received"] and exc.value.repeats == first
    # Back-dated entries are checked too, and after the period the household may receive it again.
    with pytest.raises(a.DistributionRefused):
        give(operation, hh, nfi, distributor, reference="D-3", on=DAY - dt.timedelta(days=89))
    assert give(operation, hh, nfi, distributor, reference="D-4", on=DAY + dt.timedelta(days=90)).pk
    assert Distribution.objects.count() == 2


def test_a_household_in_the_same_dedup_cluster_is_refused_too(operation, nfi, distributor):
    hh, twin, stranger = (family(operation, r) for r in ("HH-1", "HH-2", "HH-3"))
    same_person(hh, twin)
    first = give(operation, hh, nfi, distributor, reference="D-1")
    with pytest.raises(a.DistributionRefused) as exc:
        give(operation, twin, nfi, distributor, reference="D-2", on=LATER)
    assert exc.value.messages == [
        str(a.ALREADY_RECEIVED_CLUSTER.format(item="NFI", date=DAY, period_days=90))
    ]
    assert exc.value.repeats == first
    assert give(operation, stranger, nfi, distributor, reference="D-3").write_state == "created"


def test_records_merged_into_a_member_link_their_households(operation, nfi, distributor):
    hh, old, via_cluster = (family(operation, r) for r in ("HH-1", "HH-2", "HH-3"))
    merged(old, into=hh)  # HH-2's head was merged into HH-1's head
    same_person(old, via_cluster)  # and HH-2's head shares a cluster with HH-3's
    assert a.linked_households(hh) == {hh.pk, old.pk, via_cluster.pk}
    assert a.linked_households(via_cluster) == {hh.pk, old.pk, via_cluster.pk}
    give(operation, old, nfi, distributor, reference="D-1")
    for household, reference in ((hh, "D-2"), (via_cluster, "D-3")):
        with pytest.raises(a.DistributionRefused):
            give(operation, household, nfi, distributor, reference=reference, on=LATER)


def test_an_override_with_a_reason_is_recorded_linked_and_audited(
    operation, nfi, distributor, manager, caplog
):
    hh, twin = family(operation, "HH-1"), family(operation, "HH-2")
    same_person(hh, twin)
    first = give(operation, hh, nfi, distributor, reference="D-1")
    with pytest.raises(PermissionDenied) as exc:
        give(
            operation, twin, nfi, distributor, reference="D-2", on=LATER, override_reason="kit lost in a fire"
        )
    assert str(exc.value) == str(a.OVERRIDE_NOT_ALLOWED)
    caplog.set_level(logging.DEBUG)
    second = give(
        operation, twin, nfi, manager, reference="D-2", on=LATER, override_reason="kit lost in a fire"
    )
    assert (second.overrides, second.override_reason, second.refused) == (
        first,
        "kit lost in a fire",
        ["already_received"],
    )
    audit = AuditEntry.objects.get(action="registration.distribution_override")
    assert audit.detail["overrides"] == first.pk and audit.detail["refused"] == ["already_received"]
    assert "fire" not in str(audit.detail) and "fire" not in caplog.text
    log = AccessLog.objects.filter(user=manager, purpose="assistance").get()
    assert log.detail == {"distribution": second.pk, "state": "created", "override": True}
    # Sent again by a device without the reason: the same overridden record, not a refusal or a copy.
    again = give(operation, twin, nfi, distributor, reference="D-2", on=LATER)
    assert again.pk == second.pk and again.write_state == "unchanged"


def test_a_reason_without_anything_to_override_is_not_kept(operation, nfi, manager):
    hh = family(operation, "HH-1")
    d = give(operation, hh, nfi, manager, reference="D-1", override_reason="just in case")
    assert d.override_reason == "" and d.overrides is None
    assert not AuditEntry.objects.filter(action="registration.distribution_override").exists()


def test_the_same_reference_updates_and_never_doubles(operation, nfi, food, distributor):
    hh = family(operation, "HH-1")
    give(operation, hh, nfi, distributor, reference="KOBO-17")
    assert give(operation, hh, nfi, distributor, reference="KOBO-17").write_state == "unchanged"
    moved = give(operation, hh, nfi, distributor, reference="KOBO-17", on=DAY + dt.timedelta(days=1))
    assert moved.write_state == "updated" and moved.distributed_on == DAY + dt.timedelta(days=1)
    assert Distribution.objects.count() == 1
    other = family(operation, "HH-2")
    with pytest.raises(ValidationError) as exc:
        give(operation, other, nfi, distributor, reference="KOBO-17")
    assert exc.value.messages == [str(a.REFERENCE_OTHER_HOUSEHOLD.format(reference="KOBO-17"))]


def test_quantity_above_the_entitlement_is_refused_unless_overridden(operation, food, distributor, manager):
    hh = family(operation, "HH-1", children=2)  # 3 people: 2 baskets each
    with pytest.raises(a.DistributionRefused) as exc:
        give(operation, hh, food, distributor, reference="D-1", quantity=7)
    assert exc.value.messages == [
        str(a.OVER_ENTITLEMENT.format(quantity=7, allowed=6, unit="basket", item="FOOD"))
    ]
    assert give(operation, hh, food, distributor, reference="D-1", quantity=6).quantity == 6
    extra = give(
        operation,
        family(operation, "HH-2"),
        food,
        manager,
        reference="D-2",
        quantity=9,
        override_reason="large family, size to be corrected",
    )
    assert extra.refused == ["over_entitlement"] and extra.overrides is None


def test_no_entitlement_in_force_is_a_refusal(operation, manager, distributor):
    item = a.item_create(operation=operation, code="CASH", name="Cash transfer", unit="MZN", by=manager)
    hh = family(operation, "HH-1")
    with pytest.raises(a.DistributionRefused) as exc:
        give(operation, hh, item, distributor, reference="D-1")
    assert exc.value.reasons == ["no_entitlement"]
    a.entitlement_set(
        operation=operation, item=item, period_days=30, valid_from=DAY + dt.timedelta(days=1), by=manager
    )
    with pytest.raises(a.DistributionRefused):
        give(operation, hh, item, distributor, reference="D-1")
    a.entitlement_set(operation=operation, item=item, period_days=30, population_group="RET-ABR", by=manager)
    with pytest.raises(a.DistributionRefused):
        give(operation, hh, item, distributor, reference="D-1")  # the household is IDP


def test_recording_needs_the_distribute_capability(django_user_model, operation, nfi):
    verifier = granted(django_user_model, operation, "verifier", capabilities=[Capability.VERIFY])
    with pytest.raises(PermissionDenied):
        give(operation, family(operation, "HH-1"), nfi, verifier, reference="D-1")
    assert AccessLog.objects.filter(user=verifier, action="denied", purpose="assistance").exists()
    assert not Distribution.objects.exists()


def test_the_catalogue_is_kept_by_data_managers(operation, distributor, manager):
    with pytest.raises(PermissionDenied):
        a.item_create(operation=operation, code="NFI", name="NFI kit", by=distributor)
    item = a.item_create(operation=operation, code="NFI", name="NFI kit", by=manager)
    again = a.item_create(operation=operation, code="nfi ", name="NFI kit (family)", by=manager)
    assert again.pk == item.pk and again.name == "NFI kit (family)"
    with pytest.raises(ValidationError):
        a.entitlement_set(
            operation=operation,
            item=item,
            valid_from=dt.date(2026, 2, 1),
            valid_to=dt.date(2026, 1, 1),
            by=manager,
        )
    a.entitlement_set(operation=operation, item=item, period_days=180, by=manager)
    a.entitlement_set(operation=operation, item=item, period_days=90, by=manager)
    (listed,) = a.catalogue(operation)
    assert listed.entitlement.period_days == 90


@pytest.mark.parametrize(
    "change, message",
    [
        ({"quantity": 0}, a.QUANTITY_INVALID.format(value="0")),
        ({"on": dt.date(2099, 1, 1)}, a.DATE_IN_FUTURE.format(date="2099-01-01")),
        ({"site": "NOWHERE"}, a.SITE_UNKNOWN.format(value="NOWHERE")),
        ({"reference": " "}, a.REFERENCE_REQUIRED),
        ({"item": "SOAP"}, a.ITEM_UNKNOWN.format(value="SOAP")),
    ],
)
def test_bad_distributions_are_refused_with_a_clear_reason(operation, nfi, distributor, change, message):
    hh = family(operation, "HH-1")
    kwargs = {"reference": "D-1", "item": nfi, **change}
    item = kwargs.pop("item")
    with pytest.raises(ValidationError) as exc:
        give(operation, hh, item, distributor, **kwargs)
    assert exc.value.messages == [str(message)]


def test_a_household_of_another_operation_or_erased_is_refused(operation, other_operation, nfi, distributor):
    elsewhere = family(other_operation, "PK-1")
    with pytest.raises(ValidationError) as exc:
        give(operation, elsewhere, nfi, distributor, reference="D-1")
    assert exc.value.messages == [str(a.HOUSEHOLD_OTHER_OPERATION)]
    hh = family(operation, "HH-1")
    hh.status = "erased"
    hh.save()
    with pytest.raises(ValidationError) as exc:
        give(operation, hh, nfi, distributor, reference="D-1")
    assert exc.value.messages == [str(a.HOUSEHOLD_CLOSED.format(reference="HH-1", status="erased"))]

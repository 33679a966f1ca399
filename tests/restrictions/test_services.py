"""Recording and publishing statuses and travel restrictions: permissions, validation, audit."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from mobility.core.models import AuditEntry
from mobility.restrictions.models import PoEStatus, TravelRestriction
from mobility.restrictions.services import (
    NOT_ALLOWED,
    poe_upsert,
    status_record,
    statuses_publish,
    travel_publish,
    travel_restriction_save,
)

D = dt.date.fromisoformat


def test_poe_upsert_creates_then_updates_then_leaves_unchanged(operation):
    values = dict(
        operation=operation, code="MOZ-NEG", name="Negomano", type="land_border", country_iso3="moz"
    )
    poe, outcome = poe_upsert(**values)
    assert outcome == "created" and poe.country_iso3 == "MOZ"
    assert poe_upsert(**values)[1] == "unchanged"
    poe, outcome = poe_upsert(**{**values, "name": "Negomano (Unity Bridge)", "border_country_iso3": "TZA"})
    assert outcome == "updated" and poe.name == "Negomano (Unity Bridge)"
    assert poe.__class__.objects.filter(operation=operation).count() == 1


def test_only_an_airport_has_an_iata_code(operation):
    with pytest.raises(ValidationError) as exc:
        poe_upsert(
            operation=operation, code="X", name="X", type="land_border", country_iso3="MOZ", iata_code="MPM"
        )
    assert "iata_code" in exc.value.message_dict


def test_a_status_with_an_unknown_measure_is_refused(ressano):
    with pytest.raises(ValidationError):
        status_record(poe=ressano, effective_from=D("2026-03-01"), status="closed", measures=["curfew"])
    assert not PoEStatus.objects.exists()


def test_a_viewer_may_not_record_or_publish(ressano, viewer):
    with pytest.raises(PermissionDenied):
        status_record(poe=ressano, effective_from=D("2026-03-01"), status="closed", by=viewer)
    status_record(poe=ressano, effective_from=D("2026-03-01"), status="closed")
    with pytest.raises(PermissionDenied) as exc:
        statuses_publish(operation=ressano.operation, by=viewer)
    assert str(exc.value) == NOT_ALLOWED.format(action="publish", operation=ressano.operation.slug)
    assert not PoEStatus.objects.filter(published=True).exists()


def test_a_data_manager_of_another_operation_may_not_publish(ressano, outsider):
    with pytest.raises(PermissionDenied):
        statuses_publish(operation=ressano.operation, by=outsider)


def test_publishing_until_a_date_leaves_later_records_as_drafts(ressano, data_manager):
    for day, status in (("2026-01-01", "open"), ("2026-02-01", "closed"), ("2026-03-01", "partial")):
        status_record(poe=ressano, effective_from=D(day), status=status, by=data_manager)
    assert statuses_publish(operation=ressano.operation, by=data_manager, until=D("2026-02-15")) == 2
    assert list(PoEStatus.objects.order_by("effective_from").values_list("published", flat=True)) == [
        True,
        True,
        False,
    ]
    entry = AuditEntry.objects.filter(action="poe_status.publish").get()
    assert entry.user == data_manager and entry.detail["records"] == 2
    assert AuditEntry.objects.filter(action="poe_status.record").count() == 3


def test_travel_publish_by_source(operation, data_manager):
    for ref, source in (("A1", "cobap"), ("W1", "wfp")):
        travel_restriction_save(
            restriction=TravelRestriction(
                operation=operation,
                imposing_iso3="ZAF",
                target="all",
                kind="medical",
                effective_from=D("2026-01-01"),
                source=source,
                source_ref=ref,
            ),
            by=data_manager,
        )
    assert travel_publish(operation=operation, by=data_manager, source="wfp") == 1
    assert set(TravelRestriction.objects.filter(published=True).values_list("source", flat=True)) == {"wfp"}


def test_a_restriction_cannot_end_before_it_starts_or_miss_its_target(operation):
    base = dict(operation=operation, imposing_iso3="ZAF", kind="total", source_ref="X")
    with pytest.raises(ValidationError):
        travel_restriction_save(
            restriction=TravelRestriction(
                **base, target="all", effective_from=D("2026-02-01"), effective_to=D("2026-01-01")
            )
        )
    with pytest.raises(ValidationError):
        travel_restriction_save(
            restriction=TravelRestriction(**base, target="country", effective_from=D("2026-02-01"))
        )
    assert not TravelRestriction.objects.exists()

"""A data manager publishes a period of flow data after the disclosure check, and can withdraw it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError

from mobility.core.models import AuditEntry
from mobility.flows.models import FlowCount, FlowMonitoringPoint, FlowPublication
from mobility.flows.publishing import (
    NOT_ALLOWED,
    NOTHING_TO_PUBLISH,
    flows_publish,
    flows_unpublish,
)
from mobility.flows.services import summaries_rebuild

pytestmark = pytest.mark.django_db

D1, D2, D3 = dt.date(2024, 3, 4), dt.date(2024, 3, 5), dt.date(2024, 3, 20)


@pytest.fixture
def counts(operation, settings):
    settings.MOBILITY = {**settings.MOBILITY, "DISCLOSURE_THRESHOLD": 5}
    fmp = FlowMonitoringPoint.objects.create(
        operation=operation, code="F1", name="Ressano", country_iso3="MOZ"
    )
    rows = [
        ("1", D1, 10, "ZAF", "bus"),
        ("2", D1, 2, "MOZ", "foot"),  # a nationality cell and a transport cell of 2 people
        ("3", D3, 30, "ZAF", "bus"),  # outside the period published below
    ]
    for record_id, date, individuals, nationality, transport in rows:
        FlowCount.objects.create(
            operation=operation,
            fmp=fmp,
            record_id=record_id,
            date=date,
            direction="in",
            individuals=individuals,
            nationality=nationality,
            transport=transport,
            reason="economic",
        )
    summaries_rebuild(operation_id=operation.pk)
    return fmp


def test_a_data_manager_publishes_with_the_disclosure_summary_and_an_audit_entry(
    operation, data_manager, counts
):
    publication = flows_publish(
        operation=operation, date_from=D1, date_to=D2, by=data_manager, note="March, week 1"
    )
    # Breakdown cells on D1: nationality ZAF/MOZ, transport bus/foot, reason, duration, from/to country
    # and admin 1 (empty values): 10 cells, of which MOZ (2) and foot (2) are under 5 people.
    assert publication.disclosure == {"threshold": 5, "days": 1, "cells": 10, "suppressed": 2}
    assert (publication.published_by, publication.note) == (data_manager, "March, week 1")
    entry = AuditEntry.objects.get(action="flows.publish")
    assert entry.user == data_manager and entry.object_id == str(publication.pk)
    assert entry.detail["suppressed"] == 2


def test_publishing_the_same_dates_again_refreshes_not_duplicates(operation, data_manager, counts):
    flows_publish(operation=operation, date_from=D1, date_to=D2, by=data_manager, note="first")
    again = flows_publish(operation=operation, date_from=D1, date_to=D2, by=data_manager, note="second")
    assert FlowPublication.objects.count() == 1 and again.note == "second"


@pytest.mark.parametrize("who", ["viewer", "enumerator", "outsider", "anonymous"])
def test_only_data_managers_and_admins_may_publish(request, operation, counts, who):
    user = AnonymousUser() if who == "anonymous" else request.getfixturevalue(who)
    with pytest.raises(PermissionDenied) as caught:
        flows_publish(operation=operation, date_from=D1, date_to=D2, by=user)
    assert str(caught.value) == NOT_ALLOWED.format(operation=operation.name)
    with pytest.raises(PermissionDenied):
        flows_publish(operation=operation, date_from=D1, date_to=D2, by=None)
    assert not FlowPublication.objects.exists()


def test_an_admin_may_publish(operation, admin_user, counts):
    assert flows_publish(operation=operation, date_from=D1, date_to=D3, by=admin_user).disclosure["days"] == 2


def test_a_reversed_or_empty_period_is_refused(operation, data_manager, counts):
    with pytest.raises(ValidationError):
        flows_publish(operation=operation, date_from=D2, date_to=D1, by=data_manager)
    empty_from, empty_to = dt.date(2023, 1, 1), dt.date(2023, 1, 31)
    with pytest.raises(ValidationError) as caught:
        flows_publish(operation=operation, date_from=empty_from, date_to=empty_to, by=data_manager)
    assert caught.value.messages == [
        NOTHING_TO_PUBLISH.format(operation=operation.name, date_from=empty_from, date_to=empty_to)
    ]
    assert not FlowPublication.objects.exists()


def test_withdrawing_needs_the_same_right_and_is_audited(operation, data_manager, viewer, counts):
    publication = flows_publish(operation=operation, date_from=D1, date_to=D2, by=data_manager)
    with pytest.raises(PermissionDenied):
        flows_unpublish(publication=publication, by=viewer)
    flows_unpublish(publication=publication, by=data_manager)
    assert not FlowPublication.objects.exists()
    assert AuditEntry.objects.filter(action="flows.unpublish", user=data_manager).exists()


def test_the_command_publishes_prints_the_check_and_withdraws(operation, counts, capsys):
    call_command(
        "flows",
        "publish",
        "--operation",
        operation.slug,
        "--from",
        "2024-03-04",
        "--to",
        "2024-03-05",
        "--note",
        "week 10",
    )
    out = capsys.readouterr().out
    assert "10 breakdown cells, 2 below 5 people suppressed" in out and "Published" in out
    publication = FlowPublication.objects.get()
    assert (publication.date_from, publication.date_to, publication.note) == (D1, D2, "week 10")
    assert publication.published_by is None  # the command line

    call_command(
        "flows",
        "publish",
        "--operation",
        operation.slug,
        "--from",
        "2024-03-04",
        "--to",
        "2024-03-05",
        "--withdraw",
    )
    assert not FlowPublication.objects.exists()
    with pytest.raises(CommandError, match="no flow publication"):
        call_command(
            "flows",
            "publish",
            "--operation",
            operation.slug,
            "--from",
            "2024-03-04",
            "--to",
            "2024-03-05",
            "--withdraw",
        )
    with pytest.raises(CommandError, match="is not a date"):
        call_command(
            "flows", "publish", "--operation", operation.slug, "--from", "4 March", "--to", "2024-03-05"
        )

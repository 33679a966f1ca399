"""Publishing flow data: a period of an operation's flows becomes public after a disclosure check.

``flows_publish`` stores a ``FlowPublication``: from then on anonymous readers (the public API,
public pages) see the daily totals, breakdowns and estimates of the days it covers, with the
small breakdown cells suppressed (``visibility.suppress_small``). The disclosure check counts
those cells — breakdown rows (nationality, origin, destination, …) with fewer than the threshold
of people — and keeps the summary on the publication, so a reader knows how much is hidden.
"""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from mobility.core.models import Operation
from mobility.core.permissions import Action, can
from mobility.core.services import audit_record

from .models import FlowBreakdown, FlowCount, FlowDaily, FlowPublication
from .visibility import disclosure_threshold

NOT_ALLOWED = "Only data managers and admins of {operation} may publish its flow data."
DATES_REVERSED = "A published period cannot end before it starts ({date_from} is after {date_to})."
NOTHING_TO_PUBLISH = "{operation} has no flow counts between {date_from} and {date_to}: nothing to publish."


class CommandLine:
    """Who publishes from `mobility flows publish`: a person with a shell on the server (trusted)."""

    pk = None
    is_authenticated = False

    def __str__(self) -> str:
        return "command line"


COMMAND_LINE = CommandLine()


def _check_allowed(by, operation: Operation) -> None:
    if by is COMMAND_LINE:
        return
    if not can(by, Action.PUBLISH, operation):
        raise PermissionDenied(_(NOT_ALLOWED).format(operation=operation.name))


def disclosure_summary(*, operation: Operation, date_from: dt.date, date_to: dt.date) -> dict:
    """What publishing the period would show: days, breakdown cells, and cells suppressed for the public."""
    threshold = disclosure_threshold()
    # Per-FMP breakdowns are monthly: the cells of the months the period touches.
    cells = FlowBreakdown.objects.filter(
        operation=operation, month__gte=date_from.replace(day=1), month__lte=date_to
    )
    return {
        "threshold": threshold,
        "days": FlowDaily.objects.filter(operation=operation, date__gte=date_from, date__lte=date_to)
        .values("date")
        .distinct()
        .count(),
        "cells": cells.count(),
        "suppressed": cells.filter(individuals__gt=0, individuals__lt=threshold).count(),
    }


@transaction.atomic
def flows_publish(
    *, operation: Operation, date_from: dt.date, date_to: dt.date, by, note: str = ""
) -> FlowPublication:
    """Publish the operation's flows from date_from to date_to (inclusive) after the disclosure check.

    ``by`` is the user (needs Action.PUBLISH) or ``COMMAND_LINE``. Publishing the same dates again
    refreshes the check and the note instead of adding a second publication.
    """
    _check_allowed(by, operation)
    if date_from > date_to:
        raise ValidationError(_(DATES_REVERSED).format(date_from=date_from, date_to=date_to))
    if not FlowCount.objects.filter(operation=operation, date__gte=date_from, date__lte=date_to).exists():
        raise ValidationError(
            _(NOTHING_TO_PUBLISH).format(operation=operation.name, date_from=date_from, date_to=date_to)
        )
    summary = disclosure_summary(operation=operation, date_from=date_from, date_to=date_to)
    publication = (
        FlowPublication.objects.select_for_update()
        .filter(operation=operation, date_from=date_from, date_to=date_to)
        .first()
    ) or FlowPublication(operation=operation, date_from=date_from, date_to=date_to)
    publication.published_by = by if getattr(by, "pk", None) else None
    publication.note = note.strip()[:500]
    publication.disclosure = summary
    publication.full_clean()
    publication.save()
    audit_record(
        action="flows.publish",
        obj=publication,
        by=by,
        detail={"from": date_from.isoformat(), "to": date_to.isoformat(), **summary},
    )
    return publication


@transaction.atomic
def flows_unpublish(*, publication: FlowPublication, by) -> None:
    """Withdraw a publication: its days are no longer public (unless another publication covers them)."""
    _check_allowed(by, publication.operation)
    audit_record(
        action="flows.unpublish",
        obj=publication,
        by=by,
        detail={"from": publication.date_from.isoformat(), "to": publication.date_to.isoformat()},
    )
    publication.delete()

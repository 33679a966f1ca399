"""Find or create the operations and rounds that source records name (DTM API, HDX CSV, ...).

Importers read records that name an operation ("Lake Chad Basin Crisis") and a round number. These
services run inside the import's write transaction, so a failed import creates neither.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction

from mobility.core.models import Operation, Round
from mobility.core.services import operation_create, round_advance, round_create

OPERATION_OTHER_COUNTRY = 'the operation "{name}" is in {actual}, but this record is in {country}'


def operation_find(*, name: str) -> Operation | None:
    """The operation with this name (or slug), case-insensitively; None when there is none."""
    name = (name or "").strip()
    if not name:
        return None
    return (
        Operation.objects.filter(name__iexact=name).first()
        or Operation.objects.filter(slug__iexact=name).first()
    )


@transaction.atomic
def operation_for_source(*, name: str, country_iso3: str, by=None) -> tuple[Operation, bool]:
    """The operation a source names, created in the record's country when it does not exist yet."""
    existing = operation_find(name=name)
    if existing is not None:
        return existing, False
    return operation_create(name=name.strip(), country_iso3=country_iso3, by=by), True


def round_find(*, operation: Operation, number: int) -> Round | None:
    """The newest version of the operation's round with this number."""
    return Round.objects.filter(operation=operation, number=number).order_by("-version").first()


@transaction.atomic
def round_for_source(
    *, operation: Operation, number: int, start_date: dt.date, end_date: dt.date | None = None, by=None
) -> tuple[Round, bool]:
    """The round a source names; a new one spans the source's reporting dates. An existing round is kept."""
    existing = round_find(operation=operation, number=number)
    if existing is not None:
        return existing, False
    end_date = end_date or start_date
    return (
        round_create(operation=operation, number=number, start_date=start_date, end_date=end_date, by=by),
        True,
    )


def round_to_validating(*, round: Round, by=None) -> Round:  # noqa: A002 - the field's word
    """Move a planned or collecting round on to validating (the step before publishing); others are left."""
    for step in (Round.Status.COLLECTING, Round.Status.VALIDATING):
        if step in round.next_states():
            round = round_advance(round=round, to=step, by=by)
    return round

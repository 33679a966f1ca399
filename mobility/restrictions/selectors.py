"""Reads of the restrictions app: statuses "as of" a date and restrictions in force on a date.

The status of a point of entry on a date D is its newest status record with
``effective_from <= D`` (the later record wins a tie); before its first record it has none.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import OuterRef, Q, QuerySet, Subquery

from .models import PoEStatus, PointOfEntry, TravelRestriction


def status_on(statuses, day: dt.date):
    """The status in force on ``day`` among one point's records (any iterable), or None.

    The plain-Python rule the database queries below must agree with (tests compare them).
    """
    best = None
    for s in statuses:
        if s.effective_from <= day and (
            best is None or (s.effective_from, s.pk) > (best.effective_from, best.pk)
        ):
            best = s
    return best


def statuses_as_of(
    points: QuerySet[PointOfEntry], day: dt.date, *, published_only: bool = False
) -> QuerySet[PointOfEntry]:
    """The points annotated with ``status_id``: their status record in force on ``day`` (or None)."""
    records = PoEStatus.objects.filter(poe=OuterRef("pk"), effective_from__lte=day)
    if published_only:
        records = records.filter(published=True)
    newest = records.order_by("-effective_from", "-pk").values("pk")[:1]
    return points.annotate(status_id=Subquery(newest))


def restrictions_on(qs: QuerySet[TravelRestriction], day: dt.date) -> QuerySet[TravelRestriction]:
    """The travel restrictions in force on ``day`` (from ≤ day, and open-ended or to ≥ day)."""
    return qs.filter(Q(effective_from__lte=day), Q(effective_to__isnull=True) | Q(effective_to__gte=day))

"""Who sees which flow figures: members see everything of their operation; everyone else sees only
the days of published periods (``FlowPublication``), with small breakdown cells suppressed.

Pages and the API both go through these two functions, so they can never disagree.
"""

from __future__ import annotations

from django.conf import settings
from django.db.models import Q

from mobility.core.permissions import Action, can

from .models import FlowPublication


def sees_unpublished(user, operation) -> bool:
    """Members of the operation (any role that may VIEW) read unpublished flow data."""
    return can(user, Action.VIEW, operation)


def published_dates_q(operation, field: str = "date") -> Q:
    """A filter keeping rows whose ``field`` lies in a published period of the operation.

    Matches nothing when the operation has published no period.
    """
    q = Q(pk__in=[])
    for date_from, date_to in FlowPublication.objects.filter(operation=operation).values_list(
        "date_from", "date_to"
    ):
        q |= Q(**{f"{field}__gte": date_from, f"{field}__lte": date_to})
    return q


def visible_q(user, operation, field: str = "date") -> Q:
    """Everything for members; published periods for everyone else."""
    return Q() if sees_unpublished(user, operation) else published_dates_q(operation, field)


def disclosure_threshold() -> int:
    return int(settings.MOBILITY["DISCLOSURE_THRESHOLD"])


def suppress_small(value: int | None, *, public: bool) -> int | None:
    """A breakdown cell for a public reader: ``None`` (suppressed) when 0 < value < threshold.

    Totals per FMP, day and direction are not suppressed (they are counts at a public place, not
    a profile of people); breakdowns by nationality, origin or destination are, because a cell of
    one or two people can point to someone.
    """
    if not public or value is None or value == 0 or value >= disclosure_threshold():
        return value
    return None

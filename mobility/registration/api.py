"""Registration's public API: /api/v1/registration/assistance and /counts — published aggregates only.

Both read the rows frozen by ``assistance_publish`` (disclosure-checked when published), for every
caller alike: no endpoint here reads a household, a person, a distribution or a reference.
HAPI conventions: ``{"data": [...]}``, ``output_format=json|csv``, ``offset``/``limit`` ≤ 10,000.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from django.db.models import Q
from ninja import Field, Query, Router, Schema

from mobility.core.apitools import READ_AUTH, PageParams, hapi_page

from .assistance_figures import (
    COUNT_FIELDS,
    FIGURE_FIELDS,
    count_row,
    figure_row,
    published_counts,
    published_figures,
)

router = Router(tags=["registration"])


class AreaFilter(Schema):
    operation: str | None = Field(None, description="operation slug, or part of its name (any case)")
    location_code: str | None = Field(None, description="ISO3 code of the operation's country, e.g. MOZ")
    admin1_code: str | None = Field(None, description="admin-1 p-code (any case)")
    admin2_code: str | None = Field(None, description="admin-2 p-code (any case)")
    admin_level: int | None = Field(None, ge=1, le=2, description="1 (admin-1 totals) or 2 (admin-2 areas)")

    def q(self) -> Q:
        q = Q()
        if self.operation:
            text = self.operation.strip()
            q &= Q(publication__operation__slug=text) | Q(publication__operation__name__icontains=text)
        if self.location_code:
            q &= Q(publication__operation__country_iso3=self.location_code.strip().upper())
        if self.admin1_code:
            q &= Q(admin1_code__iexact=self.admin1_code.strip())
        if self.admin2_code:
            q &= Q(admin2_code__iexact=self.admin2_code.strip())
        if self.admin_level:
            q &= Q(admin_level=self.admin_level)
        return q


class AssistanceFilter(AreaFilter):
    item_code: str | None = Field(None, description="item or kit code of the operation's catalogue")
    gender: Literal["all", "f", "m", "u"] | None = Field(None, description="all (default rows), f, m or u")
    age_range: str | None = Field(None, description='all, an age band such as "18-59" or "60+", or unknown')
    start_date: dt.date | None = Field(None, description="months ending on or after this day")
    end_date: dt.date | None = Field(None, description="months starting on or before this day")

    def q(self) -> Q:
        q = super().q()
        if self.item_code:
            q &= Q(item_code__iexact=self.item_code.strip())
        if self.gender:
            q &= Q(gender=self.gender)
        if self.age_range:
            q &= Q(age_range=self.age_range.strip())
        if self.start_date:
            q &= Q(publication__period_end__gte=self.start_date)
        if self.end_date:
            q &= Q(publication__period_start__lte=self.end_date)
        return q


class CountFilter(AreaFilter):
    status: Literal["all", "active", "moved", "not_found", "closed"] | None = Field(
        None, description="household status (all = every status)"
    )

    def q(self) -> Q:
        q = super().q()
        if self.status:
            q &= Q(status=self.status)
        return q


class _Rows:
    def __init__(self, qs, shape):
        self.qs, self.shape = qs, shape

    def __getitem__(self, item: slice):
        return [self.shape(row) for row in self.qs[item]]


@router.get("/assistance", auth=READ_AUTH, summary="Households and individuals assisted (published months)")
def assistance(request, filters: Query[AssistanceFilter], page: Query[PageParams]):
    """Per published month, item and admin1/admin2 area, by gender and age range; small cells null."""
    qs = (
        published_figures()
        .filter(filters.q())
        .order_by(
            "publication__operation_id",
            "month",
            "item_code",
            "admin1_code",
            "admin_level",
            "admin2_code",
            "id",
        )
    )
    return hapi_page(
        _Rows(qs, lambda f: figure_row(f, operation=f.publication.operation)),
        page,
        fields=FIGURE_FIELDS,
        filename="registration-assistance",
    )


@router.get("/counts", auth=READ_AUTH, summary="Registered households and individuals by area and status")
def counts(request, filters: Query[CountFilter], page: Query[PageParams]):
    """As of each operation's latest assistance publication; small cells null."""
    qs = (
        published_counts()
        .filter(filters.q())
        .order_by("publication__operation_id", "admin1_code", "admin_level", "admin2_code", "id")
    )
    return hapi_page(
        _Rows(
            qs,
            lambda c: count_row(
                c, operation=c.publication.operation, as_of=c.publication.published_at.date()
            ),
        ),
        page,
        fields=COUNT_FIELDS,
        filename="registration-counts",
    )

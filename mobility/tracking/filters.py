"""The filter of tracking figures, declared once: pages, CSV downloads, JSON endpoints and the API use it."""

from __future__ import annotations

from typing import Literal

import pydantic
from django.db.models import Q
from ninja import Field, Schema

from mobility.core.models import PopulationGroup

from .models import AssessmentType

FILTER_INVALID = "{field}: {value!r} is not allowed ({problem})."

# Short spellings accepted on the pages' query strings (the round comparison's ?level=2&group=IDP).
ALIASES = {
    "round": "reporting_round",
    "level": "admin_level",
    "group": "population_group",
    "type": "assessment_type",
}
INT_FIELDS = {"reporting_round", "admin_level"}


class TrackingFilter(Schema):
    """What a reader of tracking figures may ask for (HAPI vocabulary)."""

    operation: str | None = Field(None, description="Operation slug or name")
    reporting_round: int | None = Field(None, ge=1, description="Round number; default the latest")
    population_group: PopulationGroup | None = Field(None, description="Population group code, e.g. IDP")
    admin_level: Literal[0, 1, 2, 3] | None = Field(None, description="Admin level of the areas")
    admin1_code: str | None = Field(None, description="Only areas in this admin-1 p-code")
    admin2_code: str | None = Field(None, description="Only areas in this admin-2 p-code")
    assessment_type: AssessmentType | None = Field(None, description="BA, BSA or SA")

    @classmethod
    def from_query(cls, params, **fixed) -> TrackingFilter:
        """Build from a request's GET parameters (empty values ignored); raises ValueError naming the field."""
        data = {}
        for key, value in params.items():
            name = ALIASES.get(key, key)
            if name in cls.model_fields and str(value).strip() != "":
                text = str(value).strip()
                # Query strings are text; Literal[0, 1, 2, 3] wants the number.
                data[name] = int(text) if name in INT_FIELDS and text.isdigit() else text
        data.update({k: v for k, v in fixed.items() if v is not None})
        try:
            return cls.model_validate(data)
        except pydantic.ValidationError as exc:
            error = exc.errors()[0]
            field = str(error["loc"][0]) if error.get("loc") else "?"
            raise ValueError(
                FILTER_INVALID.format(field=field, value=data.get(field), problem=error["msg"])
            ) from None

    def _common(self) -> Q:
        q = Q()
        if self.population_group:
            q &= Q(population_group=self.population_group)
        if self.admin_level is not None:
            q &= Q(admin_level=self.admin_level)
        if self.admin1_code:
            q &= Q(admin1_code=self.admin1_code.strip())
        if self.admin2_code:
            q &= Q(admin2_code=self.admin2_code.strip())
        if self.assessment_type:
            q &= Q(assessment_type=self.assessment_type)
        return q

    def area_figure_q(self) -> Q:
        """The filter on AreaFigure (staff reads; drafts included)."""
        q = self._common()
        if self.operation:
            q &= Q(operation__slug=self.operation) | Q(operation__name=self.operation)
        if self.reporting_round is not None:
            q &= Q(round__number=self.reporting_round)
        return q

    def published_cell_q(self) -> Q:
        """The filter on PublishedCell totals of current releases (public reads)."""
        q = self._common() & Q(release__status="current", breakdown="", location_code="")
        if self.operation:
            q &= Q(release__operation__slug=self.operation) | Q(release__operation__name=self.operation)
        if self.reporting_round is not None:
            q &= Q(release__reporting_round=self.reporting_round)
        return q

    def query_string(self, **changes) -> str:
        """The filter as a query string (without operation), e.g. for links and the CSV download."""
        from urllib.parse import urlencode

        values = {**self.model_dump(exclude={"operation"}), **changes}
        return urlencode({k: v for k, v in values.items() if v is not None and v != ""})

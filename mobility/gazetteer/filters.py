"""Filters for admin areas, declared once and used by the API, the pages and the CLI."""

from __future__ import annotations

from django.db.models import Q
from ninja import Field, Schema


class AreaFilter(Schema):
    """What a reader of the gazetteer may ask for (HAPI metadata vocabulary)."""

    location_code: str | None = Field(None, description="ISO3 country code, e.g. MOZ")
    location_name: str | None = Field(None, description="Country name (case-insensitive, part of the name)")
    # An int with bounds, not Literal[0, ..., 5]: a query string's "1" is text, which a Literal refuses.
    admin_level: int | None = Field(None, ge=0, le=5, description="Admin level of the areas")
    admin1_code: str | None = Field(None, description="Admin-1 p-code, e.g. MZ01")
    admin1_name: str | None = Field(None, description="Admin-1 name (accents and case ignored)")
    admin2_code: str | None = Field(None, description="Admin-2 p-code, e.g. MZ0101")
    admin2_name: str | None = Field(None, description="Admin-2 name (accents and case ignored)")
    parent_code: str | None = Field(None, description="Only the direct children of this p-code")
    q: str | None = Field(None, description="Search by name (any language) or p-code prefix")

    def q_object(self) -> Q:
        q = Q(version__is_current=True)
        if self.location_code:
            q &= Q(country_iso3=self.location_code.strip().upper())
        if self.admin_level is not None:
            q &= Q(level=self.admin_level)
        if self.parent_code:
            q &= Q(parent__pcode=self.parent_code.strip())
        for level in (1, 2):
            code = getattr(self, f"admin{level}_code")
            name = getattr(self, f"admin{level}_name")
            if code:
                q &= _at_level(level, Q(pcode=code.strip()))
            if name:
                q &= _at_level(level, Q(name_normalized__contains=_fold(name)))
        if self.q:
            text = self.q.strip()
            q &= Q(pcode__istartswith=text) | Q(name_normalized__contains=_fold(text))
        return q


def _at_level(level: int, condition: Q) -> Q:
    """The area itself at `level`, or its ancestor at that level (up to three levels up)."""
    result = Q(level=level) & condition
    prefix = ""
    for up in range(1, 4):
        prefix += "parent__"
        result |= Q(level=level + up) & Q(**{f"{prefix}level": level}) & _prefixed(condition, prefix)
    return result


def _prefixed(condition: Q, prefix: str) -> Q:
    out = Q()
    for child in condition.children:
        key, value = child
        out &= Q(**{f"{prefix}{key}": value})
    return out


def _fold(text: str) -> str:
    from .matching import normalize_name  # the same normaliser that filled name_normalized

    return normalize_name(text)

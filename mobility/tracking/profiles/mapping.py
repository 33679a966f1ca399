"""The profile vocabulary (the fields a profile may map) and the validated ``Profile``."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError

from mobility.core.models import PopulationGroup
from mobility.core.sadd import AgeBands

from ..models import AssessmentType
from .messages import PROFILE_INVALID, PROFILE_NO_FIGURE, PROFILE_NO_PLACE

LEVELS = {"admin1": 1, "admin2": 2, "admin3": 3, "site": 4}

# population group → the column prefix used in profiles and the template
GROUP_PREFIX = {
    PopulationGroup.IDP: "idp",
    PopulationGroup.RETURNEE_IDP: "returnee_idp",
    PopulationGroup.RETURNEE_ABROAD: "returnee_abroad",
    PopulationGroup.MIGRANT: "migrant",
    PopulationGroup.REFUGEE: "refugee",
    PopulationGroup.HOST: "host",
}
PREFIX_GROUP = {v: k for k, v in GROUP_PREFIX.items()}

PLACE_FIELDS = [
    "admin1_name",
    "admin1_code",
    "admin2_name",
    "admin2_code",
    "admin3_name",
    "admin3_code",
    "site_code",
    "site_name",
    "latitude",
    "longitude",
    "reporting_date",
    "key_informants",
]
DETAIL_FIELDS = [
    "displacement_reason",
    "origin_admin1_name",
    "origin_admin1_code",
    "origin_admin2_name",
    "origin_admin2_code",
    "shelter_type",
    "displacement_start",
]


def group_fields() -> list[str]:
    out = []
    for prefix in GROUP_PREFIX.values():
        out += [f"{prefix}_households", f"{prefix}_individuals"]
    return out


def sadd_fields(bands: AgeBands | None = None) -> list[str]:
    bands = bands or AgeBands.default()
    return ["idp_males", "idp_females"] + [
        f"idp_{sex}_{label}" for sex in ("female", "male") for label in bands.labels()
    ]


def vocabulary_fields(bands: AgeBands | None = None) -> list[str]:
    """Every field a profile may map, in the order the mapping page shows them."""
    return PLACE_FIELDS + group_fields() + sadd_fields(bands) + DETAIL_FIELDS


@dataclass
class Profile:
    """A validated mapping (see the module docstring)."""

    columns: dict[str, str]
    sheet: str = "auto"
    header_row: int | str = "auto"
    level: str = "admin2"
    constants: dict = field(default_factory=dict)
    skip_rows_where: list[dict] = field(default_factory=list)
    pcode_prefix: dict[str, str] = field(default_factory=dict)
    age_bands: list[str] = field(default_factory=list)
    duplicates: str = "error"
    sadd_mismatch: str = "error"
    day_first: bool = True
    name: str = ""

    @classmethod
    def from_mapping(cls, mapping: dict, *, name: str = "") -> Profile:
        if not isinstance(mapping, dict):
            raise ValidationError(PROFILE_INVALID.format(reason="a profile is a JSON object"))
        known = {
            "sheet",
            "header_row",
            "level",
            "columns",
            "constants",
            "skip_rows_where",
            "pcode_prefix",
            "age_bands",
            "duplicates",
            "sadd_mismatch",
            "day_first",
            "label",
            "description",
        }
        extra = set(mapping) - known
        if extra:
            raise ValidationError(PROFILE_INVALID.format(reason=f"unknown keys {sorted(extra)}"))
        columns = {k: str(v) for k, v in (mapping.get("columns") or {}).items() if v not in (None, "")}
        bands = AgeBands.parse(mapping["age_bands"]) if mapping.get("age_bands") else AgeBands.default()
        allowed = set(vocabulary_fields(bands))
        unknown = sorted(set(columns) - allowed)
        if unknown:
            raise ValidationError(PROFILE_INVALID.format(reason=f"unknown fields {unknown}"))
        level = mapping.get("level", "admin2")
        if level not in LEVELS:
            raise ValidationError(PROFILE_INVALID.format(reason=f"level must be one of {', '.join(LEVELS)}"))
        header_row = mapping.get("header_row", "auto")
        if header_row != "auto" and (not isinstance(header_row, int) or header_row < 1):
            raise ValidationError(PROFILE_INVALID.format(reason='header_row is a row number or "auto"'))
        constants = dict(mapping.get("constants") or {})
        atype = constants.get("assessment_type", AssessmentType.BASELINE_AREA)
        if atype not in AssessmentType.values:
            raise ValidationError(
                PROFILE_INVALID.format(reason=f"assessment_type must be one of {AssessmentType.values}")
            )
        for key, value in (
            ("duplicates", mapping.get("duplicates", "error")),
            ("sadd_mismatch", mapping.get("sadd_mismatch", "error")),
        ):
            if value not in (("error", "sum", "number") if key == "duplicates" else ("error", "warn")):
                raise ValidationError(PROFILE_INVALID.format(reason=f"{key} cannot be {value!r}"))
        if not any(f.endswith(("_households", "_individuals")) for f in columns):
            raise ValidationError(PROFILE_INVALID.format(reason=PROFILE_NO_FIGURE))
        place = _place_fields(level)
        if not any(f in columns for f in place):
            raise ValidationError(
                PROFILE_INVALID.format(reason=PROFILE_NO_PLACE.format(level=level, fields=" or ".join(place)))
            )
        rules = mapping.get("skip_rows_where") or []
        for rule in rules:
            try:
                re.compile(rule["matches"])
            except (KeyError, TypeError, re.error) as exc:
                raise ValidationError(PROFILE_INVALID.format(reason=f"skip rule {rule!r}: {exc}"))
        return cls(
            columns=columns,
            sheet=mapping.get("sheet") or "auto",
            header_row=header_row,
            level=level,
            constants=constants,
            skip_rows_where=rules,
            pcode_prefix=dict(mapping.get("pcode_prefix") or {}),
            age_bands=list(mapping.get("age_bands") or []),
            duplicates=mapping.get("duplicates", "error"),
            sadd_mismatch=mapping.get("sadd_mismatch", "error"),
            day_first=bool(mapping.get("day_first", True)),
            name=name,
        )

    @property
    def bands(self) -> AgeBands:
        return AgeBands.parse(self.age_bands) if self.age_bands else AgeBands.default()

    @property
    def assessment_type(self) -> str:
        return self.constants.get("assessment_type", AssessmentType.BASELINE_AREA)


def _place_fields(level: str) -> list[str]:
    if level == "site":
        return ["site_code", "site_name"]
    n = LEVELS[level]
    return [f"admin{n}_code", f"admin{n}_name"]

"""The values every tracking importer produces: one record per place × round × assessment type.

Importers (DTM API v3 JSON, HDX CSV, baseline workbooks through a source profile, the project's own
template, form submissions) turn their rows into ``AssessmentRecord`` objects with a
``RecordBuilder``, which sums rows that belong to the same place, round and population group and
keeps the parts as breakdowns. ``tracking.services.assessments_write`` stores them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass(slots=True)
class BreakdownPart:
    displacement_reason: str
    individuals: int
    hazard_type: str = ""
    provider_reason: str = ""
    origin_admin1_code: str = ""
    origin_admin1_name: str = ""
    origin_admin2_code: str = ""
    origin_admin2_name: str = ""
    households: int | None = None
    males: int | None = None
    females: int | None = None
    source_ref: str = ""

    def key(self) -> tuple:
        # The provider's own reason text is part of the key: DTM publishes "Conflict" and
        # "Conflict; Natural disaster" as separate parts of one figure, both mapped to conflict.
        return (
            self.displacement_reason,
            self.hazard_type,
            self.provider_reason,
            self.origin_admin1_code,
            self.origin_admin2_code,
        )


@dataclass(slots=True)
class FigureRecord:
    population_group: str
    individuals: int = 0
    households: int | None = None
    males: int | None = None
    females: int | None = None
    sadd: dict = field(default_factory=dict)
    shelter: dict = field(default_factory=dict)
    displacement_start: dt.date | None = None
    displacement_end: dt.date | None = None
    parts: list[BreakdownPart] = field(default_factory=list)


@dataclass(slots=True)
class IndicatorRecord:
    sector: str
    indicator: str
    kind: str  # number | boolean | choice | text
    value_number: float | None = None
    value_boolean: bool | None = None
    value_text: str = ""


@dataclass(slots=True)
class AssessmentRecord:
    operation_id: int
    round_id: int
    assessment_type: str
    place_key: str
    country_iso3: str
    admin_level: int
    reporting_date: dt.date
    admin1_code: str = ""
    admin2_code: str = ""
    admin3_code: str = ""
    location_id: int | None = None
    provider_admin1_name: str = ""
    provider_admin2_name: str = ""
    provider_admin3_name: str = ""
    provider_location_name: str = ""
    key_informants: int | None = None
    site_profile: dict = field(default_factory=dict)
    top_needs: list = field(default_factory=list)
    source: str = ""
    source_ref: str = ""
    figures: dict[str, FigureRecord] = field(default_factory=dict)
    indicators: list[IndicatorRecord] = field(default_factory=list)
    first_row: int | None = None  # where the record starts in the file, for messages

    def identity(self) -> tuple:
        return (self.round_id, self.assessment_type, self.place_key)


PARTS_SCANNED = 16  # below this many parts a figure's list is scanned; above, indexed


def _add(a: int | None, b: int | None) -> int | None:
    """Sum that stays unknown once any part is unknown (a partial sum would look complete)."""
    if a is None or b is None:
        return None
    return a + b


class RecordBuilder:
    """Collects rows into records: rows of the same place, round, type and group are summed, once."""

    def __init__(self):
        self.records: dict[tuple, AssessmentRecord] = {}
        self._group_rows: dict[tuple, int] = {}
        # Parts of figures that have many (id(figure) → {part key: part}): finding the part to sum
        # into stays O(1) however many reasons × origins a figure has.
        self._part_index: dict[int, dict[tuple, BreakdownPart]] = {}

    def record(self, template: AssessmentRecord) -> AssessmentRecord:
        """The record with this identity, created from the template the first time."""
        existing = self.records.get(template.identity())
        if existing is None:
            self.records[template.identity()] = template
            return template
        refs = [r for r in (existing.source_ref, template.source_ref) if r]
        if template.source_ref and template.source_ref not in existing.source_ref.split(","):
            existing.source_ref = ",".join(refs)[:200]
        return existing

    def add_figure(
        self,
        record: AssessmentRecord,
        *,
        population_group: str,
        individuals: int,
        households: int | None = None,
        males: int | None = None,
        females: int | None = None,
        part: BreakdownPart | None = None,
        sadd: dict | None = None,
        shelter: dict | None = None,
    ) -> FigureRecord:
        """Add one row's count to the record's figure for the group (summing repeated rows)."""
        figure = record.figures.get(population_group)
        key = (record.identity(), population_group)
        if figure is None:
            figure = FigureRecord(
                population_group=population_group,
                individuals=individuals,
                households=households,
                males=males,
                females=females,
                sadd=dict(sadd or {}),
                shelter=dict(shelter or {}),
            )
            record.figures[population_group] = figure
            self._group_rows[key] = 1
        else:
            figure.individuals += individuals
            figure.households = _add(figure.households, households)
            figure.males = _add(figure.males, males)
            figure.females = _add(figure.females, females)
            for k, v in (sadd or {}).items():
                figure.sadd[k] = _add(figure.sadd.get(k, 0), v)
            for k, v in (shelter or {}).items():
                figure.shelter[k] = figure.shelter.get(k, 0) + v
            self._group_rows[key] += 1
        if part is not None:
            existing = self._find_part(figure, part.key())
            if existing is not None:
                existing.individuals += part.individuals
                existing.households = _add(existing.households, part.households)
                existing.males = _add(existing.males, part.males)
                existing.females = _add(existing.females, part.females)
                if part.source_ref:
                    existing.source_ref = ",".join(filter(None, [existing.source_ref, part.source_ref]))[:200]
            else:
                figure.parts.append(part)
                index = self._part_index.get(id(figure))
                if index is not None:
                    index[part.key()] = part
        return figure

    def _find_part(self, figure: FigureRecord, key: tuple) -> BreakdownPart | None:
        index = self._part_index.get(id(figure))
        if index is not None:
            return index.get(key)
        if len(figure.parts) < PARTS_SCANNED:
            for existing in figure.parts:
                if existing.key() == key:
                    return existing
            return None
        index = self._part_index[id(figure)] = {}
        for existing in figure.parts:
            index.setdefault(existing.key(), existing)
        return index.get(key)

    def results(self) -> list[AssessmentRecord]:
        return list(self.records.values())

"""Reads of tracking figures for the dashboard, the area pages and the round comparison.

Two sources, one shape: members who may view an operation read the analytics cells (``AreaFigure``,
drafts included and marked); everyone else reads ``PublishedCell`` of current releases only, where a
suppressed cell has no value. Every reader here reads summary cells, never assessment rows, except
the per-area breakdowns and sites of one area page.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date

from django.db.models import Exists, OuterRef, Q, Sum

from mobility.core.models import Operation, PopulationGroup, Round
from mobility.gazetteer.models import AdminArea, Location
from mobility.publishing.models import PublishedCell, Release

from .filters import TrackingFilter
from .models import AreaFigure, Assessment, AssessmentType, FigureBreakdown

ROUND_NOT_AVAILABLE = "Round {number} is not available here (public pages show published rounds only)."
TYPE_ORDER = [AssessmentType.BASELINE_AREA, AssessmentType.BASELINE_SUBAREA, AssessmentType.SITE]
GROUP_ORDER = list(PopulationGroup.values)
TOP_AREAS = 10
MOVERS = 5
CLASSES = 5


@dataclass(frozen=True)
class RoundRef:
    """A round as a reader sees it: an analytics round (staff) or a current release (public)."""

    number: int
    key: int  # Round.pk for staff reads, Release.pk for public reads
    draft: bool
    status: str
    start_date: date | None = None
    end_date: date | None = None
    name: str = ""


@dataclass
class Cell:
    pcode: str
    admin_level: int
    admin1_code: str
    admin2_code: str
    individuals: int | None
    households: int | None = None
    suppressed: bool = False
    name: str = ""


def _level_q(level: int, pcode: str, prefix: str = "") -> Q:
    """Cells of one area (PublishedCell has no pcode column: the deepest code of its level is it)."""
    if level == 0:
        return Q(**{f"{prefix}country_iso3": pcode})
    return Q(**{f"{prefix}admin_level": level, f"{prefix}admin{level}_code": pcode})


def _within_q(level: int, pcode: str, prefix: str = "") -> Q:
    """Anything inside an area (the area itself included)."""
    if level == 0:
        return Q(**{f"{prefix}country_iso3": pcode})
    return Q(**{f"{prefix}admin{level}_code": pcode})


class _Source:
    published_only: bool

    def __init__(self, operation: Operation):
        self.operation = operation

    def rounds(self) -> list[RoundRef]:
        raise NotImplementedError

    def _cells_qs(self, keys: list[int]):
        raise NotImplementedError

    def _pcode(self, row: dict) -> str:
        raise NotImplementedError

    def _values(self) -> tuple[str, ...]:
        return ("admin_level", "admin1_code", "admin2_code", "individuals", "households", "population_group")

    def _cell(self, row: dict) -> Cell:
        suppressed = bool(row.get("suppressed"))
        return Cell(
            pcode=self._pcode(row),
            admin_level=row["admin_level"],
            admin1_code=row["admin1_code"],
            admin2_code=row["admin2_code"],
            individuals=None if suppressed else row["individuals"],
            households=None if suppressed else row["households"],
            suppressed=suppressed,
        )

    def choices(self, key: int) -> list[tuple[str, str, int]]:
        """(assessment type, group, admin level) present in a round."""
        return sorted(
            set(
                self._cells_qs([key])
                .order_by()
                .values_list("assessment_type", "population_group", "admin_level")
                .distinct()
            )
        )

    def cells(
        self, key: int, *, atype: str, group: str | None, level: int, filters: TrackingFilter
    ) -> list[Cell]:
        qs = self._cells_qs([key]).filter(assessment_type=atype, admin_level=level)
        if group:
            qs = qs.filter(population_group=group)
        if filters.admin1_code:
            qs = qs.filter(admin1_code=filters.admin1_code)
        if filters.admin2_code:
            qs = qs.filter(admin2_code=filters.admin2_code)
        return [self._cell(row) for row in qs.order_by().values(*self._values())]

    def area_series(
        self, keys: list[int], *, atype: str, level: int, pcode: str
    ) -> list[tuple[int, str, Cell]]:
        """(round key, group, cell) of one area across rounds."""
        qs = self._cells_qs(keys).filter(_level_q(level, pcode), assessment_type=atype, admin_level=level)
        return [
            (row[self.key_field], row["population_group"], self._cell(row))
            for row in qs.order_by().values(self.key_field, *self._values())
        ]


class _StaffSource(_Source):
    """Analytics cells of every round that is not superseded; drafts are marked."""

    published_only = False
    key_field = "round_id"

    def rounds(self) -> list[RoundRef]:
        qs = (
            Round.objects.filter(operation=self.operation)
            .exclude(status=Round.Status.SUPERSEDED)
            .annotate(has_cells=Exists(AreaFigure.objects.filter(round_id=OuterRef("pk"))))
            .filter(has_cells=True)
            .order_by("number", "version")
        )
        by_number = {
            r.number: RoundRef(
                number=r.number,
                key=r.pk,
                draft=r.status != Round.Status.PUBLISHED,
                status=r.status,
                start_date=r.start_date,
                end_date=r.end_date,
                name=r.name,
            )
            for r in qs
        }
        return [by_number[n] for n in sorted(by_number)]

    def _cells_qs(self, keys):
        return AreaFigure.objects.filter(round_id__in=keys)

    def _pcode(self, row):
        return row["pcode"]

    def _values(self):
        return (*super()._values(), "pcode")


class _PublicSource(_Source):
    """Published, disclosure-checked totals of current releases."""

    published_only = True
    key_field = "release_id"

    def rounds(self) -> list[RoundRef]:
        qs = (
            Release.objects.filter(operation=self.operation, status=Release.Status.CURRENT)
            .select_related("round")
            .order_by("reporting_round")
        )
        return [
            RoundRef(
                number=r.reporting_round,
                key=r.pk,
                draft=False,
                status="published",
                start_date=r.round.start_date,
                end_date=r.round.end_date,
                name=r.round.name,
            )
            for r in qs
        ]

    def _cells_qs(self, keys):
        return PublishedCell.objects.filter(release_id__in=keys, breakdown="", location_code="")

    def _pcode(self, row):
        level = row["admin_level"]
        return row["country_iso3"] if level == 0 else row[f"admin{level}_code"]

    def _values(self):
        return (*super()._values(), "country_iso3", "admin3_code", "suppressed")


def source_for(operation: Operation, *, published_only: bool) -> _Source:
    return _PublicSource(operation) if published_only else _StaffSource(operation)


def round_list(*, operation: Operation, published_only: bool) -> list[RoundRef]:
    """Rounds with figures, oldest first: published releases for the public, every round for staff."""
    return source_for(operation, published_only=published_only).rounds()


def area_names(*, country_iso3: str, level: int | None = None, pcodes=None) -> dict[str, str]:
    """P-code → name from the current gazetteer."""
    qs = AdminArea.objects.filter(version__is_current=True, country_iso3=country_iso3)
    if level is not None:
        qs = qs.filter(level=level)
    if pcodes is not None:
        qs = qs.filter(pcode__in=list(pcodes))
    return dict(qs.values_list("pcode", "name"))


def class_breaks(values: list[int], classes: int = CLASSES) -> list[int]:
    """Upper bounds of up to `classes` quantile classes (distinct, ascending) for a choropleth legend."""
    data = sorted(v for v in values if v is not None)
    if not data:
        return []
    breaks = []
    for i in range(1, classes + 1):
        index = min(len(data) - 1, math.ceil(i * len(data) / classes) - 1)
        value = data[index]
        if not breaks or value > breaks[-1]:
            breaks.append(value)
    return breaks


@dataclass
class Dashboard:
    """Everything the dashboard shows for one operation, round, type, group and level."""

    operation: Operation
    published_only: bool
    rounds: list[RoundRef]
    round: RoundRef | None = None
    previous: RoundRef | None = None
    assessment_type: str = ""
    assessment_types: list[str] = field(default_factory=list)
    population_group: str = ""
    groups: list[str] = field(default_factory=list)
    admin_level: int = 1
    levels: list[int] = field(default_factory=list)
    cells: list[Cell] = field(default_factory=list)
    headline: list[dict] = field(default_factory=list)
    breaks: list[int] = field(default_factory=list)

    @property
    def top(self) -> list[Cell]:
        return self.cells[:TOP_AREAS]

    @property
    def draft(self) -> bool:
        return bool(self.round and self.round.draft)


def _pick_round(rounds: list[RoundRef], number: int | None) -> RoundRef | None:
    if not rounds:
        return None
    if number is None:
        return rounds[-1]
    for r in rounds:
        if r.number == number:
            return r
    raise LookupError(ROUND_NOT_AVAILABLE.format(number=number))


def _previous(rounds: list[RoundRef], current: RoundRef) -> RoundRef | None:
    earlier = [r for r in rounds if r.number < current.number]
    return earlier[-1] if earlier else None


def _sort_cells(cells: list[Cell]) -> list[Cell]:
    return sorted(cells, key=lambda c: (c.individuals is None, -(c.individuals or 0), c.name, c.pcode))


def dashboard(*, operation: Operation, filters: TrackingFilter, published_only: bool) -> Dashboard:
    """The dashboard's figures; raises LookupError when the asked round is not available to this reader."""
    source = source_for(operation, published_only=published_only)
    result = Dashboard(operation=operation, published_only=published_only, rounds=source.rounds())
    current = _pick_round(result.rounds, filters.reporting_round)
    if current is None:
        return result
    result.round = current
    result.previous = _previous(result.rounds, current)
    present = source.choices(current.key)
    types = {t for t, _, _ in present}
    result.assessment_types = [t for t in TYPE_ORDER if t in types]
    atype = filters.assessment_type if filters.assessment_type in types else None
    result.assessment_type = atype or (result.assessment_types[0] if result.assessment_types else "BA")
    groups = {g for t, g, _ in present if t == result.assessment_type}
    result.groups = [g for g in GROUP_ORDER if g in groups]
    group = filters.population_group if filters.population_group in groups else None
    result.population_group = group or (
        PopulationGroup.IDP if PopulationGroup.IDP in groups else (result.groups or [PopulationGroup.IDP])[0]
    )
    result.levels = sorted({lvl for t, _, lvl in present if t == result.assessment_type and lvl > 0})
    if filters.admin_level in result.levels:
        result.admin_level = filters.admin_level
    else:
        mapped = [lvl for lvl in result.levels if lvl <= 2]
        result.admin_level = (mapped or result.levels or [1])[-1]
    cells = source.cells(
        current.key,
        atype=result.assessment_type,
        group=result.population_group,
        level=result.admin_level,
        filters=filters,
    )
    names = area_names(country_iso3=operation.country_iso3, level=result.admin_level)
    for cell in cells:
        cell.name = names.get(cell.pcode, cell.pcode)
    result.cells = _sort_cells(cells)
    result.breaks = class_breaks([c.individuals for c in cells])
    result.headline = _headline(source, operation, current, result.previous, result.assessment_type)
    return result


def _headline(
    source: _Source, operation, current: RoundRef, previous: RoundRef | None, atype: str
) -> list[dict]:
    """Total per group in the round (admin level 0) and the change since the previous round."""
    keys = [current.key] + ([previous.key] if previous else [])
    totals: dict[tuple[int, str], Cell] = {}
    for key, group, cell in source.area_series(keys, atype=atype, level=0, pcode=operation.country_iso3):
        totals[(key, group)] = cell
    rows = []
    for group in GROUP_ORDER:
        now = totals.get((current.key, group))
        if now is None:
            continue
        before = totals.get((previous.key, group)) if previous else None
        rows.append(
            {
                "group": group,
                "label": PopulationGroup(group).label,
                "individuals": now.individuals,
                "suppressed": now.suppressed,
                **_change(before.individuals if before else None, now.individuals),
            }
        )
    return rows


def _change(a: int | None, b: int | None) -> dict:
    if a is None or b is None:
        return {"change": None, "change_pct": None}
    return {"change": b - a, "change_pct": round(100.0 * (b - a) / a, 1) if a else None}


def trend(*, operation: Operation, filters: TrackingFilter, published_only: bool) -> dict:
    """One area's figure (the country, or filters.admin2_code / admin1_code) per group across rounds."""
    source = source_for(operation, published_only=published_only)
    rounds = source.rounds()
    if filters.admin2_code:
        level, pcode = 2, filters.admin2_code
    elif filters.admin1_code:
        level, pcode = 1, filters.admin1_code
    else:
        level, pcode = 0, operation.country_iso3
    return area_trend(source=source, rounds=rounds, level=level, pcode=pcode, atype=filters.assessment_type)


def area_trend(*, source: _Source, rounds: list[RoundRef], level: int, pcode: str, atype: str | None) -> dict:
    """Per group, the area's figure in each round (None where absent or suppressed)."""
    keys = [r.key for r in rounds]
    rows = source.area_series(keys, atype=atype or _default_type(source, rounds), level=level, pcode=pcode)
    by = {(key, group): cell for key, group, cell in rows}
    groups = [g for g in GROUP_ORDER if any(gr == g for _, gr, _ in rows)]
    return {
        "pcode": pcode,
        "admin_level": level,
        "rounds": [r.number for r in rounds],
        "labels": [str(r.number) for r in rounds],
        "draft": [r.draft for r in rounds],
        "series": [
            {
                "group": g,
                "label": str(PopulationGroup(g).label),
                "values": [by[(r.key, g)].individuals if (r.key, g) in by else None for r in rounds],
                "suppressed": [bool((r.key, g) in by and by[(r.key, g)].suppressed) for r in rounds],
            }
            for g in groups
        ],
    }


def _default_type(source: _Source, rounds: list[RoundRef]) -> str:
    if not rounds:
        return AssessmentType.BASELINE_AREA
    types = {t for t, _, _ in source.choices(rounds[-1].key)}
    return next((t for t in TYPE_ORDER if t in types), AssessmentType.BASELINE_AREA)


# --- area page ------------------------------------------------------------------------------------


@dataclass
class AreaPage:
    operation: Operation
    pcode: str
    name: str
    admin_level: int
    parent: AdminArea | None
    rounds: list[RoundRef]
    round: RoundRef | None
    assessment_type: str
    population_group: str
    trend: dict
    groups: list[dict]
    reasons: list[dict]
    reasons_partial: bool
    children: list[Cell]
    sites: list[dict]
    bbox: list[float] | None = None

    @property
    def draft(self) -> bool:
        return bool(self.round and self.round.draft)


def area_page(*, operation: Operation, pcode: str, filters: TrackingFilter, published_only: bool) -> AreaPage:
    """One area: its figures across rounds, its groups and reasons, sub-areas and sites in a round."""
    source = source_for(operation, published_only=published_only)
    rounds = source.rounds()
    current = _pick_round(rounds, filters.reporting_round)
    area = (
        AdminArea.objects.filter(version__is_current=True, country_iso3=operation.country_iso3, pcode=pcode)
        .select_related("parent")
        .defer("geometry", "parent__geometry")
        .first()
    )
    if pcode == operation.country_iso3:
        level = 0
    elif area is not None:
        level = area.level
    else:
        level = _level_of(pcode, source, rounds)
    atype = filters.assessment_type or _default_type(source, rounds)
    group = filters.population_group or PopulationGroup.IDP
    series = area_trend(source=source, rounds=rounds, level=level, pcode=pcode, atype=atype)
    page = AreaPage(
        operation=operation,
        pcode=pcode,
        name=area.name if area else pcode,
        admin_level=level,
        parent=area.parent if area else None,
        rounds=rounds,
        round=current,
        assessment_type=atype,
        population_group=group,
        trend=series,
        groups=[],
        reasons=[],
        reasons_partial=False,
        children=[],
        sites=[],
        bbox=area.bbox if area else None,
    )
    if current is None:
        return page
    index = series["rounds"].index(current.number)
    page.groups = [
        {
            "group": s["group"],
            "label": s["label"],
            "individuals": s["values"][index],
            "suppressed": s["suppressed"][index],
        }
        for s in series["series"]
        if s["values"][index] is not None or s["suppressed"][index]
    ]
    if level < 3:
        child_filter = TrackingFilter(**({f"admin{level}_code": pcode} if level in (1, 2) else {}))
        children = source.cells(current.key, atype=atype, group=group, level=level + 1, filters=child_filter)
        names = area_names(
            country_iso3=operation.country_iso3, level=level + 1, pcodes=[c.pcode for c in children]
        )
        for cell in children:
            cell.name = names.get(cell.pcode, cell.pcode)
        page.children = _sort_cells(children)
    if published_only:
        page.reasons, page.reasons_partial = _public_reasons(current, atype, group, level, pcode)
        page.sites = _public_sites(current, atype, group, level, pcode)
    else:
        page.reasons = _staff_reasons(current, atype, group, level, pcode)
        page.sites = _staff_sites(current, atype, group, level, pcode)
    return page


def _level_of(pcode: str, source: _Source, rounds: list[RoundRef]) -> int:
    if not rounds or not isinstance(source, _StaffSource):
        for level in (1, 2, 3):
            if PublishedCell.objects.filter(**{f"admin{level}_code": pcode, "admin_level": level}).exists():
                return level
        return 1
    row = (
        AreaFigure.objects.filter(pcode=pcode, round_id__in=[r.key for r in rounds])
        .values("admin_level")
        .first()
    )
    return row["admin_level"] if row else 1


def _reason_label(code: str) -> str:
    from .models import DisplacementReason

    try:
        return str(DisplacementReason(code).label)
    except ValueError:
        return code or str(DisplacementReason.UNKNOWN.label)


def _staff_reasons(current: RoundRef, atype: str, group: str, level: int, pcode: str) -> list[dict]:
    """FigureBreakdown parts summed by reason, from the deepest level assessed inside the area only."""
    qs = FigureBreakdown.objects.filter(
        _within_q(level, pcode, "figure__assessment__"),
        figure__assessment__round_id=current.key,
        figure__assessment__assessment_type=atype,
        figure__population_group=group,
        figure__assessment__admin_level__gte=level,
    )
    rows = list(
        qs.order_by()
        .values("figure__assessment__admin_level", "displacement_reason")
        .annotate(individuals=Sum("individuals"))
    )
    if not rows:
        return []
    deepest = max(r["figure__assessment__admin_level"] for r in rows)
    out = [
        {
            "reason": r["displacement_reason"],
            "label": _reason_label(r["displacement_reason"]),
            "individuals": r["individuals"],
        }
        for r in rows
        if r["figure__assessment__admin_level"] == deepest
    ]
    return sorted(out, key=lambda r: -r["individuals"])


def _public_reasons(
    current: RoundRef, atype: str, group: str, level: int, pcode: str
) -> tuple[list[dict], bool]:
    """Published reason cells summed (suppressed parts left out and said so), deepest level only."""
    rows = list(
        PublishedCell.objects.filter(
            _within_q(level, pcode),
            release_id=current.key,
            breakdown=PublishedCell.Breakdown.REASON,
            assessment_type=atype,
            population_group=group,
            admin_level__gte=level,
            location_code="",
        )
        .order_by()
        .values("admin_level", "displacement_reason", "individuals", "suppressed")
    )
    if not rows:
        return [], False
    deepest = max(r["admin_level"] for r in rows)
    sums: dict[str, int] = {}
    partial = False
    for r in rows:
        if r["admin_level"] != deepest:
            continue
        if r["suppressed"] or r["individuals"] is None:
            partial = True
            continue
        sums[r["displacement_reason"]] = sums.get(r["displacement_reason"], 0) + r["individuals"]
    out = [{"reason": k, "label": _reason_label(k), "individuals": v} for k, v in sums.items()]
    return sorted(out, key=lambda r: -r["individuals"]), partial


SITES_LIMIT = 500


def _staff_sites(current: RoundRef, atype: str, group: str, level: int, pcode: str) -> list[dict]:
    qs = (
        Assessment.objects.filter(_within_q(level, pcode), round_id=current.key, location__isnull=False)
        .order_by()
        .values(
            "location__code",
            "location__name",
            "location__latitude",
            "location__longitude",
            "assessment_type",
        )
        .annotate(individuals=Sum("figures__individuals", filter=Q(figures__population_group=group)))
        .order_by("location__name")[:SITES_LIMIT]
    )
    return [
        {
            "code": r["location__code"],
            "name": r["location__name"],
            "lat": r["location__latitude"],
            "lon": r["location__longitude"],
            "assessment_type": r["assessment_type"],
            "individuals": r["individuals"],
            "suppressed": False,
        }
        for r in qs
    ]


def _public_sites(current: RoundRef, atype: str, group: str, level: int, pcode: str) -> list[dict]:
    cells = list(
        PublishedCell.objects.filter(
            _within_q(level, pcode),
            release_id=current.key,
            breakdown="",
            population_group=group,
        )
        .exclude(location_code="")
        .order_by()
        .values("location_code", "assessment_type", "individuals", "suppressed")[:SITES_LIMIT]
    )
    locations = {
        loc["code"]: loc
        for loc in Location.objects.filter(code__in=[c["location_code"] for c in cells]).values(
            "code", "name", "latitude", "longitude"
        )
    }
    out = []
    for c in cells:
        loc = locations.get(c["location_code"], {})
        out.append(
            {
                "code": c["location_code"],
                "name": loc.get("name", c["location_code"]),
                "lat": loc.get("latitude"),
                "lon": loc.get("longitude"),
                "assessment_type": c["assessment_type"],
                "individuals": None if c["suppressed"] else c["individuals"],
                "suppressed": bool(c["suppressed"]),
            }
        )
    return sorted(out, key=lambda s: s["name"])


# --- round comparison -------------------------------------------------------------------------------


@dataclass
class CompareRow:
    pcode: str
    name: str
    admin1_code: str
    admin2_code: str
    a: int | None
    b: int | None
    a_suppressed: bool
    b_suppressed: bool
    status: str  # "both" | "new" (only in b) | "gone" (only in a)
    change: int | None = None
    change_pct: float | None = None


@dataclass
class Comparison:
    """Per-area change between two rounds; iterate it for the rows."""

    operation: Operation
    round_a: RoundRef
    round_b: RoundRef
    admin_level: int
    population_group: str
    assessment_type: str
    published_only: bool
    rows: list[CompareRow]

    def __iter__(self):
        return iter(self.rows)

    def __len__(self):
        return len(self.rows)

    @property
    def draft(self) -> bool:
        return self.round_a.draft or self.round_b.draft

    @property
    def new(self) -> list[CompareRow]:
        return [r for r in self.rows if r.status == "new"]

    @property
    def gone(self) -> list[CompareRow]:
        return [r for r in self.rows if r.status == "gone"]

    @property
    def movers(self) -> list[CompareRow]:
        both = [r for r in self.rows if r.change is not None]
        return sorted(both, key=lambda r: (-abs(r.change), r.name))[:MOVERS]

    @property
    def total_a(self) -> int:
        return sum(r.a or 0 for r in self.rows)

    @property
    def total_b(self) -> int:
        return sum(r.b or 0 for r in self.rows)


def round_compare(
    *,
    operation: Operation,
    round_a: int,
    round_b: int,
    level: int,
    group: str,
    published_only: bool,
    assessment_type: str | None = None,
) -> Comparison:
    """Per area at `level`: the group's figure in rounds a and b, absolute and % change, new and gone areas.

    Raises LookupError when a round is not available to this reader (public: not published). A change
    is never computed from a suppressed value.
    """
    source = source_for(operation, published_only=published_only)
    rounds = source.rounds()
    ref_a, ref_b = _pick_round(rounds, round_a), _pick_round(rounds, round_b)
    atype = assessment_type or _default_type(source, [ref_b])
    empty = TrackingFilter()
    cells_a = {
        c.pcode: c for c in source.cells(ref_a.key, atype=atype, group=group, level=level, filters=empty)
    }
    cells_b = {
        c.pcode: c for c in source.cells(ref_b.key, atype=atype, group=group, level=level, filters=empty)
    }
    names = area_names(country_iso3=operation.country_iso3, level=level)
    rows = []
    for pcode in set(cells_a) | set(cells_b):
        a, b = cells_a.get(pcode), cells_b.get(pcode)
        any_cell = b or a
        row = CompareRow(
            pcode=pcode,
            name=names.get(pcode, pcode),
            admin1_code=any_cell.admin1_code,
            admin2_code=any_cell.admin2_code,
            a=a.individuals if a else None,
            b=b.individuals if b else None,
            a_suppressed=bool(a and a.suppressed),
            b_suppressed=bool(b and b.suppressed),
            status="both" if a and b else ("new" if b else "gone"),
        )
        if a and b:
            change = _change(row.a, row.b)
            row.change, row.change_pct = change["change"], change["change_pct"]
        rows.append(row)
    rows.sort(key=lambda r: (r.change is None, -abs(r.change or 0), r.name))
    return Comparison(
        operation=operation,
        round_a=ref_a,
        round_b=ref_b,
        admin_level=level,
        population_group=group,
        assessment_type=atype,
        published_only=published_only,
        rows=rows,
    )

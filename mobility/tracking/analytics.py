"""The analytics table (AreaFigure): one cell per round × assessment type × group × admin area.

Rule that keeps every level free of double counting: an area's figure is the figure reported for
that area itself when the round has one (a DTM admin-0 total, say); otherwise it is the sum of its
child areas' figures. A reported figure is never added to its children's. Where both exist and
disagree, the refresh returns a warning so an officer can look.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Count, Sum

from mobility.core.bulk import rows_insert
from mobility.core.models import Round

from .models import AreaFigure, PopulationFigure

ANALYTICS_DISAGREE = (
    "round {round}, {group} in {pcode}: the reported figure {reported:,} differs from the sum of its "
    "areas {children:,}; the reported figure is used"
)


@dataclass
class _Cell:
    individuals: int = 0
    households: int | None = 0
    males: int | None = 0
    females: int | None = 0
    assessments: int = 0

    def add(self, other: _Cell) -> None:
        self.individuals += other.individuals
        self.households = (
            None
            if self.households is None or other.households is None
            else self.households + other.households
        )
        self.males = None if self.males is None or other.males is None else self.males + other.males
        self.females = None if self.females is None or other.females is None else self.females + other.females
        self.assessments += other.assessments


@transaction.atomic
def analytics_refresh(*, round_id: int) -> list[str]:
    """Rebuild the round's AreaFigure cells from its assessments; returns warnings."""
    round_ = Round.objects.select_related("operation").get(pk=round_id)
    # One aggregate pass in the database: figures of the same type, group and area path summed.
    # A sum stays unknown (None) once any part is unknown, as _Cell.add does: compare the count of
    # known values with the count of rows.
    rows = (
        PopulationFigure.objects.filter(assessment__round_id=round_id)
        .values_list(
            "assessment__assessment_type",
            "population_group",
            "assessment__country_iso3",
            "assessment__admin_level",
            "assessment__admin1_code",
            "assessment__admin2_code",
            "assessment__admin3_code",
        )
        .annotate(
            n=Count("pk"),
            ind=Sum("individuals"),
            hh=Sum("households"),
            hh_n=Count("households"),
            m=Sum("males"),
            m_n=Count("males"),
            f=Sum("females"),
            f_n=Count("females"),
        )
        .order_by()
    )
    # reported[(type, group, path)] = cell reported for exactly that area (several sites may share an area)
    reported: dict[tuple, _Cell] = defaultdict(_Cell)
    for atype, group, country, level, a1, a2, a3, n, ind, hh, hh_n, m, m_n, f, f_n in rows:
        path = (country, a1, a2, a3)[: min(level, 3) + 1]
        cell = _Cell(
            int(ind or 0),
            int(hh) if hh_n == n else None,
            int(m) if m_n == n else None,
            int(f) if f_n == n else None,
            n,
        )
        reported[(atype, group, path)].add(cell)

    # Bottom-up: deepest paths first; an area takes its own reported cell, else the sum of its children.
    children: dict[tuple, _Cell] = defaultdict(_Cell)
    has_children: set[tuple] = set()
    final: dict[tuple, _Cell] = {}
    warnings: list[str] = []
    all_keys = set(reported)
    for atype, group, path in list(reported):
        for depth in range(1, len(path)):
            all_keys.add((atype, group, path[:depth]))
    for key in sorted(all_keys, key=lambda k: -len(k[2])):
        atype, group, path = key
        own = reported.get(key)
        below = children.get(key) if key in has_children else None
        if own is not None:
            cell = own
            if below is not None and below.individuals != own.individuals:
                warnings.append(
                    ANALYTICS_DISAGREE.format(
                        round=round_.number,
                        group=group,
                        pcode=path[-1],
                        reported=own.individuals,
                        children=below.individuals,
                    )
                )
        else:
            cell = below
        final[key] = cell
        if len(path) > 1:
            parent = (atype, group, path[:-1])
            children[parent].add(cell)
            has_children.add(parent)

    AreaFigure.objects.filter(round_id=round_id).delete()
    rows_insert(
        AreaFigure,
        (
            "operation_id",
            "round_id",
            "assessment_type",
            "population_group",
            "country_iso3",
            "admin_level",
            "admin1_code",
            "admin2_code",
            "admin3_code",
            "pcode",
            "individuals",
            "households",
            "males",
            "females",
            "assessments",
        ),
        (
            (
                round_.operation_id,
                round_id,
                atype,
                group,
                path[0],
                len(path) - 1,
                path[1] if len(path) > 1 else "",
                path[2] if len(path) > 2 else "",
                path[3] if len(path) > 3 else "",
                path[-1],
                cell.individuals,
                cell.households,
                cell.males,
                cell.females,
                cell.assessments,
            )
            for (atype, group, path), cell in final.items()
        ),
    )
    return warnings

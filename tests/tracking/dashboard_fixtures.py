"""Two rounds of a small MOZ operation for the dashboard tests: round 1 published, round 2 a draft.

Distinctive numbers make leaks easy to find: round 2's figures (987,654 and friends) must never be in an
anonymous response, nor the secondary-suppressed value 7,319 of Balama in round 1.
"""

from __future__ import annotations

import datetime as dt

from mobility.core.models import PopulationGroup, Round
from mobility.core.services import round_advance, round_create
from mobility.publishing.models import PublishedCell, Release
from mobility.tracking.models import AreaFigure
from mobility.tracking.records import AssessmentRecord, BreakdownPart, RecordBuilder
from mobility.tracking.services import assessments_write

IDP = PopulationGroup.IDP
RET = PopulationGroup.RETURNEE_IDP

# (admin1, admin2) → (IDP, returnees) per round
ROUND_1 = {("MZ01", "MZ0101"): (1200, 300), ("MZ01", "MZ0102"): (7319, 40), ("MZ01", "MZ0103"): (3, 0)}
ROUND_2 = {("MZ01", "MZ0101"): (987654, 500), ("MZ01", "MZ0102"): (8000, 41), ("MZ01", "MZ0104"): (600, 10)}
DRAFT_VALUES = ["987654", "987,654", "996254", "996,254"]  # round 2: Ancuabe and the admin1/national totals
SUPPRESSED_VALUE = 7319


def make_round(operation, number: int, figures: dict, *, status: str = Round.Status.VALIDATING) -> Round:
    round_ = round_create(
        operation=operation,
        number=number,
        start_date=dt.date(2026, number * 3, 1),
        end_date=dt.date(2026, number * 3, 28),
    )
    builder = RecordBuilder()
    for (a1, a2), (idp, ret) in figures.items():
        rec = builder.record(
            AssessmentRecord(
                operation_id=operation.pk,
                round_id=round_.pk,
                assessment_type="BA",
                place_key=a2,
                country_iso3="MOZ",
                admin_level=2,
                admin1_code=a1,
                admin2_code=a2,
                reporting_date=round_.end_date,
            )
        )
        builder.add_figure(
            rec,
            population_group=IDP,
            individuals=idp,
            part=BreakdownPart(displacement_reason="conflict", origin_admin1_code=a1, individuals=idp),
        )
        if ret:
            builder.add_figure(rec, population_group=RET, individuals=ret)
    assessments_write(records=builder.results())
    for step in (Round.Status.COLLECTING, Round.Status.VALIDATING, Round.Status.PUBLISHED):
        if step == Round.Status.PUBLISHED and status != Round.Status.PUBLISHED:
            break
        round_advance(round=round_, to=step)
    return round_


def publish_cells(round_: Round, *, suppress: dict[str, str] | None = None) -> Release:
    """A current release whose total cells copy the round's AreaFigure cells; `suppress` = {pcode: kind}."""
    suppress = suppress or {}
    release = Release.objects.create(
        operation=round_.operation, round=round_, reporting_round=round_.number, status=Release.Status.CURRENT
    )
    cells = []
    for f in AreaFigure.objects.filter(round=round_):
        hidden = f.pcode in suppress and f.population_group == IDP
        cells.append(
            PublishedCell(
                release=release,
                assessment_type=f.assessment_type,
                population_group=f.population_group,
                country_iso3=f.country_iso3,
                admin_level=f.admin_level,
                admin1_code=f.admin1_code,
                admin2_code=f.admin2_code,
                individuals=None if hidden else f.individuals,
                households=None if hidden else f.households,
                suppressed=hidden,
                suppression=suppress.get(f.pcode, "") if hidden else "",
                reporting_date=round_.end_date,
                reference_period_start=round_.start_date,
                reference_period_end=round_.end_date,
            )
        )
    PublishedCell.objects.bulk_create(cells)
    return release


def two_rounds(operation):
    """Round 1 published with Balama (7,319, secondary) and Chiure (3, primary) suppressed; round 2 a draft."""
    r1 = make_round(operation, 1, ROUND_1, status=Round.Status.PUBLISHED)
    publish_cells(r1, suppress={"MZ0102": "secondary", "MZ0103": "primary"})
    r2 = make_round(operation, 2, ROUND_2)
    return r1, r2

"""A small round of Cabo Delgado figures, written through the tracking writer like any import."""

from __future__ import annotations

import datetime as dt

import pytest

from mobility.core.models import PopulationGroup, Round
from mobility.core.services import round_advance, round_create
from mobility.tracking.records import AssessmentRecord, BreakdownPart, RecordBuilder
from mobility.tracking.services import assessments_write
from tests.gazetteer.gazetteer_fixtures import moz_gazetteer_fixture, pak_gazetteer_fixture  # noqa: F401

IDP = PopulationGroup.IDP
BANDS = ["0-4", "5-11", "12-17", "18-59", "60+"]


def sadd(female, male):
    out = {f"female_{b}": v for b, v in zip(BANDS, female, strict=True)}
    out.update({f"male_{b}": v for b, v in zip(BANDS, male, strict=True)})
    return out


def record(round_, codes, *, atype="BA", place_key=None, **kw):
    return AssessmentRecord(
        operation_id=round_.operation_id,
        round_id=round_.pk,
        assessment_type=atype,
        place_key=place_key or codes[-1],
        country_iso3="MOZ",
        admin_level=len(codes),
        reporting_date=kw.pop("reporting_date", dt.date(2026, 1, 28)),
        **{f"admin{i + 1}_code": c for i, c in enumerate(codes)},
        **kw,
    )


# (codes, reason, origin, individuals, males, females, source_ref)
PARTS = [
    (["MZ01", "MZ0101"], "conflict", "MZ01", 400, 180, 220, "dtm-1"),
    (["MZ01", "MZ0101"], "conflict", "MZ07", 120, 50, 70, "dtm-2"),
    (["MZ01", "MZ0101"], "natural_disaster", "MZ01", 3, 1, 2, "dtm-3"),  # small: suppressed
    (["MZ01", "MZ0102"], "conflict", "MZ01", 90, 40, 50, "dtm-4"),
    (["MZ01", "MZ0103"], "conflict", "MZ01", 60, 30, 30, "dtm-5"),
]
SADD = {
    "MZ0101": sadd([60, 50, 40, 100, 22], [40, 50, 30, 100, 11]),
    "MZ0102": sadd([10, 10, 10, 18, 2], [10, 10, 10, 9, 1]),
    "MZ0103": sadd([5, 5, 5, 10, 5], [5, 5, 5, 10, 5]),
}


def write_round(round_, parts=PARTS, sites=()):
    builder = RecordBuilder()
    for codes, reason, origin, n, m, f, ref in parts:
        rec = builder.record(record(round_, codes, provider_admin1_name="Cabo Delgado", source_ref=ref))
        builder.add_figure(
            rec,
            population_group=IDP,
            individuals=n,
            males=m,
            females=f,
            part=BreakdownPart(
                displacement_reason=reason,
                provider_reason=reason.title(),
                origin_admin1_code=origin,
                individuals=n,
                males=m,
                females=f,
                source_ref=ref,
            ),
        )
    records = builder.results()
    for rec in records:
        if rec.place_key in SADD and rec.assessment_type == "BA":
            rec.figures[IDP].sadd = SADD[rec.place_key]
    for codes, place_key, n in sites:
        site = builder.record(record(round_, codes, atype="SA", place_key=place_key))
        builder.add_figure(site, population_group=IDP, individuals=n)
        records.append(site)
    assessments_write(records=records)
    return round_


def new_round(operation, number=1, status=Round.Status.VALIDATING):
    round_ = round_create(
        operation=operation, number=number, start_date=dt.date(2026, 1, 1), end_date=dt.date(2026, 1, 31)
    )
    for step in (Round.Status.COLLECTING, Round.Status.VALIDATING):
        if round_.status == status:
            break
        round_advance(round=round_, to=step)
    return round_


@pytest.fixture
def validating_round(operation, moz_gazetteer):
    return write_round(new_round(operation))

"""Publishing a round: the disclosure check, then a Release and its PublishedCell rows, in one transaction.

How it meets the round lifecycle (core.services):
- a round in *validating* is published: the release is created and the round moves to *published*;
- a round in *planned* or *collecting* is refused (move it to validating first);
- a *published* round may be published again only with a change note: a new release version
  (e.g. after a threshold change or a gazetteer rename); the round stays published;
- a data correction goes through ``core.services.round_correct``: a new round version in
  validating; publishing it makes the next release version of the same reporting round (its
  correction reason is the default change note) and supersedes the old round and release.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max

from mobility.core.models import Round
from mobility.core.services import audit_record, round_advance
from mobility.gazetteer.models import AdminArea
from mobility.tracking.models import AreaFigure, AssessmentType, FigureBreakdown, PopulationFigure

from . import disclosure as dc
from .models import PublishedCell, Release

ROUND_NOT_READY = (
    "Round {number} is {status}; move it to validating before publishing (publishing is refused from "
    "planned or collecting)."
)
ROUND_SUPERSEDED = (
    "Round {number} version {version} is superseded by a correction; publish the correction instead."
)
CHANGE_NOTE_REQUIRED = "Round {number} already has release {version}; say what changed (a change note) to publish version {next}."
ROUND_EMPTY = "Round {number} has no figures to publish."
NOT_CONFIRMED = "Nothing was published (not confirmed)."


def default_threshold() -> int:
    return int(settings.MOBILITY.get("DISCLOSURE_THRESHOLD", 5))


def _age_bands(round_: Round) -> list[str]:
    bands = round_.operation.age_bands or settings.MOBILITY["AGE_BANDS"]
    if bands and isinstance(bands[0], str):
        return list(bands)
    return [f"{lo}+" if hi is None else f"{lo}-{hi}" for lo, hi in bands]


def _path(country: str, level: int, a1: str, a2: str, a3: str) -> tuple[str, ...]:
    return (country, a1, a2, a3)[: level + 1]


def _is_site(assessment_type: str, location_id) -> bool:
    return location_id is not None or assessment_type in (
        AssessmentType.BASELINE_SUBAREA,
        AssessmentType.SITE,
    )


def _round_data(round_: Round) -> dict:
    """Everything the check and the cells need, as plain rows (a handful of queries)."""
    areas = [
        dc.AreaRow(
            a["assessment_type"],
            a["population_group"],
            _path(a["country_iso3"], a["admin_level"], a["admin1_code"], a["admin2_code"], a["admin3_code"]),
            a["individuals"],
            a["males"],
            a["females"],
        )
        for a in AreaFigure.objects.filter(round=round_).values(
            "assessment_type",
            "population_group",
            "country_iso3",
            "admin_level",
            "admin1_code",
            "admin2_code",
            "admin3_code",
            "individuals",
            "males",
            "females",
        )
    ]
    area_households = {
        (a["assessment_type"], a["population_group"], a["pcode"], a["admin_level"]): a["households"]
        for a in AreaFigure.objects.filter(round=round_).values(
            "assessment_type", "population_group", "pcode", "admin_level", "households"
        )
    }
    figure_values = list(
        PopulationFigure.objects.filter(assessment__round=round_).values(
            "pk",
            "population_group",
            "individuals",
            "households",
            "males",
            "females",
            "sadd",
            "assessment__assessment_type",
            "assessment__place_key",
            "assessment__country_iso3",
            "assessment__admin_level",
            "assessment__admin1_code",
            "assessment__admin2_code",
            "assessment__admin3_code",
            "assessment__location_id",
            "assessment__location__code",
            "assessment__provider_admin1_name",
            "assessment__provider_admin2_name",
            "assessment__reporting_date",
        )
    )
    parts_of: dict[int, list[dict]] = defaultdict(list)
    for p in FigureBreakdown.objects.filter(figure__assessment__round=round_).values(
        "pk",
        "figure_id",
        "displacement_reason",
        "provider_reason",
        "origin_admin1_code",
        "origin_admin1_name",
        "individuals",
        "households",
        "males",
        "females",
        "source_ref",
    ):
        parts_of[p["figure_id"]].append(p)
    figures = []
    for f in figure_values:
        path = _path(
            f["assessment__country_iso3"],
            f["assessment__admin_level"],
            f["assessment__admin1_code"],
            f["assessment__admin2_code"],
            f["assessment__admin3_code"],
        )
        f["path"] = path
        f["site"] = _is_site(f["assessment__assessment_type"], f["assessment__location_id"])
        figures.append(
            dc.FigureRow(
                figure_id=f["pk"],
                assessment_type=f["assessment__assessment_type"],
                population_group=f["population_group"],
                path=path,
                place_key=f["assessment__place_key"],
                site=f["site"],
                individuals=f["individuals"],
                males=f["males"],
                females=f["females"],
                sadd=f["sadd"] or {},
                parts=[
                    dc.PartRow(
                        part_id=p["pk"],
                        individuals=p["individuals"],
                        males=p["males"],
                        females=p["females"],
                        label=f"{p['displacement_reason']} from {p['origin_admin1_code'] or '?'}",
                    )
                    for p in parts_of[f["pk"]]
                ],
            )
        )
    return {
        "areas": areas,
        "area_households": area_households,
        "figures": figures,
        "figure_values": figure_values,
        "parts_of": parts_of,
    }


def _check(round_: Round, threshold: int, data: dict) -> dc.DisclosureReport:
    cells, groups = dc.build_cells(areas=data["areas"], figures=data["figures"], age_bands=_age_bands(round_))
    data["cell_values"] = {c.key: c.value for c in cells}
    return dc.disclosure_check(cells, groups, threshold=threshold)


def disclosure_check(*, round: Round, threshold: int | None = None) -> dc.DisclosureReport:  # noqa: A002
    """What publishing the round would suppress, and why. Writes nothing."""
    threshold = default_threshold() if threshold is None else threshold
    return _check(round, threshold, _round_data(round))


def release_next_version(round_: Round) -> tuple[int, Release | None]:
    previous = Release.objects.filter(
        operation_id=round_.operation_id, reporting_round=round_.number
    ).aggregate(v=Max("version"))["v"]
    current = Release.objects.filter(
        operation_id=round_.operation_id, reporting_round=round_.number, status=Release.Status.CURRENT
    ).first()
    return (previous or 0) + 1, current


def release_refusal(*, round: Round, change_note: str = "") -> str:  # noqa: A002
    """Why publishing this round now would be refused ("" when it may be published)."""
    if round.status in (Round.Status.PLANNED, Round.Status.COLLECTING):
        return ROUND_NOT_READY.format(number=round.number, status=round.get_status_display().lower())
    if round.status == Round.Status.SUPERSEDED:
        return ROUND_SUPERSEDED.format(number=round.number, version=round.version)
    version, _ = release_next_version(round)
    note = change_note.strip() or round.correction_reason.strip()
    if version > 1 and not note:
        return CHANGE_NOTE_REQUIRED.format(number=round.number, version=version - 1, next=version)
    return ""


def _gazetteer_names(countries: set[str], codes: set[str]) -> dict[tuple[str, str], str]:
    """{(iso3, pcode): name} from the current gazetteers, and {(iso3, iso3): country name}."""
    current = AdminArea.objects.filter(version__is_current=True, country_iso3__in=countries)
    names = {
        (c, p): n for c, p, n in current.filter(pcode__in=codes).values_list("country_iso3", "pcode", "name")
    }
    for country, area_names, name in current.filter(level=0).values_list("country_iso3", "names", "name"):
        names[(country, country)] = (area_names or {}).get("en") or name
    return names


def _cells_for(
    round_: Round, release: Release, report: dc.DisclosureReport, data: dict
) -> list[PublishedCell]:
    hidden = {s.key: s.reason for s in report.suppressed}
    figures = data["figure_values"]
    countries = {f["assessment__country_iso3"] for f in figures} | {a.path[0] for a in data["areas"]}
    codes = {c for a in data["areas"] for c in a.path[1:]}
    codes |= {
        p["origin_admin1_code"]
        for parts in data["parts_of"].values()
        for p in parts
        if p["origin_admin1_code"]
    }
    names = _gazetteer_names(countries, codes)
    # The newest reporting date and the names the source wrote, per area path (for area cells).
    latest: dict[tuple, dt.date] = {}
    provider: dict[tuple, str] = {}
    for f in figures:
        path = f["path"]
        for depth in range(1, len(path) + 1):
            prefix = path[:depth]
            if prefix not in latest or f["assessment__reporting_date"] > latest[prefix]:
                latest[prefix] = f["assessment__reporting_date"]
        if len(path) > 1 and f["assessment__provider_admin1_name"]:
            provider.setdefault(path[:2], f["assessment__provider_admin1_name"])
        if len(path) > 2 and f["assessment__provider_admin2_name"]:
            provider.setdefault(path[:3], f["assessment__provider_admin2_name"])
    round_latest = max(latest.values(), default=round_.end_date)

    def place(path: tuple) -> dict:
        country = path[0]
        out = {
            "country_iso3": country,
            "location_name": names.get((country, country), country),
            "admin_level": len(path) - 1,
        }
        for level in (1, 2, 3):
            code = path[level] if len(path) > level else ""
            out[f"admin{level}_code"] = code
            out[f"admin{level}_name"] = names.get((country, code), "") if code else ""
        out["provider_admin1_name"] = provider.get(path[:2], "") if len(path) > 1 else ""
        out["provider_admin2_name"] = provider.get(path[:3], "") if len(path) > 2 else ""
        return out

    def value(key, v):
        return None if key in hidden or v is None else v

    common = {
        "release": release,
        "reference_period_start": round_.start_date,
        "reference_period_end": round_.end_date,
    }
    cells: list[PublishedCell] = []
    bands = dc.band_names(_age_bands(round_))
    cell_values = data["cell_values"]
    for a in data["areas"]:
        key = dc.area_key(a.assessment_type, a.population_group, a.path)
        households = data["area_households"].get(
            (a.assessment_type, a.population_group, a.path[-1], len(a.path) - 1)
        )
        cells.append(
            PublishedCell(
                **common,
                **place(a.path),
                assessment_type=a.assessment_type,
                population_group=a.population_group,
                individuals=value(key, a.individuals),
                households=None if key in hidden else households,
                males=value(dc.area_sex_key(a.assessment_type, a.population_group, a.path, "male"), a.males),
                females=value(
                    dc.area_sex_key(a.assessment_type, a.population_group, a.path, "female"), a.females
                ),
                suppressed=key in hidden,
                suppression=hidden.get(key, ""),
                reporting_date=latest.get(a.path, round_latest),
            )
        )
        for band in bands:
            bkey = dc.area_band_key(a.assessment_type, a.population_group, a.path, band)
            if bkey not in cell_values:
                continue
            cells.append(
                PublishedCell(
                    **common,
                    **place(a.path),
                    assessment_type=a.assessment_type,
                    population_group=a.population_group,
                    breakdown=PublishedCell.Breakdown.SEX_AGE,
                    band=band,
                    individuals=value(bkey, cell_values[bkey]),
                    suppressed=bkey in hidden,
                    suppression=hidden.get(bkey, ""),
                    reporting_date=latest.get(a.path, round_latest),
                )
            )
    for f in figures:
        atype, group, path = f["assessment__assessment_type"], f["population_group"], f["path"]
        location_code = (f["assessment__location__code"] or f["assessment__place_key"]) if f["site"] else ""
        where = {
            **common,
            **place(path),
            "assessment_type": atype,
            "population_group": group,
            "location_code": location_code,
            "provider_admin1_name": f["assessment__provider_admin1_name"],
            "provider_admin2_name": f["assessment__provider_admin2_name"],
            "reporting_date": f["assessment__reporting_date"],
        }
        if f["site"]:
            key = dc.site_key(atype, group, f["assessment__place_key"])
            cells.append(
                PublishedCell(
                    **where,
                    individuals=value(key, f["individuals"]),
                    households=None if key in hidden else f["households"],
                    males=value(
                        dc.site_sex_key(atype, group, f["assessment__place_key"], "male"), f["males"]
                    ),
                    females=value(
                        dc.site_sex_key(atype, group, f["assessment__place_key"], "female"), f["females"]
                    ),
                    suppressed=key in hidden,
                    suppression=hidden.get(key, ""),
                )
            )
        for p in data["parts_of"].get(f["pk"], ()):
            key = dc.part_key(p["pk"])
            refs = [r for r in (p["source_ref"] or "").split(",") if r.strip()]
            origin = p["origin_admin1_code"]
            cells.append(
                PublishedCell(
                    **where,
                    breakdown=PublishedCell.Breakdown.REASON,
                    displacement_reason=p["displacement_reason"],
                    provider_reason=p["provider_reason"][:200],
                    origin_admin1_code=origin,
                    origin_admin1_name=p["origin_admin1_name"] or names.get((path[0], origin), ""),
                    individuals=value(key, p["individuals"]),
                    households=None if key in hidden else p["households"],
                    males=value(dc.part_sex_key(p["pk"], "male"), p["males"]),
                    females=value(dc.part_sex_key(p["pk"], "female"), p["females"]),
                    source_ref=refs[0].strip()[:64] if len(refs) == 1 else "",
                    suppressed=key in hidden,
                    suppression=hidden.get(key, ""),
                )
            )
    return cells


@transaction.atomic
def release_publish(
    *,
    round: Round,  # noqa: A002
    by=None,
    threshold: int | None = None,
    change_note: str = "",
    source_note: str = "",
    confirm: bool = True,
) -> Release | None:
    """Check the round, then (if confirmed) publish it as the next release version; None when not confirmed."""
    round_ = Round.objects.select_for_update().select_related("operation").get(pk=round.pk)
    refusal = release_refusal(round=round_, change_note=change_note)
    if refusal:
        raise ValidationError(refusal)
    threshold = default_threshold() if threshold is None else threshold
    data = _round_data(round_)
    if not data["areas"] and not data["figures"]:
        raise ValidationError(ROUND_EMPTY.format(number=round_.number))
    report = _check(round_, threshold, data)
    if not confirm:
        return None
    version, current = release_next_version(round_)
    if current is not None:
        current.status = Release.Status.SUPERSEDED
        current.save(update_fields=["status"])
    release = Release(
        operation=round_.operation,
        round=round_,
        reporting_round=round_.number,
        version=version,
        published_by=by if getattr(by, "pk", None) else None,
        change_note=(change_note.strip() or round_.correction_reason.strip())
        if version > 1
        else change_note.strip(),
        threshold=threshold,
        disclosure_report=report.as_dict(),
        source_note=source_note[:300],
    )
    release.full_clean()
    release.save()
    PublishedCell.objects.bulk_create(_cells_for(round_, release, report, data), batch_size=2000)
    if round_.status == Round.Status.VALIDATING:
        round_advance(round=round_, to=Round.Status.PUBLISHED, by=by)
    audit_record(
        action="release.publish",
        obj=release,
        by=by,
        operation=round_.operation,
        detail={
            "round": round_.pk,
            "version": version,
            "threshold": threshold,
            "suppressed": len(report.suppressed),
            "supersedes": current.pk if current else None,
        },
    )
    round.status = Round.Status.PUBLISHED
    return release


@transaction.atomic
def release_withdraw(*, release: Release, by=None, reason: str = "") -> Release:
    """Take a release off the public side (its cells stay for the record)."""
    release.status = Release.Status.WITHDRAWN
    release.save(update_fields=["status"])
    audit_record(
        action="release.withdraw",
        obj=release,
        by=by,
        operation=release.operation,
        detail={"reason": reason[:200]},
    )
    return release

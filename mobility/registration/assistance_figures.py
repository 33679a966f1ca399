"""Aggregates of assistance and of the registry, for dashboards and the public API — never lists of people.

``assistance_figures`` counts distinct households and their individuals assisted per admin1/admin2
area, item and month, by sex and age band (age from the plain ``birth_year``). ``registry_figures``
counts registered households and individuals per area and status. Both go through the same
disclosure control as published rounds (``mobility.publishing.disclosure``, the same
``MOBILITY_DISCLOSURE_THRESHOLD``): small cells are suppressed, and enough others that none can be
recovered by subtraction. ``assistance_publish`` freezes a month's figures (and the registry counts
of that moment) in ``AssistanceFigure``/``RegistryFigure``; the public API reads only those rows.
"""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import io
from collections import defaultdict
from dataclasses import asdict, dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max, OuterRef, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from mobility.core.models import Operation
from mobility.core.permissions import Action, can
from mobility.core.sadd import AgeBands
from mobility.core.services import audit_record
from mobility.core.tables import neutralise
from mobility.flows.visibility import disclosure_threshold
from mobility.publishing import disclosure as dc

from .models import (
    AssistanceFigure,
    AssistancePublication,
    Distribution,
    Individual,
    RegistryFigure,
)
from .verification import counted_members, registry_counts

PUBLISH_NOT_ALLOWED = _("Only a data manager or admin of the operation can publish assistance figures.")
PERIOD_INVALID = _('"{value}" is not a month: write YYYY-MM')
PERIOD_FUTURE = _("{period} has not started yet; only started months can be published")

ALL = "all"
GENDERS = ("f", "m", "u")
UNKNOWN_AGE = "unknown"
FIGURE_FIELDS = [
    "operation",
    "location_code",
    "admin_level",
    "admin1_code",
    "admin1_name",
    "admin2_code",
    "admin2_name",
    "item_code",
    "item_name",
    "gender",
    "age_range",
    "households",
    "individuals",
    "suppressed",
    "reference_period_start",
    "reference_period_end",
]
COUNT_FIELDS = [
    "operation",
    "location_code",
    "admin_level",
    "admin1_code",
    "admin1_name",
    "admin2_code",
    "admin2_name",
    "status",
    "households",
    "individuals",
    "suppressed",
    "reference_period_end",
]


@dataclass
class Figure:
    """One cell: households (on gender=all, age_range=all) and individuals assisted."""

    month: dt.date
    item_code: str
    item_name: str
    admin_level: int
    admin1_code: str
    admin2_code: str
    gender: str
    age_range: str
    households: int | None
    individuals: int | None
    suppressed: bool = False
    admin1_name: str = ""
    admin2_name: str = ""


@dataclass
class CountFigure:
    """Registered households and individuals of an area with a status (``all`` for every status)."""

    admin_level: int
    admin1_code: str
    admin2_code: str
    status: str
    households: int | None
    individuals: int | None
    suppressed: bool = False
    admin1_name: str = ""
    admin2_name: str = ""


def age_bands(operation: Operation) -> AgeBands:
    return AgeBands.parse(operation.age_bands) if operation.age_bands else AgeBands.default()


def month_of(value: dt.date) -> dt.date:
    return value.replace(day=1)


def month_end(month: dt.date) -> dt.date:
    return month.replace(day=calendar.monthrange(month.year, month.month)[1])


def _chunks(values: list, size: int = 5000):
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _members(household_ids: list[int]) -> dict[int, list[tuple[str, int | None]]]:
    """(sex, birth_year) of each household's counted members."""
    out: dict[int, list[tuple[str, int | None]]] = defaultdict(list)
    for chunk in _chunks(household_ids):
        for hh, sex, birth_year in Individual.objects.filter(
            counted_members(), household_id__in=chunk
        ).values_list("household_id", "sex", "birth_year"):
            out[hh].append((sex if sex in GENDERS else "u", birth_year))
    return out


def _age_range(bands: AgeBands, birth_year: int | None, year: int) -> str:
    if birth_year is None:
        return UNKNOWN_AGE
    return bands.band_of(max(year - birth_year, 0))


# --- the disclosure check over a tree of areas --------------------------------------------------


def _suppressed_keys(
    values: dict[tuple, int], kinds: dict[tuple, tuple[str, str, str]], groups: list[dc.Group], threshold: int
) -> tuple[set[tuple], dc.DisclosureReport]:
    cells = [
        dc.Cell(key=key, value=value, kind=kinds[key][0], label=kinds[key][1], parent_label=kinds[key][2])
        for key, value in values.items()
    ]
    report = dc.disclosure_check(cells, groups, threshold=threshold)
    return report.suppressed_keys, report


def _merge_reports(threshold: int, *reports: dc.DisclosureReport) -> dict:
    seen: dict[tuple, dc.Suppression] = {}
    for report in reports:
        for s in report.suppressed:
            seen.setdefault(s.key, s)
    merged = dc.DisclosureReport(
        threshold=threshold,
        cells_checked=sum(r.cells_checked for r in reports),
        groups_checked=sum(r.groups_checked for r in reports),
        suppressed=list(seen.values()),
    )
    return merged.as_dict()


# --- assistance --------------------------------------------------------------------------------


def assistance_figures(
    *,
    operation: Operation,
    date_from: dt.date,
    date_to: dt.date,
    exact: bool = False,
    threshold: int | None = None,
) -> tuple[list[Figure], dict]:
    """Households and individuals assisted per month, item and admin1/admin2 area, by sex and age band.

    Unless ``exact``, small cells are suppressed (``individuals``/``households`` None, ``suppressed``)
    by the publishing disclosure control. Returns the figures and the disclosure report (a dict of
    labels and reasons, no values). Rows that are zero are left out.
    """
    threshold = threshold or disclosure_threshold()
    bands = age_bands(operation)
    band_labels = [*bands.labels(), UNKNOWN_AGE]
    rows = Distribution.objects.filter(
        operation=operation, distributed_on__gte=date_from, distributed_on__lte=date_to
    ).values_list(
        "household_id", "item__code", "item__name", "admin1_pcode", "admin2_pcode", "distributed_on"
    )
    items: dict[str, str] = {}
    level2: dict[tuple, set[int]] = defaultdict(set)  # (month, item, a1, a2) -> households
    for hh, item_code, item_name, a1, a2, day in rows.iterator(chunk_size=5000):
        items[item_code] = item_name
        level2[(month_of(day), item_code, a1 or "", a2 or "")].add(hh)
    level1: dict[tuple, set[int]] = defaultdict(set)
    for (month, item_code, a1, _a2), hhs in level2.items():
        level1[(month, item_code, a1)] |= hhs
    members = _members(sorted({hh for hhs in level1.values() for hh in hhs}))

    values_ind: dict[tuple, int] = {}
    values_hh: dict[tuple, int] = {}
    kinds: dict[tuple, tuple[str, str, str]] = {}
    groups_ind: list[dc.Group] = []
    groups_hh: list[dc.Group] = []

    def area_cells(place: tuple, households: set[int], month: dt.date, label: str, parent: str) -> None:
        total = (*place, ALL, ALL)
        values_hh[total] = len(households)
        by_gender: dict[str, int] = defaultdict(int)
        by_band: dict[tuple[str, str], int] = defaultdict(int)
        for hh in households:
            for sex, birth_year in members.get(hh, ()):
                by_gender[sex] += 1
                by_band[(sex, _age_range(bands, birth_year, month.year))] += 1
        values_ind[total] = sum(by_gender.values())
        # Small area figures are suppressed too: assistance to a handful of families points to them.
        kinds[total] = (dc.SITE, label, parent)
        for g in GENDERS:
            key = (*place, g, ALL)
            values_ind[key] = by_gender.get(g, 0)
            kinds[key] = (dc.SEX, f"{label} {g}", "")
            for band in band_labels:
                bkey = (*place, g, band)
                values_ind[bkey] = by_band.get((g, band), 0)
                kinds[bkey] = (dc.SEX_AGE, f"{label} {g} {band}", "")
            groups_ind.append(dc.Group(key, tuple((*place, g, b) for b in band_labels), "bands"))
        groups_ind.append(dc.Group(total, tuple((*place, g, ALL) for g in GENDERS), "sex"))

    for (month, item_code, a1), hhs in level1.items():
        area_cells((month, item_code, 1, a1, ""), hhs, month, f"{month:%Y-%m} {item_code} {a1 or '-'}", "")
    children: dict[tuple, list[tuple]] = defaultdict(list)
    for (month, item_code, a1, a2), hhs in level2.items():
        place = (month, item_code, 2, a1, a2)
        area_cells(place, hhs, month, f"{month:%Y-%m} {item_code} {a2 or '-'}", a1 or "-")
        children[(month, item_code, 1, a1, "")].append(place)
    for parent, kids in children.items():
        for g, b in [
            (ALL, ALL),
            *[(g, ALL) for g in GENDERS],
            *[(g, b) for g in GENDERS for b in band_labels],
        ]:
            group = dc.Group((*parent, g, b), tuple((*k, g, b) for k in kids), "areas")
            groups_ind.append(group)
            if (g, b) == (ALL, ALL):
                groups_hh.append(group)

    report: dict = {}
    suppressed: set[tuple] = set()
    if not exact:
        hidden_ind, report_ind = _suppressed_keys(values_ind, kinds, groups_ind, threshold)
        hidden_hh, report_hh = _suppressed_keys(
            values_hh, {k: kinds[k] for k in values_hh}, groups_hh, threshold
        )
        suppressed = hidden_ind | hidden_hh
        report = _merge_reports(threshold, report_ind, report_hh)
    names = area_names(operation, {k[3] for k in values_ind} | {k[4] for k in values_ind})
    figures = []
    for key, individuals in values_ind.items():
        month, item_code, level, a1, a2, g, b = key
        hidden = key in suppressed
        if not individuals and not hidden and (g, b) != (ALL, ALL):
            continue
        figures.append(
            Figure(
                month=month,
                item_code=item_code,
                item_name=items[item_code],
                admin_level=level,
                admin1_code=a1,
                admin2_code=a2,
                gender=g,
                age_range=b,
                households=None if hidden or (g, b) != (ALL, ALL) else values_hh[key],
                individuals=None if hidden else individuals,
                suppressed=hidden,
                admin1_name=names.get(a1, ""),
                admin2_name=names.get(a2, ""),
            )
        )
    order = {ALL: 0, **{g: i + 1 for i, g in enumerate(GENDERS)}}
    band_order = {ALL: 0, **{b: i + 1 for i, b in enumerate(band_labels)}}
    figures.sort(
        key=lambda f: (
            f.month,
            f.item_code,
            f.admin1_code,
            f.admin_level,
            f.admin2_code,
            order[f.gender],
            band_order[f.age_range],
        )
    )
    return figures, report


def area_names(operation: Operation, pcodes: set[str]) -> dict[str, str]:
    """Names of p-codes in the operation's current gazetteer (empty when none is loaded)."""
    from mobility.gazetteer.models import AdminArea

    pcodes = {p for p in pcodes if p}
    if not pcodes:
        return {}
    return dict(
        AdminArea.objects.filter(
            version__country_iso3=operation.country_iso3, version__is_current=True, pcode__in=pcodes
        ).values_list("pcode", "name")
    )


def figures_table(figures: list[Figure]) -> list[dict]:
    """One row per month, item and area with households, individuals, females and males (for pages)."""
    rows: dict[tuple, dict] = {}
    for f in figures:
        key = (f.month, f.item_code, f.admin1_code, f.admin_level, f.admin2_code)
        row = rows.setdefault(
            key,
            {
                "month": f.month,
                "item_code": f.item_code,
                "item_name": f.item_name,
                "admin_level": f.admin_level,
                "admin1_code": f.admin1_code,
                "admin1_name": f.admin1_name,
                "admin2_code": f.admin2_code,
                "admin2_name": f.admin2_name,
                "households": None,
                "individuals": None,
                "suppressed": False,
                "f": 0,
                "m": 0,
                "f_suppressed": False,
                "m_suppressed": False,
            },
        )
        if f.age_range != ALL:
            continue
        if f.gender == ALL:
            row.update(households=f.households, individuals=f.individuals, suppressed=f.suppressed)
        elif f.gender in ("f", "m"):
            row[f.gender] = f.individuals
            row[f"{f.gender}_suppressed"] = f.suppressed
    return list(rows.values())


# --- the registry ------------------------------------------------------------------------------


def registry_figures(
    *, operation: Operation, exact: bool = False, threshold: int | None = None
) -> tuple[list[CountFigure], dict]:
    """Registered households and individuals by admin1/admin2 and status (and ``all``), disclosure-checked."""
    threshold = threshold or disclosure_threshold()
    rows = registry_counts(operation, by="admin2")
    values_ind: dict[tuple, int] = defaultdict(int)
    values_hh: dict[tuple, int] = defaultdict(int)
    statuses = sorted({r["status"] for r in rows})
    for r in rows:
        a1, a2 = r["admin1_pcode"], r["admin2_pcode"]
        for key in ((2, a1, a2, r["status"]), (2, a1, a2, ALL), (1, a1, "", r["status"]), (1, a1, "", ALL)):
            values_ind[key] += r["individuals"]
            values_hh[key] += r["households"]
    kinds: dict[tuple, tuple[str, str, str]] = {}
    groups: list[dc.Group] = []
    children: dict[str, set[str]] = defaultdict(set)
    for level, a1, a2, status in list(values_ind):
        where = a2 if level == 2 else a1
        label = f"{where or '-'} {status}"
        if status == ALL:
            kinds[(level, a1, a2, status)] = (dc.SITE, label, (a1 or "-") if level == 2 else "")
        else:
            kinds[(level, a1, a2, status)] = (dc.REASON, label, "")
        if level == 2:
            children[a1].add(a2)
    for key in list(values_ind):
        for s in statuses:
            part = (*key[:3], s)
            if part not in values_ind:
                values_ind[part], values_hh[part] = 0, 0
                kinds[part] = (dc.REASON, f"{key[2] if key[0] == 2 else key[1] or '-'} {s}", "")
    for level, a1, a2, status in list(values_ind):
        if status == ALL:
            groups.append(
                dc.Group((level, a1, a2, ALL), tuple((level, a1, a2, s) for s in statuses), "status")
            )
    for a1, kids in children.items():
        for s in [ALL, *statuses]:
            groups.append(dc.Group((1, a1, "", s), tuple((2, a1, a2, s) for a2 in sorted(kids)), "areas"))
    report: dict = {}
    suppressed: set[tuple] = set()
    if not exact:
        hidden_ind, report_ind = _suppressed_keys(dict(values_ind), kinds, groups, threshold)
        hidden_hh, report_hh = _suppressed_keys(dict(values_hh), kinds, groups, threshold)
        suppressed = hidden_ind | hidden_hh
        report = _merge_reports(threshold, report_ind, report_hh)
    names = area_names(operation, {k[1] for k in values_ind} | {k[2] for k in values_ind})
    out = []
    for key in sorted(values_ind, key=lambda k: (k[1], k[0], k[2], k[3] != ALL, k[3])):
        level, a1, a2, status = key
        hidden = key in suppressed
        if not values_ind[key] and not values_hh[key] and not hidden and status != ALL:
            continue
        out.append(
            CountFigure(
                admin_level=level,
                admin1_code=a1,
                admin2_code=a2,
                status=status,
                households=None if hidden else values_hh[key],
                individuals=None if hidden else values_ind[key],
                suppressed=hidden,
                admin1_name=names.get(a1, ""),
                admin2_name=names.get(a2, ""),
            )
        )
    return out, report


# --- publishing --------------------------------------------------------------------------------


def period_parse(period: str) -> tuple[dt.date, dt.date]:
    """A month "YYYY-MM" as its first and last day."""
    try:
        start = dt.datetime.strptime((period or "").strip(), "%Y-%m").date()
    except ValueError:
        raise ValidationError(PERIOD_INVALID.format(value=str(period)[:20])) from None
    return start, month_end(start)


@transaction.atomic
def assistance_publish(*, operation: Operation, period: str, by) -> AssistancePublication:
    """Make a month's assistance figures (and the registry counts as of now) public, disclosure-checked.

    Publishing the same month again replaces its figures with fresh ones.
    """
    if not can(by, Action.PUBLISH, operation):
        raise PermissionDenied(PUBLISH_NOT_ALLOWED)
    start, end = period_parse(period)
    if start > timezone.localdate():
        raise ValidationError(PERIOD_FUTURE.format(period=f"{start:%Y-%m}"))
    threshold = disclosure_threshold()
    figures, report = assistance_figures(
        operation=operation, date_from=start, date_to=end, threshold=threshold
    )
    counts, counts_report = registry_figures(operation=operation, threshold=threshold)
    publication, created = AssistancePublication.objects.update_or_create(
        operation=operation,
        period_start=start,
        period_end=end,
        defaults={
            "threshold": threshold,
            "report": {"assistance": report, "registry": counts_report},
            "published_at": timezone.now(),
            "published_by": by if getattr(by, "pk", None) else None,
        },
    )
    publication.figures.all().delete()
    publication.registry.all().delete()
    AssistanceFigure.objects.bulk_create(
        [AssistanceFigure(publication=publication, **asdict(f)) for f in figures], batch_size=2000
    )
    RegistryFigure.objects.bulk_create(
        [RegistryFigure(publication=publication, **asdict(c)) for c in counts], batch_size=2000
    )
    audit_record(
        action="registration.assistance_publish" if created else "registration.assistance_republish",
        obj=publication,
        by=by,
        operation=operation,
        detail={
            "period": f"{start:%Y-%m}",
            "figures": len(figures),
            "registry_figures": len(counts),
            "suppressed": report.get("suppressed_total", 0) + counts_report.get("suppressed_total", 0),
        },
    )
    return publication


def published_figures() -> QuerySet[AssistanceFigure]:
    """Every published assistance figure, with its publication and operation."""
    return AssistanceFigure.objects.select_related("publication__operation")


def published_counts() -> QuerySet[RegistryFigure]:
    """Registry figures of each operation's latest publication."""
    latest = (
        AssistancePublication.objects.filter(operation=OuterRef("publication__operation"))
        .order_by("-published_at", "-id")
        .values("id")[:1]
    )
    return RegistryFigure.objects.select_related("publication__operation").filter(
        publication_id=Subquery(latest)
    )


def publications(operation: Operation) -> QuerySet[AssistancePublication]:
    return AssistancePublication.objects.filter(operation=operation).order_by("-period_start")


def latest_month(operation: Operation) -> dt.date | None:
    last = Distribution.objects.filter(operation=operation).aggregate(last=Max("distributed_on"))["last"]
    return month_of(last) if last else None


# --- rows for the API and the CLI --------------------------------------------------------------


def _area(row, operation: Operation) -> dict:
    """The operation and area columns every published row starts with."""
    return {
        "operation": operation.slug,
        "location_code": operation.country_iso3,
        "admin_level": row.admin_level,
        "admin1_code": row.admin1_code or None,
        "admin1_name": row.admin1_name or None,
        "admin2_code": row.admin2_code or None,
        "admin2_name": row.admin2_name or None,
    }


def figure_row(f, *, operation: Operation) -> dict:
    """A figure (``Figure`` or ``AssistanceFigure``) in the API's vocabulary."""
    return {
        **_area(f, operation),
        "item_code": f.item_code,
        "item_name": f.item_name,
        "gender": f.gender,
        "age_range": f.age_range,
        "households": f.households,
        "individuals": f.individuals,
        "suppressed": f.suppressed,
        "reference_period_start": f.month,
        "reference_period_end": month_end(f.month),
    }


def count_row(c, *, operation: Operation, as_of: dt.date) -> dict:
    return {
        **_area(c, operation),
        "status": c.status,
        "households": c.households,
        "individuals": c.individuals,
        "suppressed": c.suppressed,
        "reference_period_end": as_of,
    }


def figures_csv(rows: list[dict], fields: list[str]) -> str:
    buffer = io.StringIO()
    # CRLF (RFC 4180): a CR inside a value is quoted too, and cannot start a row of its own.
    writer = csv.DictWriter(buffer, fieldnames=fields, extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row.get(k) is None else neutralise(row.get(k)) for k in fields})
    return buffer.getvalue()

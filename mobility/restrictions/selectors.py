"""Reads of the restrictions app: statuses "as of" a date, the change log, counts over time, and
travel restrictions in force on a date (the matrix, who restricts entry from a country, what changed).

The "as of" rule: the status of a point of entry on a date D is its newest status record with
``effective_from <= D``; of two records with the same date the later recorded (higher id) wins,
which is how a correction replaces what it corrects. Before its first record a point has none.
A travel restriction is in force on D when ``effective_from <= D`` and it is open-ended or
``effective_to >= D`` (both ends inclusive).

Who sees what is one ``Audience``: published records for everyone, and the drafts of the
operations a user is a member of.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery

from mobility.core.models import Operation
from mobility.core.permissions import Action, operations_for

from .countries import country_name, regions_of
from .models import OperationalStatus, PoEStatus, PointOfEntry, TravelRestriction

NO_STATUS = "none"
STATUS_KEYS = [*OperationalStatus.values, NO_STATUS]
# The severest kind wins when several restrictions of one country apply to the same travellers.
KIND_SEVERITY = {
    TravelRestriction.Kind.TOTAL: 4,
    TravelRestriction.Kind.VISA: 3,
    TravelRestriction.Kind.PARTIAL: 2,
    TravelRestriction.Kind.MEDICAL: 1,
}
COMPARED_FIELDS = (
    "status",
    "restriction",
    "affected_groups",
    "measures",
    "daily_inflow",
    "daily_outflow",
    "notes",
    "source",
)


def status_on(statuses, day: dt.date):
    """The status in force on ``day`` among one point's records (any iterable), or None.

    The plain-Python rule the database queries below must agree with (tests compare them).
    """
    best = None
    for s in statuses:
        if s.effective_from <= day and (
            best is None or (s.effective_from, s.pk) > (best.effective_from, best.pk)
        ):
            best = s
    return best


def statuses_as_of(
    points: QuerySet[PointOfEntry], day: dt.date, *, published_only: bool = False
) -> QuerySet[PointOfEntry]:
    """The points annotated with ``status_id``: their status record in force on ``day`` (or None)."""
    records = PoEStatus.objects.filter(poe=OuterRef("pk"), effective_from__lte=day)
    if published_only:
        records = records.filter(published=True)
    newest = records.order_by("-effective_from", "-pk").values("pk")[:1]
    return points.annotate(status_id=Subquery(newest))


def restrictions_on(qs: QuerySet[TravelRestriction], day: dt.date) -> QuerySet[TravelRestriction]:
    """The travel restrictions in force on ``day`` (from ≤ day, and open-ended or to ≥ day)."""
    return qs.filter(Q(effective_from__lte=day), Q(effective_to__isnull=True) | Q(effective_to__gte=day))


# --- who sees what ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Audience:
    """Published records for everyone; drafts of ``draft_operation_ids`` too; everything when ``everything``."""

    draft_operation_ids: frozenset[int] = frozenset()
    everything: bool = False

    @classmethod
    def of(cls, user) -> Audience:
        """What this user sees: drafts of the operations they may VIEW (members), published elsewhere."""
        if getattr(user, "is_authenticated", False) and user.is_active and user.is_superuser:
            return cls(everything=True)
        return cls(frozenset(operations_for(user, Action.VIEW).values_list("pk", flat=True)))

    @classmethod
    def public(cls) -> Audience:
        return cls()

    @classmethod
    def internal(cls) -> Audience:
        """The command line: the person at the machine administers it and sees drafts."""
        return cls(everything=True)

    def records_q(self, operation_field: str) -> Q:
        """Filter for records (status or restriction) whose operation is reached by ``operation_field``."""
        if self.everything:
            return Q()
        q = Q(published=True)
        if self.draft_operation_ids:
            q |= Q(**{f"{operation_field}__in": sorted(self.draft_operation_ids)})
        return q

    def sees_drafts_of(self, operation: Operation) -> bool:
        return self.everything or operation.pk in self.draft_operation_ids


# --- points of entry -----------------------------------------------------------------------------


def points_visible(*, audience: Audience, operation: Operation | None = None) -> QuerySet[PointOfEntry]:
    """Points a reader may see: every point of their operations, elsewhere those with a published status."""
    points = PointOfEntry.objects.all()
    if operation is not None:
        points = points.filter(operation=operation)
    if not audience.everything:
        published = Exists(PoEStatus.objects.filter(poe=OuterRef("pk"), published=True))
        q = Q(published)
        if audience.draft_operation_ids:
            q |= Q(operation_id__in=sorted(audience.draft_operation_ids))
        points = points.filter(q)
    return points


def _statuses_visible(audience: Audience) -> QuerySet[PoEStatus]:
    return PoEStatus.objects.filter(audience.records_q("poe__operation_id"))


def points_as_of(
    *,
    day: dt.date,
    audience: Audience,
    operation: Operation | None = None,
    country_iso3: str | None = None,
    type: str | None = None,  # noqa: A002 - the field's word
    status: str | None = None,
) -> list[tuple[PointOfEntry, PoEStatus | None]]:
    """Every visible point with its visible status record in force on ``day`` (two queries).

    ``status`` filters on the status in force (``none`` = no record yet).
    """
    points = points_visible(audience=audience, operation=operation).select_related("operation")
    if country_iso3:
        points = points.filter(country_iso3=country_iso3.upper())
    if type:
        points = points.filter(type=type)
    newest = (
        _statuses_visible(audience)
        .filter(poe=OuterRef("pk"), effective_from__lte=day)
        .order_by("-effective_from", "-pk")
        .values("pk")[:1]
    )
    points = list(points.annotate(status_id=Subquery(newest)).order_by("operation__name", "code"))
    records = PoEStatus.objects.in_bulk([p.status_id for p in points if p.status_id])
    pairs = [(p, records.get(p.status_id)) for p in points]
    if status:
        pairs = [(p, s) for p, s in pairs if (s.status if s else NO_STATUS) == status]
    return pairs


def point_status_row(poe: PointOfEntry, record: PoEStatus | None, day: dt.date) -> dict:
    """One point and its status on a day, in the API's and the CSV's vocabulary."""
    return {
        "operation": poe.operation.slug,
        "code": poe.code,
        "name": poe.name,
        "type": poe.type,
        "location_code": poe.country_iso3,
        "border_location_code": poe.border_country_iso3,
        "iata_code": poe.iata_code,
        "admin1_code": poe.admin1_code,
        "admin2_code": poe.admin2_code,
        "latitude": poe.latitude,
        "longitude": poe.longitude,
        "as_of": day,
        "status": record.status if record else NO_STATUS,
        "status_since": record.effective_from if record else None,
        "restriction": record.restriction if record else None,
        "affected_groups": list(record.affected_groups) if record else [],
        "measures": list(record.measures) if record else [],
        "daily_inflow": record.daily_inflow if record else None,
        "daily_outflow": record.daily_outflow if record else None,
        "notes": record.notes if record else "",
        "source": record.source if record else "",
        "published": record.published if record else None,
    }


def status_change_log(
    *,
    audience: Audience,
    operation: Operation | None = None,
    poe_code: str | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> list[dict]:
    """Every visible status record, newest first, with what changed against the point's previous record.

    "Previous" is the record before it in the as-of order (effective date, then id), among the
    records the reader sees; a record with the same date as its previous one is a correction.
    The date range filters the records shown, not the ones they are compared with.
    """
    records = _statuses_visible(audience).select_related("poe", "poe__operation")
    if operation is not None:
        records = records.filter(poe__operation=operation)
    if poe_code:
        records = records.filter(poe__code=poe_code)
    if date_to is not None:
        records = records.filter(effective_from__lte=date_to)
    previous: dict[int, PoEStatus] = {}
    rows = []
    for record in records.order_by("poe_id", "effective_from", "pk"):
        before = previous.get(record.poe_id)
        previous[record.poe_id] = record
        if date_from is not None and record.effective_from < date_from:
            continue
        changed = [f for f in COMPARED_FIELDS if before is None or getattr(before, f) != getattr(record, f)]
        rows.append(
            {
                "operation": record.poe.operation.slug,
                "code": record.poe.code,
                "name": record.poe.name,
                "effective_from": record.effective_from,
                "status": record.status,
                "previous_status": before.status if before else None,
                "restriction": record.restriction,
                "affected_groups": list(record.affected_groups),
                "measures": list(record.measures),
                "daily_inflow": record.daily_inflow,
                "daily_outflow": record.daily_outflow,
                "notes": record.notes,
                "source": record.source,
                "changed_fields": changed if before is not None else [],
                "changes": {f: [getattr(before, f), getattr(record, f)] for f in changed} if before else {},
                "first_record": before is None,
                "correction": before is not None and before.effective_from == record.effective_from,
                "published": record.published,
                "recorded_at": record.recorded_at,
                "_key": (record.effective_from, record.pk),
            }
        )
    rows.sort(key=lambda r: r["_key"], reverse=True)
    for row in rows:
        del row["_key"]
    return rows


def status_counts_by_day(
    *,
    date_from: dt.date,
    date_to: dt.date,
    audience: Audience,
    operation: Operation | None = None,
) -> list[dict]:
    """Points per status (and ``none``: no status yet) on every day of the range, from the change points.

    One query reads the records in as-of order; each point's status changes only on its effective
    dates, so the days in between are carried forward instead of being queried one by one.
    """
    if date_to < date_from:
        return []
    point_ids = list(points_visible(audience=audience, operation=operation).values_list("pk", flat=True))
    records = (
        _statuses_visible(audience)
        .filter(poe_id__in=point_ids, effective_from__lte=date_to)
        .order_by("poe_id", "effective_from", "pk")
        .values_list("poe_id", "effective_from", "status")
    )
    # Per point: its status on date_from, then its changes inside the range (the last record of a day wins).
    initial: dict[int, str] = {}
    changes: dict[dt.date, dict[int, str]] = defaultdict(dict)
    for poe_id, day, status in records:
        if day <= date_from:
            initial[poe_id] = status
        else:
            changes[day][poe_id] = status
    current = {pk: initial.get(pk, NO_STATUS) for pk in point_ids}
    counts = Counter(current.values())
    rows = []
    day = date_from
    while day <= date_to:
        for poe_id, status in changes.get(day, {}).items():
            counts[current[poe_id]] -= 1
            current[poe_id] = status
            counts[status] += 1
        rows.append({"date": day, **{key: counts.get(key, 0) for key in STATUS_KEYS}})
        day += dt.timedelta(days=1)
    return rows


# --- travel restrictions ---------------------------------------------------------------------------


def _applies_to_q(iso3: str) -> Q:
    """Restrictions on travellers from ``iso3``: named, through a region it belongs to, or on everyone."""
    q = Q(target=TravelRestriction.Target.ALL) | Q(target=TravelRestriction.Target.COUNTRY, target_iso3=iso3)
    regions = regions_of(iso3)
    if regions:
        q |= Q(target=TravelRestriction.Target.REGION, target_region__in=regions)
    return q


def travel_in_force(
    *,
    day: dt.date,
    audience: Audience,
    operation: Operation | None = None,
    imposing: str | None = None,
    target: str | None = None,
    kind: str | None = None,
    source: str | None = None,
) -> QuerySet[TravelRestriction]:
    """Visible restrictions in force on ``day``; ``target`` keeps those that apply to travellers from that ISO3."""
    qs = TravelRestriction.objects.filter(audience.records_q("operation_id"))
    if operation is not None:
        qs = qs.filter(operation=operation)
    if imposing:
        qs = qs.filter(imposing_iso3=imposing.upper())
    if target:
        qs = qs.filter(_applies_to_q(target.upper())).exclude(imposing_iso3=target.upper())
    if kind:
        qs = qs.filter(kind=kind)
    if source:
        qs = qs.filter(source=source)
    return restrictions_on(qs, day).order_by(
        "imposing_iso3", "target", "target_iso3", "target_region", "effective_from", "pk"
    )


def severest(kinds: Iterable[str]) -> str:
    """The severest of some restriction kinds (total > visa > partial > medical)."""
    return max(kinds, key=lambda k: KIND_SEVERITY.get(k, 0))


def travel_matrix(
    *, day: dt.date, audience: Audience, operation: Operation | None = None, source: str | None = None
) -> list[dict]:
    """Imposing country → target (a country, a region or ``all``) with the severest kind in force on ``day``."""
    cells: dict[tuple, dict] = {}
    rows = travel_in_force(day=day, audience=audience, operation=operation, source=source).values_list(
        "imposing_iso3", "target", "target_iso3", "target_region", "kind", "source_ref"
    )
    for imposing, target, target_iso3, target_region, kind, ref in rows:
        key = (imposing, target, target_iso3, target_region)
        cell = cells.setdefault(
            key,
            {
                "imposing_iso3": imposing,
                "target": target,
                "target_iso3": target_iso3,
                "target_region": target_region,
                "kinds": set(),
                "restrictions": 0,
                "source_refs": [],
            },
        )
        cell["kinds"].add(kind)
        cell["restrictions"] += 1
        if len(cell["source_refs"]) < 10:
            cell["source_refs"].append(ref)
    out = []
    for cell in cells.values():
        kinds = sorted(cell["kinds"], key=lambda k: -KIND_SEVERITY.get(k, 0))
        out.append({**cell, "kind": kinds[0], "kinds": kinds})
    return out


def restricting_countries(
    *,
    iso3: str,
    day: dt.date,
    audience: Audience,
    operation: Operation | None = None,
    source: str | None = None,
) -> list[dict]:
    """Which countries restrict entry from ``iso3`` on ``day``: one row per imposing country, severest kind first."""
    iso3 = iso3.upper()
    by_country: dict[str, dict] = {}
    rows = travel_in_force(
        day=day, audience=audience, operation=operation, target=iso3, source=source
    ).values_list("imposing_iso3", "kind", "target", "target_region", "source", "source_ref")
    for imposing, kind, target, region, src, ref in rows:
        entry = by_country.setdefault(
            imposing, {"kinds": set(), "via": set(), "sources": set(), "source_refs": [], "restrictions": 0}
        )
        entry["kinds"].add(kind)
        entry["via"].add(f"region:{region}" if target == TravelRestriction.Target.REGION else target)
        entry["sources"].add(src)
        entry["restrictions"] += 1
        if len(entry["source_refs"]) < 10:
            entry["source_refs"].append(ref)
    out = []
    for imposing, entry in by_country.items():
        kinds = sorted(entry["kinds"], key=lambda k: -KIND_SEVERITY.get(k, 0))
        out.append(
            {
                "imposing_iso3": imposing,
                "imposing_name": country_name(imposing),
                "target_iso3": iso3,
                "as_of": day,
                "kind": kinds[0],
                "kinds": kinds,
                "via": sorted(entry["via"]),
                "sources": sorted(entry["sources"]),
                "source_refs": entry["source_refs"],
                "restrictions": entry["restrictions"],
            }
        )
    out.sort(key=lambda r: (-KIND_SEVERITY.get(r["kind"], 0), r["imposing_iso3"]))
    return out


def restricting_changes(
    *,
    iso3: str,
    day_from: dt.date,
    day_to: dt.date,
    audience: Audience,
    operation: Operation | None = None,
    source: str | None = None,
) -> list[dict]:
    """How the countries restricting entry from ``iso3`` changed between two dates.

    One row per imposing country whose severest kind differs: ``imposed`` (none before),
    ``lifted`` (none after), ``tightened`` or ``eased``.
    """
    before = {
        r["imposing_iso3"]: r["kind"]
        for r in restricting_countries(
            iso3=iso3, day=day_from, audience=audience, operation=operation, source=source
        )
    }
    after = {
        r["imposing_iso3"]: r["kind"]
        for r in restricting_countries(
            iso3=iso3, day=day_to, audience=audience, operation=operation, source=source
        )
    }
    rows = []
    for imposing in sorted(set(before) | set(after)):
        old, new = before.get(imposing), after.get(imposing)
        if old == new:
            continue
        if old is None:
            change = "imposed"
        elif new is None:
            change = "lifted"
        else:
            change = "tightened" if KIND_SEVERITY[new] > KIND_SEVERITY[old] else "eased"
        rows.append(
            {
                "imposing_iso3": imposing,
                "imposing_name": country_name(imposing),
                "target_iso3": iso3.upper(),
                "date_from": day_from,
                "date_to": day_to,
                "kind_before": old,
                "kind_after": new,
                "change": change,
            }
        )
    return rows

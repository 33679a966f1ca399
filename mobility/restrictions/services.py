"""Writes of the restrictions app. Each runs in one transaction and validates with ``full_clean()``.

A status record is never edited: a change or a correction is a new ``PoEStatus`` (a correction has
the same effective date as the record it corrects and wins because it is newer). Publishing marks
records visible to everyone; it needs ``Action.PUBLISH`` in the operation when a user is named
(``by=None`` is the command line, run by whoever administers the machine).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from mobility.core.bulk import rows_insert
from mobility.core.imports import Counts, NullProgress, Progress
from mobility.core.models import ImportJob, Operation
from mobility.core.permissions import Action, can
from mobility.core.services import audit_record

from .models import (
    AffectedGroup,
    Measure,
    OperationalStatus,
    PoEStatus,
    PointOfEntry,
    RestrictionType,
    TravelRestriction,
)

NOT_ALLOWED = _("You may not {action} in operation {operation}.")
POE_UNKNOWN = _('No point of entry "{code}" in operation {operation}.')

POINT_FIELDS = (
    "name",
    "type",
    "country_iso3",
    "border_country_iso3",
    "iata_code",
    "admin1_code",
    "admin2_code",
    "latitude",
    "longitude",
)
# What a status record says; two records with the same point, date and these values are the same record.
STATUS_FIELDS = (
    "status",
    "restriction",
    "affected_groups",
    "measures",
    "daily_inflow",
    "daily_outflow",
    "notes",
    "source",
)
TRAVEL_FIELDS = (
    "imposing_iso3",
    "kind",
    "effective_from",
    "effective_to",
    "details",
    "notes",
    "source_url",
)
BATCH = 1000


def _require(by, action: Action, operation: Operation) -> None:
    if by is not None and not can(by, action, operation):
        raise PermissionDenied(NOT_ALLOWED.format(action=action.value, operation=operation.slug))


def _ordered(values: Iterable[str], choices) -> list[str]:
    """A choices list in the enumeration's order, each value once (so equal lists compare equal)."""
    chosen = set(values or ())
    return [v for v in choices.values if v in chosen] + sorted(chosen - set(choices.values))


def status_signature(record) -> tuple:
    """The comparable content of a status record (a model instance or a dict)."""
    get = (
        record.get if isinstance(record, dict) else lambda name, default=None: getattr(record, name, default)
    )
    return (
        get("status"),
        get("restriction") or RestrictionType.NONE,
        tuple(_ordered(get("affected_groups") or (), AffectedGroup)),
        tuple(_ordered(get("measures") or (), Measure)),
        get("daily_inflow"),
        get("daily_outflow"),
        (get("notes") or "").strip(),
        (get("source") or "").strip(),
    )


# --- points of entry ---------------------------------------------------------------------------


@transaction.atomic
def poe_upsert(
    *,
    operation: Operation,
    code: str,
    name: str,
    type: str,  # noqa: A002 - the field's word
    country_iso3: str,
    border_country_iso3: str = "",
    iata_code: str = "",
    admin1_code: str = "",
    admin2_code: str = "",
    latitude: float | None = None,
    longitude: float | None = None,
    by=None,
) -> tuple[PointOfEntry, str]:
    """Create or update the point ``code`` of the operation; returns it and "created", "updated" or "unchanged"."""
    _require(by, Action.IMPORT, operation)
    values = {
        "name": name.strip(),
        "type": type,
        "country_iso3": country_iso3.strip().upper(),
        "border_country_iso3": (border_country_iso3 or "").strip().upper(),
        "iata_code": (iata_code or "").strip().upper(),
        "admin1_code": (admin1_code or "").strip(),
        "admin2_code": (admin2_code or "").strip(),
        "latitude": latitude,
        "longitude": longitude,
    }
    poe = PointOfEntry.objects.select_for_update().filter(operation=operation, code=code.strip()).first()
    if poe is None:
        poe = PointOfEntry(operation=operation, code=code.strip(), **values)
        outcome = "created"
    else:
        if all(getattr(poe, f) == v for f, v in values.items()):
            return poe, "unchanged"
        for field, value in values.items():
            setattr(poe, field, value)
        outcome = "updated"
    poe.full_clean()
    poe.save()
    audit_record(action=f"poe.{'create' if outcome == 'created' else 'update'}", obj=poe, by=by)
    return poe, outcome


@transaction.atomic
def status_record(
    *,
    poe: PointOfEntry,
    effective_from: dt.date,
    status: str,
    restriction: str = RestrictionType.NONE,
    affected_groups: Iterable[str] = (),
    measures: Iterable[str] = (),
    daily_inflow: int | None = None,
    daily_outflow: int | None = None,
    notes: str = "",
    source: str = "",
    publish: bool = False,
    by=None,
    job: ImportJob | None = None,
) -> tuple[PoEStatus, bool]:
    """Record a status of a point from a date on: always a new record, never an edit of an old one.

    A record with the same date as an earlier one is a correction of it. Recording exactly what the
    newest record of that date already says stores nothing (so a re-run command is harmless);
    returns the record and whether it is new.
    """
    operation = poe.operation
    _require(by, Action.IMPORT, operation)
    if publish:
        _require(by, Action.PUBLISH, operation)
    record = PoEStatus(
        poe=poe,
        effective_from=effective_from,
        status=status,
        restriction=restriction or RestrictionType.NONE,
        affected_groups=_ordered(affected_groups, AffectedGroup),
        measures=_ordered(measures, Measure),
        daily_inflow=daily_inflow,
        daily_outflow=daily_outflow,
        notes=(notes or "").strip(),
        source=(source or "").strip(),
        published=publish,
        recorded_by=by if getattr(by, "pk", None) else None,
        job=job,
    )
    record.full_clean()
    same_day = (
        PoEStatus.objects.select_for_update()
        .filter(poe=poe, effective_from=effective_from)
        .order_by("-pk")
        .first()
    )
    if same_day is not None and status_signature(same_day) == status_signature(record):
        if publish and not same_day.published:
            same_day.published = True
            same_day.save(update_fields=["published"])
        return same_day, False
    record.save()
    audit_record(
        action="poe_status.record",
        obj=record,
        by=by,
        operation=operation,
        detail={
            "poe": poe.code,
            "effective_from": effective_from.isoformat(),
            "correction": same_day is not None,
        },
    )
    return record, True


@transaction.atomic
def statuses_publish(
    *,
    operation: Operation,
    by=None,
    until: dt.date | None = None,
    points: Iterable[PointOfEntry] | None = None,
    job: ImportJob | None = None,
) -> int:
    """Publish the operation's unpublished status records (effective on or before ``until``, of ``job``, when given)."""
    _require(by, Action.PUBLISH, operation)
    records = PoEStatus.objects.filter(poe__operation=operation, published=False)
    if until is not None:
        records = records.filter(effective_from__lte=until)
    if points is not None:
        records = records.filter(poe__in=list(points))
    if job is not None:
        records = records.filter(job=job)
    count = PoEStatus.objects.filter(pk__in=list(records.values_list("pk", flat=True))).update(published=True)
    audit_record(
        action="poe_status.publish",
        obj=operation,
        by=by,
        detail={"records": count, "until": until.isoformat() if until else None},
    )
    return count


@transaction.atomic
def travel_publish(
    *, operation: Operation, by=None, source: str | None = None, job: ImportJob | None = None
) -> int:
    """Publish the operation's unpublished travel restrictions (of one source, of one import job, when given)."""
    _require(by, Action.PUBLISH, operation)
    rows = TravelRestriction.objects.filter(operation=operation, published=False)
    if source:
        rows = rows.filter(source=source)
    if job is not None:
        rows = rows.filter(job=job)
    count = rows.update(published=True)
    audit_record(
        action="travel_restriction.publish", obj=operation, by=by, detail={"records": count, "source": source}
    )
    return count


@transaction.atomic
def travel_restriction_save(*, restriction: TravelRestriction, by=None) -> TravelRestriction:
    """Save one hand-written restriction (source "manual" unless given), validated."""
    _require(by, Action.IMPORT, restriction.operation)
    restriction.source = restriction.source or "manual"
    restriction.full_clean()
    restriction.save()
    audit_record(action="travel_restriction.save", obj=restriction, by=by)
    return restriction


# --- writers of the importers (called inside core.imports.run's transaction) ---------------------


@transaction.atomic
def points_write(*, operation: Operation, rows: list[dict], job: ImportJob, progress: Progress) -> Counts:
    """Create or update points by code; a row equal to the stored point leaves it unchanged."""
    counts = Counts()
    existing = {p.code: p for p in PointOfEntry.objects.filter(operation=operation)}
    to_create, to_update = [], []
    for row in rows:
        values = {f: row[f] for f in POINT_FIELDS}
        poe = existing.get(row["code"])
        if poe is None:
            poe = PointOfEntry(operation=operation, code=row["code"], **values)
            poe.full_clean(exclude=["operation"], validate_constraints=False)
            to_create.append(poe)
            existing[poe.code] = poe
            counts.created += 1
        elif all(getattr(poe, f) == v for f, v in values.items()):
            counts.unchanged += 1
        else:
            for field, value in values.items():
                setattr(poe, field, value)
            poe.updated_at = timezone.now()
            poe.full_clean(exclude=["operation"], validate_constraints=False)
            to_update.append(poe)
            counts.updated += 1
        progress.advance()
    PointOfEntry.objects.bulk_create(to_create, batch_size=BATCH)
    if to_update:
        PointOfEntry.objects.bulk_update(to_update, [*POINT_FIELDS, "updated_at"], batch_size=BATCH)
    audit_record(
        action="poe.import",
        obj=job,
        by=job.created_by,
        operation=operation,
        detail={"created": counts.created, "updated": counts.updated},
    )
    return counts


@transaction.atomic
def statuses_write(*, operation: Operation, rows: list[dict], job: ImportJob, progress: Progress) -> Counts:
    """Add the status records that are new; a row identical to a stored record of that point and date is unchanged.

    A row that differs from what is stored for its point and date is a correction: a new record,
    counted as created and in ``summary["corrections"]``.
    """
    counts = Counts()
    points = {p.code: p for p in PointOfEntry.objects.filter(operation=operation)}
    stored: dict[tuple[int, dt.date], set[tuple]] = defaultdict(set)
    for record in PoEStatus.objects.filter(poe__operation=operation).only(
        "poe_id", "effective_from", *STATUS_FIELDS
    ):
        stored[(record.poe_id, record.effective_from)].add(status_signature(record))
    new, corrections = [], 0
    for row in rows:
        poe = points[row["poe_code"]]
        key = (poe.pk, row["effective_from"])
        signature = status_signature(row)
        if signature in stored[key]:
            counts.unchanged += 1
        else:
            corrections += bool(stored[key])
            stored[key].add(signature)
            record = PoEStatus(
                poe=poe,
                effective_from=row["effective_from"],
                status=row["status"],
                restriction=row["restriction"],
                affected_groups=list(signature[2]),
                measures=list(signature[3]),
                daily_inflow=row["daily_inflow"],
                daily_outflow=row["daily_outflow"],
                notes=signature[6],
                source=signature[7],
                recorded_by=job.created_by,
                job=job,
            )
            record.full_clean(exclude=["poe", "recorded_by", "job"], validate_constraints=False)
            new.append(record)
            counts.created += 1
        progress.advance()
    PoEStatus.objects.bulk_create(new, batch_size=BATCH)
    counts.summary["corrections"] = corrections
    audit_record(
        action="poe_status.import",
        obj=job,
        by=job.created_by,
        operation=operation,
        detail={"created": counts.created, "corrections": corrections},
    )
    return counts


def _travel_key(row: dict) -> tuple:
    return (row["source_ref"], row["target"], row.get("target_iso3") or "", row.get("target_region") or "")


# Fields checked once per source_ref (they are the same for every target of a policy) and per row.
_TARGET_FIELDS = ("target", "target_iso3", "target_region")
_KNOWN_FKS = ("operation", "job")  # objects the writer holds; checking them would cost a query per row
_INSERT_FIELDS = (
    "operation_id",
    "job_id",
    "source",
    "source_ref",
    *_TARGET_FIELDS,
    *TRAVEL_FIELDS,
    "published",
    "created_at",
    "updated_at",
)


TARGET_INVALID = _("{row_ref}: the target must be a country (ISO3), a region (a name) or everyone.")


def _travel_clean(row: dict, checked_refs: set[str], make) -> None:
    """``full_clean()`` for the first row of a source_ref; only the target of the others.

    The rows of one policy differ only in their target (the importers build them so), so validating
    every field of every row (80,000 rows for COBAP) would repeat the same checks.
    """
    if row["source_ref"] not in checked_refs:
        make().full_clean(exclude=list(_KNOWN_FKS), validate_unique=False, validate_constraints=False)
        checked_refs.add(row["source_ref"])
        return
    target, iso3, region = row["target"], row.get("target_iso3") or "", row.get("target_region") or ""
    valid = (
        (target == TravelRestriction.Target.ALL and not iso3 and not region)
        or (target == TravelRestriction.Target.COUNTRY and len(iso3) == 3 and iso3.isupper() and not region)
        or (target == TravelRestriction.Target.REGION and 0 < len(region) <= 100 and not iso3)
    )
    if not valid:
        raise ValidationError(TARGET_INVALID.format(row_ref=row["source_ref"]))


@transaction.atomic
def travel_write(
    *,
    operation: Operation,
    source: str,
    rows: list[dict],
    job: ImportJob,
    progress: Progress | None = None,
    chain_by: str | None = None,
) -> Counts:
    """Store a source's restrictions by their key (operation, source, source_ref, target): update, never duplicate.

    Targets a policy no longer names (a corrected edition of the file) are removed, for the policies
    the file holds only. ``chain_by`` (a details key, e.g. WFP's "territory") marks snapshot
    sources: each snapshot of a territory is in force until the day before the next one, so their
    ``effective_to`` is the chain's, not the file's.
    """
    progress = progress or NullProgress()
    counts = Counts()
    compared = [f for f in TRAVEL_FIELDS if not (chain_by and f == "effective_to")]
    stored: dict[tuple, tuple[int, tuple]] = {}
    for pk, ref, target, target_iso3, target_region, *values in TravelRestriction.objects.filter(
        operation=operation, source=source
    ).values_list("pk", "source_ref", *_TARGET_FIELDS, *compared):
        stored[(ref, target, target_iso3, target_region)] = (pk, tuple(values))
    file_refs = {row["source_ref"] for row in rows}
    now = timezone.now()
    seen: set[tuple] = set()
    checked_refs: set[str] = set()
    to_create, to_update = [], []
    for row in rows:
        key = _travel_key(row)
        progress.advance()
        if key in seen:
            counts.unchanged += 1
            continue
        seen.add(key)
        current = stored.get(key)
        if current is not None and current[1] == tuple(row[f] for f in compared):
            counts.unchanged += 1
            continue

        def make(row=row):
            return TravelRestriction(operation=operation, source=source, job=job, **row)

        _travel_clean(row, checked_refs, make)
        if current is None:
            to_create.append(
                (operation.pk, job.pk if job else None, source, row["source_ref"])
                + tuple(row.get(f) or "" for f in _TARGET_FIELDS)
                + tuple(row[f] for f in TRAVEL_FIELDS)
                + (False, now, now)
            )
            counts.created += 1
        else:
            restriction = make()
            restriction.pk, restriction.updated_at = current[0], now
            to_update.append(restriction)
            counts.updated += 1
    rows_insert(TravelRestriction, _INSERT_FIELDS, to_create)
    if to_update:
        TravelRestriction.objects.bulk_update(to_update, [*compared, "job", "updated_at"], batch_size=BATCH)
    gone = [pk for key, (pk, _values) in stored.items() if key[0] in file_refs and key not in seen]
    for start in range(0, len(gone), BATCH):
        TravelRestriction.objects.filter(pk__in=gone[start : start + BATCH]).delete()
    counts.summary["removed"] = len(gone)
    if chain_by:
        counts.summary["closed"] = _chain_snapshots(operation=operation, source=source, chain_by=chain_by)
    audit_record(
        action="travel_restriction.import",
        obj=job,
        by=job.created_by,
        operation=operation,
        detail={"source": source, "created": counts.created, "updated": counts.updated, "removed": len(gone)},
    )
    return counts


def _chain_snapshots(*, operation: Operation, source: str, chain_by: str) -> int:
    """End each snapshot of a territory the day before its next snapshot starts; the newest stays open."""
    by_territory: dict[tuple, list[TravelRestriction]] = defaultdict(list)
    for r in TravelRestriction.objects.filter(operation=operation, source=source).order_by(
        "effective_from", "pk"
    ):
        by_territory[(r.imposing_iso3, (r.details or {}).get(chain_by, ""), r.target, r.target_iso3)].append(
            r
        )
    changed = []
    for snapshots in by_territory.values():
        for i, r in enumerate(snapshots):
            later = [s.effective_from for s in snapshots[i + 1 :] if s.effective_from > r.effective_from]
            end = (later[0] - dt.timedelta(days=1)) if later else None
            if r.effective_to != end:
                r.effective_to, r.updated_at = end, timezone.now()
                changed.append(r)
    TravelRestriction.objects.bulk_update(changed, ["effective_to", "updated_at"], batch_size=BATCH)
    return len(changed)


def poe_get(*, operation: Operation, code: str) -> PointOfEntry:
    """One point of the operation by code, or a ValidationError that names it."""
    poe = PointOfEntry.objects.filter(operation=operation, code=code.strip()).first()
    if poe is None:
        raise ValidationError(POE_UNKNOWN.format(code=code, operation=operation.slug))
    return poe


__all__ = [
    "OperationalStatus",
    "points_write",
    "poe_get",
    "poe_upsert",
    "status_record",
    "status_signature",
    "statuses_publish",
    "statuses_write",
    "travel_publish",
    "travel_restriction_save",
    "travel_write",
]

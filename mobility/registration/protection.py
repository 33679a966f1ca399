"""Data protection of registration: key rotation, erasure on request, retention, the access log.

- **Keys.** ``keys_rotate`` seals every encrypted column of every model again with the current
  (first) key of MOBILITY_FIELD_KEYS. The columns are found by introspection (any
  ``Encrypted*Field``), so a column added later is covered without touching this file. Batches run
  in their own transactions and tokens already under the current key are skipped: an interrupted
  run is resumed by running it again. ``hashes_recompute`` recomputes the keyed hashes after
  MOBILITY_HASH_KEY changed (``KEYED_HASHES`` says how each is made).
- **Erasure.** ``erase_individual`` / ``erase_household`` blank every personal column (every
  encrypted column and every keyed hash), delete identity documents, and mark the records ERASED.
  What the rest of the system counts is plain by design and stays: sex, birth year, household
  size, location p-codes, site, population group, dates of registration and displacement,
  distributions (their free-text override reason is blanked). Aggregates therefore stay right.
- **Retention.** ``purge_closed`` erases records closed (``CLOSED_STATUSES``) for longer than the
  operation's ``RegistrationPolicy.retention_days``.
- **Access log.** ``AccessLogFilter`` and ``access_log_rows`` read the log for the page and the CLI.
- **Views.** ``personal_data_view`` (and ``protect_patterns`` for a list of URL patterns) keeps POST
  data and local variables of a view out of error reports, and personal pages out of caches.

Nothing here writes a personal value to a log, an error message or the audit: errors name the
column and the record's id.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, models, transaction
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.urls import URLPattern, URLResolver
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from ninja import Schema

from mobility.core.imports import NullProgress, Progress
from mobility.core.models import Operation
from mobility.core.permissions import Action, can
from mobility.core.services import audit_record

from . import access
from .crypto import DecryptionError, EncryptedTextField, keyed_hash, keyring, normalise_for_hash
from .models import (
    AccessLog,
    Capability,
    Distribution,
    Household,
    IdentityDocument,
    Individual,
    MatchPair,
    Purpose,
    RecordStatus,
    RegistrationPolicy,
)

ROTATE_UNREADABLE = (
    "column {column}, record id {pk}: the stored value opens with none of the keys in "
    "MOBILITY_FIELD_KEYS (is the key it was sealed with missing?); nothing of this batch was changed"
)
HASH_KEY_SAME = "--hash-key-from is the current MOBILITY_HASH_KEY: give the previous key, not the new one."
HASH_UNREADABLE = (
    "column {column}, record id {pk}: the stored value cannot be decrypted, so its hash "
    "cannot be recomputed (is MOBILITY_FIELD_KEYS complete?)"
)
ERASE_REASON_MISSING = "Give the reason of the erasure (e.g. the reference of the request)."
ERASE_REASON_PERSONAL = (
    "The reason quotes a personal value of the record; write a reference to the request instead."
)
ERASE_OTHER_OPERATION = "{what} {reference} is not in operation {operation}."
RETENTION_NOT_SET = "Operation {operation} has no retention period: nothing is purged (set one first)."
RETENTION_DAYS_INVALID = "The retention period must be a whole number of days from 1 to 36500."

# What "closed" means for retention: the household or person has left the caseload.
# CLOSED: closed by an officer; MOVED: verified as moved away; NOT_FOUND: not found at verification.
# ACTIVE records are never purged; ERASED ones are already empty.
CLOSED_STATUSES = (RecordStatus.CLOSED, RecordStatus.MOVED, RecordStatus.NOT_FOUND)
ERASED_TEXT = "[erased]"  # replaces free text that may name someone (e.g. an override reason)


# --- which columns are personal ------------------------------------------------------------


def encrypted_columns() -> dict[type[models.Model], list[EncryptedTextField]]:
    """Every encrypted column of every installed model (found by introspection), by model."""
    found: dict[type[models.Model], list[EncryptedTextField]] = {}
    for model in apps.get_models():
        if model._meta.proxy:
            continue
        local = [f for f in model._meta.local_concrete_fields if isinstance(f, EncryptedTextField)]
        if local:
            found[model] = local
    return found


@dataclass(frozen=True)
class HashedColumn:
    """A keyed-hash column: how its value is computed from the record's (decrypted) fields."""

    model: type[models.Model]
    column: str
    sources: tuple[str, ...]
    # (record) -> (plain value, purpose); the same formula as the write path (services.py).
    value: Callable[[models.Model], tuple[str | None, str]]


KEYED_HASHES: list[HashedColumn] = [
    HashedColumn(Household, "phone_hash", ("phone",), lambda h: (h.phone, "phone")),
    HashedColumn(
        Individual,
        "name_hash",
        ("given_name", "family_name"),
        lambda i: (f"{i.given_name} {i.family_name}", "name"),
    ),
    HashedColumn(
        IdentityDocument,
        "number_hash",
        ("number", "doc_type"),
        lambda d: (d.number, f"document:{d.doc_type}"),
    ),
]


def hashed_columns(model: type[models.Model]) -> list[str]:
    return [h.column for h in KEYED_HASHES if h.model is model]


# --- key rotation ----------------------------------------------------------------------------


class RotationFailed(Exception):
    """A stored token opens with no listed key; the message names the column and record id."""


@dataclass
class RotationCounts:
    records: int = 0
    resealed: int = 0
    current: int = 0
    columns: dict[str, int] = field(default_factory=dict)  # column → tokens resealed


def _qn(name: str) -> str:
    return connection.ops.quote_name(name)


def _batches(model, columns: list[str], batch_size: int) -> Iterator[list[tuple]]:
    """(pk, *raw column values) of a table in pk order, one batch at a time (raw: tokens, not values)."""
    table, pk = _qn(model._meta.db_table), _qn(model._meta.pk.column)
    select = f"SELECT {pk}, {', '.join(_qn(c) for c in columns)} FROM {table}"  # noqa: S608 (names only)
    last = None
    while True:
        with connection.cursor() as cursor:
            if last is None:
                cursor.execute(f"{select} ORDER BY {pk} LIMIT %s", [batch_size])
            else:
                cursor.execute(f"{select} WHERE {pk} > %s ORDER BY {pk} LIMIT %s", [last, batch_size])
            rows = cursor.fetchall()
        if not rows:
            return
        yield rows
        last = rows[-1][0]


def keys_rotate(*, batch_size: int = 500, progress: Progress | None = None) -> RotationCounts:
    """Seal every encrypted value again with the current key; resumable (current tokens are skipped)."""
    progress = progress or NullProgress()
    ring = keyring()
    counts = RotationCounts()
    for model, fields in encrypted_columns().items():
        table, pk = _qn(model._meta.db_table), _qn(model._meta.pk.column)
        progress.start(model._default_manager.count(), f"{model._meta.label}: re-encrypting")
        for rows in _batches(model, [f.column for f in fields], batch_size):
            with transaction.atomic():
                for row in rows:
                    changed: dict[str, tuple[str, str]] = {}
                    for f, token in zip(fields, row[1:], strict=True):
                        if not token:
                            continue
                        if ring.is_current(token):
                            counts.current += 1
                            continue
                        try:
                            changed[f.column] = (ring.reencrypt(token, f.aad), token)
                        except DecryptionError:
                            raise RotationFailed(ROTATE_UNREADABLE.format(column=f.aad, pk=row[0])) from None
                    if changed:
                        sets = ", ".join(f"{_qn(c)} = %s" for c in changed)
                        # Only if unchanged since it was read: a concurrent write used the current key anyway.
                        guards = " AND ".join(f"{_qn(c)} = %s" for c in changed)
                        with connection.cursor() as cursor:
                            cursor.execute(
                                f"UPDATE {table} SET {sets} WHERE {pk} = %s AND {guards}",  # noqa: S608
                                [
                                    *(new for new, _ in changed.values()),
                                    row[0],
                                    *(old for _, old in changed.values()),
                                ],
                            )
                        for column in changed:
                            key = f"{model._meta.label_lower}.{column}"
                            counts.columns[key] = counts.columns.get(key, 0) + 1
                        counts.resealed += len(changed)
            counts.records += len(rows)
            progress.advance(len(rows))
    progress.finish()
    return counts


@dataclass
class KeyCheck:
    current: int = 0
    older: int = 0
    unreadable: dict[str, int] = field(default_factory=dict)  # column → tokens no key opens


def keys_check(*, batch_size: int = 2000) -> KeyCheck:
    """How many tokens are under the current key, under an older listed key, or under none (no writes)."""
    ring = keyring()
    check = KeyCheck()
    for model, fields in encrypted_columns().items():
        for rows in _batches(model, [f.column for f in fields], batch_size):
            for row in rows:
                for f, token in zip(fields, row[1:], strict=True):
                    if not token:
                        continue
                    if ring.is_current(token):
                        check.current += 1
                        continue
                    try:
                        ring.decrypt(token, f.aad)
                        check.older += 1
                    except DecryptionError:
                        check.unreadable[f.aad] = check.unreadable.get(f.aad, 0) + 1
    return check


@dataclass
class HashCounts:
    records: int = 0
    updated: int = 0
    matched_old: int = 0  # stored hash was made with the old key (as expected)
    matched_current: int = 0  # already recomputed (a resumed run)
    matched_neither: int = 0  # neither key: the value changed without its hash, or a wrong old key


def hashes_recompute(
    *, old_key: bytes | None = None, batch_size: int = 500, progress: Progress | None = None
) -> HashCounts:
    """Recompute every keyed hash with the current MOBILITY_HASH_KEY (after it changed); resumable."""
    from .crypto import hash_key

    if old_key is not None and old_key == hash_key():
        raise ValidationError(HASH_KEY_SAME)
    progress = progress or NullProgress()
    counts = HashCounts()
    for spec in KEYED_HASHES:
        model = spec.model
        queryset = model._default_manager.order_by("pk").only("pk", spec.column, *spec.sources)
        progress.start(queryset.count(), f"{model._meta.label}.{spec.column}: recomputing")
        last = 0
        while True:
            try:
                batch = list(queryset.filter(pk__gt=last)[:batch_size])
            except DecryptionError as exc:
                raise RotationFailed(HASH_UNREADABLE.format(column=exc.column, pk=f"after {last}")) from None
            if not batch:
                break
            stale = []
            for record in batch:
                value, purpose = spec.value(record)
                new = keyed_hash(value, purpose)
                stored = getattr(record, spec.column)
                if stored == new:
                    counts.matched_current += 1
                    continue
                if old_key is not None:
                    if stored == keyed_hash(value, purpose, key=old_key):
                        counts.matched_old += 1
                    else:
                        counts.matched_neither += 1
                setattr(record, spec.column, new)
                stale.append(record)
            with transaction.atomic():
                model._default_manager.bulk_update(stale, [spec.column])
            counts.updated += len(stale)
            counts.records += len(batch)
            last = batch[-1].pk
            progress.advance(len(batch))
    progress.finish()
    return counts


# --- erasure ---------------------------------------------------------------------------------


@dataclass
class EraseCounts:
    households: int = 0
    individuals: int = 0
    documents: int = 0
    household_ids: list[int] = field(default_factory=list)
    individual_ids: list[int] = field(default_factory=list)

    def add(self, other: EraseCounts) -> None:
        self.households += other.households
        self.individuals += other.individuals
        self.documents += other.documents
        self.household_ids += other.household_ids
        self.individual_ids += other.individual_ids


# Called after an erasure with (operation, household_ids, individual_ids), inside its transaction:
# stores that copy personal values elsewhere (a dedup index, a cache) drop them here.
ERASURE_HOOKS: list[Callable[[Operation, list[int], list[int]], None]] = []


def on_erase(hook: Callable[[Operation, list[int], list[int]], None]):
    """Register a function called with (operation, household_ids, individual_ids) on every erasure."""
    if hook not in ERASURE_HOOKS:
        ERASURE_HOOKS.append(hook)
    return hook


def _blank(model) -> dict:
    """Every personal column of the model, emptied (encrypted columns and keyed hashes)."""
    values = {f.name: "" for f in encrypted_columns().get(model, [])}
    values.update({name: "" for name in hashed_columns(model)})
    return values


def _blank_related(parent_model, ids: list[int], *, skip: tuple = ()) -> None:
    """Empty the encrypted columns of rows of other models that point to the erased records."""
    columns = encrypted_columns()
    for rel in parent_model._meta.related_objects:
        related = rel.related_model
        if related in skip or related not in columns or rel.many_to_many:
            continue
        related._default_manager.filter(**{f"{rel.field.name}__in": ids}).update(**_blank(related))


def _authorise(by, operation: Operation) -> None:
    # ``by=None`` is the command line (the operator of the server) or the retention purge.
    if by is not None:
        access.require(by, operation, Capability.ERASE)


def _words(text: str) -> set[str]:
    return {normalise_for_hash(w) for w in str(text).split() if len(normalise_for_hash(w)) >= 3}


def _reason_check(reason: str, *, person_ids: list[int], household_id: int | None = None) -> str:
    """The reason, checked not to quote the record's names, phone or document numbers."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(ERASE_REASON_MISSING)
    said = _words(reason)
    squeezed = normalise_for_hash(reason)
    try:
        people = Individual.objects.filter(pk__in=person_ids).exclude(status=RecordStatus.ERASED)
        for person in people.prefetch_related("documents"):
            names = [person.given_name, person.family_name, *(person.other_names or [])]
            if any(_words(n) & said for n in names if n):
                raise ValidationError(ERASE_REASON_PERSONAL)
            for doc in person.documents.all():
                number = normalise_for_hash(doc.number)
                if number and number in squeezed:
                    raise ValidationError(ERASE_REASON_PERSONAL)
        if household_id is not None:
            phone = normalise_for_hash(Household.objects.only("phone").get(pk=household_id).phone)
            if phone and phone[-7:] in squeezed:
                raise ValidationError(ERASE_REASON_PERSONAL)
    except DecryptionError:
        pass  # the key is gone: nothing can be quoted from values no one can read
    return reason


def _merged_into(ids: list[int]) -> list[int]:
    """The records merged (directly or in a chain) into these: the same person, erased with them."""
    found, frontier = [], list(ids)
    while frontier:
        more = list(
            Individual.objects.filter(merged_into__in=frontier)
            .exclude(pk__in=found + ids)
            .values_list("pk", flat=True)
        )
        found += more
        frontier = more
    return found


def _erase_people(operation: Operation, ids: list[int]) -> EraseCounts:
    counts = EraseCounts()
    ids = list(
        Individual.objects.filter(pk__in=ids).exclude(status=RecordStatus.ERASED).values_list("pk", flat=True)
    )
    if not ids:
        return counts
    counts.documents = IdentityDocument.objects.filter(individual__in=ids).delete()[0]
    _blank_related(Individual, ids, skip=(IdentityDocument, Individual))
    Individual.objects.filter(pk__in=ids).update(**_blank(Individual), status=RecordStatus.ERASED)
    # A pending pair of an erased record can no longer be reviewed; decided pairs keep the decision.
    MatchPair.objects.filter(Q(left__in=ids) | Q(right__in=ids), status=MatchPair.Status.PENDING).delete()
    counts.individuals, counts.individual_ids = len(ids), ids
    return counts


def _erase_household_fields(household: Household) -> EraseCounts:
    counts = EraseCounts()
    if household.status == RecordStatus.ERASED:
        return counts
    # A distribution stays (it is counted); its override reason (free text) is replaced, so the
    # audit still shows that there was one.
    _blank_related(Household, [household.pk], skip=(Individual, Distribution))
    Distribution.objects.filter(household=household).exclude(override_reason="").update(
        override_reason=ERASED_TEXT
    )
    Household.objects.filter(pk=household.pk).update(
        **_blank(Household), status=RecordStatus.ERASED, status_changed_at=timezone.now()
    )
    counts.households, counts.household_ids = 1, [household.pk]
    return counts


def _record_erasure(*, operation, obj, by, reason: str, counts: EraseCounts, action: str) -> None:
    for hook in ERASURE_HOOKS:
        hook(operation, counts.household_ids, counts.individual_ids)
    access.log_access(
        user=by,
        operation=operation,
        action=AccessLog.Action.ERASE,
        purpose=Purpose.ERASURE,
        object_type="registration.individual",
        object_ids=counts.individual_ids,
        detail={"households": counts.household_ids},
    )
    audit_record(
        action=action,
        obj=obj,
        by=by,
        operation=operation,
        detail={
            "reason": reason,
            "households": counts.household_ids,
            "individuals": counts.individual_ids,
            "documents_deleted": counts.documents,
        },
    )


# Loaded without their encrypted columns: an erasure works even when the key of the values is lost.
_PLAIN_INDIVIDUAL = ("id", "operation_id", "household_id", "reference", "status")
_PLAIN_HOUSEHOLD = ("id", "operation_id", "reference", "status")


def erase_individual(*, individual: Individual, by, reason: str) -> EraseCounts:
    """Erase one person on request (and records merged into them); their household stays unless emptied."""
    operation = Operation.objects.get(pk=individual.operation_id)
    _authorise(by, operation)  # before the transaction: a refusal stays in the access log
    with transaction.atomic():
        person = Individual.objects.select_for_update().only(*_PLAIN_INDIVIDUAL).get(pk=individual.pk)
        ids = [person.pk, *_merged_into([person.pk])]
        reason = _reason_check(reason, person_ids=ids)
        counts = _erase_people(operation, ids)
        household = Household.objects.only(*_PLAIN_HOUSEHOLD).get(pk=person.household_id)
        if not Individual.objects.filter(household=household).exclude(status=RecordStatus.ERASED).exists():
            counts.add(_erase_household_fields(household))
        if counts.individuals or counts.households:
            _record_erasure(
                operation=operation,
                obj=person,
                by=by,
                reason=reason,
                counts=counts,
                action="registration.erase",
            )
    return counts


def erase_household(*, household: Household, by, reason: str) -> EraseCounts:
    """Erase a household on request: its contact fields and every member (and records merged into them)."""
    operation = Operation.objects.get(pk=household.operation_id)
    _authorise(by, operation)
    with transaction.atomic():
        household = Household.objects.select_for_update().only(*_PLAIN_HOUSEHOLD).get(pk=household.pk)
        members = list(Individual.objects.filter(household=household).values_list("pk", flat=True))
        ids = [*members, *_merged_into(members)]
        reason = _reason_check(reason, person_ids=ids, household_id=household.pk)
        counts = _erase_people(operation, ids)
        counts.add(_erase_household_fields(household))
        if counts.individuals or counts.households:
            _record_erasure(
                operation=operation,
                obj=household,
                by=by,
                reason=reason,
                counts=counts,
                action="registration.erase",
            )
    return counts


def household_find(operation: Operation, reference: str) -> Household:
    found = Household.objects.filter(operation=operation, reference=reference).only(*_PLAIN_HOUSEHOLD).first()
    if found is None:
        raise ValidationError(
            ERASE_OTHER_OPERATION.format(what="Household", reference=reference, operation=operation.slug)
        )
    return found


def individual_find(operation: Operation, reference: str) -> Individual:
    found = (
        Individual.objects.filter(operation=operation, reference=reference).only(*_PLAIN_INDIVIDUAL).first()
    )
    if found is None:
        raise ValidationError(
            ERASE_OTHER_OPERATION.format(what="Individual", reference=reference, operation=operation.slug)
        )
    return found


# --- retention -------------------------------------------------------------------------------


@transaction.atomic
def retention_set(*, operation: Operation, days: int | None, by=None) -> RegistrationPolicy:
    """Set (or, with None, remove) how long closed records are kept before they are purged."""
    if days is not None and not 1 <= days <= 36500:
        raise ValidationError(RETENTION_DAYS_INVALID)
    if by is not None and not can(by, Action.MANAGE, operation):
        raise PermissionDenied(access.GRANT_NEEDS_ADMIN)
    policy, _ = RegistrationPolicy.objects.get_or_create(operation=operation)
    policy.retention_days = days
    policy.full_clean()
    policy.save()
    audit_record(
        action="registration.retention_set", obj=policy, by=by, operation=operation, detail={"days": days}
    )
    return policy


@dataclass
class PurgePlan:
    retention_days: int | None
    cutoff: dt.datetime | None
    households: list[Household] = field(default_factory=list)
    individuals: list[Individual] = field(default_factory=list)  # closed people of households kept


def purge_plan(*, operation: Operation, today: dt.date) -> PurgePlan:
    """What ``purge_closed`` would erase today (records closed longer than the retention period)."""
    policy = RegistrationPolicy.objects.filter(operation=operation).first()
    days = policy.retention_days if policy else None
    if not days:
        return PurgePlan(retention_days=None, cutoff=None)
    cutoff = timezone.make_aware(dt.datetime.combine(today - dt.timedelta(days=days), dt.time.min))
    households = list(
        Household.objects.filter(operation=operation, status__in=CLOSED_STATUSES)
        .annotate(closed_at=Coalesce("status_changed_at", "updated_at"))
        .filter(closed_at__lt=cutoff)
        .only(*_PLAIN_HOUSEHOLD)
        .order_by("pk")
    )
    # People closed on their own (left a household that stays). A record merged into another is
    # the survivor's: it goes when the survivor goes.
    individuals = list(
        Individual.objects.filter(
            operation=operation, status__in=CLOSED_STATUSES, updated_at__lt=cutoff, merged_into__isnull=True
        )
        .exclude(household__in=[h.pk for h in households])
        .only(*_PLAIN_INDIVIDUAL)
        .order_by("pk")
    )
    return PurgePlan(retention_days=days, cutoff=cutoff, households=households, individuals=individuals)


def purge_closed(
    *, operation: Operation, today: dt.date, by=None, dry_run: bool = False, progress: Progress | None = None
) -> tuple[PurgePlan, EraseCounts]:
    """Erase the records closed for longer than the retention period (one transaction per household)."""
    plan = purge_plan(operation=operation, today=today)
    counts = EraseCounts()
    if dry_run or plan.retention_days is None:
        return plan, counts
    _authorise(by, operation)  # once, before anything is erased
    progress = progress or NullProgress()
    progress.start(len(plan.households) + len(plan.individuals), "erasing closed records")
    reason = f"retention: closed for more than {plan.retention_days} days"
    for household in plan.households:
        counts.add(erase_household(household=household, by=by, reason=reason))
        progress.advance()
    for person in plan.individuals:
        counts.add(erase_individual(individual=person, by=by, reason=reason))
        progress.advance()
    progress.finish()
    return plan, counts


# --- access log ------------------------------------------------------------------------------


class AccessLogFilter(Schema):
    """What the access log may be filtered by: the page, its CSV and the CLI alike."""

    user: str | None = None  # user name
    action: AccessLog.Action | None = None
    purpose: Purpose | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    object_id: str | None = None

    def q(self) -> Q:
        q = Q()
        if self.user:
            q &= Q(user__username=self.user.strip())
        if self.action:
            q &= Q(action=self.action)
        if self.purpose:
            q &= Q(purpose=self.purpose)
        if self.date_from:
            q &= Q(at__gte=timezone.make_aware(dt.datetime.combine(self.date_from, dt.time.min)))
        if self.date_to:
            q &= Q(
                at__lt=timezone.make_aware(
                    dt.datetime.combine(self.date_to + dt.timedelta(days=1), dt.time.min)
                )
            )
        if self.object_id:
            oid = self.object_id.strip()
            # One record: object_id; many (an export, an erasure): the ids list in ``detail``.
            q &= Q(object_id=oid) | Q(detail__ids__icontains=f'"{oid}"')
        return q


def access_log_rows(*, operation: Operation, filters: AccessLogFilter | None = None):
    """The operation's access log, newest first (ids only: no personal value is ever in it)."""
    filters = filters or AccessLogFilter()
    return (
        AccessLog.objects.filter(operation=operation)
        .filter(filters.q())
        .select_related("user")
        .order_by("-at", "-id")
    )


ACCESS_LOG_COLUMNS = ["at", "user", "action", "purpose", "object_type", "object_id", "records", "object_ids"]


def access_log_csv_rows(rows) -> Iterator[list]:
    from mobility.publishing.exports import neutralise

    yield ACCESS_LOG_COLUMNS
    for entry in rows:
        ids = entry.detail.get("ids") if isinstance(entry.detail, dict) else None
        yield [
            neutralise(v)
            for v in (
                entry.at.isoformat(timespec="seconds"),
                entry.user.get_username() if entry.user else "",
                entry.action,
                entry.purpose,
                entry.object_type,
                entry.object_id,
                entry.records,
                " ".join(str(i) for i in ids) if ids else entry.object_id,
            )
        ]


def access_log_csv(rows) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    for row in access_log_csv_rows(rows):
        writer.writerow(row)
    return out.getvalue()


def user_find(username: str):
    return get_user_model().objects.filter(username=username).first()


# --- views: nothing personal in error reports or caches -------------------------------------


def personal_data_view(view):
    """Decorate a view that handles personal data: its POST data and local variables (and those of
    everything it calls) never appear in error reports, and its pages are never cached."""
    if getattr(view, "personal_data", False):
        return view
    wrapped = never_cache(sensitive_post_parameters()(sensitive_variables()(view)))
    functools.update_wrapper(wrapped, view)
    wrapped.personal_data = True
    return wrapped


def protect_patterns(patterns: list) -> list:
    """Apply ``personal_data_view`` to every view of a list of URL patterns (includes too)."""
    for pattern in patterns:
        if isinstance(pattern, URLPattern):
            pattern.callback = personal_data_view(pattern.callback)
        elif isinstance(pattern, URLResolver) and isinstance(pattern.urlconf_name, list):
            protect_patterns(pattern.urlconf_name)
    return patterns

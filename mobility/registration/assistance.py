"""Assistance: the item catalogue, entitlements, and distributions that are never given twice.

``distribution_record`` refuses (``DistributionRefused``, a ValidationError with a constant message
and no personal value) when the household — or any household linked to it through a duplicate
cluster or a merge — already received the same item within the entitlement's period, when the
quantity is above the entitlement, or when no entitlement is in force. A supervisor (the
``distribute`` capability and a data manager or admin role) may record it anyway with a reason:
it is then linked to the distribution it repeats (``overrides``) and audited.

Two distributions for linked households recorded at the same time cannot both pass the check:
the households are locked (``SELECT … FOR UPDATE`` on PostgreSQL, in primary-key order so two
writers never wait on each other; SQLite's IMMEDIATE transactions already serialise writers).
A distribution sent again with the same ``reference`` updates the first one, never doubles it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from mobility.core.imports import RowError
from mobility.core.models import Operation
from mobility.core.permissions import Action, can
from mobility.core.services import audit_record

from . import access
from .access_first import requires
from .models import (
    AccessLog,
    Capability,
    Distribution,
    Entitlement,
    Household,
    Individual,
    Item,
    Purpose,
    RecordStatus,
)
from .services import BatchInvalid

# Refusals a supervisor may override with a reason (no personal value in any of them).
ALREADY_RECEIVED = _(
    "Refused: this household already received {item} on {date}, within the entitlement's period of "
    "{period_days} days."
)
ALREADY_RECEIVED_CLUSTER = _(
    "Refused: a household linked to this one as a duplicate already received {item} on {date}, within "
    "the entitlement's period of {period_days} days."
)
OVER_ENTITLEMENT = _(
    "Refused: {quantity} is more than this household's entitlement of {allowed} {unit} of {item}."
)
NO_ENTITLEMENT = _("Refused: no entitlement to {item} is in force for this household on {date}.")
# Errors no override changes.
OVERRIDE_NOT_ALLOWED = _(
    "Only a data manager or admin of the operation who may record assistance can override a refusal."
)
OVERRIDE_TOO_LONG = _("The override reason is longer than 500 characters.")
HOUSEHOLD_OTHER_OPERATION = _("The household is not registered in this operation.")
HOUSEHOLD_CLOSED = _("household {reference} is {status}; assistance cannot be recorded for it")
ITEM_UNKNOWN = _('"{value}" is not an item of this operation\'s catalogue')
SITE_UNKNOWN = _('"{value}" is not a site code of this operation')
QUANTITY_INVALID = _('"{value}" is not a quantity from 1 to 100000')
DATE_IN_FUTURE = _("distributed_on {date} is in the future")
REFERENCE_REQUIRED = _("A distribution needs a reference (the id on the distribution list or device).")
REFERENCE_TOO_LONG = _("The reference is longer than 64 characters.")
REFERENCE_OTHER_HOUSEHOLD = _(
    "reference {reference} is already used by a distribution to another household or of another item"
)
CATALOGUE_NEEDS_MANAGER = _(
    "Only a data manager or admin of the operation can change the assistance catalogue."
)
CODE_REQUIRED = _("An item needs a code and a name.")
VALIDITY_REVERSED = _("valid_from {valid_from} is after valid_to {valid_to}.")
ROW_REQUIRED = _("is required")
ROW_NOT_A_DATE = _("is not a date (use YYYY-MM-DD)")
HOUSEHOLD_UNKNOWN = _("household {reference} is not registered in this operation")
LIST_COLUMNS_MISSING = _("the file has no column {columns} (expected: {expected})")
REFERENCE_TWICE = _("reference {reference} is also on row {first_row}")

LIST_COLUMNS = [
    "reference",
    "household_reference",
    "item_code",
    "quantity",
    "distributed_on",
    "site_code",
    "distributor",
]
REQUIRED_LIST_COLUMNS = ["reference", "household_reference", "item_code", "quantity", "distributed_on"]
MAX_QUANTITY = 100_000
# Households assistance is never recorded for.
NOT_ASSISTED = (RecordStatus.CLOSED, RecordStatus.ERASED)


class DistributionRefused(ValidationError):
    """The check refused a distribution; ``reasons`` are codes, ``repeats`` the distribution it would repeat."""

    def __init__(self, messages: list[str], *, reasons: list[str], repeats: Distribution | None):
        self.reasons = reasons
        self.repeats = repeats
        super().__init__(messages)


class DistributionListInvalid(BatchInvalid):
    """A distribution list with row errors (refusals among them): nothing was recorded."""


@dataclass
class ListCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    overridden: int = 0
    distribution_ids: list[int] = field(default_factory=list)


# --- catalogue ---------------------------------------------------------------------------------


def _require_manager(by, operation: Operation) -> None:
    if not can(by, Action.IMPORT, operation):
        raise PermissionDenied(CATALOGUE_NEEDS_MANAGER)


@transaction.atomic
def item_create(
    *, operation: Operation, code: str, name: str, by, unit: str = "kit", sector: str = ""
) -> Item:
    """Add an item or kit to the catalogue; the same code again updates its name, unit and sector."""
    _require_manager(by, operation)
    code, name = (code or "").strip().upper(), (name or "").strip()
    if not code or not name:
        raise ValidationError(CODE_REQUIRED)
    item = Item.objects.filter(operation=operation, code=code).first() or Item(operation=operation, code=code)
    created = item.pk is None
    item.name, item.unit, item.sector = name, (unit or "kit").strip(), (sector or "").strip()
    item.full_clean()
    item.save()
    audit_record(
        action="registration.item_create" if created else "registration.item_update", obj=item, by=by
    )
    return item


@transaction.atomic
def entitlement_set(
    *,
    operation: Operation,
    item: Item,
    by,
    quantity: int = 1,
    per_person: bool = False,
    period_days: int = 30,
    population_group: str = "",
    valid_from: dt.date | None = None,
    valid_to: dt.date | None = None,
) -> Entitlement:
    """Set how much of an item a household may receive once per period (one entitlement per item)."""
    _require_manager(by, operation)
    if item.operation_id != operation.pk:
        raise ValidationError(ITEM_UNKNOWN.format(value=item.code))
    if valid_from and valid_to and valid_from > valid_to:
        raise ValidationError(VALIDITY_REVERSED.format(valid_from=valid_from, valid_to=valid_to))
    entitlement = Entitlement.objects.filter(operation=operation, item=item).first() or Entitlement(
        operation=operation, item=item
    )
    entitlement.quantity = quantity
    entitlement.per_person = per_person
    entitlement.period_days = period_days
    entitlement.population_group = population_group or ""
    entitlement.valid_from, entitlement.valid_to = valid_from, valid_to
    entitlement.full_clean()
    entitlement.save()
    audit_record(
        action="registration.entitlement_set",
        obj=entitlement,
        by=by,
        detail={
            "item": item.code,
            "quantity": quantity,
            "per_person": per_person,
            "period_days": period_days,
            "population_group": entitlement.population_group,
        },
    )
    return entitlement


def entitlement_for(*, item: Item, household: Household, on: dt.date) -> Entitlement | None:
    """The entitlement to the item in force for this household on that day, if any."""
    entitlement = Entitlement.objects.filter(operation_id=item.operation_id, item=item).first()
    if entitlement is None:
        return None
    if entitlement.valid_from and on < entitlement.valid_from:
        return None
    if entitlement.valid_to and on > entitlement.valid_to:
        return None
    if entitlement.population_group and entitlement.population_group != household.population_group:
        return None
    return entitlement


def allowed_quantity(entitlement: Entitlement, household: Household) -> int:
    return entitlement.quantity * (household.size if entitlement.per_person else 1)


# --- who is the same household -------------------------------------------------------------------


def linked_households(household: Household, *, max_steps: int = 20) -> set[int]:
    """This household and every household linked to it as a duplicate (ids).

    Linked: a member shares a DedupCluster with one of this household's members, or one record was
    merged into the other (``Individual.merged_into``, either way). Followed until nothing new
    joins, so a record merged into someone whose cluster holds a third person links all three.
    """
    people: set[int] = set(Individual.objects.filter(household=household).values_list("pk", flat=True))
    frontier = set(people)
    for _step in range(max_steps):
        if not frontier:
            break
        found: set[int] = set()
        rows = Individual.objects.filter(pk__in=frontier).values_list("cluster_id", "merged_into_id")
        clusters = {c for c, _m in rows if c}
        found |= {m for _c, m in rows if m}
        if clusters:
            found |= set(Individual.objects.filter(cluster_id__in=clusters).values_list("pk", flat=True))
        found |= set(Individual.objects.filter(merged_into__in=frontier).values_list("pk", flat=True))
        frontier = found - people
        people |= found
    households = set(
        Individual.objects.filter(pk__in=people, operation_id=household.operation_id).values_list(
            "household_id", flat=True
        )
    )
    return households | {household.pk}


# --- recording a distribution --------------------------------------------------------------------


def may_override(user, operation: Operation) -> bool:
    """Supervisors override refusals: the distribute capability and a data manager or admin role."""
    return access.personal_can(user, operation, Capability.DISTRIBUTE) and can(
        user, Action.PUBLISH, operation
    )


def _item(operation: Operation, item) -> Item:
    if isinstance(item, Item):
        if item.operation_id != operation.pk:
            raise ValidationError(ITEM_UNKNOWN.format(value=item.code))
        return item
    found = Item.objects.filter(operation=operation, code__iexact=str(item or "").strip()).first()
    if found is None:
        raise ValidationError(ITEM_UNKNOWN.format(value=str(item or "")[:32]))
    return found


def _site(operation: Operation, site):
    from mobility.gazetteer.models import Location

    if site is None or site == "":
        return None
    if isinstance(site, Location):
        if site.operation_id != operation.pk or site.type != Location.Type.SITE:
            raise ValidationError(SITE_UNKNOWN.format(value=site.code))
        return site
    found = Location.objects.filter(
        operation=operation, type=Location.Type.SITE, code__iexact=str(site).strip()
    ).first()
    if found is None:
        raise ValidationError(SITE_UNKNOWN.format(value=str(site)[:64]))
    return found


def refusals(
    *,
    household: Household,
    item: Item,
    quantity: int,
    distributed_on: dt.date,
    linked: set[int],
    exclude_pk: int | None = None,
) -> tuple[list[tuple[str, str]], Distribution | None]:
    """What the check refuses, as (code, message) pairs, and the distribution it would repeat."""
    out: list[tuple[str, str]] = []
    entitlement = entitlement_for(item=item, household=household, on=distributed_on)
    if entitlement is None:
        out.append(("no_entitlement", str(NO_ENTITLEMENT.format(item=item.code, date=distributed_on))))
        return out, None
    allowed = allowed_quantity(entitlement, household)
    if quantity > allowed:
        out.append(
            (
                "over_entitlement",
                str(
                    OVER_ENTITLEMENT.format(
                        quantity=quantity, allowed=allowed, unit=item.unit, item=item.code
                    )
                ),
            )
        )
    period = dt.timedelta(days=entitlement.period_days)
    earlier = (
        Distribution.objects.filter(
            operation_id=household.operation_id,
            item=item,
            household_id__in=linked,
            distributed_on__gt=distributed_on - period,
            distributed_on__lt=distributed_on + period,
        )
        .exclude(pk=exclude_pk)
        .order_by("-distributed_on", "-id")
    )
    # The one to link an override to: this household's own first, else the nearest in time.
    repeats = None
    for candidate in earlier:
        if repeats is None or (
            candidate.household_id == household.pk and repeats.household_id != household.pk
        ):
            repeats = candidate
    if repeats is not None:
        message = ALREADY_RECEIVED if repeats.household_id == household.pk else ALREADY_RECEIVED_CLUSTER
        out.append(
            (
                "already_received",
                str(
                    message.format(
                        item=item.code, date=repeats.distributed_on, period_days=entitlement.period_days
                    )
                ),
            )
        )
    return out, repeats


def _record(
    *,
    operation: Operation,
    household: Household,
    item,
    quantity: int,
    distributed_on: dt.date,
    site,
    distributor: str,
    reference: str,
    by,
    override_reason: str,
    today: dt.date,
) -> Distribution:
    """Check and write one distribution (no permission check, no access log: the callers do that)."""
    if household.operation_id != operation.pk:
        raise ValidationError(HOUSEHOLD_OTHER_OPERATION)
    item = _item(operation, item)
    site = _site(operation, site)
    reference = (reference or "").strip()
    if not reference:
        raise ValidationError(REFERENCE_REQUIRED)
    if len(reference) > 64:
        raise ValidationError(REFERENCE_TOO_LONG)
    if not isinstance(quantity, int) or isinstance(quantity, bool) or not 1 <= quantity <= MAX_QUANTITY:
        raise ValidationError(QUANTITY_INVALID.format(value=str(quantity)[:12]))
    if distributed_on > today:
        raise ValidationError(DATE_IN_FUTURE.format(date=distributed_on))
    override_reason = (override_reason or "").strip()
    if len(override_reason) > 500:
        raise ValidationError(OVERRIDE_TOO_LONG)

    linked = linked_households(household)
    # Lock every linked household, always in the same order, before reading what they received.
    locked = {h.pk: h for h in Household.objects.select_for_update().filter(pk__in=linked).order_by("pk")}
    household = locked[household.pk]
    if household.status in NOT_ASSISTED:
        raise ValidationError(HOUSEHOLD_CLOSED.format(reference=household.reference, status=household.status))
    existing = (
        Distribution.objects.select_for_update().filter(operation=operation, reference=reference).first()
    )
    if existing is not None and (existing.household_id != household.pk or existing.item_id != item.pk):
        raise ValidationError(REFERENCE_OTHER_HOUSEHOLD.format(reference=reference))

    refused, repeats = refusals(
        household=household,
        item=item,
        quantity=quantity,
        distributed_on=distributed_on,
        linked=set(locked),
        exclude_pk=existing.pk if existing else None,
    )
    inherited = False
    if (
        refused
        and not override_reason
        and existing is not None
        and existing.override_reason
        and (existing.quantity, existing.distributed_on) == (quantity, distributed_on)
    ):
        # The same overridden distribution sent again (a device re-sending its queue): it stays as approved.
        override_reason, inherited = existing.override_reason, True
    if refused and not override_reason:
        raise DistributionRefused([m for _c, m in refused], reasons=[c for c, _m in refused], repeats=repeats)
    if refused and not inherited and not may_override(by, operation):
        raise PermissionDenied(OVERRIDE_NOT_ALLOWED)
    if not refused:
        override_reason = ""  # nothing to override: a reason would only mislead the audit

    entitlement = entitlement_for(item=item, household=household, on=distributed_on)
    place = site or household
    values = {
        "item": item,
        "entitlement": entitlement,
        "quantity": quantity,
        "distributed_on": distributed_on,
        "site": site,
        "distributor": (distributor or "").strip()[:200],
        "override_reason": override_reason,
        "overrides": repeats if refused else None,
        "admin1_pcode": (place.admin1_code if site else household.admin1_pcode) or "",
        "admin2_pcode": (place.admin2_code if site else household.admin2_pcode) or "",
    }
    if existing is None:
        distribution = Distribution(
            operation=operation, household=household, reference=reference, recorded_by=by, **values
        )
        state = "created"
    elif all(getattr(existing, k) == v for k, v in values.items()):
        existing.write_state, existing.refused = "unchanged", [c for c, _m in refused]
        return existing
    else:
        distribution = existing
        for k, v in values.items():
            setattr(distribution, k, v)
        distribution.recorded_by = by
        state = "updated"
    distribution.full_clean()
    distribution.save()
    distribution.write_state, distribution.refused = state, [c for c, _m in refused]
    audit_record(
        action="registration.distribution_override" if refused else f"registration.distribution_{state}",
        obj=distribution,
        by=by,
        operation=operation,
        # Codes and ids only: the reason itself is free text and stays in its column.
        detail={
            "household": household.pk,
            "item": item.code,
            "quantity": quantity,
            **(
                {"refused": [c for c, _m in refused], "overrides": repeats.pk if repeats else None}
                if refused
                else {}
            ),
        },
    )
    return distribution


@requires(Capability.DISTRIBUTE, lambda kw: kw["operation"])
def distribution_record(
    *,
    operation: Operation,
    household: Household,
    item,
    quantity: int,
    distributed_on: dt.date,
    reference: str,
    by,
    site=None,
    distributor: str = "",
    override_reason: str = "",
) -> Distribution:
    """Record that a household received an item, unless the check refuses it (``DistributionRefused``).

    ``item`` is an Item or its code, ``site`` a site Location or its code. With ``override_reason``
    a refused distribution is recorded (supervisors only), linked to the one it repeats and audited.
    The result carries ``write_state`` (created, updated, unchanged) and ``refused`` (overridden codes).
    """
    distribution = _record(
        operation=operation,
        household=household,
        item=item,
        quantity=quantity,
        distributed_on=distributed_on,
        site=site,
        distributor=distributor,
        reference=reference,
        by=by,
        override_reason=override_reason,
        today=timezone.localdate(),
    )
    if distribution.write_state != "unchanged":
        access.log_access(
            user=by,
            operation=operation,
            action=AccessLog.Action.EDIT,
            purpose=Purpose.ASSISTANCE,
            obj=distribution.household,
            detail={
                "distribution": distribution.pk,
                "state": distribution.write_state,
                "override": bool(distribution.override_reason),
            },
        )
    return distribution


# --- a distribution list (CSV) ------------------------------------------------------------------


def distribution_list_read(text: str) -> list[dict]:
    """Rows of a distribution list CSV (see ``LIST_COLUMNS``), header names in any case."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [(h or "").strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED_LIST_COLUMNS if c not in header]
    if missing:
        message = LIST_COLUMNS_MISSING.format(columns=", ".join(missing), expected=",".join(LIST_COLUMNS))
        raise DistributionListInvalid([RowError(1, missing[0], str(message))])
    return [{(k or "").strip().lower(): (v or "").strip() for k, v in raw.items() if k} for raw in reader]


def _row_column(message: str) -> str:
    for needle, column in (
        ("item", "item_code"),
        ("site", "site_code"),
        ("quantity", "quantity"),
        ("entitlement", "quantity"),
        ("distributed_on", "distributed_on"),
        ("reference", "reference"),
    ):
        if needle in message:
            return column
    return "household_reference"


@requires(Capability.DISTRIBUTE, lambda kw: kw["operation"])
def distribution_list_record(
    *, operation: Operation, rows: list[dict], by, override_reason: str = "", first_row: int = 2
) -> ListCounts:
    """Record a distribution list: every row or none (``DistributionListInvalid`` with row errors).

    Refused rows are row errors unless ``override_reason`` is given (supervisors only); rows are
    checked in order, so a household listed twice for one item is refused on its second row.
    """
    if override_reason.strip() and not may_override(by, operation):
        raise PermissionDenied(OVERRIDE_NOT_ALLOWED)
    today = timezone.localdate()
    households = {
        h.reference: h
        for h in Household.objects.filter(
            operation=operation, reference__in=[r.get("household_reference", "") for r in rows]
        )
    }
    errors: list[RowError] = []
    counts = ListCounts()
    seen: dict[str, int] = {}
    touched: set[int] = set()
    for number, row in enumerate(rows, start=first_row):
        missing = [c for c in REQUIRED_LIST_COLUMNS if not row.get(c)]
        if missing:
            errors.append(RowError(number, missing[0], str(ROW_REQUIRED)))
            continue
        reference = row["reference"]
        if reference in seen:
            errors.append(
                RowError(
                    number,
                    "reference",
                    str(REFERENCE_TWICE.format(reference=reference[:64], first_row=seen[reference])),
                )
            )
            continue
        seen[reference] = number
        household = households.get(row["household_reference"])
        if household is None:
            errors.append(
                RowError(
                    number,
                    "household_reference",
                    str(HOUSEHOLD_UNKNOWN.format(reference=row["household_reference"][:64])),
                )
            )
            continue
        try:
            quantity = int(row["quantity"])
        except ValueError:
            errors.append(
                RowError(number, "quantity", str(QUANTITY_INVALID.format(value=row["quantity"][:12])))
            )
            continue
        try:
            distributed_on = dt.date.fromisoformat(row["distributed_on"])
        except ValueError:
            errors.append(RowError(number, "distributed_on", str(ROW_NOT_A_DATE)))
            continue
        try:
            with transaction.atomic():
                distribution = _record(
                    operation=operation,
                    household=household,
                    item=row["item_code"],
                    quantity=quantity,
                    distributed_on=distributed_on,
                    site=row.get("site_code", ""),
                    distributor=row.get("distributor", ""),
                    reference=reference,
                    by=by,
                    override_reason=override_reason,
                    today=today,
                )
        except DistributionRefused as exc:
            column = "quantity" if exc.reasons == ["over_entitlement"] else "item_code"
            errors.append(RowError(number, column, " ".join(exc.messages)))
            continue
        except ValidationError as exc:
            message = " ".join(exc.messages)
            errors.append(RowError(number, _row_column(message), message))
            continue
        setattr(counts, distribution.write_state, getattr(counts, distribution.write_state) + 1)
        counts.overridden += bool(distribution.refused and distribution.write_state != "unchanged")
        counts.distribution_ids.append(distribution.pk)
        if distribution.write_state != "unchanged":
            touched.add(household.pk)
    if errors:
        raise DistributionListInvalid(errors)
    if touched:
        access.log_access(
            user=by,
            operation=operation,
            action=AccessLog.Action.EDIT,
            purpose=Purpose.ASSISTANCE,
            object_type="registration.household",
            object_ids=sorted(touched),
            detail={
                "source": "list",
                "created": counts.created,
                "updated": counts.updated,
                "overridden": counts.overridden,
            },
        )
    return counts


# --- selectors ---------------------------------------------------------------------------------


def household_distributions(household: Household):
    """What a household received, newest first (with the item and the distribution it overrode)."""
    return Distribution.objects.filter(household=household).select_related("item", "site", "overrides")


def catalogue(operation: Operation) -> list[Item]:
    """The operation's items, each with its entitlement (``item.entitlement`` or None)."""
    entitlements = {e.item_id: e for e in Entitlement.objects.filter(operation=operation)}
    items = list(Item.objects.filter(operation=operation).order_by("code"))
    for item in items:
        item.entitlement = entitlements.get(item.pk)
    return items


def operation_distributions(operation: Operation, *, date_from: dt.date, date_to: dt.date):
    return Distribution.objects.filter(
        Q(operation=operation) & Q(distributed_on__gte=date_from) & Q(distributed_on__lte=date_to)
    )

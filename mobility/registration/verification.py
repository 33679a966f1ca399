"""Verification rounds: confirm, for a site or an area, that each household is present, moved or gone.

A household's status follows its **latest** verification (by date, then by round): present makes it
active again, moved keeps the destination p-code in the verification row (its history), not found
marks it not found. Every verification is kept, so the history of a household is its rows here.
Closed and erased households are never touched. Services need ``Capability.VERIFY`` and write an
``AccessLog`` line per household touched (ids only).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import Counter
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from mobility.core.imports import RowError
from mobility.core.models import Operation
from mobility.core.services import audit_record

from . import access
from .access_first import requires
from .models import (
    AccessLog,
    Capability,
    Household,
    Individual,
    Purpose,
    RecordStatus,
    Verification,
    VerificationRound,
)
from .services import BatchInvalid

ROUND_PLACE = _(
    "A verification round covers one site or one area: give a site code or an area p-code, not both."
)
ROUND_SITE_UNKNOWN = _('"{value}" is not a site code of this operation')
ROUND_PCODE_UNKNOWN = _('"{value}" is not a p-code of the current {country} gazetteer')
ROUND_NAME_TAKEN = _('A verification round named "{name}" already covers another place in this operation.')
ROUND_CLOSED = _('Verification round "{name}" is closed; open a new round to verify again.')
ROUND_OTHER_OPERATION = _("The household and the round belong to different operations.")
HOUSEHOLD_OUTSIDE_ROUND = _("household {reference} is not registered at {place}, the place of this round")
HOUSEHOLD_NOT_VERIFIABLE = _("household {reference} is {status} and cannot be verified")
MOVED_TO_ONLY_WHEN_MOVED = _("moved_to_pcode is given only when the outcome is moved")
MOVED_TO_UNKNOWN = _('"{value}" is not a p-code of the current {country} gazetteer')
VERIFIED_BEFORE_ROUND = _("verified_on {date} is before the round started ({started})")
VERIFIED_IN_FUTURE = _("verified_on {date} is in the future")
MEMBERS_PRESENT_RANGE = _('"{value}" is not a number of members from 0 to 100')
OUTCOME_UNKNOWN = _('"{value}" is not one of: {allowed}')
ROW_REQUIRED = _("is required")
ROW_NOT_A_DATE = _("is not a date (use YYYY-MM-DD)")
HOUSEHOLD_UNKNOWN = _("household {reference} is not registered in this operation")
HOUSEHOLD_TWICE = _("household {reference} is also on row {first_row}")
LIST_COLUMNS_MISSING = _("the file has no column {columns} (expected: {expected})")

LIST_COLUMNS = ["household_reference", "outcome", "moved_to_pcode", "verified_on", "members_present"]
REQUIRED_LIST_COLUMNS = ["household_reference", "outcome", "verified_on"]

# The household status each outcome leaves.
STATUS_OF = {
    Verification.Outcome.PRESENT: RecordStatus.ACTIVE,
    Verification.Outcome.MOVED: RecordStatus.MOVED,
    Verification.Outcome.NOT_FOUND: RecordStatus.NOT_FOUND,
}
# Statuses a verification may change (closed and erased records are out of the registry's care).
VERIFIABLE = (RecordStatus.ACTIVE, RecordStatus.MOVED, RecordStatus.NOT_FOUND)


class VerificationListInvalid(BatchInvalid):
    """A verification list with row errors: nothing was recorded. ``errors`` are RowErrors."""


@dataclass
class ListCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    outcomes: Counter = field(default_factory=Counter)


# --- places ------------------------------------------------------------------------------------


def _site(operation: Operation, site):
    """A site Location of the operation, from a Location or its code (None when not given)."""
    from mobility.gazetteer.models import Location

    if site is None or site == "":
        return None
    if isinstance(site, Location):
        if site.operation_id != operation.pk or site.type != Location.Type.SITE:
            raise ValidationError(ROUND_SITE_UNKNOWN.format(value=site.code))
        return site
    found = Location.objects.filter(
        operation=operation, type=Location.Type.SITE, code__iexact=str(site).strip()
    )
    if not found:
        raise ValidationError(ROUND_SITE_UNKNOWN.format(value=str(site)[:64]))
    return found[0]


def gazetteer_codes(country_iso3: str):
    """The current gazetteer of a country (``GazetteerCodes``), or None when none is loaded."""
    from mobility.core.imports import ImportFailed
    from mobility.tracking.importers.events import GazetteerCodes

    try:
        return GazetteerCodes(country_iso3)
    except ImportFailed:
        return None


def _pcode(operation: Operation, value: str, message, codes=None) -> str:
    """A p-code checked against the current gazetteer (kept as given when no gazetteer is loaded)."""
    value = (value or "").strip().upper()
    if not value:
        return ""
    codes = codes if codes is not None else gazetteer_codes(operation.country_iso3)
    if codes is None:
        return value
    found = codes.lookup(value)
    if found is None:
        raise ValidationError(message.format(value=value[:32], country=operation.country_iso3))
    return found


def place_q(round_: VerificationRound, prefix: str = "") -> Q:
    """Households registered at the round's site, or anywhere in its area (any admin level)."""
    if round_.site_id:
        return Q(**{f"{prefix}site_id": round_.site_id})
    code = round_.area_pcode
    return (
        Q(**{f"{prefix}location_pcode": code})
        | Q(**{f"{prefix}admin1_pcode": code})
        | Q(**{f"{prefix}admin2_pcode": code})
    )


def place_label(round_: VerificationRound) -> str:
    return round_.site.code if round_.site_id else round_.area_pcode


# --- services ----------------------------------------------------------------------------------


@requires(Capability.VERIFY, lambda kw: kw["operation"])
def round_open(
    *,
    operation: Operation,
    name: str,
    started_on: dt.date,
    by,
    site=None,
    area_pcode: str = "",
) -> VerificationRound:
    """Open a verification round for one site (Location or code) or one area p-code.

    Opening a round of the same name and place again returns it unchanged.
    """
    name = (name or "").strip()
    site = _site(operation, site)
    area_pcode = "" if site is not None else _pcode(operation, area_pcode, ROUND_PCODE_UNKNOWN)
    if (site is None) == (not area_pcode):
        raise ValidationError(ROUND_PLACE)
    existing = VerificationRound.objects.filter(operation=operation, name=name).first()
    if existing is not None:
        if existing.site_id == (site.pk if site else None) and existing.area_pcode == area_pcode:
            return existing
        raise ValidationError(ROUND_NAME_TAKEN.format(name=name))
    round_ = VerificationRound(
        operation=operation, name=name, site=site, area_pcode=area_pcode, started_on=started_on, created_by=by
    )
    round_.full_clean()
    round_.save()
    audit_record(
        action="registration.verification_round_open",
        obj=round_,
        by=by,
        operation=operation,
        detail={"site": site.code if site else "", "area_pcode": area_pcode},
    )
    return round_


@requires(Capability.VERIFY, lambda kw: kw["round"].operation)
def round_close(*, round: VerificationRound, by, closed_on: dt.date | None = None) -> VerificationRound:  # noqa: A002
    """Close a round: no more verifications are recorded in it (closing twice is harmless)."""
    if round.status == VerificationRound.Status.CLOSED:
        return round
    round.status = VerificationRound.Status.CLOSED
    round.closed_on = closed_on or timezone.localdate()
    round.full_clean()
    round.save(update_fields=["status", "closed_on", "updated_at"])
    summary = round_summary(round)
    audit_record(
        action="registration.verification_round_close",
        obj=round,
        by=by,
        operation=round.operation,
        detail={k: summary[k] for k in ("households", "present", "moved", "not_found", "unverified")},
    )
    return round


def _check(
    round_: VerificationRound,
    household: Household,
    *,
    outcome: str,
    moved_to_pcode: str,
    members_present: int | None,
    verified_on: dt.date,
    today: dt.date,
    codes=None,
    in_place: set[int] | None = None,
) -> tuple[str, str]:
    """Validate one verification; returns (outcome, moved_to_pcode) or raises ValidationError."""
    if round_.status == VerificationRound.Status.CLOSED:
        raise ValidationError(ROUND_CLOSED.format(name=round_.name))
    if household.operation_id != round_.operation_id:
        raise ValidationError(ROUND_OTHER_OPERATION)
    if household.status not in VERIFIABLE:
        raise ValidationError(
            HOUSEHOLD_NOT_VERIFIABLE.format(reference=household.reference, status=household.status)
        )
    if (
        household.pk not in in_place
        if in_place is not None
        else not Household.objects.filter(place_q(round_), pk=household.pk).exists()
    ):
        raise ValidationError(
            HOUSEHOLD_OUTSIDE_ROUND.format(reference=household.reference, place=place_label(round_))
        )
    if outcome not in Verification.Outcome.values:
        raise ValidationError(
            OUTCOME_UNKNOWN.format(value=str(outcome)[:20], allowed=", ".join(Verification.Outcome.values))
        )
    moved_to = (moved_to_pcode or "").strip()
    if moved_to and outcome != Verification.Outcome.MOVED:
        raise ValidationError(MOVED_TO_ONLY_WHEN_MOVED)
    moved_to = _pcode(round_.operation, moved_to, MOVED_TO_UNKNOWN, codes)
    if verified_on > today:
        raise ValidationError(VERIFIED_IN_FUTURE.format(date=verified_on))
    if verified_on < round_.started_on:
        raise ValidationError(VERIFIED_BEFORE_ROUND.format(date=verified_on, started=round_.started_on))
    if members_present is not None and not 0 <= members_present <= 100:
        raise ValidationError(MEMBERS_PRESENT_RANGE.format(value=members_present))
    return outcome, moved_to


def _write(
    round_, household, *, outcome, moved_to, members_present, verified_on, by
) -> tuple[Verification, str]:
    verification = Verification.objects.select_for_update().filter(round=round_, household=household).first()
    values = {
        "outcome": outcome,
        "moved_to_pcode": moved_to,
        "members_present": members_present,
        "verified_on": verified_on,
    }
    if verification is None:
        verification = Verification(round=round_, household=household, by=by, **values)
        state = "created"
    elif all(getattr(verification, k) == v for k, v in values.items()):
        return verification, "unchanged"
    else:
        for k, v in values.items():
            setattr(verification, k, v)
        verification.by = by
        state = "updated"
    verification.full_clean(exclude=["round", "household"])
    verification.save()
    status_follow(household)
    return verification, state


def status_follow(household: Household) -> Household:
    """Set the household's status from its latest verification (closed and erased ones stay)."""
    if household.status not in VERIFIABLE:
        return household
    latest = (
        household.verifications.order_by("-verified_on", "-round__started_on", "-round_id", "-id")
        .values_list("outcome", flat=True)
        .first()
    )
    status = STATUS_OF[latest] if latest else RecordStatus.ACTIVE
    if household.status != status:
        household.status = status
        household.status_changed_at = timezone.now()
        household.save(update_fields=["status", "status_changed_at", "updated_at"])
    return household


@requires(Capability.VERIFY, lambda kw: kw["round"].operation)
def verification_record(
    *,
    round: VerificationRound,  # noqa: A002
    household: Household,
    outcome: str,
    verified_on: dt.date,
    by,
    moved_to_pcode: str = "",
    members_present: int | None = None,
) -> Verification:
    """Record (or correct) a household's outcome in a round; its status follows its latest verification."""
    household = Household.objects.select_for_update().get(pk=household.pk)
    outcome, moved_to = _check(
        round,
        household,
        outcome=outcome,
        moved_to_pcode=moved_to_pcode,
        members_present=members_present,
        verified_on=verified_on,
        today=timezone.localdate(),
    )
    verification, state = _write(
        round,
        household,
        outcome=outcome,
        moved_to=moved_to,
        members_present=members_present,
        verified_on=verified_on,
        by=by,
    )
    if state != "unchanged":
        access.log_access(
            user=by,
            operation=round.operation,
            action=AccessLog.Action.EDIT,
            purpose=Purpose.VERIFICATION,
            obj=household,
            detail={"round": round.pk, "outcome": outcome, "state": state},
        )
    verification.write_state = state
    return verification


# --- a verification list (CSV) -----------------------------------------------------------------


def verification_list_read(text: str) -> list[dict]:
    """Rows of a verification list CSV (household_reference,outcome,moved_to_pcode,verified_on[,members_present])."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED_LIST_COLUMNS if c not in header]
    if missing:
        raise VerificationListInvalid(
            [
                RowError(
                    1,
                    missing[0],
                    str(
                        LIST_COLUMNS_MISSING.format(
                            columns=", ".join(missing), expected=",".join(LIST_COLUMNS)
                        )
                    ),
                )
            ]
        )
    rows = []
    for raw in reader:
        rows.append({(k or "").strip().lower(): (v or "").strip() for k, v in raw.items() if k})
    return rows


@requires(Capability.VERIFY, lambda kw: kw["round"].operation)
def verification_list_record(
    *,
    round: VerificationRound,
    rows: list[dict],
    by,
    first_row: int = 2,  # noqa: A002
) -> ListCounts:
    """Record a whole verification list in one round: every row or none (``VerificationListInvalid``)."""
    operation = round.operation
    today = timezone.localdate()
    codes = gazetteer_codes(operation.country_iso3)
    references = [r.get("household_reference", "") for r in rows]
    households = {
        h.reference: h
        for h in Household.objects.select_for_update().filter(operation=operation, reference__in=references)
    }
    in_place = set(
        Household.objects.filter(place_q(round), pk__in=[h.pk for h in households.values()]).values_list(
            "pk", flat=True
        )
    )
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    checked = []
    for number, row in enumerate(rows, start=first_row):
        reference = row.get("household_reference", "")
        if not reference:
            errors.append(RowError(number, "household_reference", str(ROW_REQUIRED)))
            continue
        household = households.get(reference)
        if household is None:
            errors.append(
                RowError(
                    number, "household_reference", str(HOUSEHOLD_UNKNOWN.format(reference=reference[:64]))
                )
            )
            continue
        if reference in seen:
            errors.append(
                RowError(
                    number,
                    "household_reference",
                    str(HOUSEHOLD_TWICE.format(reference=reference, first_row=seen[reference])),
                )
            )
            continue
        seen[reference] = number
        outcome = row.get("outcome", "").lower().replace(" ", "_")
        if not outcome:
            errors.append(RowError(number, "outcome", str(ROW_REQUIRED)))
            continue
        try:
            verified_on = dt.date.fromisoformat(row.get("verified_on", ""))
        except ValueError:
            errors.append(
                RowError(
                    number, "verified_on", str(ROW_REQUIRED if not row.get("verified_on") else ROW_NOT_A_DATE)
                )
            )
            continue
        members = row.get("members_present", "")
        try:
            members_present = int(members) if members else None
        except ValueError:
            errors.append(
                RowError(number, "members_present", str(MEMBERS_PRESENT_RANGE.format(value=members[:10])))
            )
            continue
        try:
            outcome, moved_to = _check(
                round,
                household,
                outcome=outcome,
                moved_to_pcode=row.get("moved_to_pcode", ""),
                members_present=members_present,
                verified_on=verified_on,
                today=today,
                codes=codes,
                in_place=in_place,
            )
        except ValidationError as exc:
            message = " ".join(exc.messages)
            column = _column_of(message)
            errors.append(RowError(number, column, message))
            continue
        checked.append((household, outcome, moved_to, members_present, verified_on))
    if errors:
        raise VerificationListInvalid(errors)
    counts = ListCounts()
    for household, outcome, moved_to, members_present, verified_on in checked:
        _verification, state = _write(
            round,
            household,
            outcome=outcome,
            moved_to=moved_to,
            members_present=members_present,
            verified_on=verified_on,
            by=by,
        )
        setattr(counts, state, getattr(counts, state) + 1)
        counts.outcomes[outcome] += 1
    changed = [h.pk for h, *_rest in checked]
    if changed:
        access.log_access(
            user=by,
            operation=operation,
            action=AccessLog.Action.EDIT,
            purpose=Purpose.VERIFICATION,
            object_type="registration.household",
            object_ids=changed,
            detail={
                "round": round.pk,
                "source": "list",
                "created": counts.created,
                "updated": counts.updated,
            },
        )
    return counts


def _column_of(message: str) -> str:
    for column in ("moved_to_pcode", "verified_on", "members_present"):
        if column in message:
            return column
    if "p-code" in message:
        return "moved_to_pcode"
    if "is not one of" in message:
        return "outcome"
    return "household_reference"


# --- selectors ---------------------------------------------------------------------------------


def round_list(operation: Operation) -> QuerySet[VerificationRound]:
    """The operation's rounds, newest first, with how many households each verified per outcome."""
    return (
        VerificationRound.objects.filter(operation=operation)
        .select_related("site")
        .annotate(
            verified=Count("verifications"),
            present=Count("verifications", filter=Q(verifications__outcome=Verification.Outcome.PRESENT)),
            moved=Count("verifications", filter=Q(verifications__outcome=Verification.Outcome.MOVED)),
            not_found=Count("verifications", filter=Q(verifications__outcome=Verification.Outcome.NOT_FOUND)),
        )
        .order_by("-started_on", "-id")
    )


def round_households(round_: VerificationRound) -> QuerySet[Household]:
    """Households to verify in the round (its site or area, not closed or erased), by reference."""
    return Household.objects.filter(
        place_q(round_), operation=round_.operation_id, status__in=VERIFIABLE
    ).order_by("reference")


def round_summary(round_: VerificationRound) -> dict:
    """Households in the round's place and how many were found present, moved, not found, not yet seen."""
    in_place = round_households(round_)
    outcomes = Counter(Verification.objects.filter(round=round_).values_list("outcome", flat=True))
    households = in_place.count()
    verified = sum(outcomes.values())
    return {
        "households": households,
        "present": outcomes.get(Verification.Outcome.PRESENT, 0),
        "moved": outcomes.get(Verification.Outcome.MOVED, 0),
        "not_found": outcomes.get(Verification.Outcome.NOT_FOUND, 0),
        "verified": verified,
        "unverified": max(households - verified, 0),
    }


def household_history(household: Household) -> QuerySet[Verification]:
    """Every verification of a household, latest first (the first one sets its status)."""
    return household.verifications.select_related("round").order_by(
        "-verified_on", "-round__started_on", "-round_id", "-id"
    )


def counted_members(prefix: str = "") -> Q:
    """Individuals who count as people of the registry: not merged into another record, not erased."""
    return Q(**{f"{prefix}merged_into__isnull": True}) & ~Q(
        **{f"{prefix}status__in": [RecordStatus.ERASED, RecordStatus.CLOSED]}
    )


def registry_counts(operation: Operation, *, by: str = "admin2") -> list[dict]:
    """Households and individuals registered now, by admin2 (or site) and household status.

    Rows: ``admin1_pcode, admin2_pcode`` (or ``site_code, site_name``), ``status``, ``households``,
    ``individuals``. Erased households are left out; merged-away individuals are not counted.
    """
    households = Household.objects.filter(operation=operation).exclude(status=RecordStatus.ERASED)
    people = Individual.objects.filter(counted_members(), household__in=households)
    if by == "site":
        keys = ["site__code", "site__name"]
        people_keys = ["household__site__code", "household__site__name"]
    else:
        keys = ["admin1_pcode", "admin2_pcode"]
        people_keys = ["household__admin1_pcode", "household__admin2_pcode"]
    hh_rows = households.values(*keys, "status").annotate(n=Count("id")).order_by()
    person_rows = people.values(*people_keys, "household__status").annotate(n=Count("id")).order_by()
    out: dict[tuple, dict] = {}
    for row in hh_rows:
        key = (*(row[k] or "" for k in keys), row["status"])
        out[key] = {"households": row["n"], "individuals": 0}
    for row in person_rows:
        key = (*(row[k] or "" for k in people_keys), row["household__status"])
        out.setdefault(key, {"households": 0, "individuals": 0})["individuals"] = row["n"]
    names = ["site_code", "site_name"] if by == "site" else ["admin1_pcode", "admin2_pcode"]
    return [
        {names[0]: key[0], names[1]: key[1], "status": key[2], **values}
        for key, values in sorted(out.items())
    ]

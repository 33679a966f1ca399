"""Reads of registration for the pages: registry counts, the household list and search, the review queue.

Counts never decrypt anything (they read plain columns: statuses, sex, p-codes). Search by phone,
document number or full name goes through keyed hashes: exact match only, and the searched text is
never stored or logged. Merged records count once: an individual merged into another is left out of
the people counts, and a household whose every member was merged away is closed by the merge.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from mobility.core.models import Operation

from .crypto import keyed_hash, normalise_for_hash
from .models import (
    Household,
    IdentityDocument,
    Individual,
    MatchPair,
    Merge,
    RecordStatus,
    Relationship,
)

# Statuses that still count as "registered" in the operation's figures.
COUNTED_STATUSES = (RecordStatus.ACTIVE, RecordStatus.MOVED, RecordStatus.NOT_FOUND)


@dataclass
class HouseholdFilter:
    """What the household list may be asked for (the page's form fills it)."""

    query: str = ""  # a household reference, or an exact phone, document number or full name
    status: str = ""
    site: str = ""  # a site code
    admin2_code: str = ""

    def q(self) -> Q:
        condition = Q()
        if self.status:
            condition &= Q(status=self.status)
        if self.site:
            condition &= Q(site__code__iexact=self.site)
        if self.admin2_code:
            condition &= Q(admin2_pcode__iexact=self.admin2_code)
        return condition


@dataclass
class SearchResult:
    households: QuerySet[Household]
    matched_by: list[str] = field(default_factory=list)  # which keys could match: never the text


def household_search(*, operation: Operation, filters: HouseholdFilter) -> SearchResult:
    """The operation's households matching the filter, by reference first."""
    qs = Household.objects.filter(operation=operation).filter(filters.q()).select_related("site")
    text = filters.query.strip()
    if not text:
        return SearchResult(qs.order_by("reference"))
    matched_by = ["reference"]
    condition = Q(reference__icontains=text[:64])
    if normalise_for_hash(text):
        phone = keyed_hash(text, "phone")
        name = keyed_hash(text, "name")
        documents = [keyed_hash(text, f"document:{t}") for t in IdentityDocument.Type.values]
        condition |= Q(phone_hash=phone)
        condition |= Q(
            Exists(Individual.objects.filter(household=OuterRef("pk"), name_hash=name)),
        )
        condition |= Q(
            Exists(
                IdentityDocument.objects.filter(
                    individual__household=OuterRef("pk"), number_hash__in=documents
                )
            )
        )
        matched_by += ["phone", "name", "document"]
    return SearchResult(qs.filter(condition).order_by("reference"), matched_by)


def household_rows(households: list[Household]) -> list[dict]:
    """Rows of the household list: the head's name (decrypted), the number of people, the flags."""
    ids = [h.pk for h in households]
    members: dict[int, list[Individual]] = {}
    for person in Individual.objects.filter(household_id__in=ids).order_by("id"):
        members.setdefault(person.household_id, []).append(person)
    pending = set(
        MatchPair.objects.filter(status=MatchPair.Status.PENDING)
        .filter(Q(left__household_id__in=ids) | Q(right__household_id__in=ids))
        .values_list("left__household_id", "right__household_id")
        .iterator()
    )
    flagged = {hh for pair in pending for hh in pair}
    rows = []
    for household in households:
        people = members.get(household.pk, [])
        head = next((p for p in people if p.relationship == Relationship.HEAD), people[0] if people else None)
        rows.append(
            {
                "household": household,
                "head": head,
                "people": sum(1 for p in people if p.merged_into_id is None),
                "merged": sum(1 for p in people if p.merged_into_id is not None),
                "pending_review": household.pk in flagged,
            }
        )
    return rows


def registry_counts(*, operation: Operation) -> dict:
    """Non-personal figures of the registry: households and people by status, sex, area; the queue."""
    households = Household.objects.filter(operation=operation)
    by_status = dict(households.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
    people = Individual.objects.filter(
        operation=operation, merged_into__isnull=True, status__in=COUNTED_STATUSES
    )
    people = people.filter(household__status__in=COUNTED_STATUSES)
    by_sex = dict(people.values_list("sex").annotate(n=Count("id")).values_list("sex", "n"))
    week_ago = timezone.localdate() - dt.timedelta(days=7)
    by_area = list(
        households.filter(status__in=COUNTED_STATUSES)
        .values("admin2_pcode")
        .annotate(households=Count("id"))
        .order_by("-households", "admin2_pcode")[:12]
    )
    return {
        "households": sum(by_status.get(s, 0) for s in COUNTED_STATUSES),
        "households_by_status": [
            {"status": value, "label": label, "count": by_status.get(value, 0)}
            for value, label in RecordStatus.choices
        ],
        "people": sum(by_sex.values()),
        "people_by_sex": by_sex,
        "people_with_disability": people.filter(has_disability=True).count(),
        "registered_last_week": households.filter(registered_on__gte=week_ago).count(),
        "by_area": by_area,
        "pending_review": review_queue(operation=operation).count(),
        "merges": Merge.objects.filter(operation=operation, undone_at__isnull=True).count(),
    }


def review_queue(*, operation: Operation) -> QuerySet[MatchPair]:
    """Pairs awaiting a reviewer, most likely duplicates first; a pair with a merged-away side waits."""
    return (
        MatchPair.objects.filter(operation=operation, status=MatchPair.Status.PENDING)
        .filter(left__merged_into__isnull=True, right__merged_into__isnull=True)
        .exclude(left__status=RecordStatus.ERASED)
        .exclude(right__status=RecordStatus.ERASED)
        .select_related("left__household__site", "right__household__site")
        .order_by("-match_probability", "pk")
    )


def recent_merges(*, operation: Operation, limit: int = 10) -> QuerySet[Merge]:
    return (
        Merge.objects.filter(operation=operation)
        .select_related("survivor__household", "merged__household", "by", "undone_by")
        .order_by("-at", "-pk")[:limit]
    )


def household_merges(*, household: Household) -> QuerySet[Merge]:
    """Merges that touched a member of the household, newest first."""
    return (
        Merge.objects.filter(Q(survivor__household=household) | Q(merged__household=household))
        .select_related("survivor__household", "merged__household", "by", "undone_by")
        .order_by("-at", "-pk")
    )


# --- side by side ----------------------------------------------------------------------------

# The rows of the side-by-side view, and the names the dedup engine may give their comparisons.
PAIR_FIELDS = [
    ("given_name", _("Given name"), ("given_name", "first_name", "forename")),
    ("family_name", _("Family name"), ("family_name", "surname", "last_name")),
    ("other_names", _("Other names"), ("other_names", "aliases", "full_name", "name")),
    ("sex", _("Sex"), ("sex", "gender")),
    ("date_of_birth", _("Date of birth"), ("date_of_birth", "dob", "birth_date", "birth_year")),
    ("documents", _("Identity documents"), ("document_number", "document", "documents", "id_number")),
    ("phone", _("Phone"), ("phone", "phone_number", "phone_hash")),
    (
        "location",
        _("Location"),
        ("location", "location_pcode", "admin2_pcode", "admin3_pcode", "site", "postcode", "locality"),
    ),
    ("relationship", _("Relationship to head"), ("relationship",)),
    ("household", _("Household"), ("household", "household_size")),
]


@dataclass
class FieldRow:
    key: str
    label: str
    left: str
    right: str
    compared: bool = False  # the model compared this field
    agrees: bool | None = None
    weight: float | None = None
    level: str = ""


def _values(person: Individual) -> dict[str, str]:
    household = person.household
    dob = person.date_of_birth or ""
    if dob and person.dob_estimated:
        dob = f"{dob} ({_('estimated')})"
    site = household.site.code if household.site_id else ""
    return {
        "given_name": person.given_name,
        "family_name": person.family_name,
        "other_names": "; ".join(person.other_names or []),
        "sex": person.get_sex_display(),
        "date_of_birth": dob,
        "documents": "; ".join(
            f"{d.get_doc_type_display()}: {d.number}"
            for d in sorted(person.documents.all(), key=lambda d: d.doc_type)
        ),
        "phone": household.phone,
        "location": " · ".join(v for v in (household.location_pcode, site) if v),
        "relationship": person.get_relationship_display(),
        "household": f"{household.reference} ({household.size})",
    }


def pair_rows(pair: MatchPair) -> list[FieldRow]:
    """Both records' fields side by side with the model's verdict and weight for each comparison."""
    left, right = _values(pair.left), _values(pair.right)
    comparisons = dict(pair.comparisons or {})
    rows = []
    for key, label, names in PAIR_FIELDS:
        row = FieldRow(key=key, label=str(label), left=left[key], right=right[key])
        for name in names:
            if name in comparisons:
                _fill(row, comparisons.pop(name))
                break
        if row.compared or row.left or row.right:  # a field empty on both sides and not compared says nothing
            rows.append(row)
    for name, verdict in sorted(comparisons.items()):  # comparisons the page has no row for
        row = FieldRow(key=name, label=name.replace("_", " ").capitalize(), left="", right="")
        _fill(row, verdict)
        rows.append(row)
    return rows


def _fill(row: FieldRow, verdict) -> None:
    if not isinstance(verdict, dict):
        return
    row.compared = True
    row.agrees = verdict.get("agrees")
    weight = verdict.get("weight")
    row.weight = float(weight) if isinstance(weight, int | float) else None
    row.level = str(verdict.get("level") or "")
    if row.weight == 0:  # e.g. missing on one side: no evidence either way, not a disagreement
        row.agrees = None

"""Writes of registration: households with their members, idempotent by reference.

``households_write`` is the one path every source takes (web form, file import, form submission):
it validates a whole batch first (one head per household, sizes, p-codes, sites, document numbers
used twice) and writes nothing if any household is wrong. A household sent again (same reference)
updates in place: members are matched by their own reference, so a re-sent form never adds people.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from mobility.core.imports import RowError
from mobility.core.models import Operation
from mobility.core.services import audit_record

from .crypto import keyed_hash
from .models import Household, IdentityDocument, Individual, RecordStatus, Relationship
from .records import HouseholdValues, IndividualValues

HH_NO_HEAD = _("household {reference} has no head (one member must have relationship head)")
HH_TWO_HEADS = _("household {reference} has {count} heads; exactly one member is the head")
HH_SIZE_SMALLER = _(
    "household {reference}: household_size {size} is smaller than the {members} members listed"
)
HH_DISAGREES = _("household {reference}: {column} differs from the household's first row ({first_row})")
# The row error carries the code as its value: the message does not repeat it.
HH_PCODE_UNKNOWN = _("is not a p-code of the current {country} gazetteer")
HH_SITE_UNKNOWN = _("is not a site code of this operation")
HH_OTHER_OPERATION = _("individual_id is already registered in another household of this operation")
DOC_TWICE = _("this {doc_type} number is also given on row {first_row}")
DOC_TWICE_NO_ROW = _("this {doc_type} number is given twice")
PERSON_TWICE = _("individual_id is also on row {first_row}")
HH_EMPTY = _("household {reference} has no members")
HH_TWICE = _("household {reference} is given twice in one batch (first on row {first_row})")


@dataclass
class HouseholdBatchItem:
    household: HouseholdValues
    members: list[IndividualValues]


@dataclass
class WriteCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    individuals_created: int = 0
    individuals_updated: int = 0
    new_individual_ids: list[int] | None = None


class _Places:
    """The operation's gazetteer codes and sites, loaded once per batch."""

    def __init__(self, operation: Operation):
        from mobility.gazetteer.models import Location

        self.operation = operation
        self._codes = None
        self._loaded = False
        self.sites = {
            loc.code.upper(): loc
            for loc in Location.objects.filter(operation=operation, type=Location.Type.SITE)
        }

    @property
    def codes(self):
        if not self._loaded:
            from mobility.core.imports import ImportFailed
            from mobility.tracking.importers.events import GazetteerCodes

            try:
                self._codes = GazetteerCodes(self.operation.country_iso3)
            except ImportFailed:
                self._codes = None
            self._loaded = True
        return self._codes


def batch_check(
    *, operation: Operation, items: list[HouseholdBatchItem], places: _Places | None = None
) -> list[RowError]:
    """Every problem of a batch, by row and column (no personal value quoted)."""
    places = places or _Places(operation)
    errors: list[RowError] = []
    seen_docs: dict[tuple[str, str], int | None] = {}
    person_household: dict[str, str] = {}
    person_row: dict[str, int | None] = {}
    household_row: dict[str, int | None] = {}
    for item in items:
        hh, members = item.household, item.members
        first_row = members[0].row if members else hh.row
        if hh.reference in household_row:
            errors.append(
                RowError(
                    first_row,
                    "household_id",
                    str(HH_TWICE.format(reference=hh.reference, first_row=household_row[hh.reference])),
                )
            )
            continue
        household_row[hh.reference] = first_row
        if not members:
            errors.append(RowError(hh.row, "household_id", str(HH_EMPTY.format(reference=hh.reference))))
            continue
        heads = [m for m in members if m.relationship == Relationship.HEAD]
        if not heads:
            errors.append(RowError(first_row, "relationship", str(HH_NO_HEAD.format(reference=hh.reference))))
        elif len(heads) > 1:
            errors.append(
                RowError(
                    heads[1].row,
                    "relationship",
                    str(HH_TWO_HEADS.format(reference=hh.reference, count=len(heads))),
                )
            )
        if hh.size is not None and hh.size < len(members):
            errors.append(
                RowError(
                    first_row,
                    "household_size",
                    str(HH_SIZE_SMALLER.format(reference=hh.reference, size=hh.size, members=len(members))),
                )
            )
        for column, value in (("location_pcode", hh.location_pcode), ("origin_pcode", hh.origin_pcode)):
            if value and places.codes is not None and places.codes.lookup(value) is None:
                errors.append(
                    RowError(
                        hh.row,
                        column,
                        str(HH_PCODE_UNKNOWN.format(value=value, country=operation.country_iso3)),
                        value,
                    )
                )
        if hh.site_code and hh.site_code.upper() not in places.sites:
            errors.append(
                RowError(hh.row, "site_code", str(HH_SITE_UNKNOWN.format(value=hh.site_code)), hh.site_code)
            )
        for m in members:
            if m.reference in person_row:
                errors.append(
                    RowError(
                        m.row, "individual_id", str(PERSON_TWICE.format(first_row=person_row[m.reference]))
                    )
                )
                continue
            person_row[m.reference] = m.row
            person_household[m.reference] = hh.reference
            for doc_type, number in m.documents:
                key = (doc_type, keyed_hash(number, f"document:{doc_type}"))
                if key in seen_docs:
                    first = seen_docs[key]
                    message = (
                        DOC_TWICE.format(doc_type=doc_type, first_row=first)
                        if first
                        else DOC_TWICE_NO_ROW.format(doc_type=doc_type)
                    )
                    errors.append(RowError(m.row, "document_number", str(message)))
                else:
                    seen_docs[key] = m.row
    # A person already registered in another household of the operation cannot move by re-import.
    references = list(person_household)
    existing: dict[str, str] = {}
    for start in range(0, len(references), 500):
        chunk = references[start : start + 500]
        existing.update(
            Individual.objects.filter(operation=operation, reference__in=chunk).values_list(
                "reference", "household__reference"
            )
        )
    rows = {m.reference: m.row for item in items for m in item.members}
    for reference, hh_ref in person_household.items():
        if reference in existing and existing[reference] != hh_ref:
            errors.append(RowError(rows.get(reference), "individual_id", str(HH_OTHER_OPERATION)))
    return errors


def _household_fields(hh, places: _Places, today: dt.date) -> dict:
    codes = {}
    if hh.location_pcode and places.codes is not None:
        pcode = places.codes.lookup(hh.location_pcode) or hh.location_pcode
        codes = places.codes.codes.get(pcode, {})
    else:
        pcode = hh.location_pcode
    site = places.sites.get(hh.site_code.upper()) if hh.site_code else None
    if site is not None and not pcode:
        pcode = site.admin3_code or site.admin2_code or site.admin1_code
        codes = {"admin1_code": site.admin1_code, "admin2_code": site.admin2_code}
    return {
        "location_pcode": pcode,
        "admin1_pcode": codes.get("admin1_code", ""),
        "admin2_pcode": codes.get("admin2_code", ""),
        "site": site,
        "origin_pcode": (places.codes.lookup(hh.origin_pcode) if places.codes and hh.origin_pcode else None)
        or hh.origin_pcode,
        "displacement_date": hh.displacement_date,
        "population_group": hh.population_group,
        "specific_needs": hh.specific_needs,
        "phone": hh.phone,
        "phone_hash": keyed_hash(hh.phone, "phone"),
        "address": hh.address,
        "consent": hh.consent,
        "consent_scope": hh.consent_scope,
        "registered_on": hh.registered_on or today,
    }


def _individual_fields(m) -> dict:
    return {
        "relationship": m.relationship,
        "sex": m.sex,
        "given_name": m.given_name,
        "family_name": m.family_name,
        "other_names": m.other_names,
        "name_hash": keyed_hash(f"{m.given_name} {m.family_name}", "name"),
        "date_of_birth": m.date_of_birth,
        "dob_estimated": m.dob_estimated,
        "birth_year": m.birth_year,
        "disability": m.disability,
        "has_disability": any(v >= 3 for v in m.disability.values()),
    }


def _apply(obj, fields: dict) -> bool:
    changed = False
    for name, value in fields.items():
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed = True
    return changed


# What full_clean need not query again: the foreign keys are objects this write holds (the operation,
# the household, a site of the operation), and batch_check has made references unique in the batch
# and against the stored ones (the database constraints still stand behind it).
_CLEAN_HOUSEHOLD = {"exclude": ["operation", "site", "registered_by"], "validate_constraints": False}
_CLEAN_INDIVIDUAL = {
    "exclude": ["operation", "household", "cluster", "merged_into"],
    "validate_constraints": False,
}


@transaction.atomic
def households_write(
    *,
    operation: Operation,
    items: list[HouseholdBatchItem],
    by=None,
    source: str = Household.Source.IMPORT,
    today: dt.date | None = None,
) -> WriteCounts:
    """Create or update each household and its members; all or nothing (ValidationError with row errors)."""
    today = today or timezone.localdate()
    places = _Places(operation)
    errors = batch_check(operation=operation, items=items, places=places)
    if errors:
        raise BatchInvalid(errors)
    counts = WriteCounts(new_individual_ids=[])
    new_people: list[tuple[Individual, list[tuple[str, str]]]] = []
    references = [i.household.reference for i in items]
    existing = {}
    for start in range(0, len(references), 500):
        existing.update(
            (h.reference, h)
            for h in Household.objects.filter(
                operation=operation, reference__in=references[start : start + 500]
            ).prefetch_related("members__documents")
        )
    for item in items:
        hh_values = item.household
        fields = _household_fields(hh_values, places, today)
        size = hh_values.size or len(item.members)
        household = existing.get(hh_values.reference)
        if household is not None and household.status == RecordStatus.ERASED:
            counts.unchanged += 1  # erased on request: a re-sent form never brings the values back
            continue
        if household is None:
            household = Household(
                operation=operation, reference=hh_values.reference, size=size, source=source, registered_by=by
            )
            _apply(household, fields)
            household.full_clean(**_CLEAN_HOUSEHOLD)
            household.save()
            created = True
            changed = True
        else:
            created = False
            if hh_values.registered_on is None:  # a re-import without the date keeps the stored one
                fields.pop("registered_on")
            changed = _apply(household, {**fields, "size": size})
            if changed:
                household.full_clean(**_CLEAN_HOUSEHOLD)
                household.save()
        members = {} if created else {i.reference: i for i in household.members.all()}
        for m in item.members:
            person = members.get(m.reference)
            if person is not None and person.status == RecordStatus.ERASED:
                continue  # erased on request (see protection.py)
            if person is None:  # inserted below, all together
                person = Individual(operation=operation, household=household, reference=m.reference)
                _apply(person, _individual_fields(m))
                person.full_clean(**_CLEAN_INDIVIDUAL)
                new_people.append((person, m.documents))
                changed = True
                continue
            if _apply(person, _individual_fields(m)):
                person.full_clean(**_CLEAN_INDIVIDUAL)
                person.save()
                counts.individuals_updated += 1
                changed = True
            if _documents_set(person, m.documents):
                changed = True
        if created:
            counts.created += 1
        elif changed:
            counts.updated += 1
        else:
            counts.unchanged += 1
    _people_insert(new_people, counts)
    audit_record(
        action="registration.households_write",
        obj=operation,
        by=by,
        detail={
            "source": source,
            "households_created": counts.created,
            "households_updated": counts.updated,
            "individuals_created": counts.individuals_created,
        },
    )
    return counts


def _people_insert(new_people: list, counts: WriteCounts) -> None:
    """Insert the new individuals and their documents in a few statements (their ids come back)."""
    if not new_people:
        return
    created = Individual.objects.bulk_create([person for person, _docs in new_people], batch_size=500)
    counts.individuals_created += len(created)
    counts.new_individual_ids.extend(person.pk for person in created)
    documents = [
        IdentityDocument(
            individual=person,
            doc_type=doc_type,
            number=number,
            number_hash=keyed_hash(number, f"document:{doc_type}"),
        )
        for person, docs in new_people
        for doc_type, number in docs
    ]
    IdentityDocument.objects.bulk_create(documents, batch_size=500)


def _documents_set(person: Individual, documents: list[tuple[str, str]]) -> bool:
    """Add or change a stored person's documents (one per type); True when something was written."""
    if not documents:
        return False
    current = {d.doc_type: d for d in person.documents.all()}
    changed = False
    for doc_type, number in documents:
        digest = keyed_hash(number, f"document:{doc_type}")
        doc = current.get(doc_type)
        if doc is None:
            IdentityDocument.objects.create(
                individual=person, doc_type=doc_type, number=number, number_hash=digest
            )
            changed = True
        elif doc.number_hash != digest or doc.number != number:
            doc.number, doc.number_hash = number, digest
            doc.save(update_fields=["number", "number_hash"])
            changed = True
    return changed


class BatchInvalid(ValidationError):
    """A batch with row errors: nothing was written. ``errors`` are core.imports.RowError."""

    def __init__(self, errors: list[RowError]):
        self.errors = errors
        super().__init__([e.text for e in errors[:20]])


def duplicate_documents(rows: list) -> Counter:
    """How often each (type, keyed hash) occurs in a list of IndividualValues (for the importer)."""
    return Counter((t, keyed_hash(n, f"document:{t}")) for m in rows for t, n in m.documents)

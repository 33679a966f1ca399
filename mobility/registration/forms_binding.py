"""Registration from forms: the collection binding target ``registration.households``, and who may
see the submissions of such forms.

A form (ODK Collect, Enketo, KoboCollect) bound to ``registration.households`` makes one household
per submission and one individual per entry of the repeat its member questions sit in. Its
submissions go through the file importer ``registration.individuals``: the same row checks, the
same batch rules (one head, sizes, p-codes), the same all-or-nothing write. Collection calls the
functions below for this target (as it calls ``flows.forms`` for the flows targets).

Identities: the household's reference is the submission's first instance id (``uuid:…``, the root
of its edit chain) unless the binding maps ``household_id`` to a field (a registration card
number); a member's is ``<household>#<entry>`` unless ``individual_id`` is mapped (ODK's
``once(uuid())`` in the repeat keeps it stable when members are removed or reordered). An edit keeps
the root, so it updates the household in place; a member an edit drops is removed (or closed, when
a merge, a distribution or a verification refers to it).

Personal data: the stored bodies of these submissions are personal records. The collection pages,
the export and the Central-compatible API ask ``submissions_guard`` before showing them: only users
granted ``view`` (one submission) or ``export`` (lists, OData) in the operation see them, and each
time is written to the access log.
"""

from __future__ import annotations

from collections import defaultdict

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from mobility.core.services import audit_record

from . import access
from .importers.individuals import KIND
from .models import AccessLog, Capability, Household, Individual, Purpose, RecordStatus
from .records import TEMPLATE_COLUMNS

TARGET = "registration.households"
HOUSEHOLD_MODEL = "registration.household"
INDIVIDUAL_MODEL = "registration.individual"
ID_LIMIT = 64

SUBMISSIONS_NEED_GRANT = (
    "The submissions of this form are registration records (personal data): they are shown only "
    "to users granted {capability} in the operation."
)
BINDING_NEEDS_GRANT = (
    "Only a user granted the register capability in the operation may bind a form to registration."
)


# --- the binding target ----------------------------------------------------------------------------


def target_columns() -> list[str]:
    """The columns a binding of registration.households maps: the registration template's."""
    return list(TEMPLATE_COLUMNS)


def target_accepts(column: str) -> bool:
    return column in TEMPLATE_COLUMNS


def binding_check(*, form, by) -> None:
    """PermissionDenied unless ``by`` (when a user saves the binding) holds register in the form's
    operation; a binding saved without a user (a command on the server) is allowed."""
    if by is None or not getattr(by, "pk", None):
        return
    try:
        access.require(by, form.operation, Capability.REGISTER)
    except PermissionDenied:
        raise PermissionDenied(BINDING_NEEDS_GRANT) from None


def person_id_for(household: str, entry: int | None) -> str:
    """A member's reference made from its household's and its repeat entry number."""
    suffix = f"#{entry or 1}"
    return household[: ID_LIMIT - len(suffix)] + suffix


def rows_identify(rows: list[dict], entries: list, root_id: str) -> None:
    """Fill household_id (the submission's root instance id) and individual_id where not mapped."""
    for row, entry in zip(rows, entries, strict=True):
        if not (row.get("household_id") or "").strip():
            row["household_id"] = (root_id or "")[:ID_LIMIT]
        if not (row.get("individual_id") or "").strip():
            row["individual_id"] = person_id_for(row["household_id"].strip(), entry)


def items(data: dict) -> list[tuple[object, tuple[str], set[int]]]:
    """(batch item, identity, source rows) of each household the importer read."""
    out = []
    for item in data["items"]:
        rows = {m.row for m in item.members if m.row is not None}
        if item.household.row is not None:
            rows.add(item.household.row)
        out.append((item, (item.household.reference,), rows))
    return out


def rebuild(data: dict, kept: list) -> dict:
    return {**data, "items": kept}


def outputs(operation_id: int, pairs: list[tuple[object, int]]) -> dict[int, set[tuple[str, int]]]:
    """submission id → {(model, pk)}: the household each submission made and its members."""
    out: dict[int, set[tuple[str, int]]] = defaultdict(set)
    if not pairs:
        return out
    references = {item.household.reference for item, _submission in pairs}
    households = dict(
        Household.objects.filter(operation_id=operation_id, reference__in=references).values_list(
            "reference", "pk"
        )
    )
    members = dict(
        Individual.objects.filter(
            operation_id=operation_id,
            reference__in={m.reference for item, _s in pairs for m in item.members},
        ).values_list("reference", "pk")
    )
    for item, submission_id in pairs:
        pk = households.get(item.household.reference)
        if pk is None:
            continue
        out[submission_id].add((HOUSEHOLD_MODEL, pk))
        for member in item.members:
            if member.reference in members:
                out[submission_id].add((INDIVIDUAL_MODEL, members[member.reference]))
    return out


def _referred(individuals: list[Individual]) -> set[int]:
    """Individuals a merge or a decided pair refers to: closed, not deleted, to keep the audit."""
    from .models import MatchPair, Merge

    ids = [i.pk for i in individuals]
    held = set(Merge.objects.filter(survivor_id__in=ids).values_list("survivor_id", flat=True))
    held |= set(Merge.objects.filter(merged_id__in=ids).values_list("merged_id", flat=True))
    decided = MatchPair.objects.exclude(status=MatchPair.Status.PENDING)
    held |= set(decided.filter(left_id__in=ids).values_list("left_id", flat=True))
    held |= set(decided.filter(right_id__in=ids).values_list("right_id", flat=True))
    return held


@transaction.atomic
def remove(gone: set[tuple[str, int]]) -> int:
    """Remove the households and members no current submission makes any more (an edit dropped a
    member, or changed a mapped household_id). Only records that came from forms are touched; those
    a merge, a distribution or a verification refers to are closed instead of deleted."""
    from .models import Distribution, Verification

    now = timezone.now()
    removed = 0
    people = list(
        Individual.objects.filter(
            pk__in=[pk for model, pk in gone if model == INDIVIDUAL_MODEL],
            household__source=Household.Source.FORM,
        )
    )
    homes = list(
        Household.objects.filter(
            pk__in=[pk for model, pk in gone if model == HOUSEHOLD_MODEL], source=Household.Source.FORM
        )
    )
    home_ids = {h.pk for h in homes}
    people = [p for p in people if p.household_id not in home_ids]  # they go with their household
    if people:
        held = _referred(people)
        closed = [p.pk for p in people if p.pk in held]
        Individual.objects.filter(pk__in=closed).update(status=RecordStatus.CLOSED, updated_at=now)
        removed += (
            len(closed)
            + Individual.objects.filter(pk__in=[p.pk for p in people if p.pk not in held]).delete()[0]
        )
        for household_id in {p.household_id for p in people}:
            household = Household.objects.get(pk=household_id)
            active = household.members.exclude(status=RecordStatus.CLOSED).count()
            if active and household.size > active:
                Household.objects.filter(pk=household_id).update(size=active, updated_at=now)
    if homes:
        held_homes = set(
            Distribution.objects.filter(household_id__in=home_ids).values_list("household_id", flat=True)
        )
        held_homes |= set(
            Verification.objects.filter(household_id__in=home_ids).values_list("household_id", flat=True)
        )
        members = list(Individual.objects.filter(household_id__in=home_ids))
        held_people = _referred(members)
        held_homes |= {m.household_id for m in members if m.pk in held_people}
        Household.objects.filter(pk__in=held_homes).update(
            status=RecordStatus.CLOSED, status_changed_at=now, updated_at=now
        )
        Individual.objects.filter(household_id__in=held_homes).update(
            status=RecordStatus.CLOSED, updated_at=now
        )
        doomed = [pk for pk in home_ids if pk not in held_homes]
        Household.objects.filter(pk__in=doomed).delete()
        removed += len(home_ids)
    if removed:
        audit_record(
            action="registration.form_records_removed",
            obj=(homes or people)[0].operation,
            by=None,
            detail={
                "households": sorted(home_ids),
                "individuals": sorted(p.pk for p in people),
            },
        )
    return removed


# --- who may see the submissions of registration forms ---------------------------------------------


def registration_bound(form) -> bool:
    """Has the form ever been bound to registration (its stored submissions hold personal data)?"""
    cached = getattr(form, "registration_bound", None)  # annotated by some querysets
    if cached is None:
        cached = form.bindings.filter(target=TARGET).exists()
        form.registration_bound = cached
    return cached


def submissions_guard(user, form, *, export: bool = False, submission=None) -> None:
    """PermissionDenied (logged) for the submissions of a registration form unless the user holds
    ``view`` (one submission) or ``export`` (lists, the API) in its operation; an allowed look is
    written to the access log. Forms not bound to registration pass untouched."""
    if not registration_bound(form):
        return
    capability = Capability.EXPORT if export else Capability.VIEW
    operation = form.operation
    try:
        access.require(user, operation, capability)
    except PermissionDenied:
        raise PermissionDenied(SUBMISSIONS_NEED_GRANT.format(capability=capability.value)) from None
    access.log_access(
        user=user,
        operation=operation,
        action=AccessLog.Action.EXPORT if export else AccessLog.Action.VIEW,
        purpose=Purpose.EXPORT if export else Purpose.REGISTRATION,
        obj=submission,
        object_type="collection.submission" if submission is None else "",
        detail={"form": form.pk} if submission is None else {},
    )


__all__ = [
    "KIND",
    "TARGET",
    "binding_check",
    "items",
    "outputs",
    "rebuild",
    "registration_bound",
    "remove",
    "rows_identify",
    "submissions_guard",
    "target_accepts",
    "target_columns",
]

"""Decisions on candidate duplicates, and merges that can be undone exactly.

A reviewer decides a ``MatchPair`` the model scored in the uncertain band: *duplicate* (the two
records are one person: they join one ``DedupCluster``), *not duplicate* (remembered: a pending
pair is the only kind the queue shows, and the matching re-runs keep a decided pair's status), or
*merge* (one record survives; the other is closed and points at it).

A merge changes only statuses, pointers and cluster ids, never personal values, and writes down
what it changed in ``Merge.before`` so ``merge_undo`` puts every one of them back. Cluster ids are
stable: the surviving record's cluster keeps its id and the other cluster's members join it.

A household whose every member has been merged into other records is closed by the merge (and
reopened by the undo), so aggregates that count active households do not count it twice.

Permissions are checked by the pages (``access.require``); these services check the records.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _

from mobility.core.services import audit_record

from .access import log_access
from .models import AccessLog, DedupCluster, Household, Individual, MatchPair, Merge, Purpose, RecordStatus

PAIR_DECIDED = _("This pair was already decided ({status}); it is no longer open for review.")
PAIR_DECISION_UNKNOWN = _('"{value}" is not a decision; use one of: {allowed}')
PAIR_NOT_THESE = _("The pair does not hold these two records.")
MERGE_SELF = _("A record cannot be merged into itself.")
MERGE_OTHER_OPERATION = _("Both records must belong to the same operation.")
MERGE_ALREADY_MERGED = _("individual {reference} is already merged into another record")
MERGE_NOT_MERGEABLE = _("individual {reference} is {status} and cannot take part in a merge")
MERGE_ALREADY_UNDONE = _("This merge was already undone.")
MERGE_CHANGED_SINCE = _(
    "The records changed after this merge (a later merge or decision); undo the later change first."
)

DECISIONS = (MatchPair.Status.DUPLICATE, MatchPair.Status.NOT_DUPLICATE)


def _stamp(value) -> str | None:
    return value.isoformat() if value else None


def _locked(*individuals: Individual) -> list[Individual]:
    rows = {
        p.pk: p for p in Individual.objects.select_for_update().filter(pk__in=[i.pk for i in individuals])
    }
    return [rows[i.pk] for i in individuals]


def _cluster_join(keep: Individual, other: Individual) -> tuple[int, dict[str, int | None], bool]:
    """Put both records (and everyone already clustered with them) into keep's cluster.

    Returns the cluster id, the moved individuals' previous cluster ids, and whether the cluster
    was created here (neither record had one).
    """
    target = keep.cluster_id or other.cluster_id
    created = target is None
    if created:
        target = DedupCluster.objects.create(operation_id=keep.operation_id).pk
    absorbed = {keep.cluster_id, other.cluster_id} - {target, None}
    moving = (
        Individual.objects.select_for_update().filter(pk__in=[keep.pk, other.pk]).exclude(cluster_id=target)
    )
    moved = {str(pk): cluster for pk, cluster in moving.values_list("pk", "cluster_id")}
    if absorbed:
        moved.update(
            {
                str(pk): cluster
                for pk, cluster in Individual.objects.select_for_update()
                .filter(cluster_id__in=absorbed)
                .values_list("pk", "cluster_id")
            }
        )
    Individual.objects.filter(pk__in=[int(pk) for pk in moved]).update(
        cluster_id=target, updated_at=timezone.now()
    )
    for person in (keep, other):
        person.cluster_id = target
    return target, moved, created


def _oldest_cluster_first(a: Individual, b: Individual) -> tuple[Individual, Individual]:
    """The record whose cluster is older keeps it (cluster ids are stable)."""
    if a.cluster_id and (not b.cluster_id or a.cluster_id <= b.cluster_id):
        return a, b
    if b.cluster_id:
        return b, a
    return a, b


@transaction.atomic
def pair_decide(*, pair: MatchPair, decision: str, by) -> MatchPair:
    """Mark a pending pair duplicate (one cluster) or not duplicate (never shown again)."""
    if decision not in DECISIONS:
        raise ValidationError(
            PAIR_DECISION_UNKNOWN.format(value=str(decision)[:30], allowed=", ".join(DECISIONS))
        )
    pair = MatchPair.objects.select_for_update().get(pk=pair.pk)
    if pair.status != MatchPair.Status.PENDING:
        raise ValidationError(PAIR_DECIDED.format(status=pair.get_status_display()))
    detail: dict = {"decision": decision, "left": pair.left_id, "right": pair.right_id}
    if decision == MatchPair.Status.DUPLICATE:
        left, right = _locked(pair.left, pair.right)
        keep, other = _oldest_cluster_first(left, right)
        cluster, moved, _created = _cluster_join(keep, other)
        detail.update(cluster=cluster, moved=moved)
    pair.status = decision
    pair.decided_by = by if getattr(by, "pk", None) else None
    pair.decided_at = timezone.now()
    pair.full_clean()
    pair.save(update_fields=["status", "decided_by", "decided_at", "updated_at"])
    audit_record(action="registration.pair_decide", obj=pair, by=by, operation=pair.operation, detail=detail)
    log_access(
        user=by,
        operation=pair.operation,
        action=AccessLog.Action.EDIT,
        purpose=Purpose.DEDUPLICATION,
        object_type="registration.individual",
        object_ids=[pair.left_id, pair.right_id],
        detail={"pair": pair.pk, "decision": decision},
    )
    return pair


@transaction.atomic
def merge(*, survivor: Individual, merged: Individual, by, pair: MatchPair | None = None) -> Merge:
    """Merge one record into a surviving one: closed, pointing at it, in its cluster (reversible)."""
    if survivor.pk == merged.pk:
        raise ValidationError(MERGE_SELF)
    survivor, merged = _locked(survivor, merged)
    if survivor.operation_id != merged.operation_id:
        raise ValidationError(MERGE_OTHER_OPERATION)
    for person in (survivor, merged):
        if person.merged_into_id is not None:
            raise ValidationError(MERGE_ALREADY_MERGED.format(reference=person.reference))
        if person.status == RecordStatus.ERASED:
            raise ValidationError(
                MERGE_NOT_MERGEABLE.format(reference=person.reference, status=person.get_status_display())
            )
    pair_before = None
    if pair is not None:
        pair = MatchPair.objects.select_for_update().get(pk=pair.pk)
        if {pair.left_id, pair.right_id} != {survivor.pk, merged.pk}:
            raise ValidationError(PAIR_NOT_THESE)
        if pair.status not in (MatchPair.Status.PENDING, MatchPair.Status.DUPLICATE):
            raise ValidationError(PAIR_DECIDED.format(status=pair.get_status_display()))
        pair_before = {
            "id": pair.pk,
            "status": pair.status,
            "decided_by": pair.decided_by_id,
            "decided_at": _stamp(pair.decided_at),
        }
    before: dict = {
        "merged": {
            "status": merged.status,
            "merged_into": None,
            "match_probability": merged.match_probability,
        },
        "pair": pair_before,
    }
    cluster, moved, created = _cluster_join(survivor, merged)
    before.update(clusters=moved, cluster_to=cluster, cluster_created=created)
    # Who is in the cluster right after the merge: the undo checks nobody joined or left it since.
    before["cluster_members"] = sorted(
        Individual.objects.filter(cluster_id=cluster).values_list("pk", flat=True)
    )

    merged.status = RecordStatus.CLOSED
    merged.merged_into = survivor
    if pair is not None:
        merged.match_probability = pair.match_probability
    merged.full_clean()
    merged.save(update_fields=["status", "merged_into", "match_probability", "cluster", "updated_at"])

    household = Household.objects.select_for_update().get(pk=merged.household_id)
    everyone_merged = not household.members.filter(merged_into__isnull=True).exists()
    if everyone_merged and household.status != RecordStatus.CLOSED:
        before["household"] = {
            "id": household.pk,
            "status": household.status,
            "status_changed_at": _stamp(household.status_changed_at),
        }
        household.status = RecordStatus.CLOSED
        household.status_changed_at = timezone.now()
        household.full_clean()
        household.save(update_fields=["status", "status_changed_at", "updated_at"])

    if pair is not None:
        pair.status = MatchPair.Status.MERGED
        pair.decided_by = by if getattr(by, "pk", None) else None
        pair.decided_at = timezone.now()
        pair.save(update_fields=["status", "decided_by", "decided_at", "updated_at"])

    record = Merge(
        operation_id=survivor.operation_id,
        survivor=survivor,
        merged=merged,
        pair=pair,
        before=before,
        by=by if getattr(by, "pk", None) else None,
    )
    record.full_clean()
    record.save()
    detail = {
        "survivor": survivor.pk,
        "merged": merged.pk,
        "pair": pair.pk if pair else None,
        "cluster": cluster,
        "household_closed": "household" in before,
    }
    audit_record(action="registration.merge", obj=record, by=by, detail=detail)
    log_access(
        user=by,
        operation=record.operation,
        action=AccessLog.Action.MERGE,
        purpose=Purpose.DEDUPLICATION,
        object_type="registration.individual",
        object_ids=[survivor.pk, merged.pk],
        detail={"merge": record.pk},
    )
    return record


def _unchanged_since(record: Merge) -> bool:
    """Is every value the merge set still what it set? (Otherwise the undo would clobber later work.)"""
    before = record.before
    merged = Individual.objects.get(pk=record.merged_id)
    if merged.merged_into_id != record.survivor_id or merged.status != RecordStatus.CLOSED:
        return False
    members = sorted(
        Individual.objects.filter(cluster_id=before.get("cluster_to")).values_list("pk", flat=True)
    )
    if members != before.get("cluster_members"):
        return False
    touched = {record.survivor_id, record.merged_id, *(int(pk) for pk in before.get("clusters", {}))}
    later = Merge.objects.filter(operation_id=record.operation_id, pk__gt=record.pk, undone_at__isnull=True)
    if later.filter(Q(survivor_id__in=touched) | Q(merged_id__in=touched)).exists():
        return False
    if before.get("household"):
        if Household.objects.get(pk=before["household"]["id"]).status != RecordStatus.CLOSED:
            return False
    if before.get("pair"):
        if not MatchPair.objects.filter(pk=before["pair"]["id"], status=MatchPair.Status.MERGED).exists():
            return False
    return True


@transaction.atomic
def merge_undo(*, merge: Merge, by) -> Merge:
    """Put back exactly what the merge changed: statuses, pointers, clusters, the pair's decision."""
    record = Merge.objects.select_for_update().select_related("operation").get(pk=merge.pk)
    if record.undone_at is not None:
        raise ValidationError(MERGE_ALREADY_UNDONE)
    _locked(record.survivor, record.merged)
    if not _unchanged_since(record):
        raise ValidationError(MERGE_CHANGED_SINCE)
    before = record.before
    now = timezone.now()

    merged = Individual.objects.get(pk=record.merged_id)
    merged.status = before["merged"]["status"]
    merged.merged_into = None
    merged.match_probability = before["merged"]["match_probability"]
    merged.save(update_fields=["status", "merged_into", "match_probability", "updated_at"])
    by_cluster: dict[int | None, list[int]] = {}
    for pk, cluster in before.get("clusters", {}).items():
        by_cluster.setdefault(cluster, []).append(int(pk))
    for cluster, ids in by_cluster.items():
        Individual.objects.filter(pk__in=ids).update(cluster_id=cluster, updated_at=now)
    if (
        before.get("cluster_created")
        and not Individual.objects.filter(cluster_id=before["cluster_to"]).exists()
    ):
        DedupCluster.objects.filter(pk=before["cluster_to"]).delete()

    if before.get("household"):
        Household.objects.filter(pk=before["household"]["id"]).update(
            status=before["household"]["status"],
            status_changed_at=parse_datetime(before["household"]["status_changed_at"] or "") or None,
            updated_at=now,
        )
    if before.get("pair"):
        MatchPair.objects.filter(pk=before["pair"]["id"]).update(
            status=before["pair"]["status"],
            decided_by_id=before["pair"]["decided_by"],
            decided_at=parse_datetime(before["pair"]["decided_at"] or "") or None,
            updated_at=now,
        )

    record.undone_by = by if getattr(by, "pk", None) else None
    record.undone_at = now
    record.save(update_fields=["undone_by", "undone_at"])
    audit_record(
        action="registration.merge_undo",
        obj=record,
        by=by,
        detail={"survivor": record.survivor_id, "merged": record.merged_id},
    )
    log_access(
        user=by,
        operation=record.operation,
        action=AccessLog.Action.MERGE,
        purpose=Purpose.DEDUPLICATION,
        object_type="registration.individual",
        object_ids=[record.survivor_id, record.merged_id],
        detail={"merge": record.pk, "undo": True},
    )
    return record

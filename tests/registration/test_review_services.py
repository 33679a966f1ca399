"""Decisions and merges: remembered, stable clusters, counted once, and an undo that restores everything."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from mobility.core.models import AuditEntry
from mobility.registration import review, selectors
from mobility.registration.models import (
    AccessLog,
    DedupCluster,
    Household,
    Individual,
    MatchPair,
    Merge,
    RecordStatus,
)

from .pages_world import MARKERS, head_of, marked_household, pair_make

pytestmark = pytest.mark.django_db


def snapshot(operation) -> dict:
    """Every value a decision or a merge may touch, for every record of the operation."""
    return {
        "individuals": list(
            Individual.objects.filter(operation=operation)
            .order_by("pk")
            .values_list("pk", "status", "merged_into_id", "cluster_id", "match_probability")
        ),
        "households": list(
            Household.objects.filter(operation=operation)
            .order_by("pk")
            .values_list("pk", "status", "status_changed_at", "size")
        ),
        "pairs": list(
            MatchPair.objects.filter(operation=operation)
            .order_by("pk")
            .values_list("pk", "status", "decided_by_id", "decided_at")
        ),
        "clusters": sorted(DedupCluster.objects.filter(operation=operation).values_list("pk", flat=True)),
        "names": [(p.given_name, p.family_name) for p in Individual.objects.order_by("pk")],
    }


@pytest.fixture
def two_households(operation):
    """Two single-person households registered twice for one woman, scored as a likely pair."""
    first = marked_household(operation, "HH-A", household_size="1", members=[])
    second = marked_household(operation, "HH-B", household_size="1", members=[],
                              head={"given_name": "Qwyzeline", "date_of_birth": "1979-13-02"[:5] + "02-13"})  # fmt: skip
    return first, second


def test_not_duplicate_is_remembered_and_leaves_the_queue(operation, two_households, data_manager):
    a, b = (head_of(h) for h in two_households)
    pair = pair_make(a, b)
    assert list(selectors.review_queue(operation=operation)) == [pair]
    review.pair_decide(pair=pair, decision=MatchPair.Status.NOT_DUPLICATE, by=data_manager)
    pair.refresh_from_db()
    assert (pair.status, pair.decided_by) == (MatchPair.Status.NOT_DUPLICATE, data_manager)
    assert pair.decided_at is not None
    assert list(selectors.review_queue(operation=operation)) == []
    a.refresh_from_db()
    b.refresh_from_db()
    assert a.cluster_id is None and b.cluster_id is None  # not joined
    with pytest.raises(ValidationError) as exc:
        review.pair_decide(pair=pair, decision=MatchPair.Status.DUPLICATE, by=data_manager)
    assert exc.value.messages == [str(review.PAIR_DECIDED.format(status="Not a duplicate"))]
    entry = AuditEntry.objects.get(action="registration.pair_decide")
    assert entry.detail["decision"] == "not_duplicate"
    assert not any(m in str(entry.detail) for m in MARKERS)
    assert AccessLog.objects.filter(action=AccessLog.Action.EDIT, purpose="deduplication").count() == 1


def test_an_unknown_decision_is_refused(operation, two_households, data_manager):
    pair = pair_make(*(head_of(h) for h in two_households))
    with pytest.raises(ValidationError):
        review.pair_decide(pair=pair, decision="merged", by=data_manager)
    pair.refresh_from_db()
    assert pair.status == MatchPair.Status.PENDING


def test_duplicate_joins_one_cluster_keeping_the_older_id(operation, two_households, data_manager):
    a, b = (head_of(h) for h in two_households)
    third = head_of(marked_household(operation, "HH-C", household_size="1", members=[]))
    old, newer = (
        DedupCluster.objects.create(operation=operation),
        DedupCluster.objects.create(operation=operation),
    )
    Individual.objects.filter(pk__in=[b.pk, third.pk]).update(cluster=old)
    Individual.objects.filter(pk=a.pk).update(cluster=newer)
    pair = pair_make(a, b)
    review.pair_decide(pair=pair, decision=MatchPair.Status.DUPLICATE, by=data_manager)
    clusters = dict(Individual.objects.values_list("reference", "cluster_id"))
    assert clusters == {"HH-A-1": old.pk, "HH-B-1": old.pk, "HH-C-1": old.pk}
    assert MatchPair.objects.get().status == MatchPair.Status.DUPLICATE


def test_merge_and_undo_restore_every_value(operation, two_households, data_manager, admin_user):
    first, second = two_households
    survivor, merged = head_of(first), head_of(second)
    # The merged record already shares a cluster with a fourth record; the survivor has its own cluster.
    fourth = head_of(marked_household(operation, "HH-D", household_size="1", members=[]))
    ours, theirs = (
        DedupCluster.objects.create(operation=operation),
        DedupCluster.objects.create(operation=operation),
    )
    Individual.objects.filter(pk=survivor.pk).update(cluster=ours, match_probability=0.97)
    Individual.objects.filter(pk__in=[merged.pk, fourth.pk]).update(cluster=theirs, match_probability=0.93)
    pair = pair_make(survivor, merged, probability=0.81)
    other_pair = pair_make(merged, fourth, probability=0.7)
    before = snapshot(operation)
    counts_before = selectors.registry_counts(operation=operation)

    record = review.merge(survivor=survivor, merged=merged, by=data_manager, pair=pair)

    merged.refresh_from_db()
    assert (merged.status, merged.merged_into_id, merged.cluster_id) == (
        RecordStatus.CLOSED,
        survivor.pk,
        ours.pk,
    )
    assert merged.match_probability == 0.81
    assert (
        Individual.objects.get(pk=fourth.pk).cluster_id == ours.pk
    )  # the clusters fused under the survivor's id
    assert Household.objects.get(pk=second.pk).status == RecordStatus.CLOSED  # nobody left in it
    assert Household.objects.get(pk=first.pk).status == RecordStatus.ACTIVE
    assert MatchPair.objects.get(pk=pair.pk).status == MatchPair.Status.MERGED
    # A pending pair with a merged-away side waits outside the queue.
    assert other_pair not in selectors.review_queue(operation=operation)
    counts = selectors.registry_counts(operation=operation)
    assert (counts["households"], counts["people"]) == (
        counts_before["households"] - 1,
        counts_before["people"] - 1,
    )
    assert counts["merges"] == 1
    assert not any(m in str(record.before) for m in MARKERS)

    review.merge_undo(merge=record, by=admin_user)

    assert snapshot(operation) == before
    record.refresh_from_db()
    assert record.undone_by == admin_user and record.undone_at is not None
    assert other_pair in selectors.review_queue(operation=operation)
    assert selectors.registry_counts(operation=operation) == counts_before
    audit = AuditEntry.objects.filter(action__startswith="registration.merge").order_by("pk")
    assert [a.action for a in audit] == ["registration.merge", "registration.merge_undo"]
    assert not any(m in str(a.detail) for a in audit for m in MARKERS)
    logs = AccessLog.objects.filter(action=AccessLog.Action.MERGE).order_by("pk")
    assert [log.user for log in logs] == [data_manager, admin_user]
    assert logs[1].detail["undo"] is True and logs[0].records == 2


def test_a_merge_of_records_without_cluster_creates_one_and_the_undo_removes_it(
    operation, two_households, data_manager
):
    a, b = (head_of(h) for h in two_households)
    before = snapshot(operation)
    record = review.merge(survivor=b, merged=a, by=data_manager)
    cluster = Individual.objects.get(pk=a.pk).cluster_id
    assert cluster is not None and Individual.objects.get(pk=b.pk).cluster_id == cluster
    review.merge_undo(merge=record, by=data_manager)
    assert snapshot(operation) == before
    assert not DedupCluster.objects.filter(pk=cluster).exists()


def test_a_member_merged_out_of_a_larger_household_leaves_it_open(operation, data_manager):
    big = marked_household(operation, "HH-BIG")  # head and a child
    lone = marked_household(operation, "HH-LONE", household_size="1", members=[])
    child = big.members.get(relationship="child")
    review.merge(survivor=head_of(lone), merged=child, by=data_manager)
    assert Household.objects.get(pk=big.pk).status == RecordStatus.ACTIVE


def test_undo_is_refused_after_a_later_change_and_works_in_reverse_order(
    operation, two_households, data_manager
):
    a, b = (head_of(h) for h in two_households)
    c = head_of(marked_household(operation, "HH-C", household_size="1", members=[]))
    before = snapshot(operation)
    first = review.merge(survivor=b, merged=a, by=data_manager)
    second = review.merge(survivor=c, merged=b, by=data_manager)
    with pytest.raises(ValidationError) as exc:
        review.merge_undo(merge=first, by=data_manager)
    assert exc.value.messages == [str(review.MERGE_CHANGED_SINCE)]
    review.merge_undo(merge=second, by=data_manager)
    review.merge_undo(merge=first, by=data_manager)
    assert snapshot(operation) == before
    with pytest.raises(ValidationError) as exc:
        review.merge_undo(merge=first, by=data_manager)
    assert exc.value.messages == [str(review.MERGE_ALREADY_UNDONE)]


@pytest.mark.parametrize("case", ["self", "already_merged", "other_operation", "wrong_pair", "decided_pair"])
def test_merges_that_make_no_sense_are_refused_and_change_nothing(
    case, operation, other_operation, two_households, data_manager
):
    a, b = (head_of(h) for h in two_households)
    c = head_of(marked_household(operation, "HH-C", household_size="1", members=[]))
    pair = None
    if case == "already_merged":
        review.merge(survivor=c, merged=a, by=data_manager)
    before = snapshot(operation)
    if case == "self":
        survivor, merged, message = a, a, review.MERGE_SELF
    elif case == "already_merged":
        survivor, merged, message = b, a, review.MERGE_ALREADY_MERGED.format(reference=a.reference)
    elif case == "other_operation":
        survivor = head_of(marked_household(other_operation, "PAK-1", household_size="1", members=[]))
        merged, message = a, review.MERGE_OTHER_OPERATION
        before = snapshot(operation)
    elif case == "wrong_pair":
        survivor, merged, message = a, b, review.PAIR_NOT_THESE
        pair = pair_make(a, c)
        before = snapshot(operation)
    else:
        pair = pair_make(a, b)
        review.pair_decide(pair=pair, decision=MatchPair.Status.NOT_DUPLICATE, by=data_manager)
        before = snapshot(operation)
        survivor, merged, message = a, b, review.PAIR_DECIDED.format(status="Not a duplicate")
    merges = Merge.objects.count()
    with pytest.raises(ValidationError) as exc:
        review.merge(survivor=survivor, merged=merged, by=data_manager, pair=pair)
    assert exc.value.messages == [str(message)]
    assert snapshot(operation) == before and Merge.objects.count() == merges


def test_undo_is_refused_once_someone_else_joined_the_merged_cluster(operation, two_households, data_manager):
    a, b = (head_of(h) for h in two_households)
    d = head_of(marked_household(operation, "HH-D", household_size="1", members=[]))
    record = review.merge(survivor=a, merged=b, by=data_manager)
    review.pair_decide(pair=pair_make(a, d), decision=MatchPair.Status.DUPLICATE, by=data_manager)
    with pytest.raises(ValidationError) as exc:
        review.merge_undo(merge=record, by=data_manager)
    assert exc.value.messages == [str(review.MERGE_CHANGED_SINCE)]
    assert Individual.objects.get(pk=b.pk).merged_into_id == a.pk

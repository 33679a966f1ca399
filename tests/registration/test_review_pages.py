"""The review queue page: side by side for reviewers only, decisions by form or htmx, undo."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from mobility.registration.models import AccessLog, Capability, Individual, MatchPair, Merge, RecordStatus

from .pages_world import (
    MARKER_DOCUMENT,
    MARKER_GIVEN,
    MARKERS,
    grant,
    head_of,
    marked_household,
    pair_make,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def reviewer(viewer, operation, admin_user):
    return grant(operation, viewer, Capability.REVIEW, Capability.VIEW, by=admin_user)


@pytest.fixture
def pairs(operation):
    a = marked_household(operation, "HH-A", household_size="1", members=[])
    b = marked_household(operation, "HH-B", household_size="1", members=[], head={"given_name": "Qwyzeline"})
    c = marked_household(operation, "HH-C", household_size="1", members=[], head={"given_name": "Kwyzzeline"})
    likely = pair_make(head_of(a), head_of(b), probability=0.86)
    unsure = pair_make(head_of(a), head_of(c), probability=0.55, comparisons={})
    return likely, unsure


def queue_url(operation):
    return reverse("registration:review", args=[operation.slug])


def decide_url(operation, pair):
    return reverse("registration:pair_decide", args=[operation.slug, pair.pk])


def test_the_queue_shows_pairs_side_by_side_most_likely_first_and_logs_the_view(
    client, operation, reviewer, pairs
):
    likely, unsure = pairs
    client.force_login(reviewer)
    response = client.get(queue_url(operation))
    assert response.status_code == 200
    assert [item["pair"] for item in response.context["items"]] == [likely, unsure]
    rows = {row.key: row for row in response.context["items"][0]["rows"]}
    assert (rows["given_name"].left, rows["given_name"].right) == (MARKER_GIVEN, "Qwyzeline")
    assert rows["given_name"].agrees is True and rows["given_name"].weight == 4.1
    assert rows["phone"].agrees is False and rows["phone"].weight == -3.4
    assert rows["documents"].compared is False and MARKER_DOCUMENT in rows["documents"].left
    html = response.content.decode()
    assert "86%" in html and "+6.3" in html and "-3.4" in html
    log = AccessLog.objects.get(action=AccessLog.Action.VIEW, purpose="deduplication")
    assert log.records == 4  # each record of each pair shown (one record is in both pairs)
    assert sorted(int(i) for i in log.detail["ids"]) == sorted(
        [likely.left_id, likely.right_id, unsure.left_id, unsure.right_id]
    )
    assert log.detail["pairs"] == [likely.pk, unsure.pk]


def test_the_queue_needs_the_review_grant(client, operation, viewer, admin_user, pairs):
    grant(operation, viewer, Capability.VIEW, by=admin_user)
    client.force_login(viewer)
    response = client.get(queue_url(operation))
    assert response.status_code == 403
    assert not any(m in response.content.decode() for m in MARKERS)
    response = client.post(decide_url(operation, pairs[0]), {"decision": "not_duplicate"})
    assert response.status_code == 403
    assert MatchPair.objects.get(pk=pairs[0].pk).status == MatchPair.Status.PENDING
    assert AccessLog.objects.filter(user=viewer, action=AccessLog.Action.DENIED).count() == 2


def test_not_duplicate_is_never_shown_again(client, operation, reviewer, pairs):
    likely, unsure = pairs
    client.force_login(reviewer)
    response = client.post(
        decide_url(operation, likely), {"decision": "not_duplicate", "next": queue_url(operation)}
    )
    assert response.status_code == 302 and response["Location"] == queue_url(operation)
    likely.refresh_from_db()
    assert (likely.status, likely.decided_by) == (MatchPair.Status.NOT_DUPLICATE, reviewer)
    assert [i["pair"] for i in client.get(queue_url(operation)).context["items"]] == [unsure]
    # Deciding it again (an old tab) changes nothing and says why.
    response = client.post(decide_url(operation, likely), {"decision": "merge_left"}, follow=True)
    assert "already decided" in response.content.decode()
    assert not Merge.objects.exists()


def test_merge_with_htmx_replaces_the_pair_and_shows_on_the_household_page(
    client, operation, reviewer, pairs
):
    likely, _unsure = pairs
    client.force_login(reviewer)
    response = client.post(decide_url(operation, likely), {"decision": "merge_right"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert f'id="pair-{likely.pk}"' in html and 'data-status="merged"' in html
    merge = Merge.objects.get()
    assert (merge.survivor_id, merge.merged_id) == (likely.right_id, likely.left_id)
    assert reverse("registration:merge_undo", args=[operation.slug, merge.pk]) in html
    merged = Individual.objects.get(pk=likely.left_id)
    assert merged.merged_into_id == likely.right_id and merged.status == RecordStatus.CLOSED
    page = client.get(reverse("registration:household", args=[operation.slug, merged.household.reference]))
    assert f'data-merged-into="{merge.survivor.reference}"' in page.content.decode()
    # The other pair of the merged record waits until the merge is undone.
    assert client.get(queue_url(operation)).context["items"] == []


def test_undo_from_the_page_brings_the_pair_back(client, operation, reviewer, pairs):
    likely, unsure = pairs
    client.force_login(reviewer)
    client.post(decide_url(operation, likely), {"decision": "merge_left"})
    merge = Merge.objects.get()
    response = client.post(reverse("registration:merge_undo", args=[operation.slug, merge.pk]))
    assert response.status_code == 302
    merge.refresh_from_db()
    assert merge.undone_by == reviewer
    assert Individual.objects.get(pk=likely.right_id).merged_into_id is None
    assert [i["pair"] for i in client.get(queue_url(operation)).context["items"]] == [likely, unsure]


def test_decisions_need_the_csrf_token(operation, reviewer, pairs):
    client = Client(enforce_csrf_checks=True)
    client.force_login(reviewer)
    response = client.post(decide_url(operation, pairs[0]), {"decision": "not_duplicate"})
    assert response.status_code == 403
    assert MatchPair.objects.get(pk=pairs[0].pk).status == MatchPair.Status.PENDING


def test_a_pair_of_another_operation_is_not_found(client, operation, other_operation, reviewer):
    x = marked_household(other_operation, "PAK-A", household_size="1", members=[])
    y = marked_household(other_operation, "PAK-B", household_size="1", members=[])
    pair = pair_make(head_of(x), head_of(y))
    client.force_login(reviewer)
    assert client.post(decide_url(operation, pair), {"decision": "not_duplicate"}).status_code == 404
    assert MatchPair.objects.get(pk=pair.pk).status == MatchPair.Status.PENDING


def test_an_unknown_decision_is_a_bad_request(client, operation, reviewer, pairs):
    client.force_login(reviewer)
    assert client.post(decide_url(operation, pairs[0]), {"decision": "delete"}).status_code == 400


def test_the_queue_reads_a_page_of_pairs_in_a_fixed_number_of_queries(
    client, operation, reviewer, django_assert_max_num_queries
):
    heads = [head_of(marked_household(operation, f"HH-{n:02d}", household_size="1", members=[],
                                      head={"document_number": f"QX{n}"})) for n in range(12)]  # fmt: skip
    for n in range(0, 12, 2):
        pair_make(heads[n], heads[n + 1], probability=0.6 + n / 100)
    client.force_login(reviewer)
    with django_assert_max_num_queries(20):
        response = client.get(queue_url(operation))
    assert len(response.context["items"]) == 6
    assert [i["pair"].match_probability for i in response.context["items"]] == sorted(
        (0.6 + n / 100 for n in range(0, 12, 2)), reverse=True
    )

"""The review list: data managers pick the right area, which becomes an alias; others may only look."""

from __future__ import annotations

import pytest
from django.urls import reverse

from mobility.gazetteer.models import AreaAlias, MatchReview

pytestmark = pytest.mark.django_db


def test_data_manager_sees_candidates_as_buttons(client, data_manager, review):
    client.force_login(data_manager)
    page = client.get(reverse("gazetteer:reviews")).content.decode()
    assert "Ancuabi" in page
    assert 'name="pcode" value="MZ0101"' in page and 'name="pcode" value="MZ0102"' in page


def test_resolving_creates_an_alias(client, data_manager, review):
    client.force_login(data_manager)
    response = client.post(reverse("gazetteer:review_resolve", args=[review.pk]), {"pcode": "MZ0101"})
    assert response.status_code == 302
    review.refresh_from_db()
    assert review.status == MatchReview.Status.RESOLVED and review.chosen_pcode == "MZ0101"
    assert AreaAlias.objects.filter(country_iso3="MOZ", level=2, pcode="MZ0101").exists()


def test_resolving_with_an_unknown_pcode_is_refused(client, data_manager, review):
    client.force_login(data_manager)
    response = client.post(
        reverse("gazetteer:review_resolve", args=[review.pk]), {"pcode": "MZ9999"}, follow=True
    )
    assert response.status_code == 200
    review.refresh_from_db()
    assert review.status == MatchReview.Status.OPEN and not AreaAlias.objects.exists()


def test_dismissing_marks_the_name_not_an_area(client, data_manager, review):
    client.force_login(data_manager)
    client.post(reverse("gazetteer:review_dismiss", args=[review.pk]))
    review.refresh_from_db()
    assert review.status == MatchReview.Status.DISMISSED


@pytest.mark.parametrize("who", ["viewer", "enumerator"])
def test_viewer_cannot_resolve(client, request, review, who):
    client.force_login(request.getfixturevalue(who))
    page = client.get(reverse("gazetteer:reviews")).content.decode()
    assert "Ancuabi" in page and 'name="pcode"' not in page
    for name in ("gazetteer:review_resolve", "gazetteer:review_dismiss"):
        assert client.post(reverse(name, args=[review.pk]), {"pcode": "MZ0101"}).status_code == 403
    review.refresh_from_db()
    assert review.status == MatchReview.Status.OPEN


def test_anonymous_cannot_resolve(client, review):
    assert (
        client.post(reverse("gazetteer:review_resolve", args=[review.pk]), {"pcode": "MZ0101"}).status_code
        == 403
    )


def test_review_of_another_operation_needs_the_right_there(client, outsider, operation, review):
    review.operation = operation
    review.save()
    client.force_login(outsider)
    assert (
        client.post(reverse("gazetteer:review_resolve", args=[review.pk]), {"pcode": "MZ0101"}).status_code
        == 403
    )


def test_resolved_items_are_listed_under_their_status(client, data_manager, review):
    client.force_login(data_manager)
    client.post(reverse("gazetteer:review_resolve", args=[review.pk]), {"pcode": "MZ0101"})
    assert f'id="review-{review.pk}"' not in client.get(reverse("gazetteer:reviews")).content.decode()
    page = client.get(reverse("gazetteer:reviews"), {"status": "resolved"}).content.decode()
    assert f'id="review-{review.pk}"' in page and "MZ0101" in page

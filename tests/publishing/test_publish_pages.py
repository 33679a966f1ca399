"""The publish page, the releases list, the release page and its downloads: who may see and do what."""

from __future__ import annotations

import pytest
from django.urls import reverse

from mobility.core.models import Round
from mobility.publishing import services
from mobility.publishing.models import Release

pytestmark = pytest.mark.django_db


def publish_url(round_):
    return reverse("publishing:round_publish", args=[round_.operation.slug, round_.pk])


def test_a_data_manager_sees_the_report_and_publishes(client, data_manager, validating_round):
    client.force_login(data_manager)
    page = client.get(publish_url(validating_round))
    assert page.status_code == 200
    body = page.content.decode()
    assert (
        "Disclosure check" in body and "natural_disaster" in body and "Publish as release version 1" in body
    )
    assert "csrfmiddlewaretoken" in body
    response = client.post(publish_url(validating_round), {"threshold": "5"})
    release = Release.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "publishing:release", args=[release.pk]
    )
    validating_round.refresh_from_db()
    assert validating_round.status == Round.Status.PUBLISHED and release.published_by == data_manager


def test_republishing_on_the_page_needs_a_change_note(client, data_manager, validating_round):
    services.release_publish(round=validating_round)
    client.force_login(data_manager)
    response = client.post(publish_url(validating_round), {"threshold": "5"}, follow=True)
    assert services.CHANGE_NOTE_REQUIRED.format(number=1, version=1, next=2) in response.content.decode()
    client.post(publish_url(validating_round), {"threshold": "5", "change_note": "names fixed"})
    assert list(Release.objects.values_list("version", "status")) == [(2, "current"), (1, "superseded")]


def test_viewers_and_outsiders_cannot_publish(client, viewer, outsider, validating_round):
    for user in (viewer, outsider):
        client.force_login(user)
        assert client.get(publish_url(validating_round)).status_code == 403
        assert client.post(publish_url(validating_round)).status_code == 403
    assert not Release.objects.exists()


def test_anonymous_users_are_sent_to_log_in(client, validating_round):
    response = client.post(publish_url(validating_round))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert not Release.objects.exists()


def test_current_releases_and_downloads_are_public(client, validating_round):
    release = services.release_publish(round=validating_round)
    listing = client.get(reverse("publishing:releases", args=[validating_round.operation.slug]))
    assert (
        listing.status_code == 200
        and reverse("publishing:release", args=[release.pk]) in listing.content.decode()
    )
    page = client.get(reverse("publishing:release", args=[release.pk]))
    assert page.status_code == 200 and "Mozambique" in page.content.decode()
    for fmt, content_type in [
        ("csv", "text/csv"),
        ("csv-hxl", "text/csv"),
        ("xlsx", "application/vnd.openxmlformats"),
        ("geojson", "application/geo+json"),
        ("zip", "application/zip"),
    ]:
        response = client.get(reverse("publishing:download", args=[release.pk, fmt]))
        assert response.status_code == 200 and response["Content-Type"].startswith(content_type), fmt
        assert "attachment" in response["Content-Disposition"]
    hxl = client.get(reverse("publishing:download", args=[release.pk, "csv"]) + "?hxl=1").content.decode()
    assert hxl.splitlines()[1].startswith("#country+code")
    assert client.get(reverse("publishing:download", args=[release.pk, "pdf"])).status_code == 404


def test_superseded_releases_are_not_public(client, viewer, validating_round):
    old = services.release_publish(round=validating_round)
    services.release_publish(round=validating_round, change_note="again")
    for name, args in (("publishing:release", [old.pk]), ("publishing:download", [old.pk, "csv"])):
        assert client.get(reverse(name, args=args)).status_code == 404
    client.force_login(viewer)
    assert client.get(reverse("publishing:release", args=[old.pk])).status_code == 200
    listing = client.get(
        reverse("publishing:releases", args=[validating_round.operation.slug])
    ).content.decode()
    assert "Superseded" in listing


def test_the_home_page_shows_each_operations_latest_published_idp_figure(client, validating_round):
    assert "latest-figures" not in client.get("/").content.decode()
    release = services.release_publish(round=validating_round)
    national = release.cells.get(admin_level=0, population_group="IDP", breakdown="", assessment_type="BA")
    page = client.get("/").content.decode()
    assert 'id="latest-figures"' in page
    assert reverse("publishing:release", args=[release.pk]) in page
    assert f"{national.individuals:,}" in page

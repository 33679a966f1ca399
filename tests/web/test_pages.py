"""Every page renders for the roles that may see it, and refuses the others."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse

from mobility.core.models import Round
from mobility.core.services import round_create

pytestmark = pytest.mark.django_db

PUBLIC_PAGES = [
    ("home", {}),
    ("login", {}),
    ("gazetteer:index", {}),
    ("gazetteer:country", {"country": "MOZ"}),
    ("gazetteer:area", {"country": "MOZ", "pcode": "MZ01"}),
    ("gazetteer:area", {"country": "MOZ", "pcode": "MZ010101"}),
    ("gazetteer:versions", {"country": "MOZ"}),
    ("core:operations", {}),
]


@pytest.mark.parametrize("name,kwargs", PUBLIC_PAGES)
def test_public_pages_render_for_anonymous_visitors(client, gazetteer, operation, name, kwargs):
    response = client.get(reverse(name, kwargs=kwargs))
    assert response.status_code == 200
    assert b"<nav" in response.content


@pytest.mark.parametrize("name", ["core:imports", "gazetteer:reviews"])
def test_imports_and_review_list_need_login(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("who", ["viewer", "enumerator", "data_manager", "admin_user"])
@pytest.mark.parametrize(
    "name", ["home", "core:imports", "gazetteer:reviews", "core:operations", "gazetteer:index"]
)
def test_pages_render_for_every_role(client, request, gazetteer, review, who, name):
    client.force_login(request.getfixturevalue(who))
    assert client.get(reverse(name)).status_code == 200


def test_home_lists_countries_and_the_users_operations(client, gazetteer, data_manager, operation):
    client.force_login(data_manager)
    page = client.get(reverse("home")).content.decode()
    assert reverse("gazetteer:country", args=["MOZ"]) in page
    assert operation.name in page


def test_navigation_hides_login_only_pages_from_anonymous_visitors(client, db):
    page = client.get(reverse("home")).content.decode()
    assert reverse("core:imports") not in page
    assert reverse("gazetteer:reviews") not in page
    assert "/api/v1/docs" in page


def test_arabic_pages_are_right_to_left(client, db):
    client.cookies["django_language"] = "ar"
    page = client.get(reverse("home")).content.decode()
    assert 'dir="rtl"' in page and 'lang="ar"' in page


@pytest.mark.parametrize("language,word", [("fr", "Répertoire"), ("pt", "Operações"), ("ar", "العمليات")])
def test_interface_chrome_is_translated(client, db, language, word):
    response = client.post(reverse("set_language"), {"language": language, "next": "/"})
    assert response.status_code == 302
    assert word in client.get(reverse("home")).content.decode()


def test_language_switcher_posts_to_set_language_with_four_languages(client, db):
    page = client.get(reverse("home")).content.decode()
    assert f'action="{reverse("set_language")}"' in page
    for code in ("en", "fr", "pt", "ar"):
        assert f'<option value="{code}"' in page


def test_pages_carry_no_inline_script_and_no_cdn(client, gazetteer):
    for name, kwargs in [("home", {}), ("gazetteer:country", {"country": "MOZ"})]:
        page = client.get(reverse(name, kwargs=kwargs)).content.decode()
        for chunk in page.split("<script")[1:]:
            head = chunk.split(">", 1)[0]
            assert "src=" in head or 'type="application/json"' in head, head
        # Every script and stylesheet comes from our own static files (the CSRF token in the page is
        # random text, so look at the addresses, not at the whole page).
        for address in re.findall(r'<(?:script|link)\b[^>]*\b(?:src|href)="([^"]+)"', page):
            assert address.startswith(("/static/", "/i18n/", "#")), address


def test_map_and_chart_libraries_load_only_where_needed(client, gazetteer):
    home = client.get(reverse("home")).content.decode()
    assert "leaflet" not in home and "chart.umd" not in home
    country = client.get(reverse("gazetteer:country", args=["MOZ"])).content.decode()
    assert "leaflet.js" in country and "chart.umd.min.js" in country
    area = client.get(reverse("gazetteer:area", args=["MOZ", "MZ01"])).content.decode()
    assert "leaflet.js" in area and "chart.umd" not in area


def test_area_page_shows_breadcrumb_children_and_the_boundaries_url(client, gazetteer):
    page = client.get(reverse("gazetteer:area", args=["MOZ", "MZ0101"])).content.decode()
    assert "Moçambique" in page and "Cabo Delgado" in page  # breadcrumb
    assert "Ancuabe Sede" in page and "MZ010101" in page  # children table
    assert "/api/v1/gazetteer/boundaries?location_code=MOZ&amp;parent_code=MZ0101" in page


def test_unknown_area_is_404(client, gazetteer):
    assert client.get(reverse("gazetteer:area", args=["MOZ", "MZ99"])).status_code == 404
    assert client.get(reverse("gazetteer:country", args=["XYZ"])).status_code == 404


def test_search_by_pcode_prefix(client, gazetteer):
    page = client.get(reverse("gazetteer:search"), {"q": "MZ010", "country": "MOZ"}).content.decode()
    assert "Ancuabe" in page and "Balama" in page and "Cabo Delgado</a>" not in page


def test_suggest_returns_options_for_the_review_field(client, gazetteer):
    page = client.get(
        reverse("gazetteer:suggest"), {"pcode": "MZ01", "country": "MOZ", "level": "2"}
    ).content.decode()
    assert '<option value="MZ0101">' in page and '<option value="MZ01">' not in page


def test_version_changes_page(client, gazetteer):
    response = client.get(reverse("gazetteer:version_detail", args=["MOZ", gazetteer.pk]))
    assert response.status_code == 200


# --- operations and rounds ----------------------------------------------------------------------


@pytest.fixture
def planned_round(operation):
    return round_create(
        operation=operation, number=1, start_date=dt.date(2024, 1, 1), end_date=dt.date(2024, 1, 31)
    )


def _advance(client, operation, round_, to):
    return client.post(reverse("core:operation_round_advance", args=[operation.slug, round_.pk]), {"to": to})


def test_data_manager_moves_a_round_through_its_lifecycle(client, data_manager, operation, planned_round):
    from mobility.core.services import ROUND_PUBLISH_THROUGH_RELEASE

    client.force_login(data_manager)
    page = client.get(reverse("core:operation_detail", args=[operation.slug])).content.decode()
    assert 'name="to" value="collecting"' in page
    for to in ("collecting", "validating"):
        response = _advance(client, operation, planned_round, to)
        assert response.status_code == 302
    planned_round.refresh_from_db()
    assert planned_round.status == Round.Status.VALIDATING
    page = client.get(reverse("core:operation_detail", args=[operation.slug])).content.decode()
    assert 'name="to" value="published"' not in page  # publishing is the Publish page's job
    # A hand-made POST cannot skip the disclosure check either.
    response = _advance(client, operation, planned_round, "published")
    planned_round.refresh_from_db()
    assert planned_round.status == Round.Status.VALIDATING
    expected = ROUND_PUBLISH_THROUGH_RELEASE.format(number=planned_round.number, operation=operation.slug)
    assert expected.split(":")[0] in client.get(response["Location"]).content.decode()


def test_skipping_a_state_is_refused_with_the_service_message(client, data_manager, operation, planned_round):
    client.force_login(data_manager)
    response = _advance(client, operation, planned_round, "published")
    planned_round.refresh_from_db()
    assert planned_round.status == Round.Status.PLANNED
    page = client.get(response["Location"]).content.decode()
    assert "can only move to collecting" in page


@pytest.mark.parametrize("who", ["viewer", "enumerator", "outsider"])
def test_who_may_not_publish_cannot_advance_rounds(client, request, operation, planned_round, who):
    client.force_login(request.getfixturevalue(who))
    assert _advance(client, operation, planned_round, "collecting").status_code == 403
    planned_round.refresh_from_db()
    assert planned_round.status == Round.Status.PLANNED


def test_viewer_sees_rounds_without_lifecycle_buttons(client, viewer, operation, planned_round):
    client.force_login(viewer)
    page = client.get(reverse("core:operation_detail", args=[operation.slug])).content.decode()
    assert "Collecting" not in page or 'name="to"' not in page
    assert 'name="to"' not in page
    assert "2024" in page or "Jan" in page


def test_anonymous_visitors_see_only_published_rounds(client, data_manager, operation, planned_round):
    page = client.get(reverse("core:operation_detail", args=[operation.slug])).content.decode()
    assert "No round to show" in page
    assert _advance(client, operation, planned_round, "collecting").status_code == 403


def test_published_round_can_be_corrected(client, data_manager, operation, planned_round):
    client.force_login(data_manager)
    from mobility.core.services import round_advance

    for to in ("collecting", "validating", "published"):  # as publishing.release_publish does
        round_advance(round=planned_round, to=to)
    url = reverse("core:operation_round_correct", args=[operation.slug, planned_round.pk])
    assert client.post(url, {"reason": "Wrong figures in Ancuabe"}).status_code == 302
    assert Round.objects.filter(operation=operation, number=1, version=2, status="validating").exists()


def test_operation_page_links_to_its_tracking_and_publishing_pages(
    client, data_manager, operation, planned_round
):
    client.force_login(data_manager)
    for to in ("collecting", "validating"):
        _advance(client, operation, planned_round, to)
    page = client.get(reverse("core:operation_detail", args=[operation.slug])).content.decode()
    for url in (
        reverse("tracking:dashboard", args=[operation.slug]),
        reverse("tracking:events", args=[operation.slug]),
        reverse("tracking:sites", args=[operation.slug]),
        reverse("tracking:profiles"),
        reverse("publishing:releases", args=[operation.slug]),
        reverse("publishing:round_publish", args=[operation.slug, planned_round.pk]),
    ):
        assert f'href="{url}"' in page


def test_anonymous_visitors_get_no_links_to_member_pages(client, operation):
    page = client.get(reverse("core:operation_detail", args=[operation.slug])).content.decode()
    assert reverse("tracking:dashboard", args=[operation.slug]) in page
    assert reverse("tracking:events", args=[operation.slug]) not in page

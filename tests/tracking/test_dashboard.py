"""The dashboard and area pages: staff see drafts marked as such; everyone else sees published, disclosure-checked cells only."""

import csv
import io
import json

import pytest
from django.urls import reverse

from mobility.tracking.filters import FILTER_INVALID
from tests.gazetteer.gazetteer_fixtures import moz_gazetteer_fixture  # noqa: F401
from tests.tracking.dashboard_fixtures import DRAFT_VALUES, SUPPRESSED_VALUE, two_rounds

pytestmark = pytest.mark.django_db
SUPPRESSED_TEXTS = [str(SUPPRESSED_VALUE), f"{SUPPRESSED_VALUE:,}"]


@pytest.fixture
def rounds(operation, moz_gazetteer):
    return two_rounds(operation)


def urls(operation):
    """Every page and download of the operation an anonymous reader could ask for."""
    op = operation.slug
    return [
        f"/tracking/{op}/",
        f"/tracking/{op}/?format=csv",
        f"/tracking/{op}/?admin_level=1&format=csv",
        f"/tracking/{op}/data/map.json",
        f"/tracking/{op}/data/map.json?admin_level=1",
        f"/tracking/{op}/data/trend.json",
        f"/tracking/{op}/data/trend.json?admin2_code=MZ0102",
        f"/tracking/{op}/data/trend.json?admin2_code=MZ0101",
        f"/tracking/{op}/areas/MZ01/",
        f"/tracking/{op}/areas/MZ0101/",
        f"/tracking/{op}/areas/MZ0102/",
        f"/tracking/{op}/compare/",
        f"/tracking/{op}/compare/?format=csv",
        f"/tracking/{op}/compare/data.json",
        f"/tracking/{op}/?population_group=RET-IDP",
    ]


def login(client, user):
    client.force_login(user)
    return client


def test_tracking_is_in_the_navigation(client, rounds):
    page = client.get("/").content.decode()
    assert f'href="{reverse("tracking:index")}"' in page


def test_the_index_opens_the_first_operation_the_user_can_see(client, data_manager, rounds, operation):
    response = login(client, data_manager).get("/tracking/?admin_level=1")
    assert response.status_code == 302 and response.url == f"/tracking/{operation.slug}/?admin_level=1"


def test_the_index_without_anything_published_says_so(client, operation):
    response = client.get("/tracking/")
    assert response.status_code == 200 and b"No operation has published figures yet" in response.content


def test_staff_see_the_draft_round_marked_as_draft(client, data_manager, rounds, operation):
    page = login(client, data_manager).get(f"/tracking/{operation.slug}/").content.decode()
    assert "Draft — not published" in page and 'id="draft-marker"' in page
    assert "987,654" in page and "Ancuabe" in page
    assert 'id="tracking-map"' in page and 'id="trend-chart"' in page
    assert "<script>" not in page  # no inline scripts


def test_a_viewer_sees_drafts_and_an_outsider_does_not(client, viewer, outsider, rounds, operation):
    assert b"987,654" in login(client, viewer).get(f"/tracking/{operation.slug}/").content
    client.logout()
    page = login(client, outsider).get(f"/tracking/{operation.slug}/").content.decode()
    assert "987,654" not in page and "Draft" not in page and "1,200" in page


def test_the_public_sees_the_published_round_with_suppressed_cells(client, rounds, operation):
    page = client.get(f"/tracking/{operation.slug}/").content.decode()
    assert "Published" in page and "Draft — not published" not in page
    assert "1,200" in page and "suppressed" in page
    data = client.get(f"/tracking/{operation.slug}/data/map.json").json()
    areas = {a["pcode"]: a for a in data["areas"]}
    assert data["reporting_round"] == 1 and data["status"] == "published"
    assert areas["MZ0102"] == {"pcode": "MZ0102", "name": "Balama", "population": None, "suppressed": True}


@pytest.mark.parametrize("index", range(15))
def test_no_draft_number_or_suppressed_value_in_any_anonymous_response(client, rounds, operation, index):
    url = urls(operation)[index]
    response = client.get(url)
    assert response.status_code == 200, url
    body = response.content.decode()
    for text in DRAFT_VALUES + SUPPRESSED_TEXTS:
        assert text not in body, (url, text)


@pytest.mark.parametrize(
    "url",
    [
        "/tracking/{op}/?reporting_round=2",
        "/tracking/{op}/data/map.json?reporting_round=2",
        "/tracking/{op}/compare/?a=1&b=2",
        "/tracking/{op}/compare/data.json?a=1&b=2",
        "/tracking/{op}/areas/MZ0101/?reporting_round=2",
        "/tracking/{op}/?reporting_round=2&format=csv",
        "/tracking/{op}/compare/?a=1&b=2&format=csv",
    ],
)
def test_asking_the_public_for_the_draft_round_is_not_found(client, rounds, operation, url):
    response = client.get(url.format(op=operation.slug))
    assert response.status_code == 404
    for text in DRAFT_VALUES:
        assert text not in response.content.decode()


def test_the_csv_is_the_table_with_the_same_filters(client, data_manager, rounds, operation):
    response = login(client, data_manager).get(f"/tracking/{operation.slug}/?reporting_round=1&format=csv")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [(r["pcode"], r["population"], r["status"]) for r in rows] == [
        ("MZ0102", "7319", "published"),
        ("MZ0101", "1200", "published"),
        ("MZ0103", "3", "published"),
    ]
    assert rows[0]["name"] == "Balama" and rows[0]["reporting_round"] == "1" and rows[0]["admin_level"] == "2"
    draft = login(client, data_manager).get(f"/tracking/{operation.slug}/?format=csv&admin_level=1")
    assert list(csv.DictReader(io.StringIO(draft.content.decode())))[0]["status"] == "draft"


def test_public_csv_marks_suppressed_cells(client, rounds, operation):
    rows = list(
        csv.DictReader(io.StringIO(client.get(f"/tracking/{operation.slug}/?format=csv").content.decode()))
    )
    balama = next(r for r in rows if r["pcode"] == "MZ0102")
    assert (balama["population"], balama["suppressed"]) == ("", "yes")


def test_a_bad_filter_is_a_clear_400(client, rounds, operation):
    response = client.get(f"/tracking/{operation.slug}/?admin_level=9")
    assert response.status_code == 400 and b"admin_level" in response.content
    data = client.get(f"/tracking/{operation.slug}/data/map.json?population_group=X").json()
    assert data["error"].startswith(FILTER_INVALID.split(":")[0].format(field="population_group"))


def test_the_trend_json_has_a_series_per_group(client, data_manager, rounds, operation):
    data = login(client, data_manager).get(f"/tracking/{operation.slug}/data/trend.json").json()
    assert data["labels"] == ["1", "2"] and data["draft"] == [False, True]
    assert [s["group"] for s in data["series"]] == ["IDP", "RET-IDP"]


def test_the_area_page_shows_rounds_groups_reasons_and_sub_areas(client, data_manager, rounds, operation):
    page = login(client, data_manager).get(f"/tracking/{operation.slug}/areas/MZ01/").content.decode()
    assert "Cabo Delgado" in page and "Draft — not published" in page
    assert 'id="area-children"' in page and "Ancuabe" in page and "Conflict" in page
    trend = json.loads(page.split('id="area-trend" type="application/json">')[1].split("</script>")[0])
    assert trend["rounds"] == [1, 2]


def test_an_unknown_area_or_operation_is_not_found(client, rounds, operation):
    assert client.get(f"/tracking/{operation.slug}/areas/XX99/").status_code == 404
    assert client.get("/tracking/no-such-operation/").status_code == 404


def test_query_counts_are_pinned(client, data_manager, rounds, operation, django_assert_max_num_queries):
    login(client, data_manager)
    op = operation.slug
    client.get(f"/tracking/{op}/")  # warm the session and the content types
    for url, most in [
        (f"/tracking/{op}/", 12),  # + the open ETT alerts
        (f"/tracking/{op}/data/map.json", 9),
        (f"/tracking/{op}/data/trend.json", 7),
        (f"/tracking/{op}/?format=csv", 9),
        (f"/tracking/{op}/areas/MZ01/", 12),
    ]:
        with django_assert_max_num_queries(most):
            assert client.get(url).status_code == 200
    client.logout()
    for url, most in [
        (f"/tracking/{op}/", 7),
        (f"/tracking/{op}/data/map.json", 6),
        (f"/tracking/{op}/data/trend.json", 4),
    ]:
        with django_assert_max_num_queries(most):
            assert client.get(url).status_code == 200

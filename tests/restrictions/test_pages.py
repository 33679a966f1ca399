"""The points of entry and travel restriction pages.

Members see drafts (unpublished status records and restrictions) marked as such; anonymous readers
and members of other operations see published records only.
"""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from django.urls import reverse

from mobility.restrictions.models import PoEStatus, PointOfEntry, TravelRestriction

pytestmark = pytest.mark.django_db
D = dt.date


def poe_world(operation) -> dict:
    """Four points of a COVID-19 year in Mozambique; the airport's last change is a draft."""
    make = PointOfEntry.objects.create
    airport = make(
        operation=operation,
        code="MPM",
        name="Maputo International Airport",
        type="airport",
        country_iso3="MOZ",
        iata_code="MPM",
        latitude=-25.92,
        longitude=32.57,
    )
    negomano = make(
        operation=operation,
        code="NGM",
        name="Negomano",
        type="land_border",
        country_iso3="MOZ",
        border_country_iso3="TZA",
        latitude=-11.43,
        longitude=38.47,
    )
    pemba = make(
        operation=operation,
        code="PBA",
        name="Pemba port",
        type="blue_border",
        country_iso3="MOZ",
        latitude=-12.97,
        longitude=40.52,
    )
    metuge = make(
        operation=operation,
        code="MTG",
        name="Metuge transit",
        type="internal_transit",
        country_iso3="MOZ",
        latitude=-12.78,
        longitude=40.38,
    )
    status = PoEStatus.objects.create
    status(poe=airport, effective_from=D(2020, 3, 1), status="open", published=True, source="IOM DTM")
    status(
        poe=airport,
        effective_from=D(2020, 3, 20),
        status="closed",
        restriction="both",
        measures=["medical_screening", "quarantine"],
        published=True,
        source="IOM DTM",
    )
    status(
        poe=airport,
        effective_from=D(2020, 6, 1),
        status="partial",
        restriction="entry",
        affected_groups=["nationals"],
        published=True,
    )
    status(
        poe=airport, effective_from=D(2020, 9, 1), status="open", published=False, notes="reopening, to check"
    )
    status(poe=negomano, effective_from=D(2020, 3, 1), status="open", published=True)
    status(poe=negomano, effective_from=D(2020, 4, 1), status="closed", published=True)
    # A correction on the same day: the later record wins.
    status(poe=negomano, effective_from=D(2020, 4, 1), status="partial", published=True, notes="correction")
    status(poe=pemba, effective_from=D(2020, 3, 10), status="closed", published=True)
    status(poe=metuge, effective_from=D(2020, 5, 1), status="unknown", published=False)
    return {"airport": airport, "negomano": negomano, "pemba": pemba, "metuge": metuge}


def travel_world(operation) -> None:
    """South Africa bans travellers from Mozambique for a while; Tanzania screens everyone; Malawi's is a draft."""
    make = TravelRestriction.objects.create
    make(
        operation=operation,
        imposing_iso3="ZAF",
        target="country",
        target_iso3="MOZ",
        kind="total",
        effective_from=D(2020, 3, 20),
        effective_to=D(2020, 6, 30),
        source="cobap",
        source_ref="CY1",
        published=True,
    )
    make(
        operation=operation,
        imposing_iso3="TZA",
        target="all",
        kind="medical",
        effective_from=D(2020, 3, 1),
        source="cobap",
        source_ref="CY2",
        published=True,
    )
    make(
        operation=operation,
        imposing_iso3="MWI",
        target="country",
        target_iso3="MOZ",
        kind="partial",
        effective_from=D(2020, 5, 1),
        source="manual",
        source_ref="M1",
        published=False,
    )
    make(
        operation=operation,
        imposing_iso3="MOZ",
        target="country",
        target_iso3="ZAF",
        kind="visa",
        effective_from=D(2020, 4, 1),
        source="cobap",
        source_ref="CY3",
        published=True,
    )
    make(
        operation=operation,
        imposing_iso3="PRT",
        target="region",
        target_region="Southern African Development Community",
        kind="partial",
        effective_from=D(2020, 4, 1),
        source="cobap",
        source_ref="CY4",
        published=True,
    )


@pytest.fixture
def points(operation):
    return poe_world(operation)


@pytest.fixture
def restrictions(operation):
    travel_world(operation)


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def script_json(response, element_id: str):
    match = re.search(
        rf'<script id="{element_id}" type="application/json">(.*?)</script>', response.content.decode(), re.S
    )
    assert match, f"no json_script {element_id}"
    return json.loads(match.group(1))


def row_of(page: str, code: str) -> str:
    return re.search(rf'<tr data-code="{code}">(.*?)</tr>', page).group(1)


# --- reaching the pages ---------------------------------------------------------------------------


def test_the_indexes_open_the_first_operation(client, points, restrictions, operation):
    assert client.get("/restrictions/").url == f"/restrictions/{operation.slug}/points/"
    assert client.get("/restrictions/travel/").url == f"/restrictions/{operation.slug}/travel/"


def test_nothing_published_is_hidden_from_outsiders_and_open_to_members(client, operation, outsider, viewer):
    PointOfEntry.objects.create(operation=operation, code="X", name="X", type="airport", country_iso3="MOZ")
    assert "No operation has published" in text(client.get("/restrictions/"))
    client.force_login(outsider)
    for url in [
        f"/restrictions/{operation.slug}/points/",
        f"/restrictions/{operation.slug}/points/statuses.json",
        f"/restrictions/{operation.slug}/points/X/",
        f"/restrictions/{operation.slug}/travel/",
    ]:
        assert client.get(url).status_code == 404, url
    client.force_login(viewer)
    assert client.get(f"/restrictions/{operation.slug}/points/").status_code == 200
    assert client.get(f"/restrictions/{operation.slug}/points/X/").status_code == 200


# --- points of entry ------------------------------------------------------------------------------


def test_the_status_of_every_point_on_a_chosen_date(client, viewer, points, operation):
    client.force_login(viewer)
    response = client.get(f"/restrictions/{operation.slug}/points/?date=2020-04-15")
    assert response.status_code == 200
    page = text(response)
    assert "st-closed" in row_of(page, "MPM") and "st-partial" in row_of(page, "NGM")  # the correction won
    assert "st-closed" in row_of(page, "PBA") and "st-none" in row_of(page, "MTG")
    counts = re.search(r'id="poe-counts".*?</ul>', page).group(0)
    assert 'id="count-closed">2<' in counts and 'id="count-partial">1<' in counts
    assert 'id="count-open">0<' in counts and 'id="count-none">1<' in counts
    markers = {p["code"]: p["status"] for p in script_json(response, "poe-map-data")}
    assert markers == {"MPM": "closed", "NGM": "partial", "PBA": "closed", "MTG": "none"}


def test_the_slider_spans_the_history_and_sits_on_the_date(client, viewer, points, operation):
    client.force_login(viewer)
    page = text(client.get(f"/restrictions/{operation.slug}/points/?date=2020-04-15"))
    slider = re.search(r'<input type="range" id="poe-slider"[^>]*>', page).group(0)
    assert 'min="0"' in slider and f'max="{(D(2020, 9, 1) - D(2020, 3, 1)).days}"' in slider
    assert f'value="{(D(2020, 4, 15) - D(2020, 3, 1)).days}"' in slider
    assert 'data-first="2020-03-01"' in slider
    assert re.search(r'id="poe-date"[^>]*><bdi>2020-04-15</bdi>', page)


def test_without_a_date_the_page_shows_the_last_change(client, viewer, points, operation):
    client.force_login(viewer)
    page = text(client.get(f"/restrictions/{operation.slug}/points/"))
    assert re.search(r'id="poe-date"[^>]*><bdi>2020-09-01</bdi>', page)
    assert "st-open" in row_of(page, "MPM") and "badge-draft" in row_of(page, "MPM")


def test_anonymous_readers_see_published_statuses_only(client, points, operation):
    page = text(client.get(f"/restrictions/{operation.slug}/points/?date=2020-10-01"))
    assert "st-partial" in row_of(page, "MPM") and "badge-draft" not in page  # the draft reopening is hidden
    assert 'data-code="MTG"' not in page  # a point with no published status is not shown
    assert "reopening, to check" not in page


def test_the_statuses_json_for_the_slider(client, viewer, points, operation):
    url = f"/restrictions/{operation.slug}/points/statuses.json"
    client.force_login(viewer)
    body = client.get(url, {"date": "2020-03-05"}).json()
    assert body["date"] == "2020-03-05"
    assert body["counts"] == {"open": 2, "partial": 0, "closed": 0, "unknown": 0, "none": 2}
    by_code = {p["code"]: p for p in body["points"]}
    assert by_code["MPM"]["status"] == "open" and by_code["MPM"]["since"] == "2020-03-01"
    assert by_code["PBA"]["status"] == "none"
    body = client.get(url, {"date": "2020-09-01"}).json()
    assert {p["code"]: p["published"] for p in body["points"]}["MPM"] is False
    assert client.get(url, {"date": "yesterday"}).status_code == 400
    client.logout()
    public = client.get(url, {"date": "2020-09-01"}).json()
    assert {p["code"]: p["status"] for p in public["points"]}["MPM"] == "partial"


def test_counts_by_status_over_time(client, viewer, points, operation):
    client.force_login(viewer)
    timeline = script_json(client.get(f"/restrictions/{operation.slug}/points/"), "poe-timeline")
    assert timeline["labels"][0] == "2020-03-01" and timeline["labels"][-1] == "2020-09-01"
    series = {
        s["status"]: dict(zip(timeline["labels"], s["values"], strict=True)) for s in timeline["series"]
    }
    assert series["open"]["2020-03-01"] == 2
    assert series["closed"]["2020-09-01"] == 1 and series["open"]["2020-09-01"] == 1
    assert series["unknown"]["2020-09-01"] == 1


def test_the_change_log_lists_each_change_newest_first(client, viewer, points, operation):
    client.force_login(viewer)
    page = text(client.get(f"/restrictions/{operation.slug}/points/"))
    log = re.search(r'id="change-log".*?</section>', page).group(0)
    assert log.index("2020-09-01") < log.index("2020-03-01")
    assert 'Partially open</span> → <span class="status st-open">Fully open' in log
    assert "(correction)" in log
    assert "Medical screening, Quarantine" in log


def test_a_point_shows_its_history(client, viewer, points, operation):
    client.force_login(viewer)
    response = client.get(reverse("restrictions:point", args=[operation.slug, "NGM"]))
    page = text(response)
    history = re.search(r'<table id="poe-history".*?</table>', page).group(0)
    assert history.count("<tr") == 4  # header + three records
    assert "corrected" in history and "in force" in history
    assert "2020-03-31" in history  # the first record lasts until the day before the next
    response = client.get(reverse("restrictions:point", args=[operation.slug, "MPM"]))
    assert "draft" in text(response)


# --- travel restrictions --------------------------------------------------------------------------


def test_who_restricts_travellers_from_a_country_on_a_date(client, viewer, restrictions, operation):
    client.force_login(viewer)
    response = client.get(f"/restrictions/{operation.slug}/travel/", {"country": "MOZ", "date": "2020-05-15"})
    assert response.status_code == 200
    page = text(response)
    table = re.search(r'<table id="travel-imposing".*?</table>', page).group(0)
    assert 'data-iso3="ZAF" data-kind="total"' in table and 'data-iso3="TZA" data-kind="medical"' in table
    assert 'data-iso3="MWI" data-kind="partial"' in table and "badge-draft" in table  # member: the draft
    assert 'data-iso3="PRT" data-kind="partial"' in table  # Mozambique is in the SADC
    data = script_json(response, "travel-map-data")
    assert data["target"] == "MOZ"
    assert data["imposers"] == {"ZAF": "total", "TZA": "medical", "MWI": "partial", "PRT": "partial"}


def test_anonymous_readers_see_published_restrictions_only(client, restrictions, operation):
    response = client.get(f"/restrictions/{operation.slug}/travel/", {"country": "MOZ", "date": "2020-05-15"})
    assert script_json(response, "travel-map-data")["imposers"] == {
        "ZAF": "total",
        "TZA": "medical",
        "PRT": "partial",
    }
    assert "badge-draft" not in text(response)


def test_what_changed_since_a_second_date(client, viewer, restrictions, operation):
    client.force_login(viewer)
    page = text(
        client.get(
            f"/restrictions/{operation.slug}/travel/",
            {"country": "MOZ", "date": "2020-07-15", "since": "2020-03-10"},
        )
    )
    changes = re.search(r'<table id="travel-changes".*?</table>', page).group(0)
    assert 'data-iso3="MWI"' in changes and "imposed" in changes
    assert 'data-iso3="PRT"' in changes
    assert 'data-iso3="ZAF"' not in changes  # imposed and lifted again between the two dates
    assert 'data-iso3="TZA"' not in changes  # unchanged
    page = text(
        client.get(
            f"/restrictions/{operation.slug}/travel/",
            {"country": "MOZ", "date": "2020-07-15", "since": "2020-05-15"},
        )
    )
    changes = re.search(r'<table id="travel-changes".*?</table>', page).group(0)
    assert 'data-iso3="ZAF"' in changes and "lifted" in changes


def test_restrictions_imposed_by_the_country(client, viewer, restrictions, operation):
    client.force_login(viewer)
    page = text(
        client.get(f"/restrictions/{operation.slug}/travel/", {"country": "MOZ", "date": "2020-05-15"})
    )
    imposed = re.search(r'<table id="travel-imposed-by".*?</table>', page).group(0)
    assert "South Africa" in imposed and "Visa suspension" in imposed


def test_the_travel_page_defaults_to_the_last_date_of_an_old_source(client, viewer, restrictions, operation):
    client.force_login(viewer)
    response = client.get(f"/restrictions/{operation.slug}/travel/")
    assert 'value="2020-05-01"' in text(response)  # the newest start date, not an empty today
    assert client.get(f"/restrictions/{operation.slug}/travel/", {"date": "2020-02-30"}).status_code == 400

"""/api/v1/restrictions/…: anonymous callers read published records only, members read their drafts."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from mobility.core.services import api_token_create
from mobility.restrictions.models import TravelRestriction
from mobility.restrictions.services import status_record, statuses_publish, travel_restriction_save

D = dt.date.fromisoformat
POINTS = "/api/v1/restrictions/points-of-entry"
CHANGES = "/api/v1/restrictions/status-changes"
TRAVEL = "/api/v1/restrictions/travel"


@pytest.fixture
def history(ressano, airport):
    """Ressano Garcia: open (published) → closed (published) → partial (draft). The airport: a draft only."""
    status_record(poe=ressano, effective_from=D("2026-01-01"), status="open", publish=True)
    status_record(
        poe=ressano,
        effective_from=D("2026-02-01"),
        status="closed",
        restriction="both",
        measures=["medical_screening"],
        affected_groups=["all"],
        publish=True,
    )
    status_record(poe=ressano, effective_from=D("2026-03-01"), status="partial", restriction="entry")
    status_record(poe=airport, effective_from=D("2026-01-01"), status="open")
    return ressano


@pytest.fixture
def travel(operation):
    rows = [
        ("ZA1", "ZAF", "country", "MOZ", "", "partial", True),
        ("TZ1", "TZA", "all", "", "", "total", True),
        ("ZW1", "ZWE", "region", "", "Southern African Development Community", "medical", True),
        ("MW1", "MWI", "country", "MOZ", "", "visa", False),
        ("KE1", "KEN", "country", "ZAF", "", "total", True),
    ]
    for ref, imposing, target, iso3, region, kind, published in rows:
        travel_restriction_save(
            restriction=TravelRestriction(
                operation=operation,
                imposing_iso3=imposing,
                target=target,
                target_iso3=iso3,
                target_region=region,
                kind=kind,
                effective_from=D("2026-01-01"),
                effective_to=D("2026-06-30"),
                source="manual",
                source_ref=ref,
                details={"air": True, "land": False, "sea": False, "measures": []},
                published=published,
            )
        )


def _token(user) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {api_token_create(user=user, name='t')[1]}"}


def test_anonymous_callers_see_published_statuses_as_of_a_date(client, history):
    r = client.get(POINTS, {"date": "2026-03-15"})
    assert r.status_code == 200
    (row,) = r.json()["data"]  # the airport has no published status: it is not shown
    assert (row["code"], row["status"], row["status_since"], row["published"]) == (
        "MOZ-RG",
        "closed",
        "2026-02-01",
        True,
    )
    assert row["measures"] == ["medical_screening"] and row["location_code"] == "MOZ"
    assert client.get(POINTS, {"date": "2025-12-31"}).json()["data"][0]["status"] == "none"


def test_members_see_the_drafts_of_their_operation(client, history, viewer, outsider):
    rows = client.get(POINTS, {"date": "2026-03-15"}, **_token(viewer)).json()["data"]
    assert {(r["code"], r["status"], r["published"]) for r in rows} == {
        ("MOZ-MPM", "open", False),
        ("MOZ-RG", "partial", False),
    }
    # A member of another operation is the public here.
    rows = client.get(POINTS, {"date": "2026-03-15"}, **_token(outsider)).json()["data"]
    assert [(r["code"], r["status"]) for r in rows] == [("MOZ-RG", "closed")]


def test_points_filter_by_status_and_page(client, history, viewer):
    auth = _token(viewer)
    rows = client.get(POINTS, {"date": "2026-03-15", "status": "open"}, **auth).json()["data"]
    assert [r["code"] for r in rows] == ["MOZ-MPM"]
    rows = client.get(POINTS, {"date": "2026-03-15", "limit": 1, "offset": 1}, **auth).json()["data"]
    assert [r["code"] for r in rows] == ["MOZ-RG"]


def test_points_as_csv(client, history):
    r = client.get(POINTS, {"date": "2026-02-15", "output_format": "csv"})
    assert r["Content-Type"].startswith("text/csv")
    (row,) = list(csv.DictReader(io.StringIO(r.content.decode())))
    assert (row["code"], row["status"], row["affected_groups"], row["restriction"]) == (
        "MOZ-RG",
        "closed",
        "all",
        "both",
    )


def test_the_points_list_takes_a_fixed_number_of_queries(client, history, django_assert_max_num_queries):
    with django_assert_max_num_queries(3):
        assert client.get(POINTS, {"date": "2026-03-15"}).status_code == 200


def test_the_change_log_says_what_changed(client, history, data_manager):
    public = client.get(CHANGES).json()["data"]
    assert [(r["effective_from"], r["status"], r["previous_status"]) for r in public] == [
        ("2026-02-01", "closed", "open"),
        ("2026-01-01", "open", None),
    ]
    assert public[0]["changed_fields"] == ["status", "restriction", "affected_groups", "measures"]
    assert public[0]["changes"]["status"] == ["open", "closed"]
    member = client.get(CHANGES, {"code": "MOZ-RG"}, **_token(data_manager)).json()["data"]
    assert [r["status"] for r in member] == ["partial", "closed", "open"]
    later = client.get(CHANGES, {"effective_from_min": "2026-02-01"}).json()["data"]
    assert [r["previous_status"] for r in later] == ["open"]  # compared with a record outside the range


def test_travel_restrictions_in_force_that_apply_to_a_country(client, travel, viewer):
    rows = client.get(TRAVEL, {"date": "2026-03-01", "target": "moz"}).json()["data"]
    assert {(r["imposing_iso3"], r["target"], r["kind"]) for r in rows} == {
        ("ZAF", "country", "partial"),
        ("TZA", "all", "total"),
        ("ZWE", "region", "medical"),  # MOZ is in SADC
    }
    zaf = next(r for r in rows if r["imposing_iso3"] == "ZAF")
    assert (
        zaf["imposing_name"] == "South Africa" and zaf["target_name"] == "Mozambique" and zaf["air"] is True
    )
    assert client.get(TRAVEL, {"date": "2026-07-01", "target": "MOZ"}).json()["data"] == []
    member = client.get(TRAVEL, {"date": "2026-03-01", "target": "MOZ"}, **_token(viewer)).json()["data"]
    assert "MWI" in {r["imposing_iso3"] for r in member}
    imposed = client.get(TRAVEL, {"date": "2026-03-01", "imposing": "KEN"}).json()["data"]
    assert [(r["target_iso3"], r["kind"]) for r in imposed] == [("ZAF", "total")]


def test_an_unknown_operation_is_404(client, db):
    assert client.get(POINTS, {"operation": "nowhere"}).status_code == 404


def test_published_statuses_of_one_operation_do_not_show_another_s_drafts(client, history, other_operation):
    from mobility.restrictions.services import poe_upsert

    poe, _ = poe_upsert(
        operation=other_operation, code="PAK-TOR", name="Torkham", type="land_border", country_iso3="PAK"
    )
    status_record(poe=poe, effective_from=D("2026-01-01"), status="closed")
    codes = {r["code"] for r in client.get(POINTS, {"date": "2026-03-15"}).json()["data"]}
    assert codes == {"MOZ-RG"}
    statuses_publish(operation=other_operation)
    codes = {r["code"] for r in client.get(POINTS, {"date": "2026-03-15"}).json()["data"]}
    assert codes == {"MOZ-RG", "PAK-TOR"}

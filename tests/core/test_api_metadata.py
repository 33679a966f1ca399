"""HAPI-shaped metadata endpoints over the real MOZ and PAK gazetteers."""

import csv
import io

import pytest

from tests.gazetteer.gazetteer_fixtures import moz_gazetteer_fixture, pak_gazetteer_fixture  # noqa: F401

pytestmark = pytest.mark.django_db


def test_location_lists_each_country_once(client, moz_gazetteer, pak_gazetteer):
    data = client.get("/api/v1/metadata/location").json()["data"]
    assert [(r["code"], r["name"]) for r in data] == [("MOZ", "Mozambique"), ("PAK", "Pakistan")]
    assert client.get("/api/v1/metadata/location?location_name=paki").json()["data"][0]["code"] == "PAK"


def test_admin1_of_mozambique_has_eleven_provinces(client, moz_gazetteer):
    data = client.get("/api/v1/metadata/admin1?location_code=MOZ").json()["data"]
    assert len(data) == 11
    assert {"code", "name", "location_code", "location_name", "reference_period_start"} <= set(data[0])


def test_admin2_filtered_by_admin1_name_ignores_accents_and_case(client, moz_gazetteer):
    data = client.get("/api/v1/metadata/admin2?location_code=MOZ&admin1_name=zambezia").json()["data"]
    assert len(data) > 10
    assert {(r["admin1_code"], r["admin1_name"]) for r in data} == {("MZ11", "Zambezia")}
    accented = client.get("/api/v1/metadata/admin2?location_code=MOZ&admin1_name=ZAMBÉZIA").json()["data"]
    assert accented == data


def test_admin2_by_location_name_and_paging(client, moz_gazetteer, pak_gazetteer):
    everything = client.get("/api/v1/metadata/admin2?location_name=pakistan&limit=10000").json()["data"]
    assert len(everything) == 160 and {r["location_code"] for r in everything} == {"PAK"}
    page = client.get("/api/v1/metadata/admin2?location_name=pakistan&offset=150&limit=20").json()["data"]
    assert [r["code"] for r in page] == [r["code"] for r in everything[150:]]
    assert client.get("/api/v1/metadata/admin2?limit=10001").status_code == 422


def test_admin3_as_csv(client, pak_gazetteer):
    r = client.get("/api/v1/metadata/admin3?location_code=PAK&admin2_code=PK101&output_format=csv")
    assert r["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.content.decode())))
    assert [row["code"] for row in rows] == ["PK10101", "PK10102", "PK10103"]
    assert rows[0]["admin1_code"] == "PK1" and rows[0]["admin2_name"] == "Bagh"


def test_area_search_and_detail(client, pak_gazetteer):
    found = client.get("/api/v1/gazetteer/areas?q=muzaffarabad&location_code=PAK").json()["data"]
    assert "PK107" in [a["pcode"] for a in found]
    detail = client.get("/api/v1/gazetteer/areas/PAK/PK107").json()
    assert [a["pcode"] for a in detail["ancestors"]] == ["PK", "PK1"]
    assert detail["children"] and all(c["parent_code"] == "PK107" for c in detail["children"])
    assert client.get("/api/v1/gazetteer/areas/PAK/PK999").status_code == 404


def test_list_endpoints_use_a_fixed_number_of_queries(client, pak_gazetteer, django_assert_max_num_queries):
    with django_assert_max_num_queries(6):
        assert len(client.get("/api/v1/metadata/admin3?location_code=PAK&limit=600").json()["data"]) == 577

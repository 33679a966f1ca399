"""The DTM API v3-compatible API under /api/dtm/v3/: DTM's envelope, records and parameters."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mobility.core.imports import job_create, run
from mobility.core.models import ImportJob, Round
from mobility.core.services import api_token_create
from mobility.publishing.api_dtm import PARAMS_REQUIRED, RECORD_FIELDS
from mobility.publishing.models import Release
from tests.conftest import shared
from tests.publishing.helpers import cells_from_assessments, publish_all

DATA = Path(__file__).resolve().parent.parent / "tracking" / "data"
BASE = "/api/dtm/v3/displacement"


@pytest.fixture
def lac(db):
    job = run(
        job_create(kind="gazetteer.cod", source=DATA / "tcd_lac_pcodes.csv", profile={"country": "TCD"})
    )
    assert job.status == ImportJob.Status.SUCCEEDED, job.error
    job = run(job_create(kind="tracking.dtm-api-v3", source=DATA / "dtm_tcd_admin2_small.json"))
    assert job.status == ImportJob.Status.SUCCEEDED, job.error
    return cells_from_assessments(Round.objects.get())


def test_admin2_records_have_dtm_names_and_the_envelope(client, lac):
    r = client.get(f"{BASE}/admin2", {"Admin0Pcode": "TCD"})
    assert r.status_code == 200
    body = r.json()
    assert (body["statusCode"], body["isSuccess"], body["errorMessages"]) == (200, True, [])
    assert body["totalRecordsCount"] == len(body["result"]) == 5
    staged = {x["id"]: x for x in json.loads((DATA / "dtm_tcd_admin2_small.json").read_text())["result"]}
    for record in body["result"]:
        assert list(record) == list(RECORD_FIELDS[2])
        expected = dict(staged[record["id"]])
        # P-codes come back as the gazetteer writes them (TD07 → TCD07).
        for key in ("admin1Pcode", "admin2Pcode", "idpOriginAdmin1Pcode"):
            if expected[key].startswith("TD"):
                expected[key] = "TCD" + expected[key][2:]
        assert record == expected


def test_admin0_records_have_no_id_and_admin1_records_do(client, db):
    job = run(
        job_create(kind="gazetteer.cod", source=DATA / "tcd_lac_pcodes.csv", profile={"country": "TCD"})
    )
    assert job.status == "succeeded"
    run(job_create(kind="tracking.dtm-api-v3", source=DATA / "dtm_tcd_admin2_small.json"))
    cells_from_assessments(Round.objects.get())
    # The round was counted at admin 2 only: admin 0 and admin 1 are rolled up from its parts, as DTM
    # serves every round at every level, and the totals agree.
    admin2 = client.get(f"{BASE}/admin2", {"CountryName": "Chad"}).json()["result"]
    admin1 = client.get(f"{BASE}/admin1", {"Operation": "Lake Chad Basin Crisis"}).json()["result"]
    admin0 = client.get(f"{BASE}/admin0", {"CountryName": "Chad"}).json()["result"]
    assert admin2 and admin1 and admin0
    total = sum(r["numPresentIdpInd"] for r in admin2)
    assert sum(r["numPresentIdpInd"] for r in admin1) == total == sum(r["numPresentIdpInd"] for r in admin0)
    assert len(admin0) == len(
        {(r["roundNumber"], r["displacementReason"], r["idpOriginAdmin1Pcode"]) for r in admin2}
    )
    assert all("id" not in r and "admin1Pcode" not in r for r in admin0)
    assert all(isinstance(r["id"], int) for r in admin1)
    assert list(RECORD_FIELDS[0])[0] == "operation" and "id" not in RECORD_FIELDS[0]
    assert RECORD_FIELDS[1][0] == "id"


def test_one_of_operation_country_or_iso3_is_required(client, lac):
    r = client.get(f"{BASE}/admin2", {"Admin2Pcode": "TCD0704"})
    assert r.status_code == 400
    assert r.json() == {
        "result": None,
        "statusCode": 400,
        "isSuccess": False,
        "errorMessages": [PARAMS_REQUIRED],
        "totalRecordsCount": 0,
    }


def test_invalid_parameters_answer_in_the_dtm_shape(client, lac):
    r = client.get(f"{BASE}/admin2", {"Admin0Pcode": "TCD", "FromReportingDate": "30/09/2017"})
    assert r.status_code == 400
    body = r.json()
    assert body["isSuccess"] is False and "FromReportingDate" in body["errorMessages"][0]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"Operation": "lake chad basin crisis"}, 5),
        ({"CountryName": "Chad"}, 5),
        ({"Admin0Pcode": "TCD", "Admin1Name": "Lac"}, 5),
        ({"Admin0Pcode": "TCD", "Admin1Pcode": "TCD07"}, 5),
        ({"Admin0Pcode": "TCD", "Admin2Name": "kaya"}, 2),
        ({"Admin0Pcode": "TCD", "Admin2Pcode": "TCD0704"}, 2),
        ({"Admin0Pcode": "TCD", "FromReportingDate": "2017-09-30"}, 5),
        ({"Admin0Pcode": "TCD", "ToReportingDate": "2017-09-29"}, 0),
        ({"Admin0Pcode": "TCD", "FromRoundNumber": 1, "ToRoundNumber": 1}, 5),
        ({"Admin0Pcode": "TCD", "FromRoundNumber": 2}, 0),
        ({"Admin0Pcode": "AFG"}, 0),
    ],
)
def test_dtm_parameters_filter(client, lac, params, expected):
    assert client.get(f"{BASE}/admin2", params).json()["totalRecordsCount"] == expected


def test_withdrawn_releases_are_not_served(client, lac):
    Release.objects.update(status=Release.Status.WITHDRAWN)
    assert client.get(f"{BASE}/admin2", {"Admin0Pcode": "TCD"}).json()["result"] == []
    assert client.get(f"{BASE}/country-list").json()["result"] == []


def test_country_and_operation_lists(client, lac):
    assert client.get(f"{BASE}/country-list").json()["result"] == [
        {"admin0Name": "Chad", "admin0Pcode": "TCD"}
    ]
    assert client.get(f"{BASE}/operation-list").json()["result"] == [
        {
            "operation": "Lake Chad Basin Crisis",
            "operationStatus": "Active",
            "admin0Name": "Chad",
            "admin0Pcode": "TCD",
        }
    ]


def test_the_subscription_key_header_is_accepted_and_a_token_names_the_caller(client, lac, admin_user):
    r = client.get(
        f"{BASE}/admin2", {"Admin0Pcode": "TCD"}, headers={"Ocp-Apim-Subscription-Key": "anything"}
    )
    assert r.status_code == 200 and r.json()["totalRecordsCount"] == 5
    token, key = api_token_create(user=admin_user, name="dtm client")
    r = client.get(f"{BASE}/admin2", {"Admin0Pcode": "TCD"}, headers={"Ocp-Apim-Subscription-Key": key})
    assert r.status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_list_query_counts_are_pinned(client, lac, django_assert_max_num_queries):
    with django_assert_max_num_queries(2):  # current releases, the records
        client.get(f"{BASE}/admin2", {"Admin0Pcode": "TCD"})
    with django_assert_max_num_queries(2):  # releases, then one name per country
        client.get(f"{BASE}/country-list")


# --- round trip through the real DTM client (PyPI `dtmapi`) ----------------------------------


@pytest.fixture
def dtm_client(live_server, monkeypatch):
    dtmapi_api = pytest.importorskip("dtmapi.api", reason="the dtmapi client is a dev requirement")

    for constant, path in {
        "IDP_ADMIN_0_API": "admin0",
        "IDP_ADMIN_1_API": "admin1",
        "IDP_ADMIN_2_API": "admin2",
        "COUNTRY_LIST_API": "country-list",
        "OPERATION_LIST_API": "operation-list",
    }.items():
        monkeypatch.setattr(dtmapi_api, constant, f"{live_server.url}{BASE}/{path}")
    return dtmapi_api.DTMApi(subscription_key="any-key-works", max_retries=0)


def _import(country: str, *names: str) -> None:
    job = run(
        job_create(
            kind="gazetteer.global-pcodes",
            source=shared("pcodes/download-global-pcodes-adm-1-2.csv"),
            profile={"country": country},
        )
    )
    assert job.status == ImportJob.Status.SUCCEEDED
    for name in names:
        job = run(job_create(kind="tracking.dtm-api-v3", source=shared(f"dtm/{name}")))
        assert job.status == ImportJob.Status.SUCCEEDED, job.error


def _without_id(record: dict) -> tuple:
    return tuple(sorted((k, v) for k, v in record.items() if k != "id"))


def test_dtmapi_reads_back_haiti_admin1_field_by_field(dtm_client, transactional_db):
    name = "dtmapi-displacement-admin1-admin0pcode-hti.json"
    _import("HTI", name)
    publish_all(threshold=0)  # already public at the source: nothing to suppress
    staged = json.loads(shared(f"dtm/{name}").read_text())["result"]

    got = dtm_client.get_idp_admin1_data(CountryName="Haiti", to_pandas=False)
    assert len(got) == len(staged)
    assert sorted(got, key=lambda r: r["id"]) == sorted(staged, key=lambda r: r["id"])

    frame = dtm_client.get_idp_admin1_data(Admin0Pcode="HTI", FromRoundNumber=1, ToRoundNumber=3)
    assert set(frame.columns) == set(staged[0])
    assert len(frame) == sum(1 for r in staged if 1 <= r["roundNumber"] <= 3)


def test_dtmapi_reads_back_chad_at_every_level(dtm_client, transactional_db):
    files = {level: f"dtmapi-displacement-admin{level}-admin0pcode-tcd.json" for level in (0, 1, 2)}
    _import("TCD", *files.values())
    publish_all(threshold=0)
    readers = {
        0: dtm_client.get_idp_admin0_data,
        1: dtm_client.get_idp_admin1_data,
        2: dtm_client.get_idp_admin2_data,
    }
    iso3 = {"TD07": "TCD07", "TD0701": "TCD0701", "TD0703": "TCD0703", "TD0704": "TCD0704"}
    for level, name in files.items():
        staged = json.loads(shared(f"dtm/{name}").read_text())["result"]
        for record in staged:  # our p-codes are the gazetteer's (documented in docs/api.md)
            for key in ("admin1Pcode", "admin2Pcode", "idpOriginAdmin1Pcode"):
                if key in record:
                    record[key] = iso3.get(record[key], record[key])
        got = readers[level](Operation="Lake Chad Basin Crisis", to_pandas=False)
        assert sorted(map(_without_id, got)) == sorted(map(_without_id, staged)), f"admin{level}"
        if level:
            assert sorted(r["id"] for r in got) == sorted(r["id"] for r in staged)
    assert dtm_client.get_all_countries(to_pandas=False) == [{"admin0Name": "Chad", "admin0Pcode": "TCD"}]
    operations = dtm_client.get_all_operations()
    assert list(operations["operation"]) == ["Lake Chad Basin Crisis"]

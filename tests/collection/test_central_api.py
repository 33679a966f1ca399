"""The Central-compatible read API: what an analyst's pyodk / ruODK script sees of a Mobility server."""

from __future__ import annotations

import base64
import copy
import datetime as dt
import hashlib

import pytest
from defusedxml import ElementTree as ET
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mobility.collection import services
from mobility.collection.central_filter import FilterError, instant_window, parse_filter
from mobility.collection.central_odata import AUTH_FAILED, BAD_FILTER, NOT_FOUND
from mobility.collection.models import CentralSession
from mobility.collection.services import Upload, form_publish, submission_receive

from .forms import instance_xml, simple_xlsform, xlsform

PASSWORD = "a-long-test-password"
UTC = dt.UTC
T0 = dt.datetime(2026, 11, 20, 8, 0, 0, 123456, tzinfo=UTC)
# Five submissions a day apart; each second one with microseconds past its millisecond.
DATES = [T0 + dt.timedelta(days=i, microseconds=(i % 2) * 400) for i in range(5)]


_CONVERTED: dict = {}


@pytest.fixture(autouse=True)
def convert_each_workbook_once(monkeypatch):
    """pyxform takes ~1 s a workbook; these tests publish the same two over and over."""
    real = services.xlsform_convert

    def cached(data: bytes, name: str):
        key = (hashlib.sha256(data).hexdigest(), name)
        if key not in _CONVERTED:
            _CONVERTED[key] = real(data, name)
        return copy.deepcopy(_CONVERTED[key])

    monkeypatch.setattr(services, "xlsform_convert", cached)


def ms(value: dt.datetime) -> str:
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def bearer(client, user) -> dict:
    response = client.post(
        "/v1/sessions", {"email": user.username, "password": PASSWORD}, content_type="application/json"
    )
    assert response.status_code == 200, response.content
    return {"HTTP_AUTHORIZATION": f"Bearer {response.json()['token']}"}


@pytest.fixture
def household(operation, data_manager):
    """The household visit form (respondent_name is personal) and five submissions, people = 1..5."""
    version = form_publish(operation=operation, data=HOUSEHOLD_XLSX, filename="household_visit.xlsx")
    for i, when in enumerate(DATES):
        submission_receive(
            operation=operation,
            raw=instance_xml(
                f"uuid:hh-{i}", people=i + 1, name=f"Person {i}", gps=f"-12.9{i} 40.5{i} 10 4.5"
            ),
            by=data_manager,
            submitted_at=when,
        )
    return version.form


NESTED_SURVEY = [
    ["type", "name", "label"],
    ["begin group", "hh", "Household"],
    ["integer", "size", "Size"],
    ["decimal", "income", "Income"],
    ["end group", "", ""],
    ["begin repeat", "member", "Member"],
    ["text", "mname", "Name"],
    ["integer", "age", "Age"],
    ["begin repeat", "phone", "Phone"],
    ["text", "number", "Number"],
    ["end repeat", "", ""],
    ["end repeat", "", ""],
    ["image", "photo", "Photo"],
    ["geotrace", "route", "Route"],
]


# Built once: openpyxl stamps the time into a workbook, and the conversion cache keys on the bytes.
HOUSEHOLD_XLSX = simple_xlsform()
NESTED_XLSX = xlsform(NESTED_SURVEY, settings={"form_id": "nested", "version": "1"})


def nested_instance(instance_id: str, members: list[tuple[str, int, list[str]]], photo: str = "") -> bytes:
    body = "".join(
        f"<member><mname>{name}</mname><age>{age}</age>"
        + "".join(f"<phone><number>{n}</number></phone>" for n in phones)
        + "</member>"
        for name, age, phones in members
    )
    return (
        f'<data id="nested" version="1"><hh><size>{len(members)}</size><income>12.5</income></hh>{body}'
        f"<photo>{photo}</photo><route>-12.9 40.5 0 3;-12.8 40.6 0 3</route>"
        f"<meta><instanceID>{instance_id}</instanceID></meta></data>"
    ).encode()


@pytest.fixture
def nested(operation, data_manager):
    version = form_publish(
        operation=operation,
        data=NESTED_XLSX,
        filename="nested.xlsx",
    )
    submission_receive(
        operation=operation,
        raw=nested_instance("uuid:n-1", [("Ana", 30, ["111", "222"]), ("Rui", 8, [])], photo="a.jpg"),
        attachments=[Upload("a.jpg", b"\xff\xd8photo", "image/jpeg"), Upload("extra.txt", b"not asked for")],
        by=data_manager,
        submitted_at=DATES[0],
    )
    submission_receive(
        operation=operation,
        raw=nested_instance("uuid:n-2", [("Eva", 41, ["333"])]),
        by=data_manager,
        submitted_at=DATES[1],
    )
    return version.form


def svc(form, tail: str = "") -> str:
    return f"/v1/projects/{form.operation_id}/forms/{form.xml_form_id}.svc{tail}"


# ---------------------------------------------------------------- sessions and authentication


@pytest.mark.django_db
def test_login_by_username_or_email_gives_a_token_stored_only_as_its_hash(client, viewer):
    viewer.email = "reader@example.org"
    viewer.save()
    for login in ("reader", "READER@example.org"):
        response = client.post(
            "/v1/sessions", {"email": login, "password": PASSWORD}, content_type="application/json"
        )
        assert response.status_code == 200
        body = response.json()
        assert set(body) == {"createdAt", "expiresAt", "token", "csrf"}
        assert body["createdAt"].endswith("Z") and len(body["token"]) == 64
        created = dt.datetime.fromisoformat(body["createdAt"].replace("Z", "+00:00"))
        expires = dt.datetime.fromisoformat(body["expiresAt"].replace("Z", "+00:00"))
        assert dt.timedelta(hours=23, minutes=59) < expires - created <= dt.timedelta(hours=24)
        stored = CentralSession.objects.get(token_hash=hashlib.sha256(body["token"].encode()).hexdigest())
        assert stored.user == viewer
        assert not CentralSession.objects.filter(token_hash=body["token"]).exists()
        me = client.get("/v1/users/current", HTTP_AUTHORIZATION=f"Bearer {body['token']}")
        assert me.status_code == 200 and me.json()["id"] == viewer.pk


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body, status, code",
    [
        ({"email": "reader", "password": "wrong-password"}, 401, 401.2),
        ({"email": "nobody", "password": PASSWORD}, 401, 401.2),
        ({"email": "reader"}, 400, 400.3),
        ({"password": PASSWORD}, 400, 400.3),
        ("not json", 400, 400.1),
    ],
)
def test_bad_logins_answer_central_problems(client, viewer, body, status, code):
    if isinstance(body, str):
        response = client.post("/v1/sessions", body, content_type="application/json")
    else:
        response = client.post("/v1/sessions", body, content_type="application/json")
    assert response.status_code == status
    assert response.json()["code"] == code and response.json()["message"]
    assert PASSWORD not in response.content.decode()
    assert CentralSession.objects.count() == 0


@pytest.mark.django_db
def test_inactive_user_cannot_log_in(client, viewer):
    viewer.is_active = False
    viewer.save()
    response = client.post(
        "/v1/sessions", {"email": "reader", "password": PASSWORD}, content_type="application/json"
    )
    assert response.status_code == 401


@pytest.mark.django_db
def test_expired_unknown_and_missing_tokens_are_refused(client, viewer, operation):
    headers = bearer(client, viewer)
    assert client.get("/v1/projects", **headers).status_code == 200
    CentralSession.objects.update(expires_at=dt.datetime(2020, 1, 1, tzinfo=UTC))
    expired = client.get("/v1/projects", **headers)
    assert expired.status_code == 401 and expired.json() == {"message": AUTH_FAILED[1], "code": 401.2}
    assert client.get("/v1/projects", HTTP_AUTHORIZATION="Bearer not-a-token").status_code == 401
    anonymous = client.get("/v1/projects")
    assert anonymous.status_code == 403 and anonymous.json()["code"] == 403.1


@pytest.mark.django_db
def test_logging_out_ends_the_token_and_no_one_else_can_end_it(client, viewer, data_manager):
    mine, theirs = bearer(client, viewer), bearer(client, data_manager)
    my_token = mine["HTTP_AUTHORIZATION"].split()[1]
    refused = client.delete(f"/v1/sessions/{my_token}", **theirs)
    assert refused.status_code == 403
    assert client.get("/v1/users/current", **mine).status_code == 200
    ended = client.delete(f"/v1/sessions/{my_token}", **mine)
    assert ended.status_code == 200 and ended.json() == {"success": True}
    assert client.get("/v1/users/current", **mine).status_code == 401
    assert client.delete("/v1/sessions/current", **theirs).status_code == 200
    assert client.get("/v1/users/current", **theirs).status_code == 401


@pytest.mark.django_db
def test_http_basic_with_username_or_email(client, viewer, operation):
    viewer.email = "reader@example.org"
    viewer.save()
    for login in ("reader", "reader@example.org"):
        token = base64.b64encode(f"{login}:{PASSWORD}".encode()).decode()
        response = client.get("/v1/projects", HTTP_AUTHORIZATION=f"Basic {token}")
        assert response.status_code == 200 and [p["id"] for p in response.json()] == [operation.pk]
    wrong = base64.b64encode(b"reader:wrong-password").decode()
    assert client.get("/v1/projects", HTTP_AUTHORIZATION=f"Basic {wrong}").status_code == 401
    assert client.get("/v1/projects", HTTP_AUTHORIZATION="Basic !!!").status_code == 401


@pytest.mark.django_db
def test_wrong_method_is_refused(client, viewer):
    assert client.get("/v1/sessions").status_code == 405
    assert (
        client.post("/v1/projects", {}, content_type="application/json", **bearer(client, viewer)).status_code
        == 405
    )


# ---------------------------------------------------------------- projects and forms


@pytest.mark.django_db
def test_projects_are_the_operations_the_user_may_view(
    client, viewer, outsider, admin_user, operation, other_operation, household
):
    listed = client.get("/v1/projects", **bearer(client, viewer)).json()
    assert [(p["id"], p["name"]) for p in listed] == [(operation.pk, "Mozambique — Cabo Delgado")]
    assert listed[0]["forms"] == 1 and listed[0]["lastSubmission"] == ms(DATES[-1])
    assert listed[0]["createdAt"].endswith("Z") and listed[0]["archived"] is False
    assert [p["id"] for p in client.get("/v1/projects", **bearer(client, outsider)).json()] == [
        other_operation.pk
    ]
    everything = client.get("/v1/projects", **bearer(client, admin_user)).json()
    assert sorted(p["id"] for p in everything) == sorted([operation.pk, other_operation.pk])


@pytest.mark.django_db
def test_another_operation_looks_exactly_like_one_that_does_not_exist(client, outsider, operation, household):
    headers = bearer(client, outsider)
    missing = 999_999
    for existing, absent in [
        (f"/v1/projects/{operation.pk}", f"/v1/projects/{missing}"),
        (f"/v1/projects/{operation.pk}/forms", f"/v1/projects/{missing}/forms"),
        (
            f"/v1/projects/{operation.pk}/forms/household_visit",
            f"/v1/projects/{missing}/forms/household_visit",
        ),
        (f"/v1/projects/{operation.pk}/forms/household_visit.xml", f"/v1/projects/{missing}/forms/x.xml"),
        (svc(household, "/Submissions"), f"/v1/projects/{missing}/forms/household_visit.svc/Submissions"),
    ]:
        seen, unseen = client.get(existing, **headers), client.get(absent, **headers)
        assert (seen.status_code, seen.json()) == (unseen.status_code, unseen.json())
        assert seen.status_code == 404 and seen.json() == {"message": NOT_FOUND[1], "code": 404.1}


@pytest.mark.django_db
def test_forms_list_detail_and_xml(client, viewer, operation, household, django_assert_num_queries):
    headers = bearer(client, viewer)
    with django_assert_num_queries(3):  # the session, the project, its forms
        forms = client.get(f"/v1/projects/{operation.pk}/forms", **headers).json()
    assert len(forms) == 1
    form = forms[0]
    version = household.current_version
    assert form["xmlFormId"] == "household_visit" and form["name"] == "Household visit"
    assert (form["projectId"], form["version"], form["state"]) == (operation.pk, "2026112501", "open")
    assert form["hash"] == version.xml_md5 and form["submissions"] == 5
    assert form["lastSubmission"] == ms(DATES[-1]) and form["publishedAt"].endswith("Z")
    detail = client.get(f"/v1/projects/{operation.pk}/forms/household_visit", **headers)
    assert detail.json() == form
    xml = client.get(f"/v1/projects/{operation.pk}/forms/household_visit.xml", **headers)
    assert xml["Content-Type"].startswith("application/xml") and xml.content.decode() == version.xml
    assert client.get(f"/v1/projects/{operation.pk}/forms/nope", **headers).status_code == 404


@pytest.mark.django_db
def test_project_list_query_count_does_not_grow_with_projects(
    client, admin_user, household, django_assert_num_queries
):
    from mobility.core.services import operation_create

    headers = bearer(client, admin_user)
    for i in range(3):
        operation_create(name=f"Operation {i}", country_iso3="MOZ")
    with django_assert_num_queries(2):  # the session, the projects with their counts
        assert len(client.get("/v1/projects", **headers).json()) == 4


# ---------------------------------------------------------------- OData: service and metadata


EDM = "{http://docs.oasis-open.org/odata/ns/edm}"


def edmx_types(content: bytes) -> dict[str, dict[str, str]]:
    root = ET.fromstring(content)
    out = {}
    for kind in ("EntityType", "ComplexType"):
        for element in root.iter(f"{EDM}{kind}"):
            out[element.get("Name")] = {
                p.get("Name"): p.get("Type")
                for p in element
                if p.tag in (f"{EDM}Property", f"{EDM}NavigationProperty")
            }
    return out


@pytest.mark.django_db
def test_service_document_and_metadata_of_a_nested_form(client, data_manager, nested):
    headers = bearer(client, data_manager)
    document = client.get(svc(nested), **headers).json()
    assert document["@odata.context"].endswith(svc(nested, "/$metadata"))
    assert [t["name"] for t in document["value"]] == [
        "Submissions",
        "Submissions.member",
        "Submissions.member.phone",
    ]
    metadata = client.get(svc(nested, "/$metadata"), **headers)
    assert metadata["Content-Type"].startswith("application/xml")
    types = edmx_types(metadata.content)
    base = "org.opendatakit.user.nested"
    assert types["Submissions"] == {
        "__id": "Edm.String",
        "__system": "org.opendatakit.submission.metadata",
        "hh": f"{base}.hh",
        "member": f"Collection({base}.Submissions.member)",
        "photo": "Edm.String",
        "route": "Edm.GeographyLineString",
        "meta": f"{base}.meta",
    }
    assert types["hh"] == {"size": "Edm.Int64", "income": "Edm.Decimal"}
    assert types["Submissions.member"] == {
        "__id": "Edm.String",
        "__Submissions-id": "Edm.String",
        "mname": "Edm.String",
        "age": "Edm.Int64",
        "phone": f"Collection({base}.Submissions.member.phone)",
    }
    assert types["Submissions.member.phone"] == {
        "__id": "Edm.String",
        "__Submissions-member-id": "Edm.String",
        "number": "Edm.String",
    }
    assert types["meta"] == {"instanceID": "Edm.String"}
    sets = [e.get("Name") for e in ET.fromstring(metadata.content).iter(f"{EDM}EntitySet")]
    assert sets == ["Submissions", "Submissions.member", "Submissions.member.phone"]


@pytest.mark.django_db
def test_metadata_leaves_personal_fields_out_for_a_viewer(client, viewer, data_manager, household):
    seen_by_viewer = edmx_types(client.get(svc(household, "/$metadata"), **bearer(client, viewer)).content)
    seen_by_manager = edmx_types(
        client.get(svc(household, "/$metadata"), **bearer(client, data_manager)).content
    )
    assert "respondent_name" not in seen_by_viewer["Submissions"]
    assert seen_by_manager["Submissions"]["respondent_name"] == "Edm.String"
    assert seen_by_viewer["Submissions"]["people"] == "Edm.Int64"
    assert seen_by_viewer["Submissions"]["gps"] == "Edm.GeographyPoint"
    assert seen_by_viewer["Submissions"]["start"] == "Edm.DateTimeOffset"


# ---------------------------------------------------------------- OData: Submissions


@pytest.mark.django_db
def test_submissions_are_typed_and_carry_central_system_fields(
    client, viewer, data_manager, operation, household
):
    body = client.get(svc(household, "/Submissions"), **bearer(client, data_manager)).json()
    assert body["@odata.context"].endswith(svc(household, "/$metadata#Submissions"))
    assert "@odata.nextLink" not in body and "@odata.count" not in body
    assert [row["__id"] for row in body["value"]] == [f"uuid:hh-{i}" for i in (4, 3, 2, 1, 0)]
    newest = body["value"][0]
    assert newest["people"] == 5 and newest["displaced"] == "yes"
    assert newest["respondent_name"] == "Person 4"
    assert newest["gps"] == {
        "type": "Point",
        "coordinates": [40.54, -12.94, 10.0],
        "properties": {"accuracy": 4.5},
    }
    assert newest["start"] == "2026-11-20T09:00:00.000+02:00"
    assert newest["meta"] == {"instanceID": "uuid:hh-4"}
    assert newest["__system"] == {
        "submissionDate": ms(DATES[4]),
        "updatedAt": None,
        "submitterId": str(data_manager.pk),
        "submitterName": "imo",
        "attachmentsPresent": 0,
        "attachmentsExpected": 0,
        "status": None,
        "reviewState": None,
        "deviceId": None,
        "edits": 0,
        "formVersion": "2026112501",
        "deletedAt": None,
    }
    as_viewer = client.get(svc(household, "/Submissions"), **bearer(client, viewer)).json()["value"]
    assert all("respondent_name" not in row for row in as_viewer)
    assert "Person" not in str(as_viewer)
    assert [row["people"] for row in as_viewer] == [5, 4, 3, 2, 1]


@pytest.mark.django_db
def test_paging_with_top_skip_count_and_next_link(client, viewer, household):
    headers = bearer(client, viewer)
    first = client.get(svc(household, "/Submissions"), {"$top": 2, "$count": "true"}, **headers).json()
    assert [r["people"] for r in first["value"]] == [5, 4] and first["@odata.count"] == 5
    pages = [first]
    while "@odata.nextLink" in pages[-1]:
        link = pages[-1]["@odata.nextLink"]
        assert link.startswith("http://testserver/v1/") and "%24top=2" in link
        pages.append(client.get(link, **headers).json())
    assert [[r["people"] for r in p["value"]] for p in pages] == [[5, 4], [3, 2], [1]]
    assert all(p["@odata.count"] == 5 for p in pages)
    skipped = client.get(svc(household, "/Submissions"), {"$skip": 3}, **headers).json()
    assert [r["people"] for r in skipped["value"]] == [2, 1] and "@odata.nextLink" not in skipped
    beyond = client.get(svc(household, "/Submissions"), {"$skip": 10, "$count": "True"}, **headers).json()
    assert beyond["value"] == [] and beyond["@odata.count"] == 5
    bad = client.get(svc(household, "/Submissions"), {"$top": "-1"}, **headers)
    assert bad.status_code == 400 and "$top" in bad.json()["message"]


@pytest.mark.django_db
def test_reading_submissions_costs_the_same_queries_for_one_row_or_many(client, viewer, operation, household):
    headers = bearer(client, viewer)
    submission_receive(
        operation=operation, raw=instance_xml("uuid:hh-4b", people=9, deprecated="uuid:hh-4"), submitted_at=T0
    )
    counts = []
    for top in (1, 5):
        with CaptureQueriesContext(connection) as queries:
            body = client.get(
                svc(household, "/Submissions"), {"$top": top, "$count": "true"}, **headers
            ).json()
        assert len(body["value"]) == top
        counts.append(len(queries))
    # session, project, form, roles, versions, count, page, attachments, edit chains
    assert counts[0] == counts[1] == 9
    huge = client.get(svc(household, "/Submissions"), {"$top": "9" * 30, "$skip": "9" * 30}, **headers)
    assert huge.status_code == 200 and huge.json()["value"] == []
    assert client.get("/v1/projects/" + "9" * 30, **headers).status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize(
    "expression, people",
    [
        (f"__system/submissionDate ge {ms(DATES[2])}", [5, 4, 3]),
        (f"__system/submissionDate gt {ms(DATES[2])}", [5, 4]),
        # DATES[3] has microseconds past the millisecond shown: it still equals what was shown.
        (f"__system/submissionDate eq {ms(DATES[3])}", [4]),
        (f"__system/submissionDate gt {ms(DATES[3])}", [5]),
        (f"__system/submissionDate le {ms(DATES[3])}", [4, 3, 2, 1]),
        (f"__system/submissionDate lt {ms(DATES[1])}", [1]),
        (f"__system/submissionDate ne {ms(DATES[1])}", [5, 4, 3, 1]),
        ("__system/submissionDate ge 2026-11-22", [3, 4, 5][::-1]),
        (
            "__system/submissionDate lt 2026-11-21T08:00:00+00:00 or __system/submissionDate gt 2026-11-24",
            [5, 1],
        ),
        (
            f"{ms(DATES[2])} le __system/submissionDate and not (__system/submissionDate ge {ms(DATES[4])})",
            [4, 3],
        ),
        ("day(__system/submissionDate) eq 21 or day(__system/submissionDate) eq 23", [4, 2]),
        ("year(__system/submissionDate) lt 2026", []),
        ("__system/updatedAt eq null", [5, 4, 3, 2, 1]),
        ("__system/updatedAt gt 2000-01-01", []),
        ("__system/reviewState eq null", [5, 4, 3, 2, 1]),
        ("__system/submitterId eq 0", []),
    ],
)
def test_filters_on_system_fields(client, viewer, household, expression, people):
    body = client.get(
        svc(household, "/Submissions"), {"$filter": expression, "$count": "true"}, **bearer(client, viewer)
    )
    assert body.status_code == 200, body.content
    assert [r["people"] for r in body.json()["value"]] == people
    assert body.json()["@odata.count"] == len(people)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "expression, words",
    [
        ("people gt 3", "cannot filter on 'people'"),
        ("__system/submissionDate gt 'yesterday'", "date-time"),
        ("__system/submissionDate gt 2026-13-40", "not a valid date-time"),
        ("(__system/submissionDate gt 2026-01-01", "never closed"),
        ("__system/submissionDate gt 2026-01-01 and", "ends too early"),
        ("__system/submissionDate; drop table", "unexpected character ';'"),
        ("__system/submissionDate eq __system/updatedAt", "compare a field with a value"),
        ("__import__('os') eq 1", "cannot filter on '__import__'"),
    ],
)
def test_a_bad_filter_is_a_clear_400(client, viewer, household, expression, words):
    response = client.get(svc(household, "/Submissions"), {"$filter": expression}, **bearer(client, viewer))
    assert response.status_code == 400
    assert response.json()["code"] == BAD_FILTER[0] and words in response.json()["message"]


@pytest.mark.django_db
def test_an_edit_shows_in_place_of_what_it_replaced(client, data_manager, operation, household):
    later = DATES[-1] + dt.timedelta(hours=1)
    submission_receive(
        operation=operation,
        raw=instance_xml("uuid:hh-1b", people=20, deprecated="uuid:hh-1", name="Person 1"),
        by=data_manager,
        submitted_at=later,
    )
    headers = bearer(client, data_manager)
    rows = client.get(svc(household, "/Submissions"), {"$count": "true"}, **headers).json()
    assert rows["@odata.count"] == 5
    edited = next(r for r in rows["value"] if r["__id"] == "uuid:hh-1")
    assert edited["people"] == 20 and edited["meta"] == {"instanceID": "uuid:hh-1b"}
    assert edited["__system"]["submissionDate"] == ms(DATES[1])
    assert edited["__system"]["updatedAt"] == ms(later)
    assert (edited["__system"]["edits"], edited["__system"]["reviewState"]) == (1, "edited")
    since = client.get(
        svc(household, "/Submissions"), {"$filter": f"__system/updatedAt ge {ms(later)}"}, **headers
    )
    assert [r["__id"] for r in since.json()["value"]] == ["uuid:hh-1"]
    one = client.get(svc(household, "/Submissions('uuid:hh-1')"), **headers).json()
    assert [r["people"] for r in one["value"]] == [20]
    assert client.get(svc(household, "/Submissions('uuid:hh-1b')"), **headers).status_code == 404


@pytest.mark.django_db
def test_select_and_wkt(client, data_manager, household):
    headers = bearer(client, data_manager)
    body = client.get(
        svc(household, "/Submissions"),
        {"$select": "people,meta/instanceID,__system/submissionDate", "$top": 1, "$wkt": "true"},
        **headers,
    ).json()
    assert body["value"] == [
        {
            "__id": "uuid:hh-4",
            "people": 5,
            "meta": {"instanceID": "uuid:hh-4"},
            "__system": {"submissionDate": ms(DATES[4])},
        }
    ]
    geo = client.get(
        svc(household, "/Submissions"), {"$select": "gps", "$wkt": "true", "$top": 1}, **headers
    ).json()
    assert geo["value"][0]["gps"] == "POINT (40.54 -12.94 10)"
    unknown = client.get(svc(household, "/Submissions"), {"$select": "nope"}, **headers)
    assert unknown.status_code == 400 and unknown.json()["code"] == 400.23


@pytest.mark.django_db
def test_personal_fields_cannot_be_selected_by_a_viewer(client, viewer, household):
    response = client.get(
        svc(household, "/Submissions"), {"$select": "respondent_name"}, **bearer(client, viewer)
    )
    assert response.status_code == 400 and "Person" not in response.content.decode()


# ---------------------------------------------------------------- OData: groups and repeats


@pytest.mark.django_db
def test_groups_nest_and_repeats_link_to_their_tables(client, viewer, nested):
    headers = bearer(client, viewer)
    rows = client.get(svc(nested, "/Submissions"), **headers).json()["value"]
    first = next(r for r in rows if r["__id"] == "uuid:n-1")
    assert first["hh"] == {"size": 2, "income": 12.5}
    assert first["member@odata.navigationLink"] == "Submissions('uuid%3An-1')/member"
    assert "member" not in first and first["photo"] == "a.jpg"
    assert first["route"] == {
        "type": "LineString",
        "coordinates": [[40.5, -12.9, 0.0], [40.6, -12.8, 0.0]],
        "properties": {"accuracies": [3.0, 3.0]},
    }
    assert (first["__system"]["attachmentsExpected"], first["__system"]["attachmentsPresent"]) == (1, 1)

    members = client.get(svc(nested, "/Submissions.member"), {"$count": "true"}, **headers).json()
    assert members["@odata.context"].endswith("$metadata#Submissions.member") and members["@odata.count"] == 3
    by_name = {m["mname"]: m for m in members["value"]}
    assert {n: (m["age"], m["__Submissions-id"]) for n, m in by_name.items()} == {
        "Ana": (30, "uuid:n-1"),
        "Rui": (8, "uuid:n-1"),
        "Eva": (41, "uuid:n-2"),
    }
    assert len({m["__id"] for m in members["value"]}) == 3
    ana = by_name["Ana"]
    assert ana["phone@odata.navigationLink"] == f"Submissions('uuid%3An-1')/member('{ana['__id']}')/phone"
    assert "phone@odata.navigationLink" not in by_name["Rui"]

    phones = client.get(svc(nested, "/Submissions.member.phone"), **headers).json()["value"]
    assert sorted((p["number"], p["__Submissions-member-id"]) for p in phones) == sorted(
        [("111", ana["__id"]), ("222", ana["__id"]), ("333", by_name["Eva"]["__id"])]
    )
    # The navigation links are addresses too.
    followed = client.get(svc(nested, "/" + ana["phone@odata.navigationLink"]), **headers).json()["value"]
    assert [p["number"] for p in followed] == ["111", "222"]
    own = client.get(svc(nested, "/" + first["member@odata.navigationLink"]), **headers).json()["value"]
    assert [m["mname"] for m in own] == ["Ana", "Rui"]
    only_ana = client.get(svc(nested, f"/Submissions('uuid:n-1')/member('{ana['__id']}')"), **headers).json()
    assert [m["mname"] for m in only_ana["value"]] == ["Ana"]
    selected = client.get(
        svc(nested, "/Submissions.member"), {"$select": "mname", "$top": 1}, **headers
    ).json()
    assert selected["value"] == [{"__id": members["value"][0]["__id"], "mname": members["value"][0]["mname"]}]
    paged = client.get(svc(nested, "/Submissions.member"), {"$top": 1, "$skip": 1}, **headers).json()
    assert len(paged["value"]) == 1 and "%24skip=2" in paged["@odata.nextLink"]
    assert client.get(svc(nested, "/Submissions.hh"), **headers).status_code == 404
    assert client.get(svc(nested, "/Submissions.nope"), **headers).status_code == 404


@pytest.mark.django_db
def test_expand_inlines_repeats(client, viewer, nested):
    rows = client.get(svc(nested, "/Submissions"), {"$expand": "*"}, **bearer(client, viewer)).json()["value"]
    second = next(r for r in rows if r["__id"] == "uuid:n-2")
    assert [(m["mname"], [p["number"] for p in m["phone"]]) for m in second["member"]] == [("Eva", ["333"])]
    assert all("__id" in m for m in second["member"])
    refused = client.get(svc(nested, "/Submissions"), {"$expand": "member"}, **bearer(client, viewer))
    assert refused.status_code == 501


@pytest.mark.django_db
def test_filter_applies_to_repeat_tables_through_their_submission(client, viewer, nested):
    members = client.get(
        svc(nested, "/Submissions.member"),
        {"$filter": f"__system/submissionDate ge {ms(DATES[1])}"},
        **bearer(client, viewer),
    ).json()["value"]
    assert [m["mname"] for m in members] == ["Eva"]


# ---------------------------------------------------------------- the filter parser on its own


@given(
    when=st.datetimes(
        min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1), timezones=st.just(UTC)
    ),
    stored=st.datetimes(
        min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1), timezones=st.just(UTC)
    ),
    op=st.sampled_from(["eq", "gt", "ge", "lt", "le"]),
)
def test_time_windows_compare_the_millisecond_shown(when, stored, op):
    shown = stored.replace(microsecond=stored.microsecond // 1000 * 1000)
    expected = {
        "eq": shown == when,
        "gt": shown > when,
        "ge": shown >= when,
        "lt": shown < when,
        "le": shown <= when,
    }[op]
    window = instant_window(op, when)
    inside = (
        window is not None
        and (window[0] is None or stored >= window[0])
        and (window[1] is None or stored < window[1])
    )
    assert inside == expected


@given(st.text(max_size=80))
def test_any_text_either_parses_or_says_why(text):
    try:
        parse_filter(text)
    except FilterError as exc:
        assert str(exc)


FIELDS = ["__system/submissionDate", "__system/updatedAt"]


@st.composite
def expressions(draw, depth=0):
    """(text, predicate on a row of shown times) for random filters."""
    if depth < 3 and draw(st.booleans()):
        kind = draw(st.sampled_from(["and", "or", "not"]))
        left_text, left = draw(expressions(depth + 1))
        if kind == "not":
            return f"not ({left_text})", lambda row, left=left: not left(row)
        right_text, right = draw(expressions(depth + 1))
        if kind == "and":
            return f"({left_text}) and ({right_text})", lambda row, a=left, b=right: a(row) and b(row)
        return f"({left_text}) or ({right_text})", lambda row, a=left, b=right: a(row) or b(row)
    field = draw(st.sampled_from(FIELDS))
    op = draw(st.sampled_from(["eq", "ne", "gt", "ge", "lt", "le"]))
    when = draw(st.sampled_from(DATES + [T0 - dt.timedelta(days=1), T0 + dt.timedelta(days=2, hours=3)]))
    when = when.replace(microsecond=when.microsecond // 1000 * 1000) if draw(st.booleans()) else when
    text = f"{field} {op} {when.isoformat().replace('+00:00', 'Z')}"
    compare = {
        "eq": lambda a, b: a == b,
        "ne": lambda a, b: a != b,
        "gt": lambda a, b: a > b,
        "ge": lambda a, b: a >= b,
        "lt": lambda a, b: a < b,
        "le": lambda a, b: a <= b,
    }[op]

    def predicate(row, field=field, when=when, compare=compare):
        value = row[field]
        if value is None:  # SQL: a comparison with NULL is unknown; Django's NOT keeps the row
            return op == "ne"
        return compare(value, when)

    return text, predicate


@pytest.mark.django_db
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(expression=expressions())
def test_random_filters_select_what_they_say(client, viewer, household, expression):
    text, predicate = expression
    headers = bearer(client, viewer)
    response = client.get(svc(household, "/Submissions"), {"$filter": text}, **headers)
    assert response.status_code == 200, response.content
    rows = [
        {
            "__system/submissionDate": dt.datetime.fromisoformat(d.isoformat(timespec="milliseconds")),
            "__system/updatedAt": None,
            "people": i + 1,
        }
        for i, d in enumerate(DATES)
    ]
    expected = sorted((r["people"] for r in rows if predicate(r)), reverse=True)
    assert [r["people"] for r in response.json()["value"]] == expected


# ---------------------------------------------------------------- the real pyodk client against the live server


def pyodk_client(live_server, tmp_path, user, project_id: int):
    from pyodk.client import Client

    config = tmp_path / f"{user.username}.toml"
    config.write_text(
        f'[central]\nbase_url = "{live_server.url}"\nusername = "{user.username}"\n'
        f'password = "{PASSWORD}"\ndefault_project_id = {project_id}\n'
    )
    return Client(config_path=config, cache_path=tmp_path / f"{user.username}-cache.toml")


@pytest.mark.django_db(transaction=True)
def test_pyodk_lists_and_reads_submissions_as_from_central(
    live_server, tmp_path, operation, viewer, data_manager, household
):
    with pyodk_client(live_server, tmp_path, viewer, operation.pk) as client:
        assert [(p.id, p.name) for p in client.projects.list()] == [(operation.pk, operation.name)]
        assert client.projects.get().forms == 1
        forms = client.forms.list()
        assert [(f.xmlFormId, f.name, f.version, f.state) for f in forms] == [
            ("household_visit", "Household visit", "2026112501", "open")
        ]
        assert client.forms.get_xml("household_visit") == household.current_version.xml
        table = client.submissions.get_table(
            form_id="household_visit",
            filter=f"__system/submissionDate ge {ms(DATES[1])}",
            top=2,
            skip=1,
            count=True,
        )
        assert table["@odata.count"] == 4
        assert [(r["__id"], r["people"]) for r in table["value"]] == [("uuid:hh-3", 4), ("uuid:hh-2", 3)]
        assert table["value"][0]["gps"]["coordinates"] == [40.53, -12.93, 10.0]
        assert all("respondent_name" not in r for r in table["value"])
        assert "@odata.nextLink" in table  # one more row after this page
        everything = client.submissions.get_table(form_id="household_visit")["value"]
        assert [r["people"] for r in everything] == [5, 4, 3, 2, 1]
        assert all("respondent_name" not in r for r in everything)
    # A second script reuses the cached token (checked through /v1/users/current), no new session.
    with pyodk_client(live_server, tmp_path, viewer, operation.pk) as client:
        assert len(client.forms.list()) == 1
    assert CentralSession.objects.filter(user=viewer).count() == 1

    with pyodk_client(live_server, tmp_path, data_manager, operation.pk) as client:
        rows = client.submissions.get_table(form_id="household_visit", select="__id,respondent_name")["value"]
        assert [(r["__id"], r["respondent_name"]) for r in rows] == [
            (f"uuid:hh-{i}", f"Person {i}") for i in range(4, -1, -1)
        ]


@pytest.mark.django_db(transaction=True)
def test_pyodk_with_a_wrong_password_fails_to_log_in(live_server, tmp_path, operation, viewer):
    from pyodk.errors import PyODKError

    viewer.set_password("another-long-password")
    viewer.save()
    with pytest.raises(PyODKError, match="401"):
        with pyodk_client(live_server, tmp_path, viewer, operation.pk) as client:
            client.projects.list()

"""Operations, rounds, tokens and import jobs over the API, for each kind of caller."""

import datetime as dt
import json

import pytest

from mobility.core.models import ApiToken, AuditEntry, Round
from mobility.core.services import api_token_create, api_token_revoke, round_advance, round_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def rounds(operation):
    published = round_create(
        operation=operation, number=1, start_date=dt.date(2026, 1, 1), end_date=dt.date(2026, 1, 31)
    )
    for s in ("collecting", "validating", "published"):
        round_advance(round=published, to=s)
    draft = round_create(
        operation=operation, number=2, start_date=dt.date(2026, 2, 1), end_date=dt.date(2026, 2, 28)
    )
    return published, draft


def bearer(user):
    _, key = api_token_create(user=user, name="test")
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


def test_anonymous_sees_operations_and_only_published_rounds(client, rounds, operation):
    r = client.get("/api/v1/operations")
    assert r.status_code == 200
    assert [o["slug"] for o in r.json()] == [operation.slug]
    r = client.get(f"/api/v1/operations/{operation.slug}/rounds")
    assert [(x["reporting_round"], x["status"]) for x in r.json()] == [(1, "published")]


def test_a_member_sees_every_round_version(client, rounds, operation, viewer):
    r = client.get(f"/api/v1/operations/{operation.slug}/rounds", **bearer(viewer))
    assert sorted(x["reporting_round"] for x in r.json()) == [1, 2]


def test_a_member_of_another_operation_sees_only_published_rounds(client, rounds, operation, outsider):
    r = client.get(f"/api/v1/operations/{operation.slug}/rounds", **bearer(outsider))
    assert [x["reporting_round"] for x in r.json()] == [1]


@pytest.mark.parametrize(
    "who, status",
    [
        ("anonymous", 401),
        ("viewer", 403),
        ("enumerator", 403),
        ("outsider", 403),
        ("data_manager", 200),
        ("admin_user", 200),
    ],
)
def test_who_may_advance_a_round(client, rounds, who, status, request):
    _, draft = rounds
    headers = {} if who == "anonymous" else bearer(request.getfixturevalue(who))
    r = client.post(
        f"/api/v1/rounds/{draft.pk}/advance",
        data=json.dumps({"to": "collecting"}),
        content_type="application/json",
        **headers,
    )
    assert r.status_code == status, r.content
    draft.refresh_from_db()
    assert draft.status == ("collecting" if status == 200 else "planned")


def test_skipping_a_state_over_the_api_is_a_400_with_the_reason(client, rounds, data_manager):
    _, draft = rounds
    r = client.post(
        f"/api/v1/rounds/{draft.pk}/advance",
        data=json.dumps({"to": "published"}),
        content_type="application/json",
        **bearer(data_manager),
    )
    assert r.status_code == 400
    assert r.json()["detail"].startswith("Round 2 is planned; it can only move to collecting")


def test_plan_a_round_over_the_api(client, operation, data_manager):
    body = {
        "reporting_round": 3,
        "reference_period_start": "2026-03-01",
        "reference_period_end": "2026-03-31",
    }
    r = client.post(
        f"/api/v1/operations/{operation.slug}/rounds",
        data=json.dumps(body),
        content_type="application/json",
        **bearer(data_manager),
    )
    assert r.status_code == 201, r.content
    assert Round.objects.get(operation=operation, number=3).status == "planned"


def test_tokens_are_stored_hashed_and_stop_working_when_revoked(client, viewer, operation):
    token, key = api_token_create(user=viewer, name="script")
    assert key not in token.key_hash and ApiToken.objects.filter(key_hash=ApiToken.hash_key(key)).exists()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    assert client.get("/api/v1/imports", **headers).status_code == 200
    api_token_revoke(token=token)
    assert client.get("/api/v1/imports", **headers).status_code == 401
    assert client.get("/api/v1/imports", HTTP_AUTHORIZATION="Bearer mob_guess").status_code == 401
    assert AuditEntry.objects.filter(action="api_token.revoke").count() == 1


def test_session_login_works_for_the_api(client, viewer):
    client.force_login(viewer)
    assert client.get("/api/v1/imports").status_code == 200


def test_upload_over_the_api_needs_import_rights(
    client, operation, viewer, data_manager, django_capture_on_commit_callbacks
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    def upload(user):
        body = b"ADM0_EN,ADM0_PCODE,ADM1_PT,ADM1_PCODE\nMozambique,MZ,Cabo Delgado,MZ01\nMozambique,MZ,Niassa,MZ02\n"
        f = SimpleUploadedFile("p.csv", body, content_type="text/csv")
        return client.post(
            "/api/v1/imports", {"file": f, "kind": "gazetteer.cod", "country": "MOZ"}, **bearer(user)
        )

    assert upload(viewer).status_code == 403
    with django_capture_on_commit_callbacks(execute=True):
        r = upload(data_manager)
    assert r.status_code == 202, r.content
    job = client.get(f"/api/v1/imports/{r.json()['id']}", **bearer(data_manager)).json()
    assert (job["status"], job["rows_read"], job["created"]) == ("succeeded", 2, 3), job  # admin0 + 2 admin1
    assert isinstance(job["row_errors"], list)
    # Another operation's data manager cannot read the job.
    assert client.get(f"/api/v1/imports/{r.json()['id']}", **bearer(viewer)).status_code == 404


def test_openapi_spec_and_docs_are_served(client):
    spec = client.get("/api/v1/openapi.json").json()
    for path in (
        "/api/v1/metadata/location",
        "/api/v1/metadata/admin1",
        "/api/v1/metadata/admin2",
        "/api/v1/operations",
        "/api/v1/operations/{slug}/rounds",
        "/api/v1/gazetteer/boundaries",
    ):
        assert path in spec["paths"], path
    assert client.get("/api/v1/docs").status_code == 200


def test_publishing_is_not_a_plain_move_over_the_api(client, rounds, data_manager):
    from mobility.core.services import ROUND_PUBLISH_THROUGH_RELEASE

    _, draft = rounds
    for state in ("collecting", "validating"):
        round_advance(round=draft, to=state)
    r = client.post(
        f"/api/v1/rounds/{draft.pk}/advance",
        data=json.dumps({"to": "published"}),
        content_type="application/json",
        **bearer(data_manager),
    )
    assert r.status_code == 400
    assert r.json()["detail"] == ROUND_PUBLISH_THROUGH_RELEASE.format(
        number=2, operation=draft.operation.slug
    )
    draft.refresh_from_db()
    assert draft.status == "validating"

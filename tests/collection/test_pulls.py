"""Pulling from KoboToolbox and ODK Central: every record stored once, edits replace, failures resume."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import re
import socket
import sys

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from mobility.collection import pulls
from mobility.collection.models import Form, PullSource, Submission
from mobility.collection.pull_tasks import pull_due_sources
from mobility.collection.pulls import (
    PULL_BUSY,
    SOURCE_EXISTS,
    SOURCE_NEEDS_PROJECT,
    PullError,
    pull,
    pull_source_create,
    pull_source_update,
)

from .pull_stubs import (
    CENTRAL_EMAIL,
    CENTRAL_FORM,
    CENTRAL_PASSWORD,
    CENTRAL_PROJECT,
    DATA,
    KOBO_TOKEN,
    KOBO_UID,
    PHOTO,
    CentralStub,
    KoboStub,
)

pytestmark = pytest.mark.django_db

PERSONAL = ("Amina Saide", "Joaquim Mussa", "Fátima Ali", "Rosa Chale")
KOBO_FIRST = "uuid:3b1f6c2e-8d4a-4f0b-9a57-2c6e1d9f0a11"
KOBO_EDIT = "uuid:5d0e9b3a-7c14-4e6f-a2b8-91f3c6d4e044"
CENTRAL_FIRST = "uuid:6f1c2a9e-3b7d-4e58-9a0c-1d2e3f4a5b61"
CENTRAL_EDIT = "uuid:0c7d3e5a-91b2-4f6e-8d14-a2b3c4d5e6f7"


class RecordingProgress:
    def __init__(self):
        self.started, self.advanced, self.finished = [], 0, False

    def start(self, total, description):
        self.started.append((total, description))

    def advance(self, n=1):
        self.advanced += n

    def finish(self):
        self.finished = True


@pytest.fixture(autouse=True)
def small_pages(monkeypatch):
    """Two records a page, so three records already need paging."""
    monkeypatch.setattr(pulls, "KOBO_PAGE_SIZE", 2)
    monkeypatch.setattr(pulls, "CENTRAL_PAGE_SIZE", 2)


@pytest.fixture
def kobo():
    with KoboStub() as stub:
        yield stub


@pytest.fixture
def central():
    with CentralStub() as stub:
        yield stub


@pytest.fixture
def kobo_source(operation, kobo):
    return pull_source_create(
        name="kobo-hh-moz",
        operation=operation,
        kind=PullSource.Kind.KOBO,
        url=kobo.url,
        credential=KOBO_TOKEN,
        remote_form=KOBO_UID,
    )


@pytest.fixture
def central_source(operation, central):
    return pull_source_create(
        name="central-hh-moz",
        operation=operation,
        kind=PullSource.Kind.CENTRAL,
        url=central.url,
        credential=f"{CENTRAL_EMAIL}:{CENTRAL_PASSWORD}",
        remote_form=CENTRAL_FORM,
        remote_project=str(CENTRAL_PROJECT),
    )


def kobo_record(name: str) -> dict:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def current(form) -> int:
    return Submission.objects.filter(form=form, superseded_by__isnull=True).count()


# ---------------------------------------------------------------- KoboToolbox


def test_first_kobo_pull_creates_the_form_and_stores_every_record(kobo_source, kobo):
    progress = RecordingProgress()
    counts = pull(kobo_source, progress)
    kobo_source.refresh_from_db()

    assert counts == {"fetched": 3, "created": 3, "edit": 0, "duplicate": 0, "conflict": 0, "attachments": 1}
    form = kobo_source.form
    assert form.xml_form_id == KOBO_UID and form.title == "Household visit (Kobo)"
    assert form.current_version.version == "2 (2026-11-18 08:12:40)"
    stored = {s.instance_id: s for s in Submission.objects.filter(form=form)}
    assert len(stored) == 3
    first = stored[KOBO_FIRST]
    # The record's JSON exactly as the server sent it, and flat values without Kobo's "_" keys.
    assert any(bytes(first.raw) in body for body in kobo.sent)
    assert json.loads(bytes(first.raw))["_id"] == 41230871 and first.raw_format == "json"
    assert first.data["household/people"] == "5" and not any(k.startswith("_") for k in first.data)
    assert first.origin == Submission.Origin.KOBO and first.pull_source == kobo_source
    assert first.version_string == "2 (2026-11-18 08:12:40)" and first.form_version == form.current_version
    assert first.enumerator == "enum_pemba_01"
    assert first.submitted_at.isoformat() == "2026-11-20T07:21:05+00:00"
    assert (first.latitude, first.longitude) == (-12.9714, 40.5178)
    photo = stored["uuid:9e27d0b4-51c3-4a8e-b6f2-7d0c3e8a5b22"].attachments.get()
    assert (photo.name, photo.content_type, photo.sha256) == (
        "1763625767120.jpg",
        "image/jpeg",
        hashlib.sha256(PHOTO).hexdigest(),
    )
    assert stored["uuid:c4a8e1f7-2d69-4b3c-8e05-6f1b9d7a2c33"].enumerator == ""  # anonymous web form
    # Paging followed with start/limit, sorted by _id; the cursor names the newest record.
    pages = [r["query"] for r in kobo.requests if r["path"].endswith("/data/")]
    assert [(p["start"], p["limit"]) for p in pages] == [("0", "2"), ("2", "2")]
    assert json.loads(pages[0]["sort"]) == {"_id": 1}
    assert kobo_source.cursor == "2026-11-20T08:02:47#41230902"
    assert all(r["headers"]["Authorization"] == f"Token {KOBO_TOKEN}" for r in kobo.requests)
    assert progress.started[0][0] == 3 and progress.advanced == 3 and progress.finished
    assert kobo_source.last_error == "" and kobo_source.last_counts == counts


def test_a_second_kobo_pull_with_nothing_new_stores_nothing(kobo_source, kobo):
    pull(kobo_source)
    kobo.requests.clear()
    counts = pull(kobo_source)
    assert counts["fetched"] == 0 and counts["created"] == 0
    assert Submission.objects.count() == 3
    asked = json.loads(next(r for r in kobo.requests if r["path"].endswith("/data/"))["query"]["query"])
    assert asked == {"_id": {"$gt": 41230902}}


def test_an_incremental_kobo_pull_takes_only_the_new_records(kobo_source, kobo):
    pull(kobo_source)
    kobo.add(kobo_record("kobo_new_record.json"))
    counts = pull(kobo_source)
    kobo_source.refresh_from_db()
    assert (counts["fetched"], counts["created"]) == (1, 1)
    assert Submission.objects.count() == 4
    assert kobo_source.cursor == "2026-11-21T06:44:19#41231157"


def test_a_kobo_edit_replaces_the_earlier_version(kobo_source, kobo):
    pull(kobo_source)
    kobo.replace(kobo_record("kobo_edited_record.json"))  # same _id and _submission_time, new instanceID
    counts = pull(kobo_source)
    assert (counts["fetched"], counts["edit"], counts["created"]) == (1, 1, 0)
    old = Submission.objects.get(instance_id=KOBO_FIRST)
    new = Submission.objects.get(instance_id=KOBO_EDIT)
    assert old.superseded_by == new and old.status == Submission.Status.SUPERSEDED
    assert new.root_id == KOBO_FIRST and new.data["household/people"] == "6"
    assert current(new.form) == 3
    # Found by the light query of edited records (ids only), then fetched one by one.
    sweep = next(r["query"] for r in kobo.requests if "fields" in r["query"])
    assert json.loads(sweep["fields"]) == ["_id", "meta/instanceID"]
    assert any(p.endswith("/data/41230871/") for p in kobo.paths())
    assert pull(kobo_source)["fetched"] == 0  # the edit is not fetched again


def test_several_kobo_edits_between_two_pulls_replace_the_stored_version(kobo_source, kobo):
    pull(kobo_source)
    second = kobo_record("kobo_edited_record.json")
    second.update(
        {
            "meta/instanceID": "uuid:77e1c0d2-5a3b-4c9d-8e7f-6a5b4c3d2e1f",
            "meta/deprecatedID": KOBO_EDIT,  # the first edit, never pulled here
            "_uuid": "77e1c0d2-5a3b-4c9d-8e7f-6a5b4c3d2e1f",
            "household/people": "8",
        }
    )
    kobo.replace(second)
    counts = pull(kobo_source)
    latest = Submission.objects.get(instance_id="uuid:77e1c0d2-5a3b-4c9d-8e7f-6a5b4c3d2e1f")
    assert counts["edit"] == 1
    assert Submission.objects.get(instance_id=KOBO_FIRST).superseded_by == latest
    assert latest.root_id == KOBO_FIRST
    assert current(latest.form) == 3  # the household is counted once, with 8 people


def test_a_kobo_redeployment_adds_the_new_version_to_the_local_form(kobo_source, kobo):
    pull(kobo_source)
    kobo.xform = kobo.xform.replace("2 (2026-11-18 08:12:40)", "3 (2026-11-22 07:05:12)").replace(
        "vQ8t2mYc6kP3xWn9RbF4sH", "vN3wT7kR2mQ9xB5cH8dF4s"
    )
    kobo.asset_changes = {"deployed_version_id": "vN3wT7kR2mQ9xB5cH8dF4s"}
    kobo.add({**kobo_record("kobo_new_record.json"), "__version__": "vN3wT7kR2mQ9xB5cH8dF4s"})
    pull(kobo_source)
    new = Submission.objects.get(instance_id="uuid:e81b5f20-4a7c-4d93-9f16-3c2d8a0b7e44")
    assert new.version_string == "3 (2026-11-22 07:05:12)" and new.form_version.version == new.version_string
    assert new.form.versions.count() == 2
    assert Submission.objects.get(instance_id=KOBO_FIRST).version_string == "2 (2026-11-18 08:12:40)"


def test_an_overlapping_kobo_pull_stores_nothing_twice(kobo_source, kobo):
    pull(kobo_source)
    kobo.requests.clear()
    pull_source_update(source=kobo_source, reset_cursor=True)
    counts = pull(kobo_source)
    assert (counts["fetched"], counts["duplicate"], counts["created"]) == (3, 3, 0)
    assert Submission.objects.count() == 3
    assert not [p for p in kobo.paths() if "/attachments/" in p]  # stored files are not downloaded again


def test_a_kobo_pull_that_fails_midway_keeps_what_it_stored_and_resumes(kobo_source, kobo, caplog):
    kobo.fail("/attachments/attK3pW9xZr2Lm4Qv7Ny8Bc/", 500)  # the second record's photo
    with caplog.at_level(logging.INFO), pytest.raises(PullError) as failure:
        pull(kobo_source)
    kobo_source.refresh_from_db()
    message = str(failure.value)
    assert "kobo-hh-moz" in message and "HTTP 500" in message and "an attachment" in message
    assert kobo_source.last_error == message
    assert list(Submission.objects.values_list("instance_id", flat=True)) == [KOBO_FIRST]
    assert kobo_source.cursor == "2026-11-20T07:21:05#41230871"
    kobo.heal()
    counts = pull(kobo_source)
    assert (counts["created"], counts["attachments"]) == (2, 1) and Submission.objects.count() == 3
    kobo_source.refresh_from_db()
    assert kobo_source.last_error == ""
    assert not any(value in caplog.text for value in PERSONAL)
    assert KOBO_TOKEN not in caplog.text


def test_a_wrong_kobo_token_is_a_clear_error_that_never_shows_the_token(operation, kobo):
    source = pull_source_create(
        name="kobo-wrong-token",
        operation=operation,
        kind=PullSource.Kind.KOBO,
        url=kobo.url,
        credential="0000000000000000000000000000000000000000",
        remote_form=KOBO_UID,
    )
    with pytest.raises(PullError) as failure:
        pull(source)
    message = str(failure.value)
    assert "kobo-wrong-token" in message and "HTTP 401" in message and "API token" in message
    assert "0000000000" not in message
    source.refresh_from_db()
    assert source.last_error == message and source.form is None and not Submission.objects.exists()


def test_a_kobo_answer_that_is_not_json_is_a_clear_error(kobo_source, kobo):
    pull(kobo_source)
    kobo.fail("/data/", 200)  # a captive portal or proxy page answering 200 with HTML
    with pytest.raises(
        PullError, match=r'Pull "kobo-hh-moz": the answer of 127\.0\.0\.1:\d+ for the submissions is not'
    ):
        pull(kobo_source)


def test_an_unreachable_server_is_a_clear_error(operation):
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    source = pull_source_create(
        name="kobo-offline",
        operation=operation,
        kind=PullSource.Kind.KOBO,
        url=f"http://127.0.0.1:{port}",
        credential=KOBO_TOKEN,
        remote_form=KOBO_UID,
    )
    with pytest.raises(
        PullError, match=r'Pull "kobo-offline": could not reach 127\.0\.0\.1:\d+ \(ConnectionError\)'
    ):
        pull(source)


def test_a_pull_into_a_form_published_here_keeps_that_form(kobo_source, kobo, operation):
    from mobility.collection.services import form_version_from_xml

    local = form_version_from_xml(operation=operation, xml=kobo.xform).form
    pull_source_update(source=kobo_source, form=local)
    pull(kobo_source)
    assert Form.objects.count() == 1 and Submission.objects.filter(form=local).count() == 3
    assert "/imo_moz/forms/aRdq3fXqS8e5H2KnPmW7Zt/form.xml" not in kobo.paths()


def test_a_source_being_pulled_is_not_pulled_twice_at_once(kobo_source):
    kobo_source.last_counts = {"running_since": "2999-01-01T00:00:00+00:00"}
    kobo_source.save()
    with pytest.raises(PullError, match=PULL_BUSY.split("{")[0]):
        pull(kobo_source)
    assert not Submission.objects.exists()


# ---------------------------------------------------------------- ODK Central


def test_first_central_pull_creates_the_form_and_stores_every_submission(central_source, central):
    progress = RecordingProgress()
    counts = pull(central_source, progress)
    central_source.refresh_from_db()

    assert counts == {"fetched": 3, "created": 3, "edit": 0, "duplicate": 0, "conflict": 0, "attachments": 1}
    form = central_source.form
    assert (form.xml_form_id, form.current_version.version) == (CENTRAL_FORM, "2026112501")
    first = Submission.objects.get(instance_id=CENTRAL_FIRST)
    assert bytes(first.raw) == (DATA / "central_instance_6f1c2a9e.xml").read_bytes()  # XML as received
    assert first.raw_format == "xml" and first.origin == Submission.Origin.CENTRAL
    assert first.data["people"] == "4" and first.enumerator == "enum-pemba-01"
    assert first.submitted_at.isoformat() == "2026-11-20T07:30:12.481000+00:00"
    photo = Submission.objects.get(instance_id="uuid:a8d4e0b2-9c61-4f37-b5e2-7a1c3d9e0f72").attachments.get()
    assert photo.name == "1763625884551.jpg" and photo.sha256 == hashlib.sha256(PHOTO).hexdigest()
    # Signed in once through /v1/sessions; followed @odata.nextLink; cursor = newest submission date.
    assert central.paths("POST") == ["/v1/sessions"]
    odata = [r["query"] for r in central.requests if r["path"].endswith(".svc/Submissions")]
    assert len(odata) == 2 and "$skiptoken" in odata[1] and "$filter" not in odata[0]
    assert central_source.cursor == "2026-11-20T08:05:44.902Z"
    assert progress.started == [(3, "central-hh-moz: new and edited submissions")] and progress.advanced == 3


def test_a_second_central_pull_asks_only_for_what_changed_and_stores_nothing(central_source, central):
    pull(central_source)
    central.requests.clear()
    counts = pull(central_source)
    assert counts["fetched"] == 0 and Submission.objects.count() == 3
    asked = next(r for r in central.requests if r["path"].endswith(".svc/Submissions"))["query"]["$filter"]
    assert asked == (
        "__system/submissionDate gt 2026-11-20T08:05:44.902Z or __system/updatedAt gt 2026-11-20T08:05:44.902Z"
    )


def test_a_central_edit_replaces_the_earlier_version(central_source, central):
    pull(central_source)
    edited = (DATA / "central_instance_6f1c2a9e_edit.xml").read_bytes()
    central.edit(CENTRAL_FIRST, edited, updated_at="2026-11-21T10:15:00.120Z")
    new_row = json.loads(json.dumps(central.rows[-1]))
    new_row["__id"] = new_row["meta"]["instanceID"] = "uuid:d3e4f5a6-b7c8-4d9e-8f0a-1b2c3d4e5f60"
    new_row["__system"].update({"submissionDate": "2026-11-21T09:02:33.004Z", "updatedAt": None, "edits": 0})
    central.add(
        new_row,
        (DATA / "central_instance_2b9e7f13.xml")
        .read_bytes()
        .replace(b"uuid:2b9e7f13-c4d0-4a6b-8e21-5f3a0c9d7e83", b"uuid:d3e4f5a6-b7c8-4d9e-8f0a-1b2c3d4e5f60"),
    )
    counts = pull(central_source)
    central_source.refresh_from_db()
    assert (counts["fetched"], counts["created"], counts["edit"]) == (2, 1, 1)
    old, new = (
        Submission.objects.get(instance_id=CENTRAL_FIRST),
        Submission.objects.get(instance_id=CENTRAL_EDIT),
    )
    assert old.superseded_by == new and new.root_id == CENTRAL_FIRST and new.data["people"] == "6"
    assert bytes(new.raw) == edited
    assert new.submitted_at.isoformat() == "2026-11-21T10:15:00.120000+00:00"  # when it was edited
    assert current(new.form) == 4
    assert central_source.cursor == "2026-11-21T10:15:00.120Z"  # the edit is the newest change


def test_several_central_edits_between_two_pulls_replace_the_stored_version(central_source, central):
    pull(central_source)
    twice = (
        (DATA / "central_instance_6f1c2a9e_edit.xml")
        .read_bytes()
        .replace(b"<deprecatedID>" + CENTRAL_FIRST.encode(), b"<deprecatedID>" + CENTRAL_EDIT.encode())
        .replace(
            b"<instanceID>" + CENTRAL_EDIT.encode(), b"<instanceID>uuid:4e5f6a7b-8c9d-4e0f-9a1b-2c3d4e5f6a7b"
        )
        .replace(b"<people>6</people>", b"<people>9</people>")
    )
    central.edit(CENTRAL_FIRST, twice, updated_at="2026-11-21T11:00:00.000Z")  # the first edit was never seen
    assert pull(central_source)["edit"] == 1
    latest = Submission.objects.get(instance_id="uuid:4e5f6a7b-8c9d-4e0f-9a1b-2c3d4e5f6a7b")
    assert Submission.objects.get(instance_id=CENTRAL_FIRST).superseded_by == latest
    assert current(latest.form) == 3


def test_an_overlapping_central_pull_stores_nothing_twice_and_fetches_no_xml(central_source, central):
    pull(central_source)
    central.requests.clear()
    counts = pull(pull_source_update(source=central_source, reset_cursor=True))
    assert (counts["fetched"], counts["duplicate"], counts["created"]) == (3, 3, 0)
    assert Submission.objects.count() == 3
    assert not [p for p in central.paths() if p.endswith(".xml") or "/attachments" in p]


def test_a_central_pull_that_fails_midway_keeps_what_it_stored_and_resumes(central_source, central):
    # Two rows share the newest submissionDate; the second of them fails.
    central.fail("/submissions/uuid:a8d4e0b2-9c61-4f37-b5e2-7a1c3d9e0f72.xml", 503)
    with pytest.raises(PullError) as failure:
        pull(central_source)
    central_source.refresh_from_db()
    assert "central-hh-moz" in str(failure.value) and "HTTP 503" in str(failure.value)
    stored = set(Submission.objects.values_list("instance_id", flat=True))
    assert stored == {CENTRAL_FIRST, "uuid:2b9e7f13-c4d0-4a6b-8e21-5f3a0c9d7e83"}
    # The cursor does not pass a timestamp until every row carrying it is stored.
    assert central_source.cursor == "2026-11-20T07:30:12.481Z"
    central.heal()
    counts = pull(central_source)
    assert (counts["created"], counts["duplicate"], counts["attachments"]) == (1, 1, 1)
    assert Submission.objects.count() == 3


def test_a_wrong_central_password_is_a_clear_error_that_never_shows_it(operation, central, caplog):
    source = pull_source_create(
        name="central-wrong-password",
        operation=operation,
        kind=PullSource.Kind.CENTRAL,
        url=central.url,
        credential=f"{CENTRAL_EMAIL}:not the password",
        remote_form=CENTRAL_FORM,
        remote_project=str(CENTRAL_PROJECT),
    )
    with pytest.raises(PullError) as failure:
        pull(source)
    message = str(failure.value)
    assert "central-wrong-password" in message and "HTTP 401" in message and "sign-in" in message
    assert "not the password" not in message and "not the password" not in caplog.text


def test_a_central_session_token_works_instead_of_a_password(operation, central):
    source = pull_source_create(
        name="central-token",
        operation=operation,
        kind=PullSource.Kind.CENTRAL,
        url=central.url,
        credential=central.token,
        remote_form=CENTRAL_FORM,
        remote_project=str(CENTRAL_PROJECT),
    )
    assert pull(source)["created"] == 3
    assert central.paths("POST") == []


# ---------------------------------------------------------------- sources, CLI, schedule


def test_source_rules(operation, central):
    with pytest.raises(ValidationError, match=re.escape(SOURCE_NEEDS_PROJECT)):
        pull_source_create(
            name="central-no-project",
            operation=operation,
            kind="central",
            url=central.url,
            credential="a:b",
            remote_form=CENTRAL_FORM,
        )
    pull_source_create(
        name="kobo-a", operation=operation, kind="kobo", url=central.url, credential="t", remote_form="a1"
    )
    with pytest.raises(ValidationError, match=re.escape(SOURCE_EXISTS.format(name="kobo-a"))):
        pull_source_create(
            name="kobo-a", operation=operation, kind="kobo", url=central.url, credential="t", remote_form="a1"
        )


def test_cli_registers_lists_and_pulls_a_source_without_ever_printing_the_token(
    operation, kobo, monkeypatch, capsys
):
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{KOBO_TOKEN}\n"))
    call_command(
        "collection",
        "pull",
        "--add",
        "kobo-cli",
        "--kind",
        "kobo",
        "--url",
        kobo.url,
        "--form",
        KOBO_UID,
        "--operation",
        operation.slug,
        "--credential-stdin",
        "--every",
        "30",
    )
    call_command("collection", "pull", "kobo-cli")  # with its progress bar
    call_command("collection", "pull", "kobo-cli", "--reset", "--quiet")
    monkeypatch.setattr(sys, "stdin", io.StringIO("a-new-token-value\n"))
    call_command("collection", "pull", "--update", "kobo-cli", "--every", "0", "--credential-stdin")
    call_command("collection", "pull", "--list")
    out = capsys.readouterr()
    assert KOBO_TOKEN not in out.out + out.err
    assert 'Pull source "kobo-cli" registered' in out.out and "every 30 min" in out.out
    assert "kobo-cli: fetched 3, created 3, edits 0, duplicates 0, conflicts 0, attachments 1" in out.out
    assert f"into form {KOBO_UID}" in out.out
    assert "kobo-cli: fetched 3, created 0, edits 0, duplicates 3" in out.out  # --reset: stored once
    assert 'Pull source "kobo-cli" updated (on demand)' in out.out and "a-new-token-value" not in out.out
    listed = [line for line in out.out.splitlines() if line.startswith("kobo-cli\t")]
    assert listed and "duplicates 3" in listed[0] and "on demand" in listed[0]
    assert PullSource.objects.get(name="kobo-cli").credential == "a-new-token-value"


def test_cli_refuses_a_credential_given_any_other_way_and_reports_pull_errors(operation, kobo):
    with pytest.raises(CommandError, match="--credential-stdin"):
        call_command(
            "collection",
            "pull",
            "--add",
            "kobo-cli",
            "--kind",
            "kobo",
            "--url",
            kobo.url,
            "--form",
            KOBO_UID,
            "--operation",
            operation.slug,
        )
    with pytest.raises(CommandError, match="Give a SOURCE"):
        call_command("collection", "pull")
    pull_source_create(
        name="kobo-bad",
        operation=operation,
        kind="kobo",
        url=kobo.url,
        credential="wrong",
        remote_form=KOBO_UID,
    )
    with pytest.raises(CommandError, match=r'Pull "kobo-bad": .*\(HTTP 401\)'):
        call_command("collection", "pull", "kobo-bad", "--quiet")


def test_the_periodic_task_pulls_only_the_sources_that_are_due(operation, kobo, central):
    from django.utils import timezone

    def source(name, kind, minutes, pulled_ago=None):
        made = pull_source_create(
            name=name,
            operation=operation,
            kind=kind,
            url=kobo.url if kind == "kobo" else central.url,
            credential=KOBO_TOKEN if kind == "kobo" else f"{CENTRAL_EMAIL}:{CENTRAL_PASSWORD}",
            remote_form=KOBO_UID if kind == "kobo" else CENTRAL_FORM,
            remote_project="" if kind == "kobo" else str(CENTRAL_PROJECT),
            schedule_minutes=minutes,
        )
        if pulled_ago is not None:
            PullSource.objects.filter(pk=made.pk).update(
                last_pulled_at=timezone.now() - timezone.timedelta(minutes=pulled_ago)
            )
        return made

    due_never_pulled = source("kobo-due", "kobo", 15)
    due_interval_passed = source("central-due", "central", 60, pulled_ago=61)
    not_due = source("kobo-recent", "kobo", 60, pulled_ago=5)
    on_demand = source("kobo-manual", "kobo", 0)

    queued = pull_due_sources.call_local()

    assert sorted(queued) == sorted([due_never_pulled.pk, due_interval_passed.pk])
    assert Submission.objects.filter(pull_source=due_never_pulled).count() == 3
    assert Submission.objects.filter(pull_source=due_interval_passed).count() == 3
    for idle in (not_due, on_demand):
        idle.refresh_from_db()
        assert idle.form is None and not idle.submissions.exists()

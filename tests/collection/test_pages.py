"""The collection pages: forms, one form, the submission browser, one submission, the needs-attention list.

Who sees what: members of the operation browse; only data managers upload, correct and resolve;
an outsider sees nothing of the operation; personal fields never reach a viewer's page.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import html
import io
import re
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from mobility.collection import qr, services
from mobility.collection.conflicts import conflict_resolve
from mobility.collection.models import Form, MediaFile, Submission, SubmissionConflict
from mobility.collection.services import Upload, form_publish, submission_receive
from mobility.core.models import AuditEntry, ImportJob, ImportRowError
from tests.conftest import shared

from .forms import instance_xml, simple_xlsform, xlsform

pytestmark = pytest.mark.django_db

PERSONAL_NAME = "Amina Mussa Sualehe"
MEMBERS = ["viewer", "enumerator", "data_manager", "admin_user"]
SIMPLE_XLSFORM = simple_xlsform()  # built once: the same bytes convert once (see _convert_once)
_CONVERTED: dict = {}


@pytest.fixture(autouse=True)
def _convert_once(monkeypatch):
    """pyxform takes ~0.6 s a workbook: convert each distinct workbook once for the whole module."""
    real = services.xlsform_convert

    def convert(data, name):
        key = (hashlib.sha256(data).hexdigest(), name)
        if key not in _CONVERTED:
            _CONVERTED[key] = real(data, name)
        return copy.deepcopy(_CONVERTED[key])

    monkeypatch.setattr(services, "xlsform_convert", convert)


def _at(day: int, hour: int = 10) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, 0, tzinfo=dt.UTC)


@pytest.fixture
def version(operation, data_manager):
    return form_publish(
        operation=operation, data=SIMPLE_XLSFORM, filename="household_visit.xlsx", by=data_manager
    )


@pytest.fixture
def form(version):
    return version.form


@pytest.fixture
def submissions(operation, version, enumerator, django_user_model):
    """Four submissions: two enumerators, three days, two areas, one flagged, one needing attention."""
    rows = {}
    for key, instance, day, who, gps, extra in [
        ("a", "uuid:aaaa1111-0000", 18, "enum", "-12.97 40.52 0 5", "<admin2>MZ0101</admin2>"),
        ("b", "uuid:bbbb2222-0000", 19, "enum", "-13.10 39.90 0 5", "<admin2>MZ0102</admin2>"),
        ("c", "uuid:cccc3333-0000", 20, "other_enum", "", "<admin2>MZ0101</admin2>"),
        ("d", "uuid:dddd4444-0000", 20, "other_enum", "-12.50 40.10 0 5", ""),
    ]:
        raw = instance_xml(instance, name=PERSONAL_NAME, gps=gps).replace(
            b"<meta>", extra.encode() + b"<meta>"
        )
        received = submission_receive(operation=operation, raw=raw, by=enumerator, submitted_at=_at(day))
        Submission.objects.filter(pk=received.submission.pk).update(enumerator=who)
        rows[key] = Submission.objects.get(pk=received.submission.pk)
    Submission.objects.filter(pk=rows["b"].pk).update(
        flags=[{"code": "too_short", "message": "The interview took 2 minutes (minimum 5)"}]
    )
    job = ImportJob.objects.create(kind="tracking.template", original_name="submission", sha256="0" * 64)
    ImportRowError.objects.create(job=job, row=1, column="idp_individuals", value="-3", message="is negative")
    Submission.objects.filter(pk=rows["c"].pk).update(
        status=Submission.Status.NEEDS_ATTENTION, import_job=job, error="1 row error"
    )
    for key in rows:
        rows[key].refresh_from_db()
    return rows


def _get(client, user, name, *args, **params):
    client.force_login(user)
    return client.get(reverse(name, args=args), params)


# ---------------------------------------------------------------- who may see what


@pytest.mark.parametrize("who", MEMBERS)
def test_every_member_browses_forms_and_submissions(client, request, form, submissions, who):
    user = request.getfixturevalue(who)
    for name, args in [
        ("collection:forms", []),
        ("collection:form", [form.pk]),
        ("collection:submissions", [form.pk]),
        ("collection:submissions_geojson", [form.pk]),
        ("collection:submission", [submissions["a"].pk]),
        ("collection:version_xml", [form.pk, form.current_version_id]),
    ]:
        response = _get(client, user, name, *args)
        assert response.status_code == 200, (name, who)
    page = _get(client, user, "collection:forms").content.decode()
    assert "Household visit" in page and reverse("collection:form", args=[form.pk]) in page


@pytest.mark.parametrize(
    "who,status", [("viewer", 403), ("enumerator", 403), ("data_manager", 200), ("admin_user", 200)]
)
def test_needs_attention_list_is_for_data_managers(client, request, submissions, who, status):
    assert _get(client, request.getfixturevalue(who), "collection:attention").status_code == status


def test_an_outsider_sees_nothing_of_the_operation(client, outsider, form, submissions):
    for name, args in [
        ("collection:form", [form.pk]),
        ("collection:submissions", [form.pk]),
        ("collection:submissions_geojson", [form.pk]),
        ("collection:submissions_export", [form.pk]),
        ("collection:submission", [submissions["a"].pk]),
        ("collection:version_xml", [form.pk, form.current_version_id]),
        ("collection:version_xlsform", [form.pk, form.current_version_id]),
    ]:
        assert _get(client, outsider, name, *args).status_code == 404, name
    for name, args in [
        ("collection:form_state", [form.pk]),
        ("collection:submission_reprocess", [submissions["c"].pk]),
        ("collection:submission_correct", [submissions["c"].pk]),
    ]:
        assert client.post(reverse(name, args=args), {"state": "closed"}).status_code == 404, name
    listing = _get(client, outsider, "collection:forms").content.decode()
    assert "Household visit" not in listing
    attention = _get(client, outsider, "collection:attention").content.decode()
    assert "cccc3333" not in attention
    form.refresh_from_db()
    assert form.state == Form.State.OPEN


def test_anonymous_visitors_are_sent_to_log_in(client, form, submissions):
    for url in [
        reverse("collection:forms"),
        reverse("collection:form", args=[form.pk]),
        reverse("collection:submissions_geojson", args=[form.pk]),
        reverse("collection:submission", args=[submissions["a"].pk]),
    ]:
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login")), url


def test_a_viewer_browses_but_cannot_change_anything(client, viewer, form, submissions):
    client.force_login(viewer)
    target = submissions["c"]
    conflict = SubmissionConflict.objects.create(submission=target, raw=b"<x/>", raw_sha256="1" * 64)
    attachment_owner = submissions["a"]
    attachment = attachment_owner.attachments.create(name="photo.jpg", sha256="2" * 64, file="x/photo.jpg")
    upload = SimpleUploadedFile("household_visit.xlsx", simple_xlsform(version="2026112502"))
    refused = [
        client.post(reverse("collection:forms"), {"operation": form.operation_id, "file": upload}),
        client.post(reverse("collection:form_state", args=[form.pk]), {"state": "closed"}),
        client.post(
            reverse("collection:media_upload", args=[form.pk]),
            {"version": form.current_version_id, "file": SimpleUploadedFile("a.csv", b"name\n")},
        ),
        client.post(reverse("collection:binding", args=[form.pk]), {"target": "tracking.template"}),
        client.post(reverse("collection:submission_correct", args=[target.pk]), {"v0": "x"}),
        client.post(reverse("collection:submission_reprocess", args=[target.pk])),
        client.post(
            reverse("collection:conflict_resolve", args=[target.pk, conflict.pk]), {"resolution": "replaced"}
        ),
        client.get(reverse("collection:attachment", args=[attachment_owner.pk, attachment.pk])),
    ]
    assert [r.status_code for r in refused] == [403] * len(refused)
    form.refresh_from_db()
    assert form.state == Form.State.OPEN and form.versions.count() == 1
    conflict.refresh_from_db()
    assert conflict.resolution == SubmissionConflict.Resolution.OPEN
    page = client.get(reverse("collection:forms")).content.decode()
    assert "Upload an XLSForm" not in page
    detail = client.get(reverse("collection:submission", args=[target.pk])).content.decode()
    assert "Re-process" not in detail and "Replace with this body" not in detail


# ---------------------------------------------------------------- forms: upload, detail, media, state


def test_uploading_an_xlsform_publishes_it_and_shows_its_warnings(client, data_manager, operation):
    client.force_login(data_manager)
    workbook = xlsform(
        [["type", "name", "label"], ["text", "q", "Question"], ["image", "photo", "Photo"]],
        settings={"form_id": "site_visit", "version": "1"},
    )
    response = client.post(
        reverse("collection:forms"),
        {"operation": operation.pk, "file": SimpleUploadedFile("site_visit.xlsx", workbook)},
        follow=True,
    )
    form = Form.objects.get(xml_form_id="site_visit")
    assert response.redirect_chain[-1][0] == reverse("collection:form", args=[form.pk])
    page = response.content.decode()
    assert "site_visit" in page and "is published" in page
    assert "max-pixels" in page  # pyxform's warning about the image question, flashed and listed
    assert re.search(r'class="where">sheet survey · row 3<', page)


def test_a_pyxform_error_is_shown_against_its_sheet_and_row(client, data_manager, operation):
    client.force_login(data_manager)
    workbook = xlsform(
        [
            ["type", "name", "label"],
            ["text", "a", "A"],
            ["integer", "b", "B"],
            ["select_one missing", "c", "C"],
        ],
        [["list_name", "name", "label"], ["yesno", "yes", "Yes"]],
        {"form_id": "broken"},
    )
    response = client.post(
        reverse("collection:forms"),
        {"operation": operation.pk, "file": SimpleUploadedFile("broken.xlsx", workbook)},
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert re.search(r'<span class="where">sheet survey · row 4</span>', page)
    assert "List name not in choices sheet: missing" in page
    assert not Form.objects.exists()


def test_a_file_that_is_not_a_workbook_is_refused_with_a_reason(client, data_manager, operation):
    client.force_login(data_manager)
    response = client.post(
        reverse("collection:forms"),
        {"operation": operation.pk, "file": SimpleUploadedFile("form.pdf", b"%PDF-1.4")},
    )
    assert response.status_code == 200 and "form.pdf is not one" in response.content.decode()
    # Bytes that are no workbook at all are refused while they arrive (mobility.core.uploads).
    response = client.post(
        reverse("collection:forms"),
        {"operation": operation.pk, "file": SimpleUploadedFile("form.xlsx", b"not a zip")},
    )
    assert response.status_code == 200 and "is not an Excel workbook (.xlsx)" in response.content.decode()
    # An Office file that is not a workbook (a .docx renamed) reaches pyxform, which says why.
    docx = io.BytesIO()
    with zipfile.ZipFile(docx, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<document/>")
    response = client.post(
        reverse("collection:forms"),
        {"operation": operation.pk, "file": SimpleUploadedFile("form.xlsx", docx.getvalue())},
    )
    assert response.status_code == 400 and "could not be opened" in response.content.decode()


def test_the_form_list_counts_submissions_and_attention(
    client, data_manager, form, submissions, django_assert_max_num_queries
):
    client.force_login(data_manager)
    with django_assert_max_num_queries(8):
        page = client.get(reverse("collection:forms")).content.decode()
    row = page[page.index(reverse("collection:form", args=[form.pk])) :]
    assert f'href="{reverse("collection:submissions", args=[form.pk])}">4</a>' in row
    assert ">1</a>" in row  # one needs attention


def test_form_detail_lists_missing_media_and_an_upload_fills_the_gap(client, data_manager, operation):
    version = form_publish(
        operation=operation,
        data=xlsform(
            [
                ["type", "name", "label", "calculation"],
                ["select_one_from_file villages.csv", "village", "Village", ""],
                ["text", "item", "Item", ""],
                ["calculate", "price", "", "pulldata('prices', 'price', 'item', ${item})"],
            ],
            settings={"form_id": "market", "version": "1"},
        ),
        filename="market.xlsx",
    )
    client.force_login(data_manager)
    url = reverse("collection:form", args=[version.form_id])
    page = client.get(url).content.decode()
    assert (
        '<code class="missing">prices.csv</code>' in page
        and '<code class="missing">villages.csv</code>' in page
    )
    response = client.post(
        reverse("collection:media_upload", args=[version.form_id]),
        {
            "version": version.pk,
            "file": SimpleUploadedFile("villages.csv", b"name,label\nv1,Village 1\n", "text/csv"),
        },
    )
    assert response.status_code == 302
    assert MediaFile.objects.get(version=version).name == "villages.csv"
    page = client.get(url).content.decode()
    assert (
        '<code class="missing">villages.csv</code>' not in page
        and '<code class="missing">prices.csv</code>' in page
    )
    download = client.get(
        reverse("collection:media_download", args=[version.form_id, version.pk, MediaFile.objects.get().pk])
    )
    assert b"".join(download.streaming_content) == b"name,label\nv1,Village 1\n"


def test_a_data_manager_closes_a_form(client, data_manager, form):
    client.force_login(data_manager)
    response = client.post(reverse("collection:form_state", args=[form.pk]), {"state": "closed"})
    assert response.status_code == 302
    form.refresh_from_db()
    assert form.state == Form.State.CLOSED
    assert AuditEntry.objects.filter(action="collection.form_state", object_id=str(form.pk)).exists()


def test_downloads_give_the_workbook_and_the_xform(client, viewer, form, version):
    xml = _get(client, viewer, "collection:version_xml", form.pk, version.pk)
    assert xml["Content-Type"].startswith("text/xml") and b'id="household_visit"' in xml.content
    workbook = client.get(reverse("collection:version_xlsform", args=[form.pk, version.pk]))
    assert hashlib.sha256(b"".join(workbook.streaming_content)).hexdigest() == version.xlsform_sha256
    assert "household_visit-2026112501.xlsx" in workbook["Content-Disposition"]


def test_the_collect_qr_code_carries_the_server_and_no_password(client, data_manager, enumerator, form):
    client.force_login(data_manager)
    response = client.get(reverse("collection:form", args=[form.pk]), {"collect_user": "enum"})
    page = response.content.decode()
    server = f"http://testserver/collect/{form.operation.slug}"
    assert server in page and "<svg" in page and "qr-code" in page
    settings = qr.payload_settings(response.context["collect_payload"])
    assert settings["general"]["server_url"] == server
    assert settings["general"]["username"] == "enum"
    assert settings["general"]["form_update_mode"] == "match_exactly"
    assert settings["project"]["name"] == form.operation.name and settings["admin"] == {}
    assert "password" not in str(settings) and "admin_pw" not in str(settings)
    # A name that is not a member who may submit is not put in the code: the viewing user's own is.
    response = client.get(reverse("collection:form", args=[form.pk]), {"collect_user": "outsider"})
    assert qr.payload_settings(response.context["collect_payload"])["general"]["username"] == "imo"


def test_the_settings_code_refuses_a_password():
    settings = qr.collect_settings(
        server_url="https://example.org/collect/x", username="enum", project_name="X"
    )
    assert qr.payload_settings(qr.collect_payload(settings)) == settings
    settings["general"]["password"] = "secret"
    with pytest.raises(ValueError):
        qr.collect_payload(settings)


# ---------------------------------------------------------------- the submission browser


def _listed(client, user, form, **params) -> set[str]:
    page = _get(client, user, "collection:submissions", form.pk, **params).content.decode()
    return set(re.findall(r'title="uuid:(\w{4})', page))


@pytest.mark.parametrize(
    "params, expected",
    [
        ({}, {"aaaa", "bbbb", "cccc", "dddd"}),
        ({"enumerator": "other_enum"}, {"cccc", "dddd"}),
        ({"date_from": "2026-11-19", "date_to": "2026-11-19"}, {"bbbb"}),
        ({"date_from": "2026-11-20"}, {"cccc", "dddd"}),
        ({"area_code": "mz0101"}, {"aaaa", "cccc"}),
        ({"area_code": "MZ01"}, {"aaaa", "bbbb", "cccc"}),
        ({"status": "attention"}, {"cccc"}),
        ({"flag": "too_short"}, {"bbbb"}),
        ({"flag": "any"}, {"bbbb"}),
        ({"flag": "none"}, {"aaaa", "cccc", "dddd"}),
        ({"status": "received", "enumerator": "enum"}, {"aaaa", "bbbb"}),
    ],
)
def test_filters_narrow_the_table(client, viewer, form, submissions, params, expected):
    assert _listed(client, viewer, form, **params) == expected


def test_an_edit_hides_the_replaced_version_unless_asked(
    client, viewer, operation, enumerator, form, submissions
):
    submission_receive(
        operation=operation,
        raw=instance_xml("uuid:eeee5555-0000", deprecated="uuid:aaaa1111-0000", people=7),
        by=enumerator,
    )
    assert "aaaa" not in _listed(client, viewer, form) and "eeee" in _listed(client, viewer, form)
    assert _listed(client, viewer, form, status="superseded") == {"aaaa"}
    assert {"aaaa", "eeee"} <= _listed(client, viewer, form, include_superseded="on")
    edit = Submission.objects.get(instance_id="uuid:eeee5555-0000")
    page = _get(client, viewer, "collection:submission", edit.pk).content.decode()
    assert "Edits" in page and reverse("collection:submission", args=[submissions["a"].pk]) in page


def test_an_invalid_date_range_is_said_and_filters_nothing_out(client, viewer, form, submissions):
    response = _get(
        client, viewer, "collection:submissions", form.pk, date_from="2026-11-21", date_to="2026-11-18"
    )
    assert "The start date is after the end date." in response.content.decode()
    assert len(_listed(client, viewer, form, date_from="2026-11-21", date_to="2026-11-18")) == 4


def test_the_submission_table_does_not_grow_in_queries(
    client, viewer, form, submissions, django_assert_max_num_queries
):
    client.force_login(viewer)
    url = reverse("collection:submissions", args=[form.pk])
    with django_assert_max_num_queries(12) as few:
        client.get(url)
    for n in range(10):
        submission_receive(operation=form.operation, raw=instance_xml(f"uuid:more-{n}"))
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(url)


def test_geojson_has_points_and_no_values(client, viewer, form, submissions):
    response = _get(client, viewer, "collection:submissions_geojson", form.pk)
    geo = response.json()
    assert geo["type"] == "FeatureCollection" and len(geo["features"]) == 3  # one has no GPS
    for feature in geo["features"]:
        assert set(feature["properties"]) == {"id", "instance_id", "status", "flags"}
    flagged = next(f for f in geo["features"] if f["properties"]["id"] == submissions["b"].pk)
    assert flagged["geometry"]["coordinates"] == [39.9, -13.1] and flagged["properties"]["flags"] == [
        "too_short"
    ]
    body = response.content.decode()
    assert PERSONAL_NAME not in body and "Amina" not in body and "interview took" not in body
    filtered = _get(client, viewer, "collection:submissions_geojson", form.pk, enumerator="other_enum").json()
    assert [f["properties"]["id"] for f in filtered["features"]] == [submissions["d"].pk]


def test_export_hands_the_filters_and_language_to_the_exporter(
    client, viewer, form, submissions, monkeypatch
):
    from mobility.collection import views

    calls = []

    def submissions_export(*, form, user, fmt, language, filters):
        calls.append((form.pk, user.username, fmt, language, filters))
        return b"a,b\n", "text/csv; charset=utf-8", "household_visit.csv"

    monkeypatch.setattr(views, "submissions_export", submissions_export)
    response = _get(
        client,
        viewer,
        "collection:submissions_export",
        form.pk,
        fmt="csv",
        language="Português (pt)",
        enumerator="enum",
    )
    assert response.status_code == 200 and response.content == b"a,b\n"
    assert 'filename="household_visit.csv"' in response["Content-Disposition"]
    [(form_pk, username, fmt, language, filters)] = calls
    assert (form_pk, username, fmt, language, filters.enumerator) == (
        form.pk,
        "reader",
        "csv",
        "Português (pt)",
        "enum",
    )
    assert _get(client, viewer, "collection:submissions_export", form.pk, fmt="pdf").status_code == 400


def test_the_export_button_leaves_personal_fields_out_for_a_viewer(
    client, viewer, data_manager, form, submissions
):
    def export(user, **params):
        response = _get(client, user, "collection:submissions_export", form.pk, fmt="csv", **params)
        assert response.status_code == 200
        return b"".join(response.streaming_content).decode("utf-8-sig")

    for_viewer = export(viewer, enumerator="other_enum")
    assert PERSONAL_NAME not in for_viewer and "People in household" in for_viewer
    assert "uuid:dddd4444-0000" in for_viewer and "uuid:aaaa1111-0000" not in for_viewer
    assert PERSONAL_NAME in export(data_manager)


# ---------------------------------------------------------------- one submission


def test_a_personal_value_never_reaches_a_viewers_page(client, viewer, data_manager, form, submissions):
    url_name, pk = "collection:submission", submissions["a"].pk
    page = _get(client, viewer, url_name, pk).content.decode()
    assert PERSONAL_NAME not in page
    assert "hidden (personal data)" in page and "Respondent name" in page
    assert "People in household" in page and "Displaced?" in page and "— Yes" in page
    portuguese = _get(client, viewer, url_name, pk, lang="Português (pt)").content.decode()
    assert "Pessoas no agregado" in portuguese and "— Sim" in portuguese and PERSONAL_NAME not in portuguese
    assert PERSONAL_NAME in _get(client, data_manager, url_name, pk).content.decode()


def test_attachments_are_listed_to_all_and_downloaded_by_data_managers(
    client, viewer, data_manager, operation, form
):
    received = submission_receive(
        operation=operation,
        raw=instance_xml("uuid:photo-1"),
        attachments=[Upload("house.jpg", b"\xff\xd8house", "image/jpeg")],
    )
    submission = received.submission
    attachment = submission.attachments.get()
    assert "house.jpg" in _get(client, viewer, "collection:submission", submission.pk).content.decode()
    url = reverse("collection:attachment", args=[submission.pk, attachment.pk])
    assert client.get(url).status_code == 403
    client.force_login(data_manager)
    assert b"".join(client.get(url).streaming_content) == b"\xff\xd8house"


def test_a_submission_needing_attention_shows_its_row_errors(client, data_manager, submissions):
    page = _get(client, data_manager, "collection:submission", submissions["c"].pk).content.decode()
    assert "is negative" in page and "idp_individuals" in page
    assert reverse("core:import_detail", args=[submissions["c"].import_job_id]) in page
    attention = _get(client, data_manager, "collection:attention").content.decode()
    assert "cccc3333" in attention and "is negative" in attention and "aaaa1111" not in attention


def test_a_correction_sends_only_the_changed_values(client, data_manager, form, submissions, monkeypatch):
    from mobility.collection import processing

    calls = []
    monkeypatch.setattr(
        processing,
        "submission_correct",
        lambda *, submission, corrections, by: calls.append((submission.pk, corrections, by.username)),
        raising=False,
    )
    submission = submissions["c"]
    client.force_login(data_manager)
    page = client.get(reverse("collection:submission", args=[submission.pk]))
    correction_form = page.context["correction_form"]
    data = {key: field.initial for key, field in correction_form.fields.items()}
    people_key = next(name for name, item in correction_form.items.items() if item.key == "people")
    data[people_key] = "5"
    response = client.post(reverse("collection:submission_correct", args=[submission.pk]), data)
    assert response.status_code == 302
    assert calls == [(submission.pk, {"people": "5"}, "imo")]


def test_reprocess_runs_the_submission_again_now(client, data_manager, submissions, monkeypatch):
    from mobility.collection import processing

    calls = []
    monkeypatch.setattr(
        processing,
        "submission_process",
        lambda submission, *, by=None: calls.append((submission.pk, by)) or submission,
    )
    client.force_login(data_manager)
    response = client.post(reverse("collection:submission_reprocess", args=[submissions["c"].pk]))
    assert response.status_code == 302 and calls == [(submissions["c"].pk, data_manager)]
    assert AuditEntry.objects.filter(action="collection.submission_reprocess").count() == 1
    Submission.objects.filter(pk=submissions["a"].pk).update(superseded_by=submissions["b"])
    response = client.post(
        reverse("collection:submission_reprocess", args=[submissions["a"].pk]), follow=True
    )
    assert "replaced by an edit" in response.content.decode() and len(calls) == 1


def _conflict(operation, enumerator, submission, people=9):
    raw = instance_xml(submission.instance_id, people=people, name=PERSONAL_NAME)
    submission_receive(operation=operation, raw=raw, by=enumerator)
    return SubmissionConflict.objects.get(submission=submission, resolution="open")


def test_a_conflict_is_listed_and_replacing_keeps_the_earlier_body(
    client, data_manager, viewer, operation, enumerator, submissions, django_capture_on_commit_callbacks
):
    stored = submissions["a"]
    earlier_raw = bytes(stored.raw)
    conflict = _conflict(operation, enumerator, stored)
    viewer_page = _get(client, viewer, "collection:submission", stored.pk).content.decode()
    assert "Conflicting bodies" in viewer_page and "<code>people</code>" in viewer_page
    assert PERSONAL_NAME not in viewer_page
    client.force_login(data_manager)
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(
            reverse("collection:conflict_resolve", args=[stored.pk, conflict.pk]), {"resolution": "replaced"}
        )
    # Back in the queue ("received"); an unbound form schedules no processing run (test_processing).
    assert response.status_code == 302 and len(callbacks) == 0
    stored.refresh_from_db()
    conflict.refresh_from_db()
    assert stored.data["people"] == "9" and b"<people>9</people>" in bytes(stored.raw)
    assert conflict.resolution == "replaced" and bytes(conflict.raw) == earlier_raw  # nothing lost
    assert stored.status == Submission.Status.RECEIVED
    assert AuditEntry.objects.filter(action="collection.conflict_resolve", object_id=str(stored.pk)).exists()
    again = client.post(
        reverse("collection:conflict_resolve", args=[stored.pk, conflict.pk]), {"resolution": "kept"}
    )
    assert again.status_code == 302
    conflict.refresh_from_db()
    assert conflict.resolution == "replaced"


def test_keeping_the_stored_submission_changes_nothing(data_manager, operation, enumerator, submissions):
    stored = submissions["b"]
    before = (bytes(stored.raw), stored.data)
    conflict = conflict_resolve(
        conflict=_conflict(operation, enumerator, stored), resolution="kept", by=data_manager
    )
    stored.refresh_from_db()
    assert conflict.resolution == "kept" and conflict.resolved_by == data_manager
    assert (bytes(stored.raw), stored.data) == before


def test_the_admin_lists_without_showing_bodies(client, admin_user, form, submissions):
    client.force_login(admin_user)
    for model in ["form", "formversion", "submission", "submissionconflict", "binding", "pullsource"]:
        assert client.get(reverse(f"admin:collection_{model}_changelist")).status_code == 200, model
    page = client.get(
        reverse("admin:collection_submission_change", args=[submissions["a"].pk])
    ).content.decode()
    assert submissions["a"].instance_id in page and PERSONAL_NAME not in page


def test_a_data_manager_binds_the_form_from_its_page(client, data_manager, form):
    from mobility.collection.models import Binding

    client.force_login(data_manager)
    page = client.get(reverse("collection:form", args=[form.pk]))
    assert "Bind this form" in page.content.decode() and "binding_form" in page.context
    data = {
        "target": Binding.Target.EVENT,
        "column_0": "individuals",
        "path_0": "people",
        "const_column_0": "event_code",
        "const_value_0": "ETT-2026-001",
        "const_column_1": "event_type",
        "const_value_1": "conflict",
        "const_column_2": "event_date",
        "const_value_2": "2026-11-20",
    }
    response = client.post(reverse("collection:binding", args=[form.pk]), data, follow=True)
    binding = Binding.objects.get(form=form)
    assert (binding.version, binding.target, binding.mapping) == (
        1,
        Binding.Target.EVENT,
        {"individuals": "people"},
    )
    assert binding.constants["event_code"] == "ETT-2026-001"
    assert "Binding saved (version 1)" in response.content.decode()
    page = response.content.decode()
    assert "<code>individuals</code>" in page and "People in household" in page
    # A column the target does not have is refused with the binding's own message.
    response = client.post(
        reverse("collection:binding", args=[form.pk]),
        {**data, "column_1": "no_such_column", "path_1": "gps"},
        follow=True,
    )
    assert '"no_such_column" is not a column of tracking.events' in html.unescape(response.content.decode())
    assert Binding.objects.filter(form=form).count() == 1


def test_changing_a_binding_keeps_every_row_the_page_sent(client, data_manager, form):
    from mobility.collection.bindings import binding_save
    from mobility.collection.models import Binding

    constants = {"event_code": "E1", "event_type": "conflict", "event_date": "2026-11-20"}
    binding_save(
        form=form, target=Binding.Target.EVENT, mapping={"individuals": "people"}, constants=constants
    )
    client.force_login(data_manager)
    binding_form = client.get(reverse("collection:form", args=[form.pk])).context["binding_form"]
    data = {name: field.initial or "" for name, field in binding_form.fields.items()}
    data["target"] = Binding.Target.EVENT
    assert len(binding_form.constant_rows) == 3 + 3  # the three stored, and three empty rows
    data["const_value_0"] = "E2"
    client.post(reverse("collection:binding", args=[form.pk]), data)
    current = Binding.objects.get(form=form, active=True)
    assert current.version == 2 and current.constants == {**constants, "event_code": "E2"}
    assert current.mapping == {"individuals": "people"}


def test_an_upload_over_the_size_limit_is_refused_before_it_is_stored(
    client, data_manager, operation, settings
):
    settings.MAX_UPLOAD_BYTES = 1000
    client.force_login(data_manager)
    big = SimpleUploadedFile("huge.xlsx", b"0" * (1024 * 1024 + 2000))
    response = client.post(reverse("collection:forms"), {"operation": operation.pk, "file": big})
    assert "the largest file accepted is 0 MB" in response.content.decode()
    assert not Form.objects.exists()


def _upload_shared(client, operation, relative):
    path = shared(relative)
    upload = SimpleUploadedFile(path.name, path.read_bytes())
    return client.post(reverse("collection:forms"), {"operation": operation.pk, "file": upload}, follow=True)


def test_pyxforms_pulldata_example_asks_for_its_csv(client, data_manager, operation):
    client.force_login(data_manager)
    page = _upload_shared(client, operation, "xlsform/pyxform_examples/pull_data.xlsx").content.decode()
    assert "is published" in page and '<code class="missing">fruits.csv</code>' in page


@pytest.mark.heavy
def test_the_reach_msna_tool_publishes_through_the_page(client, data_manager, operation):
    client.force_login(data_manager)
    response = _upload_shared(
        client, operation, "xlsform/humanitarian/REACH_2024_MSNA-kobo-tool_draft_v11.xlsx"
    )
    page = response.content.decode()
    form = Form.objects.get()
    assert (
        response.redirect_chain[-1][0] == reverse("collection:form", args=[form.pk])
        and "is published" in page
    )
    assert len(form.current_version.fields) > 100
    assert f"{len(form.current_version.warnings)} warning" in page

"""Uploading a file on the imports page queues a job; its progress fragment is polled until it ends."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from mobility.core.models import ImportJob

pytestmark = pytest.mark.django_db


@pytest.fixture
def upload(client, django_capture_on_commit_callbacks):
    """POST a file to the imports page; the queued job runs when the request's transaction commits."""

    def post(content=b"a\nb\nc\n", kind="test.lines", **extra):
        data = {"file": SimpleUploadedFile("rows.txt", content), "kind": kind, "operation": "", **extra}
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(reverse("core:imports"), data)

    return post


def test_upload_runs_the_job_and_shows_its_counts(client, upload, data_manager, test_importer):
    client.force_login(data_manager)
    response = upload(country="moz", edition="2019")
    job = ImportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "core:import_detail", args=[job.pk]
    )
    assert job.status == ImportJob.Status.SUCCEEDED and job.created == 3
    assert job.profile == {"country": "MOZ", "edition": "2019"}
    page = client.get(response["Location"]).content.decode()
    assert "Succeeded" in page and "rows.txt" in page


def test_the_upload_form_offers_the_registered_kinds(client, upload, data_manager, test_importer):
    client.force_login(data_manager)
    page = client.get(reverse("core:imports")).content.decode()
    assert 'value="test.lines"' in page and 'enctype="multipart/form-data"' in page


def test_row_errors_are_listed_in_the_fragment(client, upload, data_manager, test_importer):
    client.force_login(data_manager)
    upload(b"a\nbad\nc\n")
    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.FAILED
    fragment = client.get(
        reverse("core:import_progress", args=[job.pk]), HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "is bad" in fragment and "<html" not in fragment
    assert "hx-trigger" not in fragment  # finished: polling stops


def test_a_running_job_fragment_keeps_polling(client, upload, data_manager, test_importer):
    client.force_login(data_manager)
    job = ImportJob.objects.create(
        kind="test.lines",
        original_name="big.csv",
        sha256="0" * 64,
        status=ImportJob.Status.RUNNING,
        rows_total=200,
        rows_done=50,
        created_by=data_manager,
        summary={"phase": "reading"},
    )
    fragment = client.get(reverse("core:import_progress", args=[job.pk])).content.decode()
    assert 'hx-trigger="every 1s"' in fragment and 'value="25"' in fragment


def test_an_empty_file_is_refused_on_the_form(client, upload, data_manager, test_importer):
    client.force_login(data_manager)
    response = upload(b"")
    assert response.status_code == 200 and not ImportJob.objects.exists()
    assert "errorlist" in response.content.decode()


def test_viewer_sees_no_upload_form_and_cannot_post(client, upload, viewer, test_importer):
    client.force_login(viewer)
    page = client.get(reverse("core:imports")).content.decode()
    assert 'enctype="multipart/form-data"' not in page
    assert upload().status_code == 403
    assert not ImportJob.objects.exists()


def test_import_into_an_operation_needs_the_import_right_there(
    client, upload, outsider, operation, test_importer
):
    client.force_login(outsider)
    response = upload(operation=str(operation.pk))
    assert response.status_code == 200 and not ImportJob.objects.exists()


def test_other_users_jobs_are_not_visible(client, upload, data_manager, outsider, test_importer):
    client.force_login(data_manager)
    upload()
    job = ImportJob.objects.get()
    client.force_login(outsider)
    assert client.get(reverse("core:import_detail", args=[job.pk])).status_code == 404
    assert client.get(reverse("core:import_progress", args=[job.pk])).status_code == 404
    client.logout()
    assert client.get(reverse("core:import_progress", args=[job.pk])).status_code == 302


def test_an_oversized_upload_is_refused_while_it_arrives(
    client, upload, data_manager, test_importer, settings
):
    from mobility.core.uploads import FORM_OVERHEAD_BYTES

    settings.MAX_UPLOAD_BYTES = 1024
    client.force_login(data_manager)
    response = upload(b"a\n" * ((1024 + FORM_OVERHEAD_BYTES) // 2 + 10))
    assert response.status_code == 200 and not ImportJob.objects.exists()
    assert "the largest file accepted is 0 MB" in response.content.decode()


TEMPLATE_ROWS = (
    b"admin1_code,admin2_code,admin2_name,population_group,households,individuals\n"
    b"MZ01,MZ0101,Ancuabe,IDP,10,42\n"
)


def test_a_tracking_file_names_its_round_on_the_form(
    client, data_manager, operation, django_capture_on_commit_callbacks
):
    import datetime as dt

    from mobility.core.services import round_create
    from mobility.tracking.models import PopulationFigure
    from tests.gazetteer.gazetteer_fixtures import load_gazetteer

    load_gazetteer("MOZ", geometry=False)
    round_2 = round_create(
        operation=operation, number=2, start_date=dt.date(2026, 3, 1), end_date=dt.date(2026, 3, 31)
    )
    client.force_login(data_manager)
    page = client.get(reverse("core:imports")).content.decode()
    assert 'name="round"' in page
    data = {
        "file": SimpleUploadedFile("round2.csv", TEMPLATE_ROWS),
        "kind": "tracking.template",
        "operation": str(operation.pk),
        "round": "2",
    }
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("core:imports"), data)
    job = ImportJob.objects.get()
    assert job.profile == {"round": 2}
    assert job.status == ImportJob.Status.SUCCEEDED, job.error
    assert PopulationFigure.objects.get(assessment__round=round_2).individuals == 42


@pytest.mark.parametrize("number", ["0", "-1", "two"])
def test_a_round_that_is_not_a_positive_number_is_refused(
    client, upload, data_manager, test_importer, number
):
    client.force_login(data_manager)
    response = upload(round=number)
    assert response.status_code == 200 and not ImportJob.objects.exists()
    assert "errorlist" in response.content.decode()


def test_a_failed_job_runs_again_on_its_kept_file(
    client, upload, data_manager, viewer, test_importer, django_capture_on_commit_callbacks
):
    client.force_login(data_manager)
    upload(b"a\nbad\n")  # the test importer refuses "bad" lines
    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.FAILED
    page = client.get(reverse("core:import_detail", args=[job.pk])).content.decode()
    assert reverse("core:import_rerun", args=[job.pk]) in page
    test_importer.accept_everything = True
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("core:import_rerun", args=[job.pk]))
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == ImportJob.Status.SUCCEEDED and ImportJob.objects.count() == 1
    client.force_login(viewer)
    assert client.post(reverse("core:import_rerun", args=[job.pk])).status_code in (403, 404)


def test_row_error_values_are_shown_only_to_those_who_may_import(client, operation, data_manager, viewer):
    """Row errors quote cell values (a submission's answers, a registration): viewers see counts only."""
    from mobility.core.models import ImportRowError

    job = ImportJob.objects.create(
        kind="test.lines",
        operation=operation,
        original_name="rows.csv",
        sha256="0" * 64,
        status=ImportJob.Status.FAILED,
        rejected=1,
        error='1 problem(s) in 1 row(s); nothing was stored. First: row 2, column name: "Zainab Marker" is odd',
    )
    ImportRowError.objects.create(job=job, row=2, column="name", value="Zainab Marker", message="is odd")
    client.force_login(data_manager)
    assert "Zainab Marker" in client.get(reverse("core:import_detail", args=[job.pk])).content.decode()
    client.force_login(viewer)
    for name in ("core:import_detail", "core:import_progress"):
        page = client.get(reverse(name, args=[job.pk]))
        assert page.status_code == 200 and "Zainab Marker" not in page.content.decode()


def test_a_tracking_file_names_its_round_over_the_api_too(
    client, data_manager, operation, django_capture_on_commit_callbacks
):
    import datetime as dt

    from mobility.core.services import api_token_create, round_create
    from mobility.tracking.models import PopulationFigure
    from tests.gazetteer.gazetteer_fixtures import load_gazetteer

    load_gazetteer("MOZ", geometry=False)
    round_2 = round_create(
        operation=operation, number=2, start_date=dt.date(2026, 3, 1), end_date=dt.date(2026, 3, 31)
    )
    _, key = api_token_create(user=data_manager, name="api")
    data = {
        "file": SimpleUploadedFile("round2.csv", TEMPLATE_ROWS),
        "kind": "tracking.template",
        "operation": operation.slug,
        "round": "2",
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/v1/imports", data, HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == 202, response.content
    job = ImportJob.objects.get()
    assert job.profile == {"round": 2}
    assert job.status == ImportJob.Status.SUCCEEDED, job.error
    assert PopulationFigure.objects.get(assessment__round=round_2).individuals == 42
    for bad in ("0", "two"):
        data["file"] = SimpleUploadedFile("round2.csv", TEMPLATE_ROWS)
        data["round"] = bad
        refused = client.post("/api/v1/imports", data, HTTP_AUTHORIZATION=f"Bearer {key}")
        assert refused.status_code == 422 and "round" in str(refused.json()["detail"])
    assert ImportJob.objects.count() == 1

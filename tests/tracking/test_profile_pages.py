"""An officer maps a workbook on the page (with suggestions), saves the profile, and imports the next round with it."""

from __future__ import annotations

import datetime as dt

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from mobility.core.models import ImportJob
from mobility.core.services import round_create
from mobility.tracking.models import Assessment, SourceProfile
from tests.gazetteer.gazetteer_fixtures import moz_gazetteer_fixture  # noqa: F401

pytestmark = pytest.mark.django_db


def workbook_bytes():
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Fiche"
    ws.append(["Situation des PDI — round 3"])
    ws.append(
        [
            "Province",
            "Province Pcode",
            "Distrito",
            "Pcode distrito",
            "Agregados deslocados",
            "Nombre total de PDI",
        ]
    )
    ws.append(["Cabo Delgado", "MZ01", "Ancuabe", "MZ0101", 10, "1 200"])
    ws.append(["Cabo Delgado", "MZ01", "Balama", "MZ0102", 3, 14])
    ws.append(["Total", "", "", "", 13, 1214])
    import io

    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def upload(client):
    file = SimpleUploadedFile("moz_round3.xlsx", workbook_bytes())
    response = client.post(reverse("tracking:profile_new"), {"file": file})
    assert response.status_code == 302
    return response["Location"]


def test_mapping_page_suggests_columns_and_previews_totals(client, data_manager):
    client.force_login(data_manager)
    page = client.get(upload(client))
    html = page.content.decode()
    assert page.status_code == 200
    assert 'value="2"' in html  # detected header row
    fields = {g["name"]: g for _, group in page.context["groups"] for g in group}
    assert fields["idp_individuals"]["chosen"] == "Nombre total de PDI"
    assert fields["idp_households"]["chosen"] == "Agregados deslocados"
    assert fields["admin1_code"]["chosen"] == "Province Pcode"
    assert fields["admin2_code"]["chosen"] == "Pcode distrito"
    preview = page.context["preview"]
    assert (
        preview["totals"]["idp_individuals"] == 1214 and preview["places"] == 2 and preview["skipped"] == [5]
    )


def test_saving_then_importing_with_the_profile(
    client, data_manager, operation, moz_gazetteer, django_capture_on_commit_callbacks
):
    client.force_login(data_manager)
    draft_url = upload(client)
    page = client.get(draft_url)
    data = {
        "draft": page.context["draft"],
        "sheet": "Fiche",
        "header_row": "2",
        "level": "admin2",
        "assessment_type": "BA",
        "country": "MOZ",
    }
    for _, group in page.context["groups"]:
        for f in group:
            data[f"col_{f['name']}"] = f["chosen"]
    data.update(
        {
            "action": "save",
            "name": "moz-cabo-delgado",
            "label": "Cabo Delgado district sheet",
            "operation": str(operation.pk),
        }
    )
    response = client.post(reverse("tracking:profile_new"), data)
    assert response.status_code == 302, response.context and response.context["problem"]
    saved = SourceProfile.objects.get(name="moz-cabo-delgado")
    assert saved.mapping["columns"]["idp_individuals"] == "Nombre total de PDI" and not saved.built_in
    assert client.get(reverse("tracking:profile_detail", args=["moz-cabo-delgado"])).status_code == 200

    round_create(operation=operation, number=3, start_date=dt.date(2026, 3, 1), end_date=dt.date(2026, 3, 31))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("tracking:profile_import", args=["moz-cabo-delgado"]),
            {
                "file": SimpleUploadedFile("moz_round3.xlsx", workbook_bytes()),
                "operation": str(operation.pk),
                "round": "3",
            },
        )
    job = ImportJob.objects.get(kind="tracking.profile")
    assert response.status_code == 302 and response["Location"] == reverse(
        "core:import_detail", args=[job.pk]
    )
    job.refresh_from_db()
    assert job.status == "succeeded", job.error
    assert sorted(Assessment.objects.values_list("place_key", flat=True)) == ["MZ0101", "MZ0102"]


def test_builtin_profiles_are_listed_and_readonly(client, data_manager):
    client.force_login(data_manager)
    page = client.get(reverse("tracking:profiles"))
    assert page.status_code == 200 and b"dtm-mali-baseline" in page.content
    assert client.get(reverse("tracking:profile_detail", args=["dtm-mali-baseline"])).status_code == 200
    assert client.get(reverse("tracking:profile_detail", args=["no-such"])).status_code == 404


def test_viewers_cannot_map_or_import(client, viewer):
    client.force_login(viewer)
    assert client.get(reverse("tracking:profile_new")).status_code == 403
    assert client.get(reverse("tracking:profile_import", args=["dtm-mali-baseline"])).status_code == 403


def test_outsiders_cannot_import_into_another_operation(client, outsider, operation):
    client.force_login(outsider)
    response = client.post(
        reverse("tracking:profile_import", args=["dtm-mali-baseline"]),
        {
            "file": SimpleUploadedFile("x.xlsx", workbook_bytes()),
            "operation": str(operation.pk),
            "round": "1",
        },
    )
    assert response.status_code == 200 and not ImportJob.objects.exists()


def test_anonymous_users_are_sent_to_log_in(client):
    assert client.get(reverse("tracking:profiles")).status_code == 302


def test_template_downloads(client):
    response = client.get(reverse("tracking:template"))
    assert response.status_code == 200
    assert b"population_group" in b"".join(response.streaming_content)
    assert client.get(reverse("tracking:template_columns")).status_code == 200

"""Uploaded files are kept where no URL serves them, and a file whose content is not what its name
says (a program renamed data.csv, a zip renamed to .xlsx) is refused with a clear error, never kept."""

from __future__ import annotations

import codecs
import io
import json
import zipfile
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import Resolver404, resolve, reverse
from django.utils.html import escape
from openpyxl import Workbook

from mobility.collection.models import Form
from mobility.core.models import ImportJob
from mobility.core.uploads import FILE_CONTENT_MISMATCH, check_content, content_problem

# The first bytes of a Windows program, as a renamed one would start.
PROGRAM = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + bytes(range(256)) * 8
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 64


def workbook_bytes() -> bytes:
    book = Workbook()
    book.active.append(["admin1_code", "individuals"])
    book.active.append(["MZ01", 42])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def plain_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("payload.bin", b"\x00" * 100)
    return buffer.getvalue()


GEOJSON = json.dumps({"type": "FeatureCollection", "features": []}).encode()
CSV = b"admin1_code,individuals\nMZ01,42\n"


def problem_of(name: str, data: bytes) -> str | None:
    return content_problem(name, data[:8192], data[-65536:])


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("baseline.xlsx", workbook_bytes()),
        ("baseline.csv", CSV),
        ("baseline.csv", codecs.BOM_UTF8 + CSV),
        ("baseline.csv", codecs.BOM_UTF16_LE + CSV.decode().encode("utf-16-le")),
        ("baseline.txt", b"MZ0101,Ancuabe\n"),  # a p-code is not a program's signature
        ("boundaries.geojson", GEOJSON),
        ("boundaries.json", b"\n  [1, 2]"),
        ("form.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600),
        ("form.xls", workbook_bytes()),  # a newer workbook under the old name: pyxform reads it
        ("instance.xml", b"\xef\xbb\xbf<?xml version='1.0'?><data/>"),
        ("photo.jpg", PROGRAM),  # names we do not check pass through
    ],
)
def test_files_that_are_what_their_name_says_pass(name, data):
    assert problem_of(name, data) is None


@pytest.mark.parametrize(
    ("name", "data", "found"),
    [
        ("baseline.csv", PROGRAM, "a Windows program"),
        ("baseline.csv", b"code,idp\x00\x01\x02" * 50, "binary data"),
        ("baseline.csv", PNG, "a PNG image"),
        ("baseline.csv", workbook_bytes(), "a zip archive"),
        ("baseline.xlsx", PROGRAM, "a Windows program"),
        ("baseline.xlsx", CSV, "other content"),
        ("baseline.xlsx", plain_zip(), "a zip archive without a workbook's [Content_Types].xml"),
        ("boundaries.geojson", CSV, "other content"),
        ("boundaries.geojson", b"%PDF-1.7\n", "a PDF document"),
        ("form.xls", PNG, "a PNG image"),
        ("instance.xml", GEOJSON, "other content"),
    ],
)
def test_a_file_whose_content_is_not_what_its_name_says_is_refused(name, data, found):
    problem = problem_of(name, data)
    assert problem is not None and f"({found})" in problem
    assert problem.startswith(f'The file "{name}" is not ')


def test_check_content_reads_a_kept_file_or_an_upload(tmp_path):
    path = tmp_path / "boundaries.geojson"
    path.write_bytes(CSV)
    with pytest.raises(ValidationError):
        check_content(path)
    upload = SimpleUploadedFile("baseline.xlsx", plain_zip())
    with pytest.raises(ValidationError) as err:
        check_content(upload)
    assert "[Content_Types].xml" in err.value.messages[0]
    check_content(SimpleUploadedFile("baseline.xlsx", workbook_bytes()))  # a real workbook passes


# ---------------------------------------------------------------- through the pages


def post_import(client, name: str, data: bytes, **extra):
    fields = {"file": SimpleUploadedFile(name, data), "kind": "gazetteer.geojson", "operation": "", **extra}
    return client.post(reverse("core:imports"), {"country": "MOZ", **fields})


def kept_files() -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_a_renamed_program_is_refused_on_the_import_page_and_not_kept(client, admin_user):
    client.force_login(admin_user)
    before = kept_files()
    response = post_import(client, "payroll.csv", PROGRAM)
    assert response.status_code == 200
    expected = FILE_CONTENT_MISMATCH.format(
        name="payroll.csv", expected="a CSV text file", found="a Windows program"
    )
    assert escape(expected) in response.content.decode()
    assert not ImportJob.objects.exists() and kept_files() == before


def test_a_zip_renamed_to_xlsx_is_refused_on_the_import_page(client, admin_user):
    client.force_login(admin_user)
    response = post_import(client, "baseline.xlsx", plain_zip())
    assert escape("a zip archive without a workbook's [Content_Types].xml") in response.content.decode()
    assert not ImportJob.objects.exists()


def test_a_renamed_image_is_refused_as_an_xlsform(client, data_manager, operation):
    client.force_login(data_manager)
    response = client.post(
        reverse("collection:forms"),
        {"operation": operation.pk, "file": SimpleUploadedFile("visit.xlsx", PNG)},
    )
    assert response.status_code == 200
    assert escape('The file "visit.xlsx" is not an Excel workbook (.xlsx)') in response.content.decode()
    assert not Form.objects.exists()


def test_an_accepted_upload_is_kept_outside_the_web_root(client, admin_user):
    client.force_login(admin_user)
    response = post_import(client, "boundaries.geojson", GEOJSON)
    assert response.status_code == 302
    job = ImportJob.objects.get()
    kept = Path(job.file.path).resolve()
    media, static = Path(settings.MEDIA_ROOT).resolve(), Path(settings.STATIC_ROOT).resolve()
    assert kept.is_relative_to(media) and kept.read_bytes() == GEOJSON
    # Neither directory holds the other, and no static-file finder looks into the uploads.
    assert not media.is_relative_to(static) and not static.is_relative_to(media)
    assert finders.find(str(kept.relative_to(media))) is None
    # No address serves it: not as a static file, not under a media URL (there is none).
    relative = kept.relative_to(media).as_posix()
    assert client.get(f"/static/{relative}").status_code == 404
    assert settings.MEDIA_URL in ("", "/")
    for url in (f"/media/{relative}", f"/uploads/{relative}", f"/{relative}"):
        with pytest.raises(Resolver404):
            resolve(url)


def test_the_uploads_directory_is_beside_not_inside_the_static_files():
    """The real settings (not the test ones): var/uploads and var/staticfiles are siblings."""
    import subprocess
    import sys

    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.MEDIA_ROOT); print(s.STATIC_ROOT); print(s.STORAGES['default']['OPTIONS']['location'])"
    )
    env = {"DJANGO_SETTINGS_MODULE": "mobility.settings", "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    media, static, storage = (Path(line) for line in out.stdout.split())
    assert media == storage and media.parent == static.parent and media != static


def test_a_renamed_program_sent_to_the_api_is_refused_with_the_reason(client, data_manager):
    """The upload handlers stop reading the body, so every field looks missing to the API: it must
    still answer why (400, the content message), not a 422 "Field required"."""
    from mobility.core.services import api_token_create

    _, key = api_token_create(user=data_manager, name="test")
    before = kept_files()
    response = client.post(
        "/api/v1/imports",
        {"file": SimpleUploadedFile("payroll.csv", PROGRAM), "kind": "gazetteer.cod", "country": "MOZ"},
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )
    assert response.status_code == 400
    assert response.json()["detail"] == FILE_CONTENT_MISMATCH.format(
        name="payroll.csv", expected="a CSV text file", found="a Windows program"
    )
    assert not ImportJob.objects.exists() and kept_files() == before
    # A request that is merely incomplete keeps ninja's 422 naming the field.
    response = client.post("/api/v1/imports", {"kind": "gazetteer.cod"}, HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == 422 and "file" in str(response.json()["detail"])

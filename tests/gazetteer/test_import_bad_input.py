"""A bad p-code or boundary file gives a clear error naming row and column, and stores nothing."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings

import mobility.gazetteer.importers  # noqa: F401
from mobility.core.imports import job_create, run
from mobility.core.models import ImportJob
from mobility.core.tables import FILE_EMPTY, FILE_ENCODING_UNKNOWN, FILE_TOO_LARGE
from mobility.gazetteer.importers.cod import (
    COD_KIND,
    CODE_DUPLICATE,
    CODE_NOT_UNDER_PARENT,
    CODE_WRONG_LENGTH,
    GLOBAL_KIND,
    NAME_EMPTY,
    PARENT_MISSING,
    PARENT_UNKNOWN,
    TABLE_NO_ROWS,
)
from mobility.gazetteer.importers.geojson import (
    FEATURE_UNMATCHED,
    GEOJSON_INVALID,
    GEOJSON_KIND,
    GEOJSON_TOO_DEEP,
    GEOMETRY_INVALID,
    GEOMETRY_NOT_POLYGON,
)
from mobility.gazetteer.models import AdminArea, GazetteerVersion
from tests.conftest import DEMO_DATA

pytestmark = pytest.mark.django_db

HEADER = "ADM0_EN,ADM0_PCODE,ADM1_EN,ADM1_PCODE,ADM2_EN,ADM2_PCODE\n"
GOOD = "Pakistan,PK,Azad Kashmir,PK1,Bagh,PK101\nPakistan,PK,Azad Kashmir,PK1,Bhimber,PK102\n"


def import_text(tmp_path, text, kind=COD_KIND, name="pcodes.csv", encoding="utf-8", **profile) -> ImportJob:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return run(job_create(kind=kind, source=path, profile=profile))


def errors(job: ImportJob) -> list[tuple]:
    return [(e.row, e.column, e.message) for e in job.row_errors.all()]


def assert_nothing_stored(job: ImportJob) -> None:
    assert job.status == ImportJob.Status.FAILED
    assert GazetteerVersion.objects.count() == 0
    assert AdminArea.objects.count() == 0


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        pytest.param(
            "Pakistan,PK,Azad Kashmir,PK1,Bagh,PK101\nPakistan,PK,Azad Kashmir,PK1,Bhimber,PK101\n",
            (3, "ADM2_PCODE", CODE_DUPLICATE.format(pcode="PK101", fields="names", first_row=2)),
            id="duplicate p-code with different data",
        ),
        pytest.param(
            GOOD + "Pakistan,PK,Azad Kashmir,,Kotli,PK103\n",
            (4, "ADM1_PCODE", PARENT_MISSING.format(level=1, child_level=2, child="PK103")),
            id="missing parent",
        ),
        pytest.param(
            GOOD + "Pakistan,PK,Balochistan,PK2,Awaran,PK301\n",
            (4, "ADM2_PCODE", CODE_NOT_UNDER_PARENT.format(pcode="PK301", parent="PK2")),
            id="code not under its parent",
        ),
        pytest.param(
            GOOD + "Pakistan,PK,Azad Kashmir,PK1,Kotli,PK1031\n",
            (4, "ADM2_PCODE", CODE_WRONG_LENGTH.format(pcode="PK1031", length=6, level=2, expected=5)),
            id="code length of another level",
        ),
        pytest.param(
            GOOD + "Pakistan,PK,Azad Kashmir,PK1,,PK103\n",
            (4, "ADM2_EN", NAME_EMPTY.format(level=2, pcode="PK103")),
            id="empty name",
        ),
    ],
)
def test_bad_rows_are_named_and_nothing_is_stored(tmp_path, rows, expected):
    job = import_text(tmp_path, HEADER + rows)

    assert_nothing_stored(job)
    assert errors(job) == [expected]
    assert job.rejected == 1
    assert job.error.startswith("1 problem(s) in 1 row(s); nothing was stored.")


def test_missing_parent_in_the_global_list(tmp_path):
    text = (
        "\ufeffLocation,Admin Level,P-Code,Name,Parent P-Code,Valid from date\n"
        "#country+code,#geo+admin_level,#adm+code,#adm+name,#adm+code+parent,#date+start\n"
        "AFG,1,AF01,Kabul,AFG,2019-10-22\nAFG,2,AF0101,Kabul,AF01,2019-10-22\nAFG,2,AF0201,Kapisa,AF02,2019-10-22\n"
    )
    job = import_text(tmp_path, text, kind=GLOBAL_KIND)

    assert_nothing_stored(job)
    assert errors(job) == [(5, "Parent P-Code", PARENT_UNKNOWN.format(parent="AF02", pcode="AF0201"))]


def test_text_in_an_unknown_encoding_is_refused(tmp_path):
    # Bytes that are not UTF-8 and that no accepted legacy code page gives sensible letters for.
    noise = b"\x81\x8d\x8f\x90\x9d" * 4
    job = import_text(tmp_path, HEADER.encode() + b"Pakistan,PK," + noise + b",PK1,Bagh,PK101\n")

    assert_nothing_stored(job)
    assert job.error == FILE_ENCODING_UNKNOWN


def test_windows_1252_text_imports_with_its_accents(tmp_path):
    text = "ADM0 PT,ADM0 PCODE,ADM1 PT,ADM1 PCODE\nMoçambique,MZ,Zambézia,MZ04\nMoçambique,MZ,Nampula,MZ07\n"
    job = import_text(tmp_path, text, encoding="cp1252")

    assert job.status == ImportJob.Status.SUCCEEDED, job.error
    assert AdminArea.objects.get(pcode="MZ04").name == "Zambézia"
    assert AdminArea.objects.get(pcode="MZ").name == "Moçambique"


def test_title_rows_above_the_header_are_skipped(tmp_path):
    text = "Pakistan p-codes;;;;;\nSource: OCHA;;;;;\n;;;;;\n" + (HEADER + GOOD).replace(",", ";")
    job = import_text(tmp_path, text)

    assert job.status == ImportJob.Status.SUCCEEDED, job.error
    assert job.rows_read == 2
    assert AdminArea.objects.filter(level=2).count() == 2


def test_empty_files_are_refused(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(ValidationError) as refused:
        job_create(kind=COD_KIND, source=empty)
    assert refused.value.messages == [FILE_EMPTY]

    blank = import_text(tmp_path, "\n\n  \n", name="blank.csv")
    assert_nothing_stored(blank)
    assert blank.error == FILE_EMPTY

    header_only = import_text(tmp_path, HEADER, name="header.csv")
    assert_nothing_stored(header_only)
    assert header_only.error == TABLE_NO_ROWS


@override_settings(MAX_UPLOAD_BYTES=1024)
def test_a_file_over_the_size_limit_is_refused(tmp_path):
    path = tmp_path / "huge.csv"
    path.write_text(HEADER + GOOD * 50, encoding="utf-8")

    with pytest.raises(ValidationError) as refused:
        job_create(kind=COD_KIND, source=path)

    size = path.stat().st_size
    assert refused.value.messages == [FILE_TOO_LARGE.format(size_mb=size / 2**20, limit_mb=1024 / 2**20)]
    assert ImportJob.objects.count() == 0


# --- GeoJSON -------------------------------------------------------------------------------


@pytest.fixture
def pakistan(db):
    job = run(job_create(kind=COD_KIND, source=DEMO_DATA / "pak_adm0-3_pcodes_ocha.csv"))
    assert job.status == ImportJob.Status.SUCCEEDED


def feature_collection(*geometries):
    return json.dumps(
        {
            "type": "FeatureCollection",
            "features": [
                {"type": "Feature", "properties": {"province_code": f"PK{n}"}, "geometry": geometry}
                for n, geometry in enumerate(geometries, start=1)
            ],
        }
    )


SQUARE = {"type": "Polygon", "coordinates": [[[73, 33], [74, 33], [74, 34], [73, 34], [73, 33]]]}
BOW_TIE = {"type": "Polygon", "coordinates": [[[73, 33], [74, 34], [74, 33], [73, 34], [73, 33]]]}


def geometry_unchanged() -> bool:
    return not AdminArea.objects.exclude(geometry="").exists()


def test_self_intersecting_polygon_is_refused(pakistan, tmp_path):
    job = import_text(tmp_path, feature_collection(SQUARE, BOW_TIE), GEOJSON_KIND, "b.geojson")

    assert job.status == ImportJob.Status.FAILED
    [(row, column, message)] = errors(job)
    assert (row, column) == (2, "geometry")
    prefix = GEOMETRY_INVALID.format(index=2, pcode="PK2", reason="")
    assert message.startswith(prefix[:-1]) and "Self-intersection" in message
    assert geometry_unchanged()


def test_a_point_is_not_a_boundary(pakistan, tmp_path):
    point = {"type": "Point", "coordinates": [73.5, 33.5]}
    job = import_text(tmp_path, feature_collection(point), GEOJSON_KIND, "p.geojson")

    assert errors(job) == [(1, "geometry", GEOMETRY_NOT_POLYGON.format(index=1, pcode="PK1", kind="Point"))]
    assert geometry_unchanged()


def test_feature_not_in_the_gazetteer_is_a_row_error(pakistan, tmp_path):
    text = json.dumps(
        {
            "type": "FeatureCollection",
            "features": [
                {"type": "Feature", "properties": {"province_code": code}, "geometry": SQUARE}
                for code in ("PK1", "PK2", "PK9")
            ],
        }
    )
    job = import_text(tmp_path, text, GEOJSON_KIND, "u.geojson")

    message = FEATURE_UNMATCHED.format(index=3, value="PK9", join="p-code", country="PAK")
    assert errors(job) == [(3, "province_code", message)]
    assert geometry_unchanged()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param(
            '{"type": "FeatureCollection", "features": [', GEOJSON_INVALID.split(":")[0], id="invalid JSON"
        ),
        pytest.param("[" * 200_000 + "]" * 200_000, GEOJSON_TOO_DEEP, id="huge nesting"),
    ],
)
def test_unreadable_geojson_is_refused(pakistan, tmp_path, content, expected):
    job = import_text(tmp_path, content, GEOJSON_KIND, "broken.geojson")

    assert job.status == ImportJob.Status.FAILED
    assert job.error.startswith(expected)
    assert geometry_unchanged()

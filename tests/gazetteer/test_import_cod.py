"""An information officer imports a country's OCHA COD p-code table (CSV or XLSX) into the gazetteer."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

import mobility.gazetteer.importers  # noqa: F401  (registers the importers)
from mobility.core.imports import job_create, run
from mobility.core.models import ImportJob
from mobility.gazetteer.importers.cod import COD_KIND, cod_layout
from mobility.gazetteer.models import AdminArea, GazetteerVersion
from tests.conftest import DEMO_DATA

pytestmark = pytest.mark.django_db

MOZ = DEMO_DATA / "moz_adm0-3_pcodes_ocha_2019.csv"
PAK = DEMO_DATA / "pak_adm0-3_pcodes_ocha.csv"


def import_file(path: Path, kind: str = COD_KIND, **profile) -> ImportJob:
    return run(job_create(kind=kind, source=path, profile=profile))


def level_counts(version: GazetteerVersion) -> list[int]:
    return [version.areas.filter(level=level).count() for level in range(4)]


def distinct_codes(path: Path, columns: list[str]) -> list[int]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return [len({row[c] for row in rows}) for c in columns]


def test_mozambique_table_builds_the_admin_tree():
    job = import_file(MOZ)

    assert job.status == ImportJob.Status.SUCCEEDED, job.error
    version = GazetteerVersion.objects.get(country_iso3="MOZ")
    expected = distinct_codes(MOZ, ["ADM0 PCODE", "ADM1 PCODE", "ADM2 PCODE", "ADM3 PCODE"])
    assert expected == [1, 11, 160, 411]
    assert level_counts(version) == expected
    assert (job.rows_read, job.created, job.updated, job.unchanged) == (411, 583, 0, 0)
    assert version.is_current and version.max_level == 3 and version.area_count == 583
    assert version.languages == ["en", "pt"]
    assert version.edition == "moz_adm0-3_pcodes_ocha_2019"
    posto = AdminArea.objects.get(version=version, pcode="MZ010101")
    assert (posto.name, posto.area_type, posto.parent.pcode, posto.parent.parent.pcode) == (
        "Ancuabe Sede",
        "Posto",
        "MZ0101",
        "MZ01",
    )
    country = AdminArea.objects.get(version=version, level=0)
    assert (country.pcode, country.name, country.names) == (
        "MZ",
        "Mozambique",
        {"en": "Mozambique", "pt": "Moçambique"},
    )
    # Accents are kept in the name and folded in the key used to compare and match names.
    canicado = AdminArea.objects.get(version=version, pcode="MZ020801")
    assert (canicado.name, canicado.name_normalized) == ("Caniçado", "canicado")


def test_pakistan_table_with_underscore_headers_and_areas():
    job = import_file(PAK)

    assert job.status == ImportJob.Status.SUCCEEDED, job.error
    version = GazetteerVersion.objects.get(country_iso3="PAK")
    assert level_counts(version) == distinct_codes(
        PAK, ["ADM0_PCODE", "ADM1_PCODE", "ADM2_PCODE", "ADM3_PCODE"]
    )
    assert level_counts(version) == [1, 7, 160, 577]
    tehsil = AdminArea.objects.get(version=version, pcode="PK10101")
    assert tehsil.area_km2 == pytest.approx(271.379)
    assert tehsil.names == {"en": "Bagh"}
    # area_km2 belongs to the row's lowest level only.
    assert AdminArea.objects.get(version=version, pcode="PK101").area_km2 is None


def test_reimporting_the_same_table_changes_nothing(tmp_path):
    first = import_file(PAK)
    # Different bytes (another name, CRLF line ends), same content.
    copy = tmp_path / "pakistan-again.csv"
    copy.write_bytes(PAK.read_bytes().replace(b"\n", b"\r\n"))
    again = import_file(copy)

    assert again.status == ImportJob.Status.SUCCEEDED, again.error
    assert (again.created, again.updated, again.unchanged) == (0, 0, first.created)
    assert GazetteerVersion.objects.filter(country_iso3="PAK").count() == 1
    assert again.summary["new_version"] is False
    assert AdminArea.objects.count() == 745


def test_country_is_read_from_the_admin0_pcode_or_given(tmp_path):
    table = tmp_path / "moz.csv"
    table.write_text("ADM1_PT,ADM1_PCODE,ADM2_PT,ADM2_PCODE\nNiassa,MZ03,Lichinga,MZ0301\n", encoding="utf-8")

    job = import_file(table, country="MOZ", edition="COD 2019", valid_from="2019-06-07", source="OCHA ROSEA")

    assert job.status == ImportJob.Status.SUCCEEDED, job.error
    version = GazetteerVersion.objects.get(country_iso3="MOZ")
    assert (version.edition, str(version.valid_from), version.source) == (
        "COD 2019",
        "2019-06-07",
        "OCHA ROSEA",
    )
    root = AdminArea.objects.get(version=version, level=0)
    assert (root.pcode, root.name) == ("MZ", "Mozambique")
    assert AdminArea.objects.get(version=version, pcode="MZ03").parent == root


def test_xlsx_with_title_rows_above_the_header(tmp_path):
    from openpyxl import Workbook

    with PAK.open(encoding="utf-8") as fh:
        rows = list(csv.reader(fh))[:21]
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Pakistan administrative p-codes (OCHA COD)"])
    sheet.append([])
    for row in rows:
        sheet.append([float(c) if c.replace(".", "").isdigit() and "." in c else c for c in row])
    path = tmp_path / "pak.xlsx"
    workbook.save(path)

    job = import_file(path)

    assert job.status == ImportJob.Status.SUCCEEDED, job.error
    assert job.rows_read == 20
    assert AdminArea.objects.get(pcode="PK10101").area_km2 == pytest.approx(271.379)


@pytest.mark.parametrize(
    ("columns", "levels", "languages"),
    [
        (["ADM0 EN", "ADM0 PT", "ADM0 PCODE", "ADM1 PT", "ADM1 PCODE", "ADM1 TYPE"], [0, 1], ["en", "pt"]),
        (["ADM0_FR", "ADM0_PCODE", "ADM1_FR", "ADM1_AR", "ADM1_PCODE"], [0, 1], ["fr", "ar"]),
        (["adm0_es", "adm0_pcode", "adm1_ref", "adm1_es", "adm1_pcode", "ADM1ALT1EN"], [0, 1], ["es", "ref"]),
    ],
)
def test_header_styles_are_recognised(columns, levels, languages):
    layout = cod_layout(columns)
    assert sorted(layout.code) == levels
    assert layout.languages == languages

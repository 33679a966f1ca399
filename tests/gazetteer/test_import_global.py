"""The OCHA global p-code list gives admin1/admin2 for any country that has no COD table imported."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

import mobility.gazetteer.importers  # noqa: F401
from mobility.core.imports import job_create, run
from mobility.core.models import ImportJob
from mobility.gazetteer.importers.cod import COD_KIND, GLOBAL_KIND
from mobility.gazetteer.models import AdminArea, GazetteerVersion
from tests.conftest import DEMO_DATA, shared

pytestmark = pytest.mark.django_db


def some_countries(tmp_path: Path, countries: set[str]) -> Path:
    """The real global list cut down to a few countries, keeping its BOM, header and HXL row."""
    source = shared("pcodes/download-global-pcodes-adm-1-2.csv")
    with source.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    path = tmp_path / "global-pcodes.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerows(rows[:2])
        writer.writerows(r for r in rows[2:] if r[0] in countries)
    return path


def expected_counts(path: Path, country: str) -> tuple[int, int]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = [r for r in csv.reader(fh) if r[0] == country]
    return sum(r[1] == "1" for r in rows), sum(r[1] == "2" for r in rows)


def test_global_list_makes_one_version_per_country(tmp_path):
    path = some_countries(tmp_path, {"AFG", "SOM", "TJK"})
    job = run(job_create(kind=GLOBAL_KIND, source=path))

    assert job.status == ImportJob.Status.SUCCEEDED, job.error
    assert sorted(v["country"] for v in job.summary["versions"]) == ["AFG", "SOM", "TJK"]
    for country in ("AFG", "SOM", "TJK"):
        version = GazetteerVersion.objects.get(country_iso3=country)
        assert version.source_format == GazetteerVersion.Format.GLOBAL_PCODES
        admin1, admin2 = expected_counts(path, country)
        assert [version.areas.filter(level=n).count() for n in range(3)] == [1, admin1, admin2]
    afg = GazetteerVersion.objects.get(country_iso3="AFG")
    assert str(afg.valid_from) == "2019-10-22"
    root = AdminArea.objects.get(version=afg, level=0)
    assert (root.pcode, root.name) == ("AF", "Afghanistan")
    assert AdminArea.objects.get(version=afg, pcode="AF01").parent == root
    # Tajikistan's national codes do not start with an ISO2 prefix: admin0 takes the ISO3.
    assert AdminArea.objects.get(country_iso3="TJK", level=0).pcode == "TJK"
    assert any(w.startswith("TJK: 76 p-code(s) do not start") for w in job.summary["warnings"])


def test_country_with_a_cod_table_is_skipped_unless_named(tmp_path):
    run(job_create(kind=COD_KIND, source=DEMO_DATA / "pak_adm0-3_pcodes_ocha.csv"))
    path = some_countries(tmp_path, {"PAK", "AFG"})

    job = run(job_create(kind=GLOBAL_KIND, source=path))
    assert job.status == ImportJob.Status.SUCCEEDED, job.error
    assert job.summary["skipped_countries"] == ["PAK"]
    assert GazetteerVersion.objects.get(country_iso3="PAK", is_current=True).source_format == "cod"

    named = run(job_create(kind=GLOBAL_KIND, source=path, profile={"country": "PAK"}))
    assert named.status == ImportJob.Status.SUCCEEDED, named.error
    current = GazetteerVersion.objects.get(country_iso3="PAK", is_current=True)
    assert current.source_format == "global-pcodes"
    assert GazetteerVersion.objects.filter(country_iso3="PAK").count() == 2
    assert GazetteerVersion.objects.filter(country_iso3="AFG").count() == 1  # only the named country


def test_whole_global_list_imports_in_seconds():
    import time

    path = shared("pcodes/download-global-pcodes-adm-1-2.csv")
    started = time.monotonic()
    job = run(job_create(kind=GLOBAL_KIND, source=path))
    elapsed = time.monotonic() - started

    assert job.status == ImportJob.Status.SUCCEEDED, job.error
    assert job.rows_read == 33363
    assert GazetteerVersion.objects.count() == 156
    assert AdminArea.objects.filter(level__gt=0).count() == 33363
    assert elapsed < 30

"""Boundaries (GeoJSON) are attached to the areas of the current gazetteer version."""

from __future__ import annotations

import json

import pytest
from shapely.geometry import shape

import mobility.gazetteer.importers  # noqa: F401
from mobility.core.imports import job_create, run
from mobility.core.models import ImportJob
from mobility.gazetteer.importers.cod import COD_KIND
from mobility.gazetteer.importers.geojson import GEOJSON_KIND
from mobility.gazetteer.models import AdminArea
from tests.conftest import DEMO_DATA

pytestmark = pytest.mark.django_db


def import_file(path, kind=GEOJSON_KIND, **profile) -> ImportJob:
    job = run(job_create(kind=kind, source=path, profile=profile))
    return job


@pytest.fixture
def pakistan(db):
    job = import_file(DEMO_DATA / "pak_adm0-3_pcodes_ocha.csv", COD_KIND)
    assert job.status == ImportJob.Status.SUCCEEDED, job.error


@pytest.fixture
def mozambique(db):
    job = import_file(DEMO_DATA / "moz_adm0-3_pcodes_ocha_2019.csv", COD_KIND)
    assert job.status == ImportJob.Status.SUCCEEDED, job.error


def test_pakistan_tehsils_join_by_pcode(pakistan):
    job = import_file(DEMO_DATA / "pak_tehsils_simplified.geojson")

    assert job.status == ImportJob.Status.SUCCEEDED, job.error
    assert (job.rows_read, job.updated) == (577, 577)
    assert job.summary["join"] == "p-code in property 'tehsil_code'"
    assert job.summary["level"] == 3
    tehsils = AdminArea.objects.filter(level=3)
    assert tehsils.exclude(geometry="").count() == 577
    bagh = tehsils.get(pcode="PK10101")
    geometry = json.loads(bagh.geometry)
    assert geometry["type"] == "MultiPolygon"
    assert shape(geometry).is_valid
    # Five decimals, and a bounding box that holds the shape.
    assert all(len(str(x).split(".")[-1]) <= 5 for x in geometry["coordinates"][0][0][0])
    min_lon, min_lat, max_lon, max_lat = bagh.bbox
    assert 73 < min_lon < max_lon < 75 and 33 < min_lat < max_lat < 35

    again = import_file(DEMO_DATA / "pak_tehsils_simplified.geojson")
    assert (again.updated, again.unchanged) == (0, 577)


def test_mozambique_districts_join_by_name_and_dissolve_up(mozambique):
    job = import_file(DEMO_DATA / "moz_adm2_geoboundaries_simplified.geojson", dissolve_up=True)

    assert job.status == ImportJob.Status.SUCCEEDED, job.error
    assert job.summary["join"] == "name in property 'shapeName'"
    assert job.summary["level"] == 2
    assert AdminArea.objects.filter(level=2).exclude(geometry="").count() == 159
    # "Cidade De Pemba" is the city, not Pemba district (which the file lacks).
    assert AdminArea.objects.get(pcode="MZ0104").geometry
    assert not AdminArea.objects.get(pcode="MZ0117").geometry
    provinces = AdminArea.objects.filter(level=1)
    assert provinces.exclude(geometry="").count() == 11
    assert AdminArea.objects.get(level=0).geometry
    assert job.summary["dissolved"] == 12
    assert job.summary["dissolved_partial"] == ["MZ01"]
    niassa = provinces.get(pcode="MZ03")
    assert shape(json.loads(niassa.geometry)).geom_type in ("Polygon", "MultiPolygon")
    assert niassa.min_lon < niassa.max_lon


def test_features_not_in_the_gazetteer_can_be_skipped(pakistan, tmp_path):
    data = json.loads((DEMO_DATA / "pak_districts_simplified.geojson").read_text())
    data["features"][0]["properties"]["district_code"] = "PK999"
    path = tmp_path / "districts.geojson"
    path.write_text(json.dumps(data))

    refused = import_file(path)
    assert refused.status == ImportJob.Status.FAILED
    assert [(e.row, e.column, e.value) for e in refused.row_errors.all()] == [(1, "district_code", "PK999")]

    job = import_file(path, skip_unmatched=True)
    assert job.status == ImportJob.Status.SUCCEEDED, job.error
    assert (job.updated, job.summary["unmatched_skipped"]) == (159, 1)

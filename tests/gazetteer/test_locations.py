"""An information officer registers sites and points of entry; their coordinates place them in p-codes."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command

from mobility.core.imports import job_create, run
from mobility.gazetteer.geo import AreaLocator
from mobility.gazetteer.importers.locations import (
    ROW_BAD_TYPE,
    ROW_DUPLICATE_CODE,
    ROW_LAT_RANGE,
    ROW_NAME_NOT_MATCHED,
    ROW_REQUIRED,
)
from mobility.gazetteer.models import Location, MatchReview
from mobility.gazetteer.services.locations import (
    LOCATION_PCODE_UNKNOWN,
    MISMATCH_OUTSIDE,
    MISMATCH_STATED,
    location_upsert,
)

from .gazetteer_fixtures import moz_gazetteer_fixture, pak_gazetteer_fixture  # noqa: F401

# Representative points inside real tehsils (from pak_tehsils_simplified.geojson).
BAGH = (73.8599, 33.9851)  # PK10101, Bagh district PK101
MUZAFFARABAD = (73.6097, 34.2671)  # PK10701, Muzaffarabad district PK107
SAHIWAL_SARGODHA = (72.3936, 31.8973)  # PK63203


def test_a_point_is_placed_in_its_tehsil_district_and_province(pak_gazetteer):
    locator = AreaLocator("PAK")
    assert locator.locate(*BAGH) == {"admin1_code": "PK1", "admin2_code": "PK101", "admin3_code": "PK10101"}
    many = locator.locate_many([BAGH[0], SAHIWAL_SARGODHA[0], 0.0], [BAGH[1], SAHIWAL_SARGODHA[1], 0.0])
    assert [m["admin3_code"] for m in many] == ["PK10101", "PK63203", ""]


def test_a_site_with_coordinates_gets_its_pcodes(pak_gazetteer, data_manager):
    site, created = location_upsert(
        code="PAK-SITE-001",
        type="site",
        name="Bagh camp",
        country_iso3="PAK",
        longitude=BAGH[0],
        latitude=BAGH[1],
        stated_admin2_code="PK101",
        by=data_manager,
    )
    assert created
    assert (site.admin1_code, site.admin2_code, site.admin3_code) == ("PK1", "PK101", "PK10101")
    assert not site.pcode_mismatch


def test_a_stated_pcode_that_disagrees_with_the_coordinates_is_flagged(pak_gazetteer):
    site, _ = location_upsert(
        code="PAK-SITE-002",
        type="site",
        name="Camp",
        country_iso3="PAK",
        longitude=MUZAFFARABAD[0],
        latitude=MUZAFFARABAD[1],
        stated_admin2_code="PK101",
    )
    assert site.pcode_mismatch
    assert site.admin2_code == "PK107"  # the coordinates win
    assert site.mismatch_detail == MISMATCH_STATED.format(
        level=2, stated="PK101", stated_name="Bagh", found="PK107", found_name="Muzaffarabad"
    )
    assert site.mismatch_detail == "stated admin2 PK101 (Bagh) but coordinates fall in PK107 (Muzaffarabad)"


def test_coordinates_outside_the_country_are_flagged(pak_gazetteer):
    site, _ = location_upsert(
        code="X1", type="village", name="Somewhere", country_iso3="PAK", latitude=0.0, longitude=0.0
    )
    assert site.pcode_mismatch
    assert site.mismatch_detail == MISMATCH_OUTSIDE.format(lat=0.0, lon=0.0, country="PAK")


def test_without_coordinates_the_stated_pcodes_are_used(moz_gazetteer):
    village, _ = location_upsert(
        code="MOZ-V-1", type="village", name="Nacuta", country_iso3="MOZ", stated_admin3_code="MZ010101"
    )
    assert (village.admin1_code, village.admin2_code, village.admin3_code) == ("MZ01", "MZ0101", "MZ010101")
    assert not village.pcode_mismatch


def test_an_unknown_stated_pcode_is_refused(moz_gazetteer):
    with pytest.raises(ValidationError) as exc:
        location_upsert(
            code="MOZ-V-2", type="village", name="Nacuta", country_iso3="MOZ", stated_admin2_code="MZ9999"
        )
    assert exc.value.messages == [LOCATION_PCODE_UNKNOWN.format(level=2, pcode="MZ9999", country="MOZ")]


def test_upserting_twice_keeps_one_location(pak_gazetteer):
    kwargs = dict(code="POE-TORKHAM", type="point_of_entry", name="Torkham", country_iso3="PAK")
    first, created = location_upsert(**kwargs)
    again, created_again = location_upsert(**{**kwargs, "name": "Torkham border"})
    assert created and not created_again
    assert first.pk == again.pk
    assert Location.objects.get().name == "Torkham border"


def _write(tmp_path: Path, text: str, name: str = "sites.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_importing_a_locations_file_twice(pak_gazetteer, data_manager, tmp_path):
    path = _write(
        tmp_path,
        "code,type,name,latitude,longitude,admin2_code,admin3_name\n"
        f"S1,IDP site,Bagh camp,{BAGH[1]},{BAGH[0]},PK101,\n"
        f"S2,site,Wrong district camp,{MUZAFFARABAD[1]},{MUZAFFARABAD[0]},PK101,\n"
        "P1,Point of entry,Torkham,,,PK101,Bagh\n",
    )
    for round_ in range(2):
        job = run(
            job_create(kind="gazetteer.locations", source=path, profile={"country": "PAK"}, by=data_manager)
        )
        assert job.status == "succeeded", job.error
        assert (job.created, job.unchanged) == ((3, 0) if round_ == 0 else (0, 3))
    assert job.summary["pcode_mismatch"] == 1
    assert Location.objects.get(code="P1").admin3_code == "PK10101"  # matched by name under PK101
    assert Location.objects.get(code="S2").pcode_mismatch


def test_a_bad_locations_file_stores_nothing_and_names_every_problem(pak_gazetteer, tmp_path):
    path = _write(
        tmp_path,
        "code,type,name,latitude,longitude,admin2_name\n"
        "S1,site,Camp A,95,73.8,\n"
        ",site,Camp B,,,\n"
        "S1,tent,Camp C,,,\n"
        "S4,site,Camp D,,,Xyzzy\n",
    )
    job = run(job_create(kind="gazetteer.locations", source=path, profile={"country": "PAK"}))
    assert job.status == "failed"
    errors = {(e.row, e.column): e.message for e in job.row_errors.all()}
    assert errors[(2, "latitude")] == ROW_LAT_RANGE
    assert errors[(3, "code")] == ROW_REQUIRED
    assert errors[(4, "code")] == ROW_DUPLICATE_CODE.format(first=2)
    assert errors[(4, "type")].startswith(ROW_BAD_TYPE.split(";")[0])
    assert errors[(5, "admin2_name")] == ROW_NAME_NOT_MATCHED.format(level=2, status="unmatched")
    assert not Location.objects.exists()
    assert MatchReview.objects.filter(normalized="xyzy").exists()


def test_the_check_command_lists_mismatches(pak_gazetteer, capsys):
    location_upsert(
        code="S2",
        type="site",
        name="Camp",
        country_iso3="PAK",
        longitude=MUZAFFARABAD[0],
        latitude=MUZAFFARABAD[1],
        stated_admin2_code="PK101",
    )
    call_command("gazetteer", "locations", "check", "--country", "PAK")
    out = capsys.readouterr().out
    assert "S2" in out and "PK107 (Muzaffarabad)" in out


def test_the_match_command_writes_pcodes_and_a_summary(pak_gazetteer, tmp_path, capsys):
    source = _write(
        tmp_path, "District,Tehsil,idps\nSargodha,Sahiwal,10\n,Sahiwal,5\nBagh,Baag,3\n,Xyzzy,1\n", "idps.csv"
    )
    out_path = tmp_path / "out.csv"
    call_command(
        "gazetteer",
        "match",
        str(source),
        "--country",
        "PAK",
        "--level",
        "3",
        "--name-column",
        "Tehsil",
        "--parent-column",
        "District",
        "-o",
        str(out_path),
        verbosity=0,
    )
    lines = out_path.read_text(encoding="utf-8").splitlines()
    assert (
        lines[0]
        == "District,Tehsil,idps,admin1_code,admin2_code,admin3_code,match_status,match_score,matched_name"
    )
    assert lines[1] == "Sargodha,Sahiwal,10,PK6,PK632,PK63203,exact,100.0,Sahiwal"
    assert lines[2].startswith(",Sahiwal,5,,,,ambiguous")
    assert lines[3].startswith("Bagh,Baag,3,PK1,PK101,PK10101,")
    assert lines[4].startswith(",Xyzzy,1,,,,unmatched")
    summary = capsys.readouterr().out
    assert "ambiguous" in summary and "unmatched" in summary
    assert MatchReview.objects.count() == 2

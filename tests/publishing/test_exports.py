"""Exports of a release: CSV (HXL row), XLSX with README, GeoJSON, HDX zip; no formula, no suppressed value."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile

import pytest
from openpyxl import load_workbook

from mobility.publishing import exports, services
from mobility.publishing.models import PublishedCell

from .conftest import new_round, write_round

pytestmark = pytest.mark.django_db

# Distinctive values that must never appear in an export: below the threshold of 1,000 (primary) or
# suppressed to protect them (secondary: the smallest partner in the same groups).
SECRET_PARTS = [
    (["MZ01", "MZ0101"], "conflict", "MZ01", 871_345, 400_000, 471_345, "a"),
    (["MZ01", "MZ0101"], "eviction", "MZ01", 917, 411, 506, "b"),  # primary: 917 < 1000
    (["MZ01", "MZ0101"], "economic", "MZ07", 52_631, 26_000, 26_631, "c"),  # secondary partner
]
SECRETS = [b"917", b"52631", b"52,631"]


@pytest.fixture
def secret_release(operation, moz_gazetteer):
    round_ = write_round(new_round(operation), parts=SECRET_PARTS)
    return services.release_publish(round=round_, threshold=1000)


def test_suppressed_values_never_appear_in_any_export(secret_release):
    hidden = PublishedCell.objects.filter(release=secret_release, breakdown="reason", suppressed=True)
    assert {c.displacement_reason for c in hidden} >= {"eviction", "economic"}
    for fmt in ("csv", "xlsx", "geojson", "zip"):
        blobs = [exports.export_bytes(secret_release, fmt, hxl=True)]
        if fmt == "zip":
            with zipfile.ZipFile(io.BytesIO(blobs[0])) as zf:
                blobs = [zf.read(name) for name in zf.namelist()]
        for blob in blobs:
            if blob[:2] == b"PK":  # the xlsx inside: read its XML parts
                with zipfile.ZipFile(io.BytesIO(blob)) as inner:
                    blob = b"".join(inner.read(n) for n in inner.namelist())
            for secret in SECRETS:
                # A whole number, not digits inside a timestamp or a zip header.
                pattern = rb"(?<![0-9])" + re.escape(secret) + rb"(?![0-9])"
                assert not re.search(pattern, blob), f"{secret!r} leaked in the {fmt} export"


def test_csv_has_hapi_columns_an_optional_hxl_row_and_a_suppressed_flag(secret_release):
    plain = list(csv.reader(io.StringIO(exports.csv_bytes(secret_release).decode())))
    tagged = list(csv.reader(io.StringIO(exports.csv_bytes(secret_release, hxl=True).decode())))
    assert plain[0] == exports.HEADERS and tagged[1] == exports.HXL_TAGS
    assert plain[1][0] != "#country+code" and len(tagged) == len(plain) + 1
    for name in (
        "location_code",
        "admin1_code",
        "admin2_name",
        "population",
        "reporting_round",
        "suppressed",
    ):
        assert name in plain[0]
    rows = [dict(zip(plain[0], r, strict=True)) for r in plain[1:]]
    eviction = next(r for r in rows if r["displacement_reason"] == "eviction")
    assert (eviction["population"], eviction["males"], eviction["suppressed"]) == ("", "", "1")
    country = next(r for r in rows if r["admin_level"] == "0" and r["breakdown"] == "total")
    assert (country["location_code"], country["location_name"], country["population"]) == (
        "MOZ",
        "Mozambique",
        "924893",
    )


@pytest.mark.parametrize("text", ['=HYPERLINK("http://x")', "+1+1", "-2", "@SUM(A1)", "\tx", "\rx"])
def test_formula_like_text_is_neutralised(text, operation, moz_gazetteer):
    round_ = write_round(
        new_round(operation), parts=[(["MZ01", "MZ0101"], "conflict", "MZ01", 500, 250, 250, "a")]
    )
    release = services.release_publish(round=round_)
    PublishedCell.objects.filter(release=release).update(provider_admin1_name=text)
    rows = list(csv.reader(io.StringIO(exports.csv_bytes(release).decode(), newline="")))
    column = rows[0].index("provider_admin1_name")
    assert {r[column] for r in rows[1:]} == {"'" + text}
    wb = load_workbook(io.BytesIO(exports.xlsx_bytes(release)), read_only=True)
    data = list(wb["Data"].iter_rows(values_only=True))
    assert {r[column][0] for r in data[1:]} == {"'"}  # (XML turns a CR into LF; the quote is what counts)
    assert exports.neutralise("Cabo Delgado") == "Cabo Delgado" and exports.neutralise(5) == 5


def test_xlsx_has_a_readme_sheet(secret_release):
    wb = load_workbook(io.BytesIO(exports.xlsx_bytes(secret_release)), read_only=True)
    assert wb.sheetnames == ["README", "Data"]
    readme = {row[0]: row[1] for row in wb["README"].iter_rows(values_only=True)}
    for label in ("Title", "Reference period", "Methodology", "Caveats", "Licence", "Disclosure control"):
        assert readme[label], label
    assert "fewer than 1000 people" in readme["Disclosure control"]


def test_geojson_has_area_figures(operation, pak_gazetteer):
    from mobility.gazetteer.models import AdminArea

    tehsil = AdminArea.objects.filter(version=pak_gazetteer, level=3).exclude(geometry="").first()
    path = [tehsil.parent.parent.pcode, tehsil.parent.pcode, tehsil.pcode]
    operation.country_iso3 = "PAK"
    operation.save()
    round_ = new_round(operation)
    from mobility.tracking.records import RecordBuilder

    from .conftest import record

    builder = RecordBuilder()
    rec = builder.record(record(round_, path))
    rec.country_iso3 = "PAK"
    builder.add_figure(rec, population_group="IDP", individuals=1234)
    from mobility.tracking.services import assessments_write

    assessments_write(records=builder.results())
    release = services.release_publish(round=round_)
    data = json.loads(exports.geojson_bytes(release))
    feature = next(f for f in data["features"] if f["properties"]["pcode"] == tehsil.pcode)
    assert feature["properties"]["population"] == 1234 and feature["geometry"]["type"] in (
        "Polygon",
        "MultiPolygon",
    )
    assert {f["properties"]["admin_level"] for f in data["features"]} == {0, 1, 2, 3}


def test_the_hdx_package_holds_the_data_and_metadata(secret_release):
    with zipfile.ZipFile(io.BytesIO(exports.hdx_package(secret_release))) as zf:
        names = set(zf.namelist())
        meta = json.loads(zf.read("metadata.json"))
    stem = f"{secret_release.operation.slug}-round-1-v1"
    assert names == {f"{stem}.csv", f"{stem}.xlsx", f"{stem}.geojson", "metadata.json"}
    for key in (
        "title",
        "dataset_date",
        "methodology",
        "caveats",
        "license",
        "source",
        "suppression_note",
        "files",
    ):
        assert meta[key], key
    assert meta["dataset_date"] == {"start": "2026-01-01", "end": "2026-01-31"}
    assert meta["disclosure"]["threshold"] == 1000 and meta["disclosure"]["suppressed_total"] >= 2

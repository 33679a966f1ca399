"""Exports of a release: HDX-style CSV (optional HXL row), XLSX with a README sheet, GeoJSON, HDX package.

Every export reads the release's PublishedCell rows only, so a suppressed value can never leak: a
suppressed cell is written with empty numbers and ``suppressed`` = 1. Text that a spreadsheet
would run as a formula (starting with = + - @, tab or carriage return) gets a leading quote.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile

import shapely
from openpyxl import Workbook

from mobility.core.tables import neutralise  # noqa: F401 - re-exported: the one rule for every export
from mobility.gazetteer.models import AdminArea

from .models import PublishedCell, Release

LICENCE = "Creative Commons Attribution for Intergovernmental Organisations (CC BY-IGO)"
METHODOLOGY = (
    "Mobility tracking in the DTM style: baseline area and sub-area assessments with key informants, "
    "and site assessments, collected per round. Each figure is one place, round and population group; "
    "figures that a source splits by displacement reason and origin are summed once and the parts kept "
    "as breakdowns. Admin-area figures are the area's own reported figure where there is one, "
    "otherwise the sum of the areas inside it."
)
CAVEATS = (
    "Key-informant estimates, not a census. Areas not assessed in a round are absent, not zero. "
    "Small breakdown cells are suppressed by disclosure control (see suppression_note)."
)
SUPPRESSION_NOTE = (
    "Breakdown cells (sex, sex/age band, reason and origin part, site-level figure) with fewer than "
    "{threshold} people are suppressed, and further cells are suppressed so that no suppressed value "
    "can be recovered from published totals. Suppressed cells are exported with empty numbers and "
    "suppressed = 1. {summary}."
)

# (column, HXL hashtag, how to read it from a PublishedCell)
COLUMNS: list[tuple[str, str, object]] = [
    ("location_code", "#country+code", lambda c: c.country_iso3),
    ("location_name", "#country+name", lambda c: c.location_name),
    ("admin1_code", "#adm1+code", lambda c: c.admin1_code),
    ("admin1_name", "#adm1+name", lambda c: c.admin1_name),
    ("admin2_code", "#adm2+code", lambda c: c.admin2_code),
    ("admin2_name", "#adm2+name", lambda c: c.admin2_name),
    ("admin3_code", "#adm3+code", lambda c: c.admin3_code),
    ("admin3_name", "#adm3+name", lambda c: c.admin3_name),
    ("provider_admin1_name", "#adm1+name+provider", lambda c: c.provider_admin1_name),
    ("provider_admin2_name", "#adm2+name+provider", lambda c: c.provider_admin2_name),
    ("admin_level", "#adm+level", lambda c: c.admin_level),
    ("site_code", "#loc+code", lambda c: c.location_code),
    ("operation", "#operation+name", lambda c: c.release.operation.name),
    ("reporting_round", "#round+code", lambda c: c.release.reporting_round),
    ("assessment_type", "#assessment+type", lambda c: c.assessment_type),
    ("population_group", "#population+group", lambda c: c.population_group),
    ("breakdown", "#indicator+breakdown", lambda c: c.breakdown or "total"),
    ("band", "#indicator+band", lambda c: c.band),
    ("displacement_reason", "#cause+code", lambda c: c.displacement_reason),
    ("provider_displacement_reason", "#cause+name+provider", lambda c: c.provider_reason),
    ("origin_admin1_code", "#adm1+code+origin", lambda c: c.origin_admin1_code),
    ("origin_admin1_name", "#adm1+name+origin", lambda c: c.origin_admin1_name),
    ("population", "#affected+ind", lambda c: c.individuals),
    ("households", "#affected+hh", lambda c: c.households),
    ("males", "#affected+m", lambda c: c.males),
    ("females", "#affected+f", lambda c: c.females),
    ("suppressed", "#meta+suppressed", lambda c: 1 if c.suppressed else 0),
    ("reporting_date", "#date+reported", lambda c: c.reporting_date.isoformat()),
    ("reference_period_start", "#date+start", lambda c: c.reference_period_start.isoformat()),
    ("reference_period_end", "#date+end", lambda c: c.reference_period_end.isoformat()),
]
HEADERS = [name for name, _, _ in COLUMNS]
HXL_TAGS = [tag for _, tag, _ in COLUMNS]


def export_name(release: Release, ext: str) -> str:
    return f"{release.operation.slug}-round-{release.reporting_round}-v{release.version}.{ext}"


def _cells(release: Release):
    return (
        PublishedCell.objects.filter(release=release)
        .select_related("release__operation")
        .order_by(
            "assessment_type",
            "population_group",
            "breakdown",
            "admin_level",
            "admin1_code",
            "admin2_code",
            "admin3_code",
            "location_code",
            "band",
            "id",
        )
        .iterator(chunk_size=2000)
    )


def rows(release: Release):
    """Export rows (lists in COLUMNS order), neutralised, suppressed numbers empty."""
    for cell in _cells(release):
        yield [neutralise(read(cell)) for _, _, read in COLUMNS]


def csv_bytes(release: Release, *, hxl: bool = False) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")  # RFC 4180: a lone CR gets quoted too
    writer.writerow(HEADERS)
    if hxl:
        writer.writerow(HXL_TAGS)
    for row in rows(release):
        writer.writerow(["" if v is None else v for v in row])
    return buffer.getvalue().encode("utf-8")


def metadata(release: Release) -> dict:
    """HDX-ready dataset metadata of a release."""
    report = release.disclosure_report or {}
    by = report.get("by_reason", {})
    summary = (
        f"{report.get('suppressed_total', 0)} of {report.get('cells_checked', 0)} cells suppressed "
        f"({by.get('primary', 0)} primary, {by.get('rollup', 0)} rolled up, {by.get('secondary', 0)} secondary)"
    )
    round_ = release.round
    return {
        "title": f"{release.operation.name}: displacement figures, round {release.reporting_round}",
        "operation": release.operation.name,
        "location_code": release.operation.country_iso3,
        "reporting_round": release.reporting_round,
        "version": release.version,
        "change_note": release.change_note,
        "dataset_date": {"start": round_.start_date.isoformat(), "end": round_.end_date.isoformat()},
        "published_at": release.published_at.isoformat() if release.published_at else None,
        "methodology": METHODOLOGY,
        "caveats": CAVEATS,
        "license": LICENCE,
        "source": release.source_note or "Mobility (mobility tracking rounds)",
        "suppression_note": SUPPRESSION_NOTE.format(threshold=release.threshold, summary=summary),
        "disclosure": {
            "threshold": release.threshold,
            "suppressed_total": report.get("suppressed_total", 0),
            "by_reason": by,
        },
        "columns": HEADERS,
    }


def xlsx_bytes(release: Release) -> bytes:
    """A workbook with a README sheet (what, when, how, caveats, licence, disclosure) and the data."""
    meta = metadata(release)
    wb = Workbook(write_only=True)
    readme = wb.create_sheet("README")
    for label, value in (
        ("Title", meta["title"]),
        ("Operation", meta["operation"]),
        ("Reporting round", meta["reporting_round"]),
        ("Release version", meta["version"]),
        ("Change note", meta["change_note"]),
        ("Reference period", f"{meta['dataset_date']['start']} to {meta['dataset_date']['end']}"),
        ("Published", meta["published_at"] or ""),
        ("Source", meta["source"]),
        ("Methodology", meta["methodology"]),
        ("Caveats", meta["caveats"]),
        ("Licence", meta["license"]),
        ("Disclosure control", meta["suppression_note"]),
    ):
        readme.append([label, neutralise(value)])
    data = wb.create_sheet("Data")
    data.append(HEADERS)
    for row in rows(release):
        data.append(row)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def geojson(release: Release, *, tolerance: float = 0.001) -> dict:
    """Areas with their published totals (area cells, not sites), geometry from the current gazetteer."""
    cells = list(
        PublishedCell.objects.filter(release=release, breakdown="", location_code="").order_by(
            "admin_level", "admin1_code", "admin2_code", "admin3_code", "assessment_type", "population_group"
        )
    )
    pcodes = {c.admin3_code or c.admin2_code or c.admin1_code for c in cells} - {""}
    shapes = {
        pcode: geometry
        for pcode, geometry in AdminArea.objects.filter(
            version__is_current=True, country_iso3=release.operation.country_iso3, pcode__in=pcodes
        )
        .exclude(geometry="")
        .values_list("pcode", "geometry")
    }
    features = []
    for c in cells:
        pcode = c.admin3_code or c.admin2_code or c.admin1_code or c.country_iso3
        geometry = None
        if pcode in shapes:
            geom = shapely.simplify(shapely.from_geojson(shapes[pcode]), tolerance, preserve_topology=True)
            geometry = json.loads(shapely.to_geojson(geom))
        features.append(
            {
                "type": "Feature",
                "geometry": geometry,
                "properties": {
                    "pcode": pcode,
                    "name": c.admin3_name or c.admin2_name or c.admin1_name or c.location_name,
                    "admin_level": c.admin_level,
                    "assessment_type": c.assessment_type,
                    "population_group": c.population_group,
                    "population": c.individuals,
                    "households": c.households,
                    "suppressed": c.suppressed,
                    "reporting_round": release.reporting_round,
                    "reference_period_start": c.reference_period_start.isoformat(),
                    "reference_period_end": c.reference_period_end.isoformat(),
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}


def geojson_bytes(release: Release) -> bytes:
    return json.dumps(geojson(release), ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def hdx_package(release: Release) -> bytes:
    """A zip ready for HDX: the data as CSV (with HXL row), XLSX and GeoJSON, and metadata.json."""
    files = {
        export_name(release, "csv"): csv_bytes(release, hxl=True),
        export_name(release, "xlsx"): xlsx_bytes(release),
        export_name(release, "geojson"): geojson_bytes(release),
    }
    meta = metadata(release)
    meta["files"] = sorted(files)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, content in files.items():
            zf.writestr(name, content)
        zf.writestr("metadata.json", json.dumps(meta, ensure_ascii=False, indent=2))
    return buffer.getvalue()


FORMATS = {
    "csv": ("text/csv; charset=utf-8", "csv"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    "geojson": ("application/geo+json", "geojson"),
    "zip": ("application/zip", "zip"),
}


def export_bytes(release: Release, fmt: str, *, hxl: bool = False) -> bytes:
    if fmt == "csv":
        return csv_bytes(release, hxl=hxl)
    if fmt == "xlsx":
        return xlsx_bytes(release)
    if fmt == "geojson":
        return geojson_bytes(release)
    if fmt == "zip":
        return hdx_package(release)
    raise ValueError(f"unknown export format {fmt!r}")

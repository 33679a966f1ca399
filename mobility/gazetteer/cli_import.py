"""`mobility gazetteer import FILE`: a p-code table, the global p-code list or boundaries, with a progress bar."""

from __future__ import annotations

import csv
from pathlib import Path

from mobility.core.command import import_file
from mobility.core.tables import detect_encoding, sniff_kind

from .importers.cod import COD_KIND, GLOBAL_KIND
from .importers.geojson import GEOJSON_KIND

HELP = "Import an OCHA COD p-code table (CSV/XLSX), the OCHA global p-code list, or boundaries (GeoJSON)."
EXAMPLE = "mobility gazetteer import mobility/gazetteer/data/moz_adm0-3_pcodes_ocha_2019.csv --country MOZ"

FORMATS = {"cod": COD_KIND, "global-pcodes": GLOBAL_KIND, "geojson": GEOJSON_KIND}
FILE_MISSING = "No such file: {path}"
MAX_VERSION_LINES = 10


def add_arguments(parser):
    parser.add_argument("file", help="the file to import (.csv, .xlsx, .geojson, .json)")
    parser.add_argument("--country", help="ISO3 code, e.g. MOZ (read from the file when it says)")
    parser.add_argument("--format", choices=sorted(FORMATS), help="file format (guessed when not given)")
    parser.add_argument("--edition", help="edition name (default: the file name without extension)")
    parser.add_argument("--valid-from", dest="valid_from", help="date the edition is valid from (YYYY-MM-DD)")
    parser.add_argument("--source", help="where the file comes from (shown beside the version)")
    parser.add_argument(
        "--dissolve-up",
        dest="dissolve_up",
        action="store_true",
        help="GeoJSON: build parents' boundaries from children",
    )
    parser.add_argument(
        "--skip-unmatched",
        dest="skip_unmatched",
        action="store_true",
        help="GeoJSON: skip features not in the gazetteer",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def guess_format(path: Path) -> str:
    """geojson for JSON files, global-pcodes for a CSV with 'P-Code' and 'Parent P-Code' columns, else cod."""
    if path.suffix.lower() in (".json", ".geojson") or sniff_kind(path) == "json":
        return "geojson"
    if sniff_kind(path) == "csv":
        try:
            with path.open(encoding=detect_encoding(path), newline="") as fh:
                head = fh.read(4096)
        except Exception:  # an unreadable file is reported by the importer, with its reason
            return "cod"
        first_line = head.lstrip("\ufeff").splitlines()[0] if head.strip() else ""
        columns = {c.strip().lower() for c in next(csv.reader([first_line]), [])}
        if {"p-code", "parent p-code"} <= columns:
            return "global-pcodes"
    return "cod"


def handle(
    command,
    *,
    file,
    country=None,
    format=None,
    edition=None,
    valid_from=None,
    source=None,
    dissolve_up=False,
    skip_unmatched=False,
    quiet=False,
    **_options,
):
    path = Path(file)
    if not path.is_file():
        command.fail(FILE_MISSING.format(path=path))
    fmt = format or guess_format(path)
    profile = {
        key: value
        for key, value in {
            "country": country.upper() if country else None,
            "edition": edition,
            "valid_from": valid_from,
            "source": source,
            "format": fmt,
            "dissolve_up": dissolve_up or None,
            "skip_unmatched": skip_unmatched or None,
        }.items()
        if value
    }
    job = import_file(
        command, kind=FORMATS[fmt], path=path, label=f"{path.name} ({fmt})", quiet=quiet, profile=profile
    )
    out = command.stdout
    summary = job.summary
    versions = summary.get("versions", [])
    if len(versions) > MAX_VERSION_LINES:
        # The global list makes ~150 versions: list only those that changed, by country code.
        new = [v["country"] for v in versions if v["new_version"]]
        kept = [v["country"] for v in versions if not v["new_version"]]
        out.write(f"{len(versions)} countries: {len(new)} new version(s), {len(kept)} unchanged")
        if new:
            out.write(f"new: {', '.join(new)}")
        versions = []
    for version in versions:
        changes = ", ".join(f"{n} {kind}" for kind, n in version["changes"].items()) or "no changes"
        state = "new version" if version["new_version"] else "unchanged"
        out.write(
            f"{version['country']}: {state} {version['edition']!r} (valid from {version['valid_from']}, "
            f"{version['areas']} areas): {changes}"
        )
    if summary.get("skipped_countries"):
        out.write(f"skipped ({summary['skipped_reason']}): {', '.join(summary['skipped_countries'])}")
    if fmt == "geojson":
        out.write(
            f"{summary['country']} {summary['edition']!r}: {summary['geometries']} boundaries joined by "
            f"{summary['join']} (admin{summary['level']}); {summary['dissolved']} built from children"
        )
    for warning in summary.get("warnings", []):
        out.write(f"warning: {warning}")

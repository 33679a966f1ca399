"""Load the shipped MOZ and PAK p-code tables straight into the gazetteer tables, for tests and benchmarks.

This does not use the COD importer on purpose: matching and locating are tested on their own.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[2] / "mobility" / "gazetteer" / "data"

# file, iso3, edition, {level: (pcode column, {lang: name column})}
_TABLES = {
    "MOZ": (
        "moz_adm0-3_pcodes_ocha_2019.csv",
        "OCHA COD 2019",
        {
            0: ("ADM0 PCODE", {"en": "ADM0 EN", "pt": "ADM0 PT"}),
            1: ("ADM1 PCODE", {"pt": "ADM1 PT"}),
            2: ("ADM2 PCODE", {"pt": "ADM2 PT"}),
            3: ("ADM3 PCODE", {"pt": "ADM3 PT"}),
        },
    ),
    "PAK": (
        "pak_adm0-3_pcodes_ocha.csv",
        "OCHA COD",
        {
            0: ("ADM0_PCODE", {"en": "ADM0_EN"}),
            1: ("ADM1_PCODE", {"en": "ADM1_EN"}),
            2: ("ADM2_PCODE", {"en": "ADM2_EN"}),
            3: ("ADM3_PCODE", {"en": "ADM3_EN"}),
        },
    ),
}


def _bbox(geometry: dict) -> tuple[float, float, float, float]:
    import shapely

    return tuple(shapely.from_geojson(json.dumps(geometry)).bounds)


def load_gazetteer(country_iso3: str, *, geometry: bool = True, edition: str | None = None):
    """Create a current GazetteerVersion with admin0..admin3 from the shipped CSV (PAK tehsils with boundaries)."""
    from mobility.gazetteer.matching import normalize_name
    from mobility.gazetteer.models import AdminArea, GazetteerVersion

    filename, default_edition, columns = _TABLES[country_iso3]
    with (DATA / filename).open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    shapes: dict[str, dict] = {}
    if geometry and country_iso3 == "PAK":
        features = json.loads((DATA / "pak_tehsils_simplified.geojson").read_text(encoding="utf-8"))[
            "features"
        ]
        shapes = {f["properties"]["tehsil_code"]: f["geometry"] for f in features}
    GazetteerVersion.objects.filter(country_iso3=country_iso3, is_current=True).update(is_current=False)
    version = GazetteerVersion.objects.create(
        country_iso3=country_iso3,
        edition=edition or default_edition,
        valid_from=dt.date(2019, 1, 1),
        source=filename,
        max_level=3,
        languages=sorted({lang for _, names in columns.values() for lang in names}),
    )
    ids: dict[str, int] = {}
    for level, (pcode_col, name_cols) in sorted(columns.items()):
        areas, seen = [], set()
        for row in rows:
            pcode = row[pcode_col].strip()
            if pcode in seen:
                continue
            seen.add(pcode)
            names = {lang: row[col].strip() for lang, col in name_cols.items()}
            name = names.get("pt") if level and "pt" in names else next(iter(names.values()))
            area = AdminArea(
                version=version,
                country_iso3=country_iso3,
                pcode=pcode,
                level=level,
                parent_id=ids[row[columns[level - 1][0]].strip()] if level else None,
                name=name,
                names=names,
                name_normalized=normalize_name(name),
            )
            if level == 3 and pcode in shapes:
                area.geometry = json.dumps(shapes[pcode])
                area.min_lon, area.min_lat, area.max_lon, area.max_lat = _bbox(shapes[pcode])
            areas.append(area)
        AdminArea.objects.bulk_create(areas, batch_size=500)
        ids.update(AdminArea.objects.filter(version=version, level=level).values_list("pcode", "id"))
    version.area_count = len(ids)
    version.save(update_fields=["area_count"])
    return version


# Registered under their short names; test modules import these functions to use the fixtures.
@pytest.fixture(name="moz_gazetteer")
def moz_gazetteer_fixture(db):
    return load_gazetteer("MOZ")


@pytest.fixture(name="pak_gazetteer")
def pak_gazetteer_fixture(db):
    return load_gazetteer("PAK")

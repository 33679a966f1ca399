"""A new edition of a gazetteer keeps the old one, records what changed and how old p-codes map to new ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import mobility.gazetteer.importers  # noqa: F401
from mobility.core.imports import job_create, run
from mobility.core.models import ImportJob
from mobility.gazetteer.importers.cod import GLOBAL_KIND
from mobility.gazetteer.importers.geojson import GEOJSON_KIND
from mobility.gazetteer.models import AdminArea, AreaCrosswalk, GazetteerVersion, PcodeChange
from mobility.gazetteer.services.versions import crosswalk_pcode

pytestmark = pytest.mark.django_db

HEADER = "Location,Admin Level,P-Code,Name,Parent P-Code,Valid from date\n"
HXL = "#country+code,#geo+admin_level,#adm+code,#adm+name,#adm+code+parent,#date+start\n"
EDITION_2019 = """MOZ,1,MZ01,Cabo Delgado,MOZ,2019-06-07
MOZ,1,MZ02,Gaza,MOZ,2019-06-07
MOZ,2,MZ0101,Ancuabe,MZ01,2019-06-07
MOZ,2,MZ0102,Balama,MZ01,2019-06-07
MOZ,2,MZ0103,Chiure,MZ01,2019-06-07
MOZ,2,MZ0201,Bilene,MZ02,2019-06-07
MOZ,2,MZ0202,Chibuto,MZ02,2019-06-07
"""
# One rename (MZ0102), one removal (MZ0103) with one addition of the same name (MZ0110),
# one move to another parent (MZ0201).
EDITION_2023 = """MOZ,1,MZ01,Cabo Delgado,MOZ,2023-01-01
MOZ,1,MZ02,Gaza,MOZ,2023-01-01
MOZ,2,MZ0101,Ancuabe,MZ01,2023-01-01
MOZ,2,MZ0102,Balama Sede,MZ01,2023-01-01
MOZ,2,MZ0110,Chiúre,MZ01,2023-01-01
MOZ,2,MZ0201,Bilene,MZ01,2023-01-01
MOZ,2,MZ0202,Chibuto,MZ02,2023-01-01
"""
# MZ0110 disappears with no successor of its name: its figures roll up to Cabo Delgado.
EDITION_2024 = EDITION_2023.replace("MOZ,2,MZ0110,Chiúre,MZ01,2023-01-01\n", "").replace(
    "2023-01-01", "2024-01-01"
)


def import_edition(tmp_path: Path, name: str, rows: str, kind: str = GLOBAL_KIND, **profile) -> ImportJob:
    path = tmp_path / name
    path.write_text(HEADER + HXL + rows, encoding="utf-8")
    job = run(job_create(kind=kind, source=path, profile=profile))
    assert job.status == ImportJob.Status.SUCCEEDED, (job.error, [e.text for e in job.row_errors.all()])
    return job


def test_a_new_edition_records_each_change_and_a_crosswalk(tmp_path):
    import_edition(tmp_path, "pcodes-2019.csv", EDITION_2019)
    job = import_edition(tmp_path, "pcodes-2023.csv", EDITION_2023)

    old, new = (
        GazetteerVersion.objects.get(edition="pcodes-2019"),
        GazetteerVersion.objects.get(edition="pcodes-2023"),
    )
    assert (old.is_current, new.is_current, new.supersedes) == (False, True, old)
    assert str(old.valid_from) == "2019-06-07" and str(new.valid_from) == "2023-01-01"
    assert old.areas.count() == 8 and new.areas.count() == 8
    changes = {
        (c.pcode, c.change, c.old_name, c.new_name, c.old_parent, c.new_parent)
        for c in PcodeChange.objects.filter(from_version=old, to_version=new)
    }
    assert changes == {
        ("MZ0102", "renamed", "Balama", "Balama Sede", "", ""),
        ("MZ0103", "removed", "Chiure", "", "MZ01", ""),
        ("MZ0110", "added", "", "Chiúre", "", "MZ01"),
        ("MZ0201", "reparented", "", "Bilene", "MZ02", "MZ01"),
    }
    crosswalk = {
        (c.old_pcode, c.new_pcode, c.method, c.weight)
        for c in AreaCrosswalk.objects.filter(from_version=old, to_version=new)
    }
    same = {
        (code, code, "same", 1.0) for code in ["MZ", "MZ01", "MZ02", "MZ0101", "MZ0102", "MZ0201", "MZ0202"]
    }
    assert crosswalk == same | {("MZ0103", "MZ0110", "name", 1.0)}
    assert (job.created, job.updated, job.unchanged) == (1, 2, 5)
    assert job.summary["changes"] == {"added": 1, "removed": 1, "renamed": 1, "reparented": 1}
    assert AdminArea.objects.get(version=new, pcode="MZ0201").parent.pcode == "MZ01"


def test_crosswalk_follows_several_editions(tmp_path):
    import_edition(tmp_path, "pcodes-2019.csv", EDITION_2019)
    import_edition(tmp_path, "pcodes-2023.csv", EDITION_2023)
    import_edition(tmp_path, "pcodes-2024.csv", EDITION_2024)

    def walk(pcode, **kwargs):
        return crosswalk_pcode(country="MOZ", pcode=pcode, from_version="pcodes-2019", **kwargs)

    assert walk("MZ0103", to_version="pcodes-2023") == [("MZ0110", 1.0)]
    assert walk("MZ0103") == [("MZ01", 1.0)]  # name in 2023, then rolled up to the parent in 2024
    assert walk("MZ0202") == [("MZ0202", 1.0)]
    assert walk("MZ9999") == []
    assert crosswalk_pcode(country="MOZ", pcode="MZ0110", from_version="pcodes-2023") == [("MZ01", 1.0)]
    removed = AreaCrosswalk.objects.get(old_pcode="MZ0110")
    assert removed.method == AreaCrosswalk.Method.PARENT


def test_geometry_of_unchanged_pcodes_is_carried_to_the_new_edition(tmp_path):
    import_edition(tmp_path, "pcodes-2019.csv", EDITION_2019)

    def square(x):
        return {
            "type": "Polygon",
            "coordinates": [[[x, -12], [x + 1, -12], [x + 1, -11], [x, -11], [x, -12]]],
        }

    features = [
        {"type": "Feature", "properties": {"pcode": code}, "geometry": square(x)}
        for x, code in [(39, "MZ0101"), (38, "MZ0102"), (33, "MZ0201")]
    ]
    boundaries = tmp_path / "moz.geojson"
    boundaries.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    job = run(job_create(kind=GEOJSON_KIND, source=boundaries, profile={}))
    assert job.status == ImportJob.Status.SUCCEEDED, job.error

    import_edition(tmp_path, "pcodes-2023.csv", EDITION_2023)

    new = GazetteerVersion.objects.get(is_current=True, country_iso3="MOZ")
    with_geometry = set(new.areas.exclude(geometry="").values_list("pcode", flat=True))
    # Renamed keeps its shape; moved to another parent does not (its boundary may have changed).
    assert with_geometry == {"MZ0101", "MZ0102"}
    assert AdminArea.objects.get(version=new, pcode="MZ0101").bbox == [39, -12, 40, -11]


def test_reimporting_an_edition_unchanged_keeps_one_version(tmp_path):
    import_edition(tmp_path, "pcodes-2019.csv", EDITION_2019)
    job = import_edition(tmp_path, "pcodes-2019-copy.csv", EDITION_2019.replace(",2019-06-07", ",2019-06-08"))

    assert (job.created, job.updated, job.unchanged) == (0, 0, 8)
    assert GazetteerVersion.objects.count() == 1
    assert PcodeChange.objects.count() == AreaCrosswalk.objects.count() == 0

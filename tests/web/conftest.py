"""A small real-shaped gazetteer (Cabo Delgado, Mozambique), review items and a test importer."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from mobility.core import imports
from mobility.gazetteer.models import AdminArea, GazetteerVersion, MatchReview

SQUARE = {
    "type": "Polygon",
    "coordinates": [[[39.0, -13.0], [40.0, -13.0], [40.0, -12.0], [39.0, -12.0], [39.0, -13.0]]],
}


def _area(version, pcode, level, name, parent=None, geometry=None):
    return AdminArea.objects.create(
        version=version,
        country_iso3=version.country_iso3,
        pcode=pcode,
        level=level,
        parent=parent,
        name=name,
        names={"pt": name},
        name_normalized=name.lower(),
        geometry=json.dumps(geometry) if geometry else "",
        min_lon=39.0 if geometry else None,
        min_lat=-13.0 if geometry else None,
        max_lon=40.0 if geometry else None,
        max_lat=-12.0 if geometry else None,
    )


@pytest.fixture
def gazetteer(db):
    """MOZ: Moçambique > Cabo Delgado > Ancuabe, Balama > Ancuabe Sede."""
    version = GazetteerVersion.objects.create(
        country_iso3="MOZ",
        edition="2019",
        valid_from=dt.date(2019, 1, 1),
        max_level=3,
        area_count=5,
        languages=["pt"],
    )
    moz = _area(version, "MZ", 0, "Moçambique")
    cabo = _area(version, "MZ01", 1, "Cabo Delgado", moz, SQUARE)
    ancuabe = _area(version, "MZ0101", 2, "Ancuabe", cabo, SQUARE)
    _area(version, "MZ0102", 2, "Balama", cabo, SQUARE)
    _area(version, "MZ010101", 3, "Ancuabe Sede", ancuabe)
    return version


@pytest.fixture
def review(gazetteer):
    return MatchReview.objects.create(
        country_iso3="MOZ",
        level=2,
        provider_name="Ancuabi",
        normalized="ancuabi",
        parent_pcode="MZ01",
        match_status="ambiguous",
        candidates=[
            {"pcode": "MZ0101", "name": "Ancuabe", "score": 86.0},
            {"pcode": "MZ0102", "name": "Balama", "score": 51.0},
        ],
    )


class _EchoImporter:
    """Counts the lines of a file; a line "bad" is a row error. Stands in for real importers in page tests."""

    kind = "test.lines"
    label = "Test lines"
    accept_everything = False  # as if the problem had been fixed elsewhere (e.g. an alias resolved)

    def read(self, *, job, progress):
        lines = imports.job_path(job).read_text().splitlines()
        errors = [
            imports.RowError(row=n, column="line", value=text, message="is bad")
            for n, text in enumerate(lines, start=1)
            if text == "bad" and not self.accept_everything
        ]
        return imports.ReadResult(data=lines, rows_read=len(lines), errors=errors)

    def write(self, *, job, data, progress):
        return imports.Counts(created=len(data))


@pytest.fixture
def test_importer():
    importer = imports.register(_EchoImporter())
    yield importer
    imports._REGISTRY.pop(importer.kind, None)

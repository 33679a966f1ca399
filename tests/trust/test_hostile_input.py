"""Hostile files sent to every importer as a user's upload is: each one refused with a clear message
naming the row or field (or read correctly), within a time limit and a memory limit, storing nothing.

Issue 8, item 3. The README's "hostile inputs tried" is ``hostile_inputs_tried()``: every hand-written
case times the importers it is sent to, plus every example hypothesis generates (see the other
``test_hostile_*`` modules for XML and exports).
"""

from __future__ import annotations

import codecs
import functools
import json
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from mobility.core.imports import registered_kinds
from mobility.core.tables import (
    FILE_EMPTY,
    FILE_ENCODING_MIXED,
    MAX_CELL_CHARS,
    MAX_COLUMNS,
)

from .hostile import (
    BILLION_LAUGHS_DTD,
    BILLION_LAUGHS_REF,
    MB,
    QUADRATIC_DTD,
    QUADRATIC_REF,
    SPREADSHEET_NS,
    XML_DECLARATION,
    XXE_FILE_DTD,
    XXE_HTTP_DTD,
    XXE_REF,
    assert_clear_refusal,
    assert_handled,
    budget,
    deflate_repeat,
    domain_counts,
    hostile_world_fixture,  # noqa: F401 - the fixture
    send,
    shared_strings_xml,
    sheet_xml,
    workbook_xml,
    xlsx,
    zip_archive,
)

pytestmark = pytest.mark.django_db

# Importers that read a table (CSV/XLSX) and those that read JSON; together, every registered one.
TABLE_KINDS = [
    "gazetteer.cod",
    "gazetteer.global-pcodes",
    "gazetteer.locations",
    "tracking.dtm-hdx-csv",
    "tracking.events",
    "tracking.profile",
    "tracking.site-assessment",
    "tracking.template",
    "flows.counts",
    "flows.points",
    "flows.form-counts",
    "flows.profile",
    "flows.surveys",
    "restrictions.points",
    "restrictions.cobap",
    "restrictions.statuses",
    "restrictions.wfp",
    "registration.individuals",
]
JSON_KINDS = ["gazetteer.geojson", "tracking.dtm-api-v3"]


def test_every_registered_importer_gets_hostile_files():
    # Importers that tests register for themselves ("test.lines", "test.counts") are not the product's.
    product = [kind for kind in registered_kinds() if not kind.startswith("test.")]
    assert sorted(TABLE_KINDS + JSON_KINDS) == sorted(product)


# ---------------------------------------------------------------- hostile tables


@dataclass(frozen=True)
class Case:
    id: str
    name: str  # the file name as uploaded (the suffix picks the reader)
    make: Callable[[], bytes]
    says: str | None = None  # part of the message the refusal must give
    refused: bool = True  # False: reading it correctly is as good as refusing it clearly
    everywhere: bool = False  # sent to every importer; the others go to one importer per reader
    seconds: float = 10.0
    memory_mb: float = 200.0


def cached(make: Callable[[], bytes]) -> Callable[[], bytes]:
    return functools.lru_cache(maxsize=1)(make)


HEADER = "code,name,type,latitude,longitude,admin1_code,admin2_code,population_group,individuals\n"
ROW = "MZ-001,Ancuabe,site,-12.97,40.52,MZ01,MZ0101,idp,10\n"
SST_OPEN = XML_DECLARATION + f'<sst xmlns="{SPREADSHEET_NS}" count="1" uniqueCount="1"><si><t>'.encode()
SST_CLOSE = b"</t></si></sst>"
ROWS = [HEADER.strip().split(","), ROW.strip().split(",")]
STRINGS = [c for row in ROWS for c in row]


def _sst_bomb(megabytes: int, declared: int | None = None) -> bytes:
    """An XLSX whose shared strings unpack to ``megabytes`` MB (declaring ``declared`` bytes)."""
    member = deflate_repeat(b"A" * MB, megabytes, SST_OPEN, SST_CLOSE)
    if declared is not None:
        member = (*member, declared)
    return xlsx(ROWS, replace={"xl/sharedStrings.xml": member})


def _sst_with(prolog: bytes, ref: bytes) -> bytes:
    return xlsx(
        ROWS, replace={"xl/sharedStrings.xml": shared_strings_xml(STRINGS, prolog=prolog, raw={1: ref})}
    )


def _sheet_with(prolog: bytes, ref: bytes) -> bytes:
    """The sheet's B2 an inline string holding ``ref`` (an entity reference), under ``prolog``'s DTD."""
    strings = {s: i for i, s in enumerate(dict.fromkeys(STRINGS))}
    sheet = sheet_xml(ROWS, strings, prolog=prolog)
    b2 = f'<c r="B2" t="s"><v>{strings["Ancuabe"]}</v></c>'.encode()
    assert b2 in sheet
    sheet = sheet.replace(b2, b'<c r="B2" t="inlineStr"><is><t>' + ref + b"</t></is></c>")
    return xlsx(ROWS, replace={"xl/worksheets/sheet1.xml": sheet})


def _corrupt_central_directory() -> bytes:
    data = bytearray(xlsx(ROWS))
    at = data.rfind(b"PK\x01\x02")
    data[at : at + 4] = b"PK\x09\x09"
    return bytes(data)


def _bad_string_index() -> bytes:
    strings = {s: i for i, s in enumerate(dict.fromkeys(STRINGS))}
    sheet = sheet_xml(ROWS, strings).replace(b'<c r="A2" t="s"><v>', b'<c r="A2" t="s"><v>99999', 1)
    return xlsx(ROWS, replace={"xl/worksheets/sheet1.xml": sheet})


def _deep_sheet() -> bytes:
    sheet = (
        XML_DECLARATION
        + f'<worksheet xmlns="{SPREADSHEET_NS}"><sheetData><row r="1">'.encode()
        + b"<x>" * 100_000
        + b"</x>" * 100_000
        + b"</row></sheetData></worksheet>"
    )
    return xlsx(ROWS, replace={"xl/worksheets/sheet1.xml": sheet})


def _wide_xlsx() -> bytes:
    return xlsx([[f"c{i}" for i in range(MAX_COLUMNS + 10)], ["x"]])


def _no_sheets() -> bytes:
    return xlsx(
        ROWS,
        replace={
            "xl/workbook.xml": workbook_xml().replace(b'<sheet name="survey" sheetId="1" r:id="rId1"/>', b"")
        },
    )


TABLE_CASES = [
    # --- CSV
    Case(
        "csv-10MB-cell",
        "f.csv",
        cached(lambda: (HEADER + "X," + "y" * (10 * MB) + "\n").encode()),
        "larger than",
    ),
    Case(
        "csv-unclosed-quote",
        "f.csv",
        cached(lambda: (HEADER + '"' + "y" * (2 * MAX_CELL_CHARS)).encode()),
        "larger than",
    ),
    Case(
        "csv-million-columns",
        "f.csv",
        cached(lambda: ",".join(f"c{i}" for i in range(1_000_000)).encode() + b"\n1\n"),
        "columns; at most",
    ),
    Case("csv-12MB-line-no-delimiter", "f.csv", cached(lambda: b"x" * (12 * MB)), "larger than"),
    Case("csv-only-delimiters", "f.csv", lambda: b",,,,,,\n;;;;;;\n,,,,,,\n\t\t\t\n" * 1000, everywhere=True),
    Case("csv-only-newlines", "f.csv", lambda: b"\r\n" * 100_000 + b"\n" * 100_000, FILE_EMPTY),
    Case("csv-only-bom", "f.csv", lambda: codecs.BOM_UTF8, FILE_EMPTY),
    Case("csv-empty", "f.csv", lambda: b"", FILE_EMPTY),
    Case("csv-header-only", "f.csv", lambda: HEADER.encode(), refused=False),
    Case(
        "csv-nul-bytes",
        "f.csv",
        lambda: (HEADER + "MZ\x00-001,Ancu\x00be\n").encode(),
        "binary data",
        everywhere=True,
    ),
    Case(
        "csv-control-characters",
        "f.csv",
        lambda: (HEADER + ROW.replace("Ancuabe", "An\x01cu\x07a\x1bbe\x7f")).encode(),
        refused=False,
        everywhere=True,
    ),
    Case(
        "csv-cesu-surrogates",
        "f.csv",
        lambda: HEADER.encode() + ROW.replace("Ancuabe", "An@cuabe").encode().replace(b"@", b"\xed\xa0\x80"),
        refused=False,
        everywhere=True,
    ),
    Case(
        "csv-utf16-no-bom",
        "f.csv",
        lambda: (HEADER + ROW).encode("utf-16-le"),
        refused=False,
        everywhere=True,
    ),
    Case(
        "csv-utf16-be-bom",
        "f.csv",
        lambda: codecs.BOM_UTF16_BE + (HEADER + ROW).encode("utf-16-be"),
        refused=False,
    ),
    Case("csv-utf16-odd-length", "f.csv", lambda: (HEADER + ROW).encode("utf-16") + b"\x41"),
    Case(
        "csv-utf8-then-cp1252",
        "f.csv",
        lambda: (
            (HEADER + ROW.replace("Ancuabe", "Mocímboa")).encode()
            + ROW.replace("Ancuabe", "Chiúre").encode("cp1252")
        ),
        None,  # the message (naming the lines) is checked below; registration names the garbled rows
    ),
    Case(
        "csv-bom-then-cp1252",
        "f.csv",
        lambda: codecs.BOM_UTF8 + (HEADER + ROW.replace("Ancuabe", "Chiúre")).encode("cp1252"),
    ),
    Case(
        "csv-mixed-line-endings",
        "f.csv",
        lambda: (
            HEADER.replace("\n", "\r\n") + ROW.replace("\n", "\r") + ROW.replace("\n", "\r\n") + ROW
        ).encode(),
        refused=False,
        everywhere=True,
    ),
    Case(
        "csv-formula-cells",
        "f.csv",
        lambda: (HEADER + ROW.replace("Ancuabe", '=cmd|"/c calc"!A1')).encode(),
        refused=False,
        everywhere=True,
    ),
    Case("csv-png-bytes", "f.csv", lambda: b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40, "binary data"),
    Case("csv-is-a-zip", "f.csv", cached(lambda: xlsx(ROWS)), "binary data"),
    Case("csv-is-json", "f.csv", lambda: json.dumps({"result": [{"a": 1}] * 3}).encode(), everywhere=True),
    Case("csv-duplicate-header", "f.csv", lambda: b"code,code,name\n1,2,3\n", None),
    # --- XLSX
    Case(
        "xlsx-zip-bomb-2GB", "f.xlsx", cached(lambda: _sst_bomb(2048)), "refused as unsafe", everywhere=True
    ),
    Case("xlsx-zip-bomb-under-the-total-cap", "f.xlsx", cached(lambda: _sst_bomb(600)), "refused as unsafe"),
    Case(
        "xlsx-zip-bomb-lying-sizes",
        "f.xlsx",
        cached(lambda: _sst_bomb(2048, declared=1000)),
        "could not be read",
    ),
    Case(
        "xlsx-nested-zip-bomb",
        "f.xlsx",
        cached(lambda: xlsx(ROWS, extra=[("xl/embeddings/inner.xlsx", _sst_bomb(2048))])),
        refused=False,
    ),
    Case(
        "xlsx-path-traversal-names",
        "f.xlsx",
        lambda: xlsx(
            ROWS,
            extra=[
                ("../../../../tmp/hostile-evil.txt", b"x"),
                ("/etc/hostile", b"y"),
                ("..\\..\\evil", b"z"),
            ],
        ),
        refused=False,
    ),
    Case("xlsx-not-a-zip", "f.xlsx", lambda: (HEADER + ROW).encode(), "could not be read", everywhere=True),
    Case("xlsx-truncated", "f.xlsx", cached(lambda: xlsx(ROWS)[:400]), "could not be read"),
    Case("xlsx-empty-zip", "f.xlsx", lambda: zip_archive([]), "could not be read"),
    Case("xlsx-corrupt-central-directory", "f.xlsx", _corrupt_central_directory, "could not be read"),
    Case("xlsx-no-sheets", "f.xlsx", _no_sheets, FILE_EMPTY),
    Case("xlsx-bad-shared-string-index", "f.xlsx", _bad_string_index, refused=False, everywhere=True),
    Case(
        "xlsx-billion-laughs-shared-strings",
        "f.xlsx",
        lambda: _sst_with(XML_DECLARATION + BILLION_LAUGHS_DTD, BILLION_LAUGHS_REF),
        everywhere=True,
    ),
    Case(
        "xlsx-quadratic-blowup-shared-strings",
        "f.xlsx",
        lambda: _sst_with(XML_DECLARATION + QUADRATIC_DTD, QUADRATIC_REF),
    ),
    Case(
        "xlsx-xxe-file-shared-strings", "f.xlsx", lambda: _sst_with(XML_DECLARATION + XXE_FILE_DTD, XXE_REF)
    ),
    Case(
        "xlsx-xxe-http-shared-strings", "f.xlsx", lambda: _sst_with(XML_DECLARATION + XXE_HTTP_DTD, XXE_REF)
    ),
    Case(
        "xlsx-billion-laughs-sheet",
        "f.xlsx",
        lambda: _sheet_with(XML_DECLARATION + BILLION_LAUGHS_DTD, BILLION_LAUGHS_REF),
        refused=False,
    ),
    Case(
        "xlsx-xxe-file-sheet",
        "f.xlsx",
        lambda: _sheet_with(XML_DECLARATION + XXE_FILE_DTD, XXE_REF),
        refused=False,
    ),
    Case(
        "xlsx-billion-laughs-workbook",
        "f.xlsx",
        lambda: xlsx(
            ROWS,
            replace={
                "xl/workbook.xml": workbook_xml(
                    "survey" + "&lol9;", XML_DECLARATION + BILLION_LAUGHS_DTD
                ).replace(b"&amp;lol9;", b"&lol9;")
            },
        ),
        "could not be read",
    ),
    Case("xlsx-deep-nesting", "f.xlsx", cached(_deep_sheet), refused=False),
    Case(
        "xlsx-huge-cell",
        "f.xlsx",
        cached(lambda: xlsx([*ROWS, ["x" * (MAX_CELL_CHARS + 10)]])),
        "larger than",
    ),
    Case("xlsx-too-many-columns", "f.xlsx", cached(_wide_xlsx), "columns; at most"),
    Case(
        "xls-garbage",
        "f.xls",
        lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(range(256)) * 64,
        "could not be read",
    ),
    Case(
        "ods-garbage",
        "f.ods",
        lambda: zip_archive([("mimetype", b"application/vnd.oasis.opendocument.spreadsheet")]),
        "could not be read",
    ),
]


def test_the_cases_are_named_once():
    ids = [case.id for case in TABLE_CASES]
    assert len(ids) == len(set(ids))


# One importer per table reader: core.tables (most importers), the tracking and flows source-profile
# readers, and the column-wise CSV reader of flow counts. Every case goes to these; the cases marked
# ``everywhere`` go to every importer too, and the rest of the cross product is @heavy.
READER_KINDS = ["gazetteer.cod", "tracking.profile", "flows.profile", "flows.counts"]
# A source profile names the sheet it reads: "the workbook has no sheet …" may be the refusal given.
PROFILE_KINDS = {"tracking.profile", "flows.profile"}


def table_matrix():
    for case in TABLE_CASES:
        for kind in TABLE_KINDS:
            marks = [] if case.everywhere or kind in READER_KINDS else [pytest.mark.heavy]
            yield pytest.param(kind, case, id=f"{case.id}-{kind}", marks=marks)


@pytest.mark.parametrize(("kind", "case"), list(table_matrix()))
def test_a_hostile_table_is_refused_clearly_or_read(hostile_world, kind, case):
    data = case.make()
    before = domain_counts()
    with budget(case.seconds, case.memory_mb, what=f"{case.id} sent to {kind}"):
        outcome = send(hostile_world, kind, case.name, data)
    if case.refused:
        assert_clear_refusal(outcome, before, says=None if kind in PROFILE_KINDS else case.says)
    else:
        assert_handled(outcome, before)


# ---------------------------------------------------------------- hostile values in valid rows

# A row each importer takes (in the world of hostile.py) with "{v}" where a number goes: the sane
# value imports; hostile numbers must give a row error naming the row and column, or a value the
# database can hold (an integer past 2**31 - 1 fails PostgreSQL's insert: an internal error).
VALID_ROWS = {
    "tracking.template": (
        "admin1_code,admin2_code,admin2_name,population_group,households,individuals\n"
        "MZ01,MZ0101,Ancuabe,IDP,{v},{v}\n"
    ),
    "tracking.events": (
        "event_code,event_type,event_date,event_admin1_code,event_admin2_code,movement_code,"
        "population_group,households,individuals,from_admin1_code,from_admin2_code,to_admin1_code,"
        "to_admin2_code\nE-1,Armed attack,2026-01-10,MZ01,MZ0101,M-1,IDP,{v},{v},MZ01,MZ0101,MZ01,MZ0101\n"
    ),
    "tracking.site-assessment": (
        "site_code,site_name,admin1_code,admin2_code,reporting_round,site_type,accessibility,"
        "idp_households,idp_individuals\nS-1,Site one,MZ01,MZ0101,1,Planned camp,Accessible,{v},{v}\n"
    ),
    "tracking.dtm-hdx-csv": (
        "operation,admin0Pcode,adminLevel,admin1Pcode,admin1Name,numPresentIdpInd,reportingDate,"
        "roundNumber,assessmentType\nMozambique — Cabo Delgado,MOZ,1,MZ01,Cabo Delgado,{v},2026-01-15,{v},BA\n"
    ),
    "restrictions.statuses": (
        "poe_code,effective_from,status,restriction,affected_groups,measures,daily_inflow,daily_outflow,"
        "notes,source\nMOZ-RG,2026-05-04,open,none,,,{v},{v},,IOM\n"
    ),
    "restrictions.points": "code,name,type,country,latitude,longitude\nMOZ-X,Point,land_border,MOZ,{v},{v}\n",
    "gazetteer.locations": (
        "code,type,name,latitude,longitude,admin1_code,admin2_code\nMOZ-SITE-1,site,Site,{v},{v},MZ01,MZ0101\n"
    ),
    "flows.points": "code,name,type,latitude,longitude\nMZ-FMP-02,Point,border_crossing,{v},{v}\n",
}
SANE = "5"
HOSTILE_NUMBERS = [
    "99999999999999999999",
    "2147483648",
    "1e20",
    "1e400",
    "-1e400",
    "NaN",
    "inf",
    "-0",
    "1e-400",
    "0x1F",
    "1_000",
    "１２",
    "9" * 5000,
    "=1+2",
]
# More of the same, heavy: each is one more import per importer.
MORE_HOSTILE_NUMBERS = [
    "-inf",
    "Infinity",
    "nan",
    "1.5",
    "-5",
    "--5",
    "5e",
    "1,2,3",
    "٣",
    "+5",
    " 5 ",
    "5" * 19,
]


def test_the_valid_rows_are_valid(hostile_world):
    for kind, text in VALID_ROWS.items():
        outcome = send(hostile_world, kind, "f.csv", text.format(v=SANE).encode())
        errors = [e.text for e in outcome.job.row_errors.all()] if outcome.job else []
        assert not outcome.failed, (kind, outcome.message, errors)


def valued_matrix():
    for kind in VALID_ROWS:
        for value in HOSTILE_NUMBERS:
            yield pytest.param(kind, value, id=f"{kind}-{value[:12]}")
        for value in MORE_HOSTILE_NUMBERS:
            yield pytest.param(kind, value, id=f"{kind}-{value[:12]}", marks=pytest.mark.heavy)


@pytest.mark.parametrize(("kind", "value"), list(valued_matrix()))
def test_a_hostile_number_in_a_valid_row_is_a_row_error_or_a_value(hostile_world, kind, value):
    before = domain_counts()
    with budget(5, 64, what=f"{value[:20]!r} in {kind}"):
        outcome = send(hostile_world, kind, "f.csv", VALID_ROWS[kind].format(v=value).encode())
    assert_handled(outcome, before)
    if outcome.failed and outcome.job is not None and outcome.job.rejected:
        assert all(e.row == 2 and e.column for e in outcome.job.row_errors.all())


# ---------------------------------------------------------------- hostile JSON: GeoJSON and DTM API v3

SQUARE = [[[40.0, -13.0], [40.5, -13.0], [40.5, -12.5], [40.0, -12.5], [40.0, -13.0]]]


def geojson(geometry=None, properties=None, **top) -> bytes:
    feature = {
        "type": "Feature",
        "properties": {"ADM2_PCODE": "MZ0101", "ADM2_PT": "Ancuabe"} if properties is None else properties,
        "geometry": {"type": "Polygon", "coordinates": SQUARE} if geometry is None else geometry,
    }
    return json.dumps({"type": "FeatureCollection", "features": [feature], **top}).encode()


def polygon(coordinates) -> dict:
    return {"type": "Polygon", "coordinates": coordinates}


def ring(vertices: int, decimals: int = 6) -> list:
    """A valid ring (a many-sided polygon) of that many vertices around Ancuabe."""
    import math

    step = 2 * math.pi / vertices
    points = [
        [
            round(40.25 + 0.2 * math.cos(step * i), decimals),
            round(-12.75 + 0.2 * math.sin(step * i), decimals),
        ]
        for i in range(vertices)
    ]
    return [[*points, points[0]]]


def nested(depth: int, leaf: str = "0") -> bytes:
    return ("[" * depth + leaf + "]" * depth).encode()


DTM_RECORD = {
    "id": 1,
    "operation": "Mozambique — Cabo Delgado",
    "admin0Name": "Mozambique",
    "admin0Pcode": "MOZ",
    "admin1Name": "Cabo Delgado",
    "admin1Pcode": "MZ01",
    "numPresentIdpInd": 10,
    "reportingDate": "2026-01-15",
    "roundNumber": 1,
    "assessmentType": "BA",
    "displacementReason": "Conflict",
}


def dtm(records=None, **envelope) -> bytes:
    body = {"result": [DTM_RECORD] if records is None else records, "isSuccess": True, "statusCode": 200}
    return json.dumps({**body, **envelope}).encode()


def dtm_raw(field: str, literal: str) -> bytes:
    """A DTM response whose record holds ``literal`` (JSON text, e.g. 1e400 or NaN) in ``field``."""
    return dtm([{**DTM_RECORD, field: "@@"}]).replace(b'"@@"', literal.encode())


@dataclass(frozen=True)
class JsonCase:
    id: str
    kind: str
    make: Callable[[], bytes]
    says: str | None = None
    refused: bool = True
    seconds: float = 10.0
    memory_mb: float = 200.0
    heavy: bool = False


GEO, DTM = "gazetteer.geojson", "tracking.dtm-api-v3"
JSON_CASES = [
    JsonCase("geojson-valid", GEO, lambda: geojson(), refused=False),
    JsonCase("geojson-not-json", GEO, lambda: b"{type: FeatureCollection", "not valid JSON"),
    JsonCase("geojson-utf16", GEO, lambda: geojson().decode().encode("utf-16"), "not UTF-8"),
    JsonCase(
        "geojson-latin1",
        GEO,
        lambda: json.dumps(
            json.loads(geojson(properties={"ADM2_PCODE": "MZ0101", "n": "Chiúre"})), ensure_ascii=False
        ).encode("latin-1"),
        "not UTF-8",
    ),
    JsonCase("geojson-top-level-list", GEO, lambda: b"[1, 2, 3]", "not a GeoJSON FeatureCollection"),
    JsonCase("geojson-10k-nested-arrays", GEO, lambda: nested(10_000), "too deeply"),
    JsonCase(
        "geojson-100k-nested-objects", GEO, lambda: b'{"a":' * 100_000 + b"0" + b"}" * 100_000, "too deeply"
    ),
    JsonCase(
        "geojson-nested-coordinates", GEO, lambda: geojson(polygon(json.loads(nested(500)))), "geometry"
    ),
    JsonCase("geojson-1e400-coordinates", GEO, lambda: geojson().replace(b"40.5", b"1e400", 1), "not valid"),
    JsonCase("geojson-nan-coordinates", GEO, lambda: geojson().replace(b"40.5", b"NaN", 1), "not valid"),
    JsonCase(
        "geojson-infinity-coordinates", GEO, lambda: geojson().replace(b"40.5", b"-Infinity", 1), "not valid"
    ),
    JsonCase(
        "geojson-huge-integer-coordinate", GEO, lambda: geojson().replace(b"40.5", b"9" * 400, 1), "geometry"
    ),
    JsonCase(
        "geojson-5000-digit-number", GEO, lambda: geojson().replace(b"40.5", b"9" * 5000, 1), "not valid JSON"
    ),
    JsonCase(
        "geojson-projected-coordinates",
        GEO,
        lambda: geojson(
            polygon([[[500000, 8560000], [510000, 8560000], [510000, 8570000], [500000, 8560000]]])
        ),
        "WGS84",
    ),
    JsonCase(
        "geojson-self-intersecting",
        GEO,
        lambda: geojson(polygon([[[40, -13], [40.5, -12.5], [40.5, -13], [40, -12.5], [40, -13]]])),
        "Self-intersection",
    ),
    JsonCase("geojson-unclosed-ring", GEO, lambda: geojson(polygon([SQUARE[0][:-1]])), refused=False),
    JsonCase("geojson-two-point-ring", GEO, lambda: geojson(polygon([[[40, -13], [40.5, -13]]])), "geometry"),
    JsonCase("geojson-empty-polygon", GEO, lambda: geojson(polygon([])), "geometry"),
    JsonCase(
        "geojson-string-coordinates",
        GEO,
        lambda: geojson(polygon([[["40", "-13"], ["a", "b"], ["c", "d"], ["40", "-13"]]])),
        "geometry",
    ),
    JsonCase(
        "geojson-point",
        GEO,
        lambda: geojson({"type": "Point", "coordinates": [40, -13]}),
        "Polygon or MultiPolygon",
    ),
    JsonCase(
        "geojson-geometry-is-text",
        GEO,
        lambda: geojson("POLYGON((40 -13, 41 -13, 41 -12, 40 -13))"),
        "geometry",
    ),
    JsonCase(
        "geojson-100k-vertices", GEO, lambda: geojson(polygon(ring(100_000))), refused=False, memory_mb=400
    ),
    JsonCase(
        "geojson-10M-vertices",
        GEO,
        lambda: geojson(polygon(ring(10_000_000, decimals=4))),  # 190 MB: under the size limit
        refused=False,
        seconds=240,
        memory_mb=4000,
        heavy=True,
    ),
    JsonCase(
        "geojson-features-is-a-number",
        GEO,
        lambda: json.dumps({"type": "FeatureCollection", "features": 5}).encode(),
        "no features",
    ),
    JsonCase(
        "geojson-features-are-strings",
        GEO,
        lambda: json.dumps({"type": "FeatureCollection", "features": ["a", "b"]}).encode(),
    ),
    JsonCase("geojson-properties-is-a-list", GEO, lambda: geojson(properties=["MZ0101"])),
    JsonCase(
        "geojson-10MB-property", GEO, lambda: geojson(properties={"ADM2_PCODE": "MZ" + "9" * (10 * MB)})
    ),
    JsonCase(
        "geojson-surrogate-and-nul-keys",
        GEO,
        lambda: geojson(properties={"\ud800\x00k": "x", "\x07": "\udfff"}),
    ),
    JsonCase(
        "geojson-duplicate-feature",
        GEO,
        lambda: json.dumps(
            {"type": "FeatureCollection", "features": [json.loads(geojson())["features"][0]] * 2}
        ).encode(),
        "already given",
    ),
    JsonCase("dtm-valid", DTM, lambda: dtm(), refused=False),
    JsonCase("dtm-not-json", DTM, lambda: b"<html>502 Bad Gateway</html>", "not a DTM API v3 response"),
    JsonCase("dtm-10k-nested", DTM, lambda: nested(10_000), "not a DTM API v3 response"),
    JsonCase(
        "dtm-100k-nested-in-a-record",
        DTM,
        lambda: dtm_raw("admin1Name", "[" * 100_000 + "]" * 100_000),
        "not a DTM API v3 response",
    ),
    JsonCase(
        "dtm-900-nested-name",
        DTM,
        lambda: dtm_raw("admin1Name", '{"a":' * 900 + "1" + "}" * 900),
        refused=False,
    ),
    JsonCase("dtm-1e400-count", DTM, lambda: dtm_raw("numPresentIdpInd", "1e400"), "not a whole number"),
    JsonCase("dtm-nan-count", DTM, lambda: dtm_raw("numPresentIdpInd", "NaN"), "not a whole number"),
    JsonCase(
        "dtm-infinity-count", DTM, lambda: dtm_raw("numPresentIdpInd", "-Infinity"), "not a whole number"
    ),
    JsonCase(
        "dtm-10e30-count", DTM, lambda: dtm_raw("numPresentIdpInd", "1" + "0" * 30), "larger than any count"
    ),
    JsonCase(
        "dtm-huge-round", DTM, lambda: dtm_raw("roundNumber", "99999999999999999999"), "not a round number"
    ),
    JsonCase(
        "dtm-5000-digit-count",
        DTM,
        lambda: dtm_raw("numPresentIdpInd", "9" * 5000),
        "not a DTM API v3 response",
    ),
    JsonCase("dtm-count-is-a-list", DTM, lambda: dtm_raw("numPresentIdpInd", "[10]"), "not a whole number"),
    JsonCase("dtm-count-is-true", DTM, lambda: dtm_raw("numPresentIdpInd", "true"), "not a whole number"),
    JsonCase(
        "dtm-lone-surrogate-name", DTM, lambda: dtm_raw("admin1Name", '"Cabo \\ud800 Delgado"'), refused=False
    ),
    JsonCase(
        "dtm-nul-and-controls-in-name",
        DTM,
        lambda: dtm_raw("admin1Name", '"Cabo\\u0000 Del\\u0007gado"'),
        refused=False,
    ),
    JsonCase("dtm-1MB-name", DTM, lambda: dtm_raw("displacementReason", json.dumps("x" * MB)), refused=False),
    JsonCase("dtm-bad-date", DTM, lambda: dtm_raw("reportingDate", '"9999-99-99"'), "not a date"),
    JsonCase(
        "dtm-failed-response-odd-messages",
        DTM,
        lambda: json.dumps({"isSuccess": False, "errorMessages": [{"a": 1}, 5, "x" * 5000]}).encode(),
        "says it failed",
    ),
    JsonCase(
        "dtm-failed-response-text-message",
        DTM,
        lambda: json.dumps({"isSuccess": False, "errorMessages": "down"}).encode(),
        "down",
    ),
    JsonCase(
        "dtm-result-is-an-object",
        DTM,
        lambda: json.dumps({"result": {"a": 1}}).encode(),
        "not a DTM API v3 response",
    ),
    JsonCase("dtm-100k-empty-records", DTM, lambda: dtm([{}] * 100_000), "is missing"),
    JsonCase(
        "dtm-utf16-with-bom",
        DTM,
        lambda: codecs.BOM_UTF16_LE + dtm().decode().encode("utf-16-le"),
        "not a DTM API v3 response",
    ),
]


def test_the_json_cases_are_named_once():
    ids = [case.id for case in JSON_CASES]
    assert len(ids) == len(set(ids)) and {case.kind for case in JSON_CASES} == set(JSON_KINDS)


@pytest.mark.parametrize(
    "case", [pytest.param(c, id=c.id, marks=[pytest.mark.heavy] if c.heavy else []) for c in JSON_CASES]
)
def test_hostile_json_is_refused_clearly_or_read(hostile_world, case):
    data = case.make()
    before = domain_counts()
    with budget(case.seconds, case.memory_mb, what=case.id):
        outcome = send(hostile_world, case.kind, "f.json", data)
    if case.refused:
        assert_clear_refusal(outcome, before, says=case.says)
    else:
        assert_handled(outcome, before)
        assert not outcome.failed, (outcome.message, [e.text for e in outcome.job.row_errors.all()])


# ---------------------------------------------------------------- read correctly, whatever the encoding

COD_HEADER = "ADM0_PT,ADM0_PCODE,ADM1_PT,ADM1_PCODE,ADM2_PT,ADM2_PCODE"
COD_ROWS = [
    "Moçambique,MZ,Cabo Delgado,MZ01,Mocímboa da Praia,MZ0105",
    "Moçambique,MZ,Cabo Delgado,MZ01,Chiúre,MZ0104",
]
COD_NAMES = {"MZ0105": "Mocímboa da Praia", "MZ0104": "Chiúre"}


def cod_text(newline: str = "\n") -> str:
    return newline.join([COD_HEADER, *COD_ROWS]) + newline


ENCODED_TABLES = {
    "utf-8": lambda: cod_text().encode(),
    "utf-8-bom": lambda: codecs.BOM_UTF8 + cod_text().encode(),
    "utf-16-le-bom": lambda: codecs.BOM_UTF16_LE + cod_text().encode("utf-16-le"),
    "utf-16-be-bom": lambda: codecs.BOM_UTF16_BE + cod_text().encode("utf-16-be"),
    "utf-16-le-no-bom": lambda: cod_text().encode("utf-16-le"),
    "utf-16-be-no-bom": lambda: cod_text().encode("utf-16-be"),
    "cp1252": lambda: cod_text("\r\n").encode("cp1252"),
    "latin-1": lambda: cod_text().encode("latin-1"),
    "mac-line-ends": lambda: cod_text("\r").encode(),
    "mixed-line-ends": lambda: (COD_HEADER + "\r\n" + COD_ROWS[0] + "\r" + COD_ROWS[1] + "\n").encode(),
    "semicolons": lambda: cod_text().replace(",", ";").encode(),
    "tabs": lambda: cod_text().replace(",", "\t").encode(),
    "control-characters": lambda: (
        cod_text().replace("Chiúre", "Chi\x07\x1búre\x00"[:-1]).replace("Mocímboa", "Moc\x0bímboa").encode()
    ),
}


@pytest.mark.parametrize("encoding", list(ENCODED_TABLES))
def test_a_table_in_any_common_encoding_is_read_correctly(hostile_world, encoding):
    from mobility.gazetteer.models import AdminArea

    with budget(5, 64, what=encoding):
        outcome = send(hostile_world, "gazetteer.cod", "pcodes.csv", ENCODED_TABLES[encoding]())
    assert not outcome.failed, outcome.message
    stored = dict(
        AdminArea.objects.filter(version__edition="hostile edition", level=2).values_list("pcode", "name")
    )
    assert stored == COD_NAMES


def test_an_xlsx_with_escaped_control_characters_is_read_clean(hostile_world):
    from mobility.gazetteer.models import AdminArea

    rows = [COD_HEADER.split(","), *(row.split(",") for row in COD_ROWS)]
    strings = list(dict.fromkeys(cell for row in rows for cell in row))
    # Excel writes characters XML cannot hold as _xHHHH_; calamine turns them back into characters.
    raw = {strings.index("Chiúre"): "Chi_x0007_úre_x001B_".encode()}
    data = xlsx(rows, replace={"xl/sharedStrings.xml": shared_strings_xml(strings, raw=raw)})
    outcome = send(hostile_world, "gazetteer.cod", "pcodes.xlsx", data)
    assert not outcome.failed, outcome.message
    names = set(
        AdminArea.objects.filter(version__edition="hostile edition", level=2).values_list("name", flat=True)
    )
    assert names == set(COD_NAMES.values())


def test_a_file_half_utf8_half_cp1252_is_refused_at_the_line_that_changes(hostile_world):
    before = domain_counts()
    data = (cod_text() + "Moçambique,MZ,Cabo Delgado,MZ01,Ancuabe,MZ0101\n").encode()
    data += "Moçambique,MZ,Cabo Delgado,MZ01,Montepuez,MZ0111\n".encode("cp1252")
    data += "Moçambique,MZ,Cabo Delgado,MZ01,Mueda,MZ0112\n".encode("cp1252")
    outcome = send(hostile_world, "gazetteer.cod", "pcodes.csv", data)
    assert_clear_refusal(outcome, before, says=FILE_ENCODING_MIXED.format(lines="lines 5, 6"))


# ---------------------------------------------------------------- through the upload page, as users do


UPLOADS = [
    ("bomb.xlsx", "gazetteer.cod", lambda: _sst_bomb(2048)),
    (
        "laughs.xlsx",
        "gazetteer.cod",
        lambda: _sst_with(XML_DECLARATION + BILLION_LAUGHS_DTD, BILLION_LAUGHS_REF),
    ),
    ("x" * 240 + ".csv", "gazetteer.cod", lambda: cod_text().encode()),
    ("binary.csv", "gazetteer.cod", lambda: (COD_HEADER + "\nMZ\x00,x\n").encode()),
    (
        "mixed.csv",
        "gazetteer.cod",
        lambda: cod_text().encode() + "Moçambique,MZ,Cabo Delgado,MZ01,Chiúre,MZ0109\n".encode("cp1252"),
    ),
    ("utf16.csv", "gazetteer.cod", lambda: cod_text().encode("utf-16-le")),
    ("nested.json", "tracking.dtm-api-v3", lambda: nested(10_000)),
    ("huge.json", "tracking.dtm-api-v3", lambda: dtm_raw("numPresentIdpInd", "1" + "0" * 30)),
    ("inf.geojson", "gazetteer.geojson", lambda: geojson().replace(b"40.5", b"1e400", 1)),
]


@pytest.mark.parametrize(("name", "kind", "make"), [pytest.param(*u, id=u[0][:20]) for u in UPLOADS])
def test_a_hostile_upload_on_the_imports_page_is_refused_or_imported_never_a_server_error(
    client, hostile_world, admin_user, django_capture_on_commit_callbacks, name, kind, make
):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.urls import reverse

    from mobility.core.models import ImportJob

    client.force_login(admin_user)
    before = domain_counts()
    data = {"file": SimpleUploadedFile(name, make()), "kind": kind, "operation": "", "country": "MOZ"}
    with budget(15, 300, what=name), django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("core:imports"), data)
    assert response.status_code in (200, 302)
    job = ImportJob.objects.first()
    if response.status_code == 200:  # refused on the form, before any job
        assert job is None and response.context["form"].errors
        assert domain_counts() == before
        return
    job.refresh_from_db()
    assert job.status in (ImportJob.Status.SUCCEEDED, ImportJob.Status.FAILED)
    if job.status == ImportJob.Status.FAILED:
        assert job.error and "internal error" not in job.error and len(job.error) < 2000
        assert domain_counts() == before
    page = client.get(reverse("core:import_detail", args=[job.pk]))
    assert page.status_code == 200


# ---------------------------------------------------------------- the budget itself can fail


def test_the_budget_interrupts_a_hang():
    import time

    from .hostile import BudgetExceeded

    with pytest.raises(BudgetExceeded, match="still running"), budget(0.05, 64, what="a sleep"):
        time.sleep(2)


def test_the_budget_counts_cpu_time():
    import time

    from .hostile import BudgetExceeded

    # Over its CPU budget: the assertion after the block, or the alarm first on a busy machine.
    with pytest.raises((AssertionError, BudgetExceeded), match="of CPU|still running"):
        with budget(0.1, 64, what="a loop"):
            end = time.process_time() + 0.3
            while time.process_time() < end:
                pass


def test_the_budget_measures_memory():
    with pytest.raises(AssertionError, match="grew the RSS"), budget(5, 50, what="an allocation"):
        held = b"x" * (120 * MB)
        assert held


# ---------------------------------------------------------------- the count the README states


def hostile_inputs_tried() -> dict[str, int]:
    """Hostile inputs the suite tries on every run of CI (heavy cases counted apart)."""
    from . import test_hostile_exports, test_hostile_fuzz, test_hostile_xml

    table = sum(1 for p in table_matrix() if not p.marks)
    heavy = sum(1 for p in table_matrix() if p.marks)
    valued = sum(1 for p in valued_matrix() if not p.marks)
    heavy += sum(1 for p in valued_matrix() if p.marks)
    json_cases = sum(1 for c in JSON_CASES if not c.heavy)
    heavy += sum(1 for c in JSON_CASES if c.heavy)
    counts = {
        "tables (file × importer)": table,
        "numbers in valid rows (value × importer)": valued,
        "JSON and GeoJSON": json_cases,
        "encodings read correctly": len(ENCODED_TABLES) + 2,
        "uploads on the imports page": len(UPLOADS),
        "OpenRosa submissions": len(test_hostile_xml.INSTANCE_CASES) + 2,
        "attachment names": len(test_hostile_xml.ATTACHMENT_NAMES),
        "XLSForms (service and page)": 2 * len(test_hostile_xml.XLSFORM_CASES) + 3,
        "pulled XForms": len(test_hostile_xml.XFORM_CASES),
        "HTML cells": len(test_hostile_xml.HTML_CASES),
        "formula cells in exports": len(test_hostile_exports.FORMULAS) + 1 + len(test_hostile_exports.BENIGN),
        "hypothesis examples": test_hostile_fuzz.FUZZ_EXAMPLES,
    }
    counts["total"] = sum(counts.values())
    counts["heavy (not counted)"] = heavy
    return counts


def test_the_count_of_hostile_inputs_is_what_the_readme_states():
    counts = hostile_inputs_tried()
    assert counts["total"] >= 2000, counts

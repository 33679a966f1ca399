"""Hypothesis-generated hostile input to the parsers every importer shares: tables, cells, counts,
geometries, submissions, HTML cells and the formula rule of exports.

Issue 8, item 3. Each test states a property that holds for any input: a clear refusal of its own
type or a correct reading, within a CPU and memory budget. ``FUZZ_EXAMPLES`` is what they try.
"""

from __future__ import annotations

import csv
import io
import json
import math
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mobility.collection.xforms import MAX_DEPTH, InstanceError, instance_parse
from mobility.core.tables import (
    FORMULA_STARTS,
    MAX_COUNT,
    TableError,
    clean_text,
    is_hxl_row,
    neutralise,
    read_table,
)
from mobility.gazetteer.importers.geojson import _check_geometry
from mobility.restrictions.importers.common import CellError, count_parse, html_to_text
from mobility.tracking.importers.dtm import _whole
from mobility.tracking.importers.events import parse_count as events_count
from mobility.tracking.profiles.parsing import count_checked, parse_count

from .hostile import budget, xlsx

# Examples each property is tried with (the README's count adds them to the hand-written cases).
EXAMPLES = {
    "bytes_as_csv": 150,
    "csv_round_trip": 150,
    "xlsx_round_trip": 60,
    "counts": 400,
    "geometry": 300,
    "submission": 200,
    "html": 200,
    "neutralise": 300,
}
FUZZ_EXAMPLES = sum(EXAMPLES.values())
FAST = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large]}

# Text a person could type or a hostile file could hold: any code point XML and UTF-8 can carry,
# with the troublesome ones (controls, BOM, bidi marks, formula starts, quotes, delimiters) made likely.
TROUBLE = "\x00\x01\x07\x0b\x1b\x7f\ufeff\u202e\u2028\"';,\t\r\n=+-@|<>&\\"
cell_text = st.text(
    alphabet=st.one_of(st.sampled_from(TROUBLE), st.characters(blacklist_categories=("Cs",))), max_size=40
)
xml_text = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cs",), blacklist_characters="\ufffe\uffff", min_codepoint=0x20
    ).filter(lambda c: c not in "\x7f"),
    max_size=40,
)


def write(data: bytes, suffix: str) -> Path:
    handle = tempfile.NamedTemporaryFile(suffix=suffix, delete=False)  # noqa: SIM115 - closed here
    handle.write(data)
    handle.close()
    return Path(handle.name)


@settings(max_examples=EXAMPLES["bytes_as_csv"], **FAST)
@given(st.binary(max_size=3000) | st.text(alphabet=TROUBLE + "ab1", max_size=2000).map(str.encode))
def test_any_bytes_named_csv_are_read_or_refused_as_a_table_error(data):
    path = write(data, ".csv")
    try:
        with budget(5, 64, what="read_table"):
            try:
                for _number, row in read_table(path):
                    assert all(clean_text(v) == v for v in row.values())
            except TableError as exc:
                assert 0 < len(str(exc)) < 500
    finally:
        path.unlink()


@settings(max_examples=EXAMPLES["csv_round_trip"], **FAST)
@given(
    rows=st.lists(st.lists(cell_text, min_size=3, max_size=3), min_size=1, max_size=8),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16"]),
    delimiter=st.sampled_from([",", ";", "\t"]),
)
@example(rows=[["0\x0c", "", ""], ["0\x0c", "\x0c", ""]], encoding="utf-8", delimiter=";")  # form feeds
def test_a_csv_written_by_a_spreadsheet_reads_back_cell_for_cell(rows, encoding, delimiter):
    """What csv.writer writes (quoting what needs quoting), the reader gives back, cleaned."""
    header = ["admin1_name", "admin2_name", "population"]
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    path = write(out.getvalue().encode(encoding, "surrogatepass"), ".csv")
    try:
        with budget(5, 64, what="read_table"):
            table = read_table(path, expected=header)
            got = [list(values.values()) for _, values in table]
    except TableError:
        # Refusing is right only for what no reader can take as text: a NUL, or a cell past the limit.
        assert any("\x00" in cell for row in rows for cell in row)
        return
    finally:
        path.unlink()
    assert table.columns == header
    assert got == expected_rows(rows)


@settings(max_examples=EXAMPLES["xlsx_round_trip"], **FAST)
@given(st.lists(st.lists(xml_text, min_size=2, max_size=2), min_size=1, max_size=6))
def test_an_xlsx_reads_back_cell_for_cell(rows):
    header = ["admin1_name", "admin2_name"]
    path = write(xlsx([header, *rows]), ".xlsx")
    try:
        with budget(5, 64, what="read_table"):
            got = [list(values.values()) for _, values in read_table(path, expected=header)]
    finally:
        path.unlink()
    assert got == expected_rows(rows)


def expected_rows(rows: list[list[str]]) -> list[list[str]]:
    """The rows a reader gives: cleaned, blank ones left out, an HXL hashtag row under the header skipped."""
    wanted = [row for row in ([clean_text(c) for c in row] for row in rows) if any(row)]
    return wanted[1:] if wanted and is_hxl_row(wanted[0]) else wanted


number_text = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(
        ["1e400", "-1e400", "NaN", "inf", "1_000", "１２", "٣", "0x10", "1,234", "1.234.567", "9" * 5000]
    ),
    st.text(alphabet="0123456789.,-+eE _x", max_size=25),
)


@settings(max_examples=EXAMPLES["counts"], **FAST)
@given(number_text)
def test_every_count_parser_gives_a_storable_count_or_its_own_error(text):
    for parse, refusals in (
        (lambda t: count_checked(parse_count(t), t), (ValueError,)),  # as the tracking readers store it
        (events_count, (ValueError,)),
        (count_parse, (CellError,)),
    ):
        try:
            value = parse(text)
        except refusals:
            continue
        assert value is None or (isinstance(value, int) and abs(value) <= MAX_COUNT), (parse, text, value)
    value, problem = _whole(text)
    assert (value is None) or (problem is None and 0 <= value <= MAX_COUNT)


coordinate = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-200, max_value=200),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.sampled_from(["40", None, [], {}, True]),
)
positions = st.lists(st.lists(coordinate, min_size=0, max_size=3), min_size=0, max_size=8)
geometry = st.one_of(
    st.fixed_dictionaries({"type": st.just("Polygon"), "coordinates": st.lists(positions, max_size=2)}),
    st.fixed_dictionaries(
        {
            "type": st.just("MultiPolygon"),
            "coordinates": st.lists(st.lists(positions, max_size=2), max_size=2),
        }
    ),
    st.fixed_dictionaries(
        {"type": st.sampled_from(["Point", "LineString", "Nonsense", 5]), "coordinates": positions}
    ),
    st.sampled_from([None, "POLYGON((0 0,1 0,1 1,0 0))", [], 5]),
)


def _no_constants(name):
    raise ValueError(name)


@settings(max_examples=EXAMPLES["geometry"], **FAST)
@given(geometry)
def test_any_geometry_is_refused_with_its_feature_or_stored_as_valid_wgs84_geojson(shape):
    with budget(5, 64, what="_check_geometry"):
        checked = _check_geometry(7, "MZ0101", shape)
    if isinstance(checked, str):
        assert checked.startswith("feature 7 (MZ0101)") and len(checked) < 500
        return
    text, bbox = checked
    parsed = json.loads(text, parse_constant=_no_constants)  # no NaN or Infinity in what is stored
    assert parsed["type"] in ("Polygon", "MultiPolygon")
    min_lon, min_lat, max_lon, max_lat = bbox
    assert -180 <= min_lon <= max_lon <= 180 and -90 <= min_lat <= max_lat <= 90
    assert all(math.isfinite(v) for v in bbox)


@st.composite
def element(draw, depth: int = 0):
    name = draw(st.sampled_from(["q", "g", "meta", "instanceID", "people", "x-y", "a.b", "_"]))
    if depth >= draw(st.integers(min_value=0, max_value=MAX_DEPTH + 3)):
        return f"<{name}>{_escape(draw(xml_text))}</{name}>"
    children = draw(st.lists(element(depth=depth + 1), max_size=2 if depth > 3 else 3))
    return f"<{name}>{''.join(children)}</{name}>"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@settings(max_examples=EXAMPLES["submission"], **FAST)
@given(
    body=element(),
    instance_id=st.one_of(xml_text, st.just("uuid:1")),
    dtd=st.sampled_from(["", '<!DOCTYPE d [<!ENTITY e "x">]>', '<!DOCTYPE d SYSTEM "http://127.0.0.1:9/d">']),
)
def test_any_submission_is_an_instance_or_a_refusal_with_its_reason(body, instance_id, dtd):
    raw = (
        f'<?xml version="1.0"?>{dtd}<data id="f">{body}<meta><instanceID>{_escape(instance_id)}</instanceID></meta></data>'
    ).encode()
    with budget(5, 64, what="instance_parse"):
        try:
            parsed = instance_parse(raw)
        except InstanceError as exc:
            assert 0 < len(str(exc)) < 300
            return
    assert not dtd  # a DTD is always refused
    assert parsed.instance_id == instance_id.strip() and parsed.xml_form_id == "f"


@settings(max_examples=EXAMPLES["html"], **FAST)
@given(
    st.text(alphabet='<>/&;#!-ab "=\x00\x07\r\n', max_size=3000)
    | st.lists(
        st.sampled_from(
            ["<a ", "<a href='http://x'>", "</a>", "<br>", "<script>", "<!--", "&amp;", "&#0;", "<", ">", "x"]
        ),
        max_size=2000,
    ).map("".join)
)
def test_any_html_cell_becomes_plain_text_in_linear_time(html):
    with budget(2, 32, what="html_to_text"):
        text, links = html_to_text(html)
    assert len(text) <= 20_000 and len(links) <= 20
    assert not any(c in text for c in "\x00\x07\r")


@settings(max_examples=EXAMPLES["neutralise"], **FAST)
@given(cell_text)
def test_no_exported_text_cell_starts_a_formula(text):
    out = neutralise(text)
    assert not out.startswith(FORMULA_STARTS)
    assert out == text or out == "'" + text

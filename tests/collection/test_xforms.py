"""XLSForm conversion: the staged real forms convert, pyxform's own errors come through unchanged."""

from __future__ import annotations

import io
import zipfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mobility.collection.xforms import (
    FormError,
    InstanceError,
    instance_parse,
    xlsform_convert,
)
from tests.conftest import SHARED_DATA, shared

from .forms import simple_xlsform, xlsform

STAGED = sorted(p.relative_to(SHARED_DATA).as_posix() for p in SHARED_DATA.glob("xlsform/*/*.xlsx"))


@pytest.mark.parametrize(
    "relative", STAGED or ["xlsform/humanitarian/REACH_2024_MSNA-kobo-tool_draft_v11.xlsx"]
)
def test_every_staged_xlsform_converts_as_pyxform_does(relative):
    """Each staged form converts, or fails with exactly the message pyxform itself gives."""
    from pyxform import xls2xform
    from pyxform.errors import PyXFormError

    path = shared(relative)
    data = path.read_bytes()
    try:
        expected = xls2xform.convert(xlsform=str(path), warnings=[])
    except PyXFormError as exc:
        with pytest.raises(FormError) as info:
            xlsform_convert(data, path.name)
        assert str(exc) in str(info.value)
        return
    converted = xlsform_convert(data, path.name)
    assert converted.xml_form_id == (expected._survey.id_string or path.stem)
    assert f'id="{converted.xml_form_id}"' in converted.xml
    assert f'version="{converted.version}"' in converted.xml
    assert converted.fields, "a form has questions"


def test_reach_msna_keeps_both_languages_and_its_questions():
    path = shared("xlsform/humanitarian/REACH_2024_MSNA-kobo-tool_draft_v11.xlsx")
    converted = xlsform_convert(path.read_bytes(), path.name)
    assert {"english", "french"} <= set(converted.languages)
    labelled = [f for f in converted.fields if {"english", "french"} <= set(f["labels"])]
    assert len(labelled) > 100
    assert any(f["type"] == "select one" and f["list"] in converted.choices for f in converted.fields)


def test_personal_column_marks_fields():
    converted = xlsform_convert(simple_xlsform(), "household_visit.xlsx")
    personal = {f["name"] for f in converted.fields if f["personal"]}
    assert personal == {"respondent_name"}
    assert converted.languages == ["English (en)", "Português (pt)"]
    assert converted.version == "2026112501" and not converted.version_generated


def test_a_form_without_version_gets_one_in_its_xml():
    data = xlsform(
        [["type", "name", "label"], ["integer", "people", "People"]], settings={"form_id": "no_version"}
    )
    converted = xlsform_convert(data, "no_version.xlsx")
    assert converted.version_generated and converted.version.isdigit()
    assert f'version="{converted.version}"' in converted.xml


def test_pyxform_error_names_the_row():
    data = xlsform(
        [["type", "name", "label"], ["integer", "people", "People"], ["integer", "people", "Again"]]
    )
    with pytest.raises(FormError) as info:
        xlsform_convert(data, "broken.xlsx")
    message = str(info.value)
    assert message.startswith("broken.xlsx: [row : 3] On the 'survey' sheet, the 'name' value 'people'")


def test_zip_bomb_is_refused_before_pyxform_opens_it():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"0" * (120 * 2**20))
    with pytest.raises(FormError, match="unzips to more than"):
        xlsform_convert(out.getvalue(), "bomb.xlsx")


def test_not_a_workbook():
    with pytest.raises(FormError, match="not an XLSForm workbook"):
        xlsform_convert(b"PK\x03\x04 this is not a zip", "fake.xlsx")


def test_billion_laughs_is_refused():
    raw = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
        b'<data id="f"><q>&lol2;</q><meta><instanceID>uuid:1</instanceID></meta></data>'
    )
    with pytest.raises(InstanceError, match="DTD or entities"):
        instance_parse(raw)


def test_deep_nesting_is_refused():
    raw = b'<data id="f">' + b"<g>" * 100 + b"x" + b"</g>" * 100 + b"</data>"
    with pytest.raises(InstanceError, match="deeper than"):
        instance_parse(raw)


def test_repeats_and_groups_flatten_like_kobo():
    raw = (
        b'<data id="f" version="3"><grp><q>1</q></grp><rpt><name>a</name></rpt><rpt><name>b</name></rpt>'
        b"<meta><instanceID>uuid:9</instanceID><deprecatedID>uuid:8</deprecatedID></meta></data>"
    )
    instance = instance_parse(raw)
    assert instance.data["grp/q"] == "1"
    assert instance.data["rpt"] == [{"rpt/name": "a"}, {"rpt/name": "b"}]
    assert (instance.instance_id, instance.deprecated_id, instance.version) == ("uuid:9", "uuid:8", "3")
    single = instance_parse(raw.replace(b"<rpt><name>b</name></rpt>", b""), repeats={"rpt"})
    assert single.data["rpt"] == [{"rpt/name": "a"}]


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_never_crash_the_parser(raw):
    try:
        instance = instance_parse(raw)
    except InstanceError:
        return
    assert instance.instance_id and instance.xml_form_id


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200))
def test_any_text_value_round_trips(value):
    from xml.sax.saxutils import escape

    cleaned = "".join(ch for ch in value if ch in "\t\n\r" or ord(ch) >= 0x20)
    cleaned = "".join(ch for ch in cleaned if ch not in "\ufffe\uffff")
    raw = (
        f'<data id="f"><q>{escape(cleaned)}</q><meta><instanceID>uuid:1</instanceID></meta></data>'
    ).encode()
    expected = cleaned.replace("\r\n", "\n").replace("\r", "\n").strip()  # XML normalises line ends
    assert instance_parse(raw).data["q"] == expected


def test_a_personal_group_makes_its_questions_personal():
    data = xlsform(
        [
            ["type", "name", "label", "personal_data"],
            ["begin_group", "who", "Who", "yes"],
            ["text", "full_name", "Full name", ""],
            ["end_group", "", "", ""],
            ["begin_repeat", "members", "Members", ""],
            ["text", "member_name", "Name", "yes"],
            ["integer", "age", "Age", ""],
            ["end_repeat", "", "", ""],
        ],
        settings={"form_id": "grouped"},
    )
    personal = {f["path"] for f in xlsform_convert(data, "grouped.xlsx").fields if f["personal"]}
    assert personal == {"who/full_name", "members/member_name"}

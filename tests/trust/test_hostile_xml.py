"""Hostile XML where Mobility reads XML: OpenRosa submissions posted as a phone posts them, XLSForms
uploaded on the forms page, XForm XML pulled from a server, and the HTML cells of restriction files.

Issue 8, item 3. Every case runs under a CPU and memory budget (tests/trust/hostile.py) with the
network cut: an external entity that tried to fetch anything would fail the test.
"""

from __future__ import annotations

import functools
import socket
from pathlib import Path

import pytest
from defusedxml import ElementTree as SafeET
from defusedxml.common import DefusedXmlException
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from mobility.collection.models import Attachment, Form, FormVersion, Submission
from mobility.collection.services import form_publish, form_version_from_xml
from mobility.collection.xforms import MAX_DEPTH, MAX_ELEMENTS, MAX_INSTANCE_BYTES
from mobility.restrictions.importers.common import html_to_text
from tests.collection.forms import simple_xlsform, xlsform

from .hostile import (
    BILLION_LAUGHS_DTD,
    BILLION_LAUGHS_REF,
    EXTERNAL_DTD,
    MB,
    QUADRATIC_DTD,
    QUADRATIC_REF,
    XML_DECLARATION,
    XXE_FILE_DTD,
    XXE_HTTP_DTD,
    XXE_PARAMETER_DTD,
    XXE_REF,
    budget,
    deflate_repeat,
    shared_strings_xml,
    sheet_xml,
    workbook_xml,
    xlsx,
)

pytestmark = pytest.mark.django_db
RESPONSE_NS = {"r": "http://openrosa.org/http/response"}


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any attempt to open a connection from Python fails the test (the database's own is in libpq)."""
    attempts: list = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise AssertionError(f"a parser tried to reach the network: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    yield attempts
    assert not attempts


# ---------------------------------------------------------------- OpenRosa submissions over HTTP


def instance(
    body: bytes = b"<people>3</people>", *, dtd: bytes = b"", attrs: bytes = b"", decl=None, iid="uuid:1"
):
    declaration = b'<?xml version="1.0"?>' if decl is None else decl
    return (
        declaration
        + dtd
        + b'<data xmlns:orx="http://openrosa.org/xforms" id="household_visit" version="2026112501"'
        + attrs
        + b">"
        + body
        + b"<meta><instanceID>"
        + iid.encode()
        + b"</instanceID></meta></data>"
    )


def groups(depth: int) -> bytes:
    return b"<g>" * depth + b"<q>1</q>" + b"</g>" * depth


# (id, raw instance, expected status, part of the message or the stored value to check)
INSTANCE_CASES = [
    ("valid", instance(), 201, ("people", "3")),
    (
        "billion-laughs",
        instance(b"<people>" + BILLION_LAUGHS_REF + b"</people>", dtd=BILLION_LAUGHS_DTD),
        400,
        "DTD",
    ),
    ("quadratic-blowup", instance(b"<people>" + QUADRATIC_REF + b"</people>", dtd=QUADRATIC_DTD), 400, "DTD"),
    ("xxe-file", instance(b"<people>" + XXE_REF + b"</people>", dtd=XXE_FILE_DTD), 400, "DTD"),
    ("xxe-http", instance(b"<people>" + XXE_REF + b"</people>", dtd=XXE_HTTP_DTD), 400, "DTD"),
    ("xxe-parameter-entity", instance(dtd=XXE_PARAMETER_DTD), 400, "DTD"),
    ("external-dtd", instance(dtd=EXTERNAL_DTD), 400, "DTD"),
    ("nested-10k", instance(groups(10_000)), 400, "deeper than"),
    ("nested-100k", instance(groups(100_000)), 400, "deeper than"),
    ("nested-just-deep-enough", instance(groups(MAX_DEPTH - 2)), 201, None),
    ("nested-one-too-deep", instance(groups(MAX_DEPTH)), 400, "deeper than"),
    ("9MB-attribute", instance(attrs=b' note="' + b"A" * (9 * MB) + b'"'), 201, ("people", "3")),
    ("200k-attributes", instance(attrs=b"".join(b' a%d="1"' % i for i in range(200_000))), 201, None),
    ("over-the-size-limit", instance(b"<n>" + b"x" * MAX_INSTANCE_BYTES + b"</n>"), 400, "larger than"),
    ("too-many-elements", instance(b"<q>1</q>" * (MAX_ELEMENTS + 1)), 400, "elements"),
    ("nul-byte", instance(b"<people>3\x00</people>"), 400, "not well-formed"),
    ("nul-reference", instance(b"<people>&#0;</people>"), 400, "not well-formed"),
    ("control-reference", instance(b"<people>&#x1b;</people>"), 400, "not well-formed"),
    ("surrogate-reference", instance(b"<people>&#xD800;</people>"), 400, "not well-formed"),
    ("surrogate-bytes", instance(b"<people>\xed\xa0\x80</people>"), 400, "not well-formed"),
    ("utf16-no-bom", instance(decl=b"").decode().encode("utf-16-le"), 201, ("people", "3")),
    ("utf16-bom", b"\xff\xfe" + instance(decl=b"").decode().encode("utf-16-le"), 201, ("people", "3")),
    (
        "latin1-declared",
        instance(b"<name>S\xe3o</name>", decl=b'<?xml version="1.0" encoding="ISO-8859-1"?>'),
        201,
        ("name", "São"),
    ),
    (
        "cp1252-declared",
        instance(b"<name>\x93x\x94</name>", decl=b'<?xml version="1.0" encoding="windows-1252"?>'),
        201,
        ("name", "“x”"),
    ),
    ("latin1-bytes-said-utf8", instance(b"<name>S\xe3o</name>"), 400, "not well-formed"),
    ("unknown-encoding", instance(decl=b'<?xml version="1.0" encoding="x-klingon"?>'), 400, "encoding"),
    ("utf8-bom", b"\xef\xbb\xbf" + instance(), 201, ("people", "3")),
    ("mixed-line-endings", instance(b"<note>a\r\nb\rc\nd</note>"), 201, ("note", "a\nb\nc\nd")),
    ("100k-digit-number", instance(b"<people>" + b"9" * 100_000 + b"</people>"), 201, None),
    (
        "repeated-question",
        instance(b"<people>1</people><people>2</people>"),
        201,
        ("people", [{"people": "1"}, {"people": "2"}]),
    ),
    (
        "cdata-and-pi",
        instance(b"<?pi x?><!-- c --><note><![CDATA[<b>&amp;</b>]]></note>"),
        201,
        ("note", "<b>&amp;</b>"),
    ),
    (
        "formula-answer",
        instance(b'<note>=HYPERLINK("http://x","y")</note>'),
        201,
        ("note", '=HYPERLINK("http://x","y")'),
    ),
    (
        "5MB-form-id",
        instance().replace(b'id="household_visit"', b'id="' + b"f" * (5 * MB) + b'"'),
        400,
        "longer than",
    ),
    ("5MB-instance-id", instance(iid="uuid:" + "1" * (5 * MB)), 400, "longer than"),
    ("no-instance-id", instance(iid=""), 400, "instanceID"),
    ("unknown-form", instance().replace(b"household_visit", b"no_such_form"), 404, "No form"),
    ("empty", b"", 400, "not well-formed"),
    ("json", b'{"data": {"people": 3}}', 400, "not well-formed"),
    ("html", b"<html><body>502</body></html>", 400, "no id attribute"),
]


@pytest.fixture
def household_visit(operation, data_manager):
    return form_publish(
        operation=operation, data=simple_xlsform(), filename="household_visit.xlsx", by=data_manager
    )


def post_instance(client, operation, raw: bytes, *attachments: tuple[str, bytes]):
    data = {"xml_submission_file": SimpleUploadedFile("instance.xml", raw, "text/xml")}
    for i, (name, content) in enumerate(attachments):
        data[f"file{i}"] = SimpleUploadedFile(name, content, "image/jpeg")
    return client.post(f"/collect/{operation.slug}/submission", data, HTTP_X_OPENROSA_VERSION="1.0")


def openrosa_message(response) -> tuple[str, str]:
    node = SafeET.fromstring(response.content).find("r:message", RESPONSE_NS)
    return node.get("nature", ""), node.text or ""


@pytest.mark.parametrize(
    ("raw", "status", "check"), [pytest.param(*case[1:], id=case[0]) for case in INSTANCE_CASES]
)
def test_a_hostile_submission_is_refused_with_its_reason_or_stored_right(
    client, operation, enumerator, household_visit, raw, status, check
):
    client.force_login(enumerator)
    with budget(15, 300, what="the submission"):
        response = post_instance(client, operation, raw)
    assert response.status_code == status, openrosa_message(response)
    nature, text = openrosa_message(response)
    assert len(response.content) < 2000  # the reason, not the submission echoed back
    if status >= 400:
        assert nature == "error" and (check is None or check in text), text
        assert not Submission.objects.exists()
    else:
        stored = Submission.objects.get()
        if check is not None:
            field, value = check
            assert stored.data[field] == value
        assert "root:" not in str(stored.data)  # no /etc/passwd, whatever the parser did


def test_a_resent_hostile_submission_is_refused_again(client, operation, enumerator, household_visit):
    client.force_login(enumerator)
    raw = instance(b"<people>" + BILLION_LAUGHS_REF + b"</people>", dtd=BILLION_LAUGHS_DTD)
    assert [post_instance(client, operation, raw).status_code for _ in range(3)] == [400, 400, 400]
    assert not Submission.objects.exists()


def test_a_submission_posted_as_a_text_field_is_parsed_the_same_way(
    client, operation, enumerator, household_visit
):
    client.force_login(enumerator)
    raw = instance(b"<people>" + XXE_REF + b"</people>", dtd=XXE_FILE_DTD)
    response = client.post(
        f"/collect/{operation.slug}/submission",
        {"xml_submission_file": raw.decode()},
        HTTP_X_OPENROSA_VERSION="1.0",
    )
    assert response.status_code == 400 and "DTD" in openrosa_message(response)[1]
    assert not Submission.objects.exists()


ATTACHMENT_NAMES = [
    "../../../../etc/passwd",
    "..\\..\\..\\windows\\win.ini",
    "/etc/shadow",
    "photo.jpg" + "g" * 400,
    "a" * 300 + ".jpg",
    "." * 200,
    "ünï\u202ecødé.gpj.exe",
    "con.jpg",
]


@pytest.mark.parametrize("name", ATTACHMENT_NAMES)
def test_a_hostile_attachment_name_is_stored_inside_the_media_root_or_refused(
    client, operation, enumerator, household_visit, name
):
    client.force_login(enumerator)
    with budget(10, 100, what="the attachment"):
        response = post_instance(client, operation, instance(), (name, b"\xff\xd8\xff jpeg"))
    assert response.status_code in (201, 400), response.status_code
    root = Path(settings.MEDIA_ROOT).resolve()
    for attachment in Attachment.objects.all():
        path = Path(attachment.file.path).resolve()
        assert path.is_relative_to(root) and path.read_bytes() == b"\xff\xd8\xff jpeg"
        assert len(path.name.encode()) <= 255
    if response.status_code == 400:
        assert not Submission.objects.exists()
    outside = [p for p in ("/tmp/passwd", "/tmp/win.ini") if Path(p).exists()]
    assert not outside


# ---------------------------------------------------------------- XLSForms on the forms page

SURVEY = [["type", "name", "label"], ["integer", "people", "People"], ["text", "note", "Note"]]
SURVEY_STRINGS = list(dict.fromkeys(c for row in SURVEY for c in row))


def _xlsform_sst(prolog: bytes, ref: bytes) -> bytes:
    raw = {SURVEY_STRINGS.index("People"): ref}
    return xlsx(
        SURVEY, replace={"xl/sharedStrings.xml": shared_strings_xml(SURVEY_STRINGS, prolog=prolog, raw=raw)}
    )


def _xlsform_sheet(prolog: bytes) -> bytes:
    strings = {s: i for i, s in enumerate(SURVEY_STRINGS)}
    return xlsx(SURVEY, replace={"xl/worksheets/sheet1.xml": sheet_xml(SURVEY, strings, prolog=prolog)})


def _deep_groups(depth: int) -> bytes:
    rows = [["type", "name", "label"]]
    rows += [["begin_group", f"g{i}", f"Group {i}"] for i in range(depth)]
    rows += [["integer", "people", "People"]]
    rows += [["end_group", "", ""] for _ in range(depth)]
    return xlsform(rows, settings={"form_id": "deep", "version": "1"})


@functools.lru_cache(maxsize=1)
def sst_bomb() -> tuple:
    """Shared strings that unpack to 2 GB from 2 MB (made once, when a case needs them)."""
    return deflate_repeat(b"A" * MB, 2048, XML_DECLARATION + b"<sst><si><t>", b"</t></si></sst>")


# (id, file name, bytes, part of the problem shown; None: published correctly)
XLSFORM_CASES = [
    ("valid", "visit.xlsx", lambda: xlsform(SURVEY, settings={"form_id": "visit", "version": "1"}), None),
    (
        "zip-bomb-2GB",
        "bomb.xlsx",
        lambda: xlsx(SURVEY, replace={"xl/sharedStrings.xml": sst_bomb()}),
        "unzips to more",
    ),
    (
        "zip-bomb-lying-sizes",
        "bomb.xlsx",
        lambda: xlsx(SURVEY, replace={"xl/sharedStrings.xml": (*sst_bomb(), 100)}),
        "not an XLSForm workbook",
    ),
    (
        "not-a-zip",
        "form.xlsx",
        lambda: b"type,name,label\ninteger,people,People\n",
        "not an XLSForm workbook",
    ),
    (
        "empty-zip",
        "form.xlsx",
        lambda: xlsx(SURVEY)[:0] + b"PK\x05\x06" + b"\x00" * 18,
        "not an XLSForm workbook",
    ),
    (
        "billion-laughs-shared-strings",
        "form.xlsx",
        lambda: _xlsform_sst(XML_DECLARATION + BILLION_LAUGHS_DTD, BILLION_LAUGHS_REF),
        "DTD or entities",
    ),
    (
        "quadratic-blowup-shared-strings",
        "form.xlsx",
        lambda: _xlsform_sst(XML_DECLARATION + QUADRATIC_DTD, QUADRATIC_REF),
        "DTD or entities",
    ),
    (
        "xxe-file-shared-strings",
        "form.xlsx",
        lambda: _xlsform_sst(XML_DECLARATION + XXE_FILE_DTD, XXE_REF),
        "DTD or entities",
    ),
    (
        "xxe-http-sheet",
        "form.xlsx",
        lambda: _xlsform_sheet(XML_DECLARATION + XXE_HTTP_DTD),
        "DTD or entities",
    ),
    (
        "billion-laughs-workbook",
        "form.xlsx",
        lambda: xlsx(
            SURVEY, replace={"xl/workbook.xml": workbook_xml(prolog=XML_DECLARATION + BILLION_LAUGHS_DTD)}
        ),
        "DTD or entities",
    ),
    ("external-dtd", "form.xlsx", lambda: _xlsform_sheet(XML_DECLARATION + EXTERNAL_DTD), None),
    (
        "control-characters-in-xml",
        "form.xlsx",
        lambda: _xlsform_sst(XML_DECLARATION, b"Peo\x01ple"),
        "could not be read",
    ),
    ("groups-2000-deep", "deep.xlsx", lambda: _deep_groups(2000), "nest deeper than"),
    ("groups-one-too-deep", "deep.xlsx", lambda: _deep_groups(MAX_DEPTH - 1), "nest deeper than"),
    ("groups-just-deep-enough", "deep.xlsx", lambda: _deep_groups(MAX_DEPTH - 2), None),
    (
        "label-with-escaped-control-character",
        "form.xlsx",
        lambda: _xlsform_sst(XML_DECLARATION, b"Peo_x0007_ple"),
        None,
    ),
    (
        "markup-in-label",
        "form.xlsx",
        lambda: xlsform([*SURVEY, ["text", "x", "</label><h:script>alert(1)</h:script>"]]),
        None,
    ),
    (
        "formula-label",
        "form.xlsx",
        lambda: xlsform([*SURVEY, ["text", "x", '=cmd|" /C calc"!A0']]),
        "has no label",
    ),
]


XLSFORM_PARAMS = [pytest.param(*case[1:], id=case[0]) for case in XLSFORM_CASES]


@pytest.mark.parametrize(("name", "make", "problem"), XLSFORM_PARAMS)
def test_a_hostile_xlsform_is_refused_with_the_problem_or_published(
    operation, data_manager, name, make, problem
):
    data = make()
    with budget(15, 300, what=name):
        try:
            version = form_publish(operation=operation, data=data, filename=name, by=data_manager)
        except ValidationError as exc:
            refused = " ".join(exc.messages)
        else:
            refused = None
    if problem is None:
        assert refused is None, refused
        SafeET.fromstring(version.xml.encode())  # the XForm phones download is well-formed XML
        assert "root:" not in version.xml
    else:
        assert refused and problem in refused and len(refused) < 1000, refused
        assert not Form.objects.exists() and not FormVersion.objects.exists()


@pytest.mark.parametrize(("name", "make", "problem"), XLSFORM_PARAMS)
def test_a_hostile_xlsform_uploaded_on_the_forms_page_is_refused_or_published(
    client, operation, data_manager, name, make, problem
):
    client.force_login(data_manager)
    upload = SimpleUploadedFile(name, make())
    with budget(15, 300, what=name):
        response = client.post(reverse("collection:forms"), {"operation": operation.pk, "file": upload})
    if problem is None:
        assert response.status_code == 302, response.content.decode()[:2000]
        assert FormVersion.objects.count() == 1
    else:
        # Refused by the upload's content check (a form error) or by the conversion (the problems list).
        assert response.status_code in (200, 400)
        page = response.content.decode()
        assert problem in page or "does not match its name" in page
        assert not Form.objects.exists() and not FormVersion.objects.exists()


def test_the_escaped_control_character_is_not_in_the_xform(operation, data_manager):
    data = _xlsform_sst(XML_DECLARATION, b"Peo_x0007_ple")
    version = form_publish(operation=operation, data=data, filename="form.xlsx", by=data_manager)
    assert "\x07" not in version.xml  # openpyxl keeps Excel's escape as text: "Peo_x0007_ple"
    SafeET.fromstring(version.xml.encode())


def test_a_control_character_in_a_csv_xlsform_names_the_question(operation, data_manager):
    with pytest.raises(ValidationError, match='"note" holds a control character'):
        form_publish(
            operation=operation,
            data=b"survey,,,\n,type,name,label\n,text,note,bad\x01label\n",
            filename="form.csv",
            by=data_manager,
        )


def test_a_submission_to_the_deepest_form_published_is_received(client, operation, enumerator, data_manager):
    form_publish(operation=operation, data=_deep_groups(MAX_DEPTH - 2), filename="deep.xlsx", by=data_manager)
    body = b"".join(b"<g%d>" % i for i in range(MAX_DEPTH - 2)) + b"<people>4</people>"
    body += b"".join(b"</g%d>" % i for i in reversed(range(MAX_DEPTH - 2)))
    raw = instance(body).replace(b'id="household_visit" version="2026112501"', b'id="deep" version="1"')
    client.force_login(enumerator)
    assert post_instance(client, operation, raw).status_code == 201


# ---------------------------------------------------------------- XForm XML pulled from Kobo / ODK Central

PULL_REFUSALS = (ValidationError, DefusedXmlException, SyntaxError, ValueError)  # store_form_xml's


def xform(instance_body: bytes = b"<people/>", *, prolog: bytes = b"", form_id: bytes = b"pulled") -> str:
    return (
        prolog
        + b'<h:html xmlns="http://www.w3.org/2002/xforms" xmlns:h="http://www.w3.org/1999/xhtml">'
        + b'<h:head><h:title>Pulled</h:title><model><instance><data id="'
        + form_id
        + b'" version="1">'
        + instance_body
        + b"<meta><instanceID/></meta></data></instance></model></h:head><h:body/></h:html>"
    ).decode()


XFORM_CASES = [
    ("valid", xform(), None),
    (
        "billion-laughs",
        xform(b"<people>" + BILLION_LAUGHS_REF + b"</people>", prolog=BILLION_LAUGHS_DTD),
        "refused",
    ),
    ("xxe-file", xform(b"<people>" + XXE_REF + b"</people>", prolog=XXE_FILE_DTD), "refused"),
    ("xxe-http", xform(b"<people>" + XXE_REF + b"</people>", prolog=XXE_HTTP_DTD), "refused"),
    ("external-dtd", xform(prolog=EXTERNAL_DTD), "refused"),
    ("nested-1000", xform(groups(1000)), "refused"),
    ("nested-100k", xform(groups(100_000)), "refused"),
    ("5MB-id", xform(form_id=b"f" * (5 * MB)), "refused"),
    ("not-xml", "<h:html><unclosed>", "refused"),
    ("no-instance", "<h:html xmlns:h='http://www.w3.org/1999/xhtml'/>", "refused"),
]


@pytest.mark.parametrize(("xml", "expected"), [pytest.param(*case[1:], id=case[0]) for case in XFORM_CASES])
def test_a_hostile_pulled_xform_is_refused_as_the_pull_expects(operation, xml, expected):
    with budget(10, 200, what="the XForm"):
        try:
            version = form_version_from_xml(operation=operation, xml=xml)
        except PULL_REFUSALS:
            outcome = "refused"
        else:
            outcome = None
            assert version.form.xml_form_id == "pulled"
    assert outcome == expected
    if expected:
        assert not Form.objects.exists()


# ---------------------------------------------------------------- HTML cells of restriction sources

HTML_CASES = [
    ("unclosed-anchors", "<a " * 30_000),
    ("unclosed-known-tags", "<b><i><p><div>" * 20_000),
    ("nested-100k", "<div>" * 50_000 + "x" + "</div>" * 50_000),
    ("comment-never-closed", "<!--" + "x" * 90_000),
    ("many-lt", "<" * 100_000),
    ("entities", "&lt;&#0;&#x110000;&#xD800;&nosuchentity;&amp;" * 2_000),
    ("script", "<script>alert(1)</script><style>x</style>" * 2_000),
    ("links", '<a href="javascript:alert(1)">x</a><a href="http://a/' + "b" * 1_000 + '">y</a>' * 500),
    ("controls", "\x00\x01\x1b<br\x07>" * 10_000),
    ("cdata-and-pi", "<![CDATA[<x>]]><?php x ?>" * 5_000),
]


@pytest.mark.parametrize("html", [pytest.param(case[1], id=case[0]) for case in HTML_CASES])
def test_hostile_html_in_a_restriction_cell_becomes_plain_text_in_time(html):
    with budget(5, 100, what="html_to_text"):
        text, links = html_to_text(html)
    assert len(text) <= 20_000 and len(links) <= 20
    assert "<script" not in text.lower() and "\x00" not in text
    assert all(link["url"].startswith(("http://", "https://")) for link in links)

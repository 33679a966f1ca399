"""Registration lists through the importer: households grouped from individual rows, re-imports that
change nothing, every bad row named by row and column without its personal value, nothing stored
half-way, and only for users granted the register capability."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from openpyxl import Workbook

from mobility.core.models import ImportJob
from mobility.registration.importers.individuals import (
    IMPORT_NO_UPLOADER,
    IMPORT_NOT_GRANTED,
    MAPPING_SOURCE_MISSING,
    MISSING_COLUMNS,
)
from mobility.registration.importers.template import TEMPLATE_PATH
from mobility.registration.models import AccessLog, Household, IdentityDocument, Individual
from mobility.registration.records import (
    PERSONAL_COLUMNS,
    ROW_AGE_INVALID,
    ROW_DOB_FUTURE,
    ROW_DOB_TOO_OLD,
    ROW_MOJIBAKE,
    TEMPLATE_COLUMNS,
)
from mobility.registration.services import DOC_TWICE, HH_DISAGREES, HH_NO_HEAD, PERSON_TWICE
from tests.gazetteer.gazetteer_fixtures import moz_gazetteer_fixture  # noqa: F401
from tests.registration.factories import household_rows
from tests.registration.importing import error_texts, import_job, registrar_fixture, write_file  # noqa: F401

pytestmark = pytest.mark.django_db


def test_the_shipped_template_imports_two_households(operation, registrar, moz_gazetteer, tmp_path):
    job = import_job(TEMPLATE_PATH, operation, registrar)
    assert job.status == ImportJob.Status.SUCCEEDED, (job.error, error_texts(job))
    assert (job.created, job.updated, job.unchanged, job.rows_read) == (2, 0, 0, 5)
    assert job.summary["households"] == 2 and job.summary["individuals_created"] == 5
    first = Household.objects.get(reference="EX-0001")
    # Household cells on the head's row only: the household still gets them.
    assert (first.size, first.location_pcode, first.admin1_pcode, first.admin2_pcode) == (
        3,
        "MZ010901",
        "MZ01",
        "MZ0109",
    )
    assert first.phone == "+258840000001" and first.consent_scope == ["assistance", "registration"]
    assert first.source == Household.Source.IMPORT and first.registered_by == registrar
    rosa = Individual.objects.get(reference="EX-0001-3")
    assert rosa.dob_estimated and rosa.birth_year == dt.date.today().year - 4
    yusuf = Individual.objects.get(reference="EX-0002-1")
    assert yusuf.other_names == ["يوسف"] and yusuf.disability["walking"] == 3 and yusuf.has_disability
    assert IdentityDocument.objects.get().individual.reference == "EX-0001-1"
    written = AccessLog.objects.get(action=AccessLog.Action.EDIT)
    assert (written.user, written.object_type, written.object_id) == (
        registrar,
        "core.importjob",
        str(job.pk),
    )
    assert written.detail == {"households": 2, "individuals": 5}


def test_the_template_file_has_the_template_columns():
    header = TEMPLATE_PATH.read_text(encoding="utf-8").splitlines()[0].split(",")
    assert header == TEMPLATE_COLUMNS


def test_a_re_import_changes_nothing_and_a_changed_row_updates(operation, registrar, tmp_path):
    rows = household_rows("HH-A", members=[{"given_name": "Zito"}], household_size="2", phone="+258841111111")
    rows += household_rows("HH-B", members=[{"given_name": "Lina", "sex": "f"}])
    path = write_file(tmp_path / "list.csv", rows)
    first = import_job(path, operation, registrar)
    assert (first.created, first.updated, first.unchanged) == (2, 0, 0), error_texts(first)
    again = import_job(path, operation, registrar)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    assert again.summary["individuals_unchanged"] == 4 and again.summary["individuals_created"] == 0
    rows[1]["given_name"] = "Zito Jr"  # a corrected name
    changed = import_job(write_file(tmp_path / "list2.csv", rows), operation, registrar)
    assert (changed.created, changed.updated, changed.unchanged) == (0, 1, 1)
    assert changed.summary["individuals_updated"] == 1
    assert Individual.objects.count() == 4 and Household.objects.count() == 2
    assert Individual.objects.get(reference="HH-A-2").given_name == "Zito Jr"


def test_household_columns_repeated_must_agree(operation, registrar, tmp_path):
    rows = household_rows(
        "HH-C", members=[{"given_name": "Ali"}], location_pcode="MZ010901", phone="+258842222222"
    )
    rows[1]["phone"] = "+258 84 333 3333"  # another phone on the child's row
    rows[1]["location_pcode"] = "mz010901"  # the same p-code in another case agrees
    job = import_job(write_file(tmp_path / "hh.csv", rows), operation, registrar)
    assert job.status == ImportJob.Status.FAILED
    message = str(HH_DISAGREES.format(reference="HH-C", column="phone", first_row=2))
    assert error_texts(job) == [f"row 3, column phone: {message}"]
    assert not Household.objects.exists()


BAD_NAMES = {"Kalinda", "Mussa", "Abdala", "Saquina", "Fatima", "Juma"}


def bad_rows() -> list[dict]:
    today = dt.date.today()
    future = (today + dt.timedelta(days=30)).isoformat()
    old = dt.date(today.year - 130, 1, 1).isoformat()
    rows = household_rows("HH-1", head={"given_name": "Kalinda", "date_of_birth": future})
    rows += household_rows("HH-2", head={"given_name": "Mussa", "date_of_birth": old})
    rows += household_rows("HH-3", head={"given_name": "Abdala", "date_of_birth": "", "age": "131"})
    rows += household_rows(  # no head: the only member is a spouse
        "HH-4", head={"relationship": "spouse", "given_name": "Saquina"}
    )
    rows += household_rows(
        "HH-5",
        head={"given_name": "Fatima", "document_type": "national_id", "document_number": "110200345678C"},
    )
    rows += household_rows(
        "HH-6",
        head={"given_name": "Juma", "document_type": "national_id", "document_number": "110200345678C"},
    )
    rows += household_rows("HH-7", head={"given_name": "ConceiÃ§Ã£o"})  # UTF-8 read as cp1252
    rows += household_rows("HH-8", head={"individual_id": "HH-1-1"})  # a person given twice
    return rows


def test_bad_input_is_named_by_row_and_column_and_nothing_is_stored(operation, registrar, tmp_path):
    job = import_job(write_file(tmp_path / "bad.csv", bad_rows()), operation, registrar)
    assert job.status == ImportJob.Status.FAILED
    texts = error_texts(job)
    assert texts == [
        f"row 2, column date_of_birth: {ROW_DOB_FUTURE}",
        f"row 3, column date_of_birth: {ROW_DOB_TOO_OLD.format(max_age=120)}",
        f"row 4, column age: {ROW_AGE_INVALID.format(value='131', max_age=120)}",
        f"row 5, column relationship: {HH_NO_HEAD.format(reference='HH-4')}",
        f"row 7, column document_number: {DOC_TWICE.format(doc_type='national_id', first_row=6)}",
        f"row 8, column given_name: {ROW_MOJIBAKE}",
        f"row 9, column individual_id: {PERSON_TWICE.format(first_row=2)}",
    ]
    assert job.rejected == 7
    assert "nothing was stored" in job.error
    # Never a personal value: not in the stored value, the message or the job's error.
    stored = list(job.row_errors.values_list("column", "value", "message"))
    assert all(value == "" for column, value, _m in stored if column in PERSONAL_COLUMNS)
    everything = job.error + "".join(v + m for _c, v, m in stored)
    assert not [n for n in BAD_NAMES | {"110200345678C", "Conceição", "ConceiÃ§Ã£o"} if n in everything]
    assert not Household.objects.exists() and not Individual.objects.exists()


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "cp1252", "latin-1"])
def test_portuguese_names_in_any_encoding(operation, registrar, tmp_path, encoding):
    rows = household_rows(
        "HH-PT",
        head={"given_name": "Conceição", "family_name": "Simões", "other_names": "Ção"},
        members=[{"given_name": "Tomé", "family_name": "Simões"}],
        address="Rua Eduardo Mondlane, nº 5",
    )
    job = import_job(
        write_file(tmp_path / f"pt-{encoding}.csv", rows, encoding=encoding), operation, registrar
    )
    assert job.status == ImportJob.Status.SUCCEEDED, (job.error, error_texts(job))
    head = Individual.objects.get(reference="HH-PT-1")
    assert (head.given_name, head.family_name, head.other_names) == ("Conceição", "Simões", ["Ção"])
    assert Household.objects.get().address == "Rua Eduardo Mondlane, nº 5"


def test_arabic_and_latin_names_in_one_utf8_file(operation, registrar, tmp_path):
    rows = household_rows("HH-AR", head={"given_name": "محمد", "family_name": "عبد الله", "sex": "m"})
    rows += household_rows("HH-LT", head={"given_name": "Muhammad", "family_name": "Abdallah", "sex": "m"})
    job = import_job(write_file(tmp_path / "ar.csv", rows), operation, registrar)
    assert job.status == ImportJob.Status.SUCCEEDED, error_texts(job)
    assert Individual.objects.get(reference="HH-AR-1").family_name == "عبد الله"


def test_a_file_mixing_utf8_and_cp1252_rows_is_refused_row_by_row(operation, registrar, tmp_path):
    """Two offices' lists pasted together: the UTF-8 rows come out garbled, and are named."""
    utf8 = household_rows("HH-U", head={"given_name": "João", "family_name": "Magaia"})
    legacy = household_rows("HH-L", head={"given_name": "Inês", "family_name": "Tembe"})
    arabic = household_rows("HH-R", head={"given_name": "فاطمة", "family_name": "Tembe"})
    from tests.registration.importing import csv_text

    text = csv_text(utf8 + legacy + arabic).splitlines(keepends=True)
    body = text[0].encode() + text[1].encode("utf-8") + text[2].encode("cp1252") + text[3].encode("utf-8")
    path = tmp_path / "mixed.csv"
    path.write_bytes(body)
    job = import_job(path, operation, registrar)
    assert job.status == ImportJob.Status.FAILED
    texts = error_texts(job)
    assert f"row 2, column given_name: {ROW_MOJIBAKE}" in texts
    assert f"row 4, column given_name: {ROW_MOJIBAKE}" in texts
    assert not [t for t in texts if t.startswith("row 3,")]
    assert not Household.objects.exists()


def test_headers_in_any_case_and_a_column_mapping(operation, registrar, tmp_path):
    rows = household_rows("HH-M", head={"given_name": "Rabia", "family_name": "Assane"})
    columns = [
        "Household ID",
        "INDIVIDUAL-ID",
        "Relationship",
        "Nome",
        "Apelido",
        "Sex",
        "Date of birth",
        "Notas",
    ]
    keyed = [
        {
            "Household ID": r["household_id"],
            "INDIVIDUAL-ID": r["individual_id"],
            "Relationship": r["relationship"],
            "Nome": r["given_name"],
            "Apelido": r["family_name"],
            "Sex": r["sex"],
            "Date of birth": r["date_of_birth"],
            "Notas": "x",
        }
        for r in rows
    ]
    path = write_file(tmp_path / "mapped.csv", keyed, columns=columns)
    job = import_job(path, operation, registrar, mapping={"given_name": "Nome", "family_name": "apelido"})
    assert job.status == ImportJob.Status.SUCCEEDED, (job.error, error_texts(job))
    assert job.summary["warnings"] == ["Columns not in the template were not read: Notas."]
    person = Individual.objects.get(reference="HH-M-1")
    assert (person.given_name, person.family_name) == ("Rabia", "Assane")


def test_a_mapped_column_names_the_files_column_in_errors(operation, registrar, tmp_path):
    rows = household_rows("HH-N", head={"given_name": "Rabia", "date_of_birth": "31/02/1990"})
    keyed = [{**r, "Nascimento": r["date_of_birth"]} for r in rows]
    columns = [c for c in TEMPLATE_COLUMNS if c != "date_of_birth"] + ["Nascimento"]
    path = write_file(tmp_path / "mapped.csv", keyed, columns=columns)
    job = import_job(path, operation, registrar, mapping={"date_of_birth": "Nascimento"})
    assert job.status == ImportJob.Status.FAILED
    assert error_texts(job)[0].startswith("row 2, column Nascimento (date_of_birth): is not a date")
    missing = import_job(path, operation, registrar, mapping={"date_of_birth": "Data"})
    assert missing.error == str(
        MAPPING_SOURCE_MISSING.format(column="date_of_birth", source="Data", found=", ".join(columns))
    )


def test_a_file_without_the_required_columns_is_refused(operation, registrar, tmp_path):
    path = tmp_path / "names.csv"
    path.write_text("given_name,family_name\nAna,Bila\n", encoding="utf-8")
    job = import_job(path, operation, registrar)
    assert job.status == ImportJob.Status.FAILED
    assert job.error == str(
        MISSING_COLUMNS.format(
            columns="household_id, individual_id, relationship, sex", template=", ".join(TEMPLATE_COLUMNS)
        )
    )


def test_an_xlsx_list_with_date_cells(operation, registrar, tmp_path):
    wb = Workbook()
    sheet = wb.active
    sheet.append(
        ["household_id", "individual_id", "relationship", "given_name", "sex", "date_of_birth", "phone"]
    )
    sheet.append(["HH-X", "HH-X-1", "head", "Anifa", "f", dt.datetime(1991, 4, 5), 258841234567])
    sheet.append(["HH-X", "HH-X-2", "child", "Sumail", "m", dt.datetime(2019, 1, 2), None])
    path = tmp_path / "list.xlsx"
    wb.save(path)
    job = import_job(path, operation, registrar)
    assert job.status == ImportJob.Status.SUCCEEDED, (job.error, error_texts(job))
    assert Individual.objects.get(reference="HH-X-1").date_of_birth == "1991-04-05"
    assert Household.objects.get().phone == "258841234567"


def test_an_uploader_without_the_register_capability_is_refused(operation, data_manager, tmp_path):
    path = write_file(tmp_path / "list.csv", household_rows("HH-G"))
    job = import_job(path, operation, data_manager)
    assert job.status == ImportJob.Status.FAILED
    assert job.error == str(IMPORT_NOT_GRANTED.format(user=data_manager, operation=operation))
    assert AccessLog.objects.filter(user=data_manager, action=AccessLog.Action.DENIED).exists()
    nobody = import_job(path, operation, None)
    assert nobody.error == str(IMPORT_NO_UPLOADER)
    assert not Household.objects.exists()


def test_unknown_p_codes_and_sites_are_row_errors(operation, registrar, moz_gazetteer, tmp_path):
    rows = household_rows("HH-P", location_pcode="MZ999999", site_code="NOWHERE")
    job = import_job(write_file(tmp_path / "p.csv", rows), operation, registrar)
    texts = error_texts(job)
    assert texts == [
        'row 2, column location_pcode: "MZ999999" is not a p-code of the current MOZ gazetteer',
        'row 2, column site_code: "NOWHERE" is not a site code of this operation',
    ]


def test_personal_values_are_encrypted_at_rest_after_an_import(operation, registrar, tmp_path):
    rows = household_rows("HH-E", head={"given_name": "Nhamússua"}, phone="+258849999999")
    import_job(write_file(tmp_path / "e.csv", rows), operation, registrar)
    with connection.cursor() as cursor:
        cursor.execute("SELECT given_name FROM registration_individual")
        (stored,) = cursor.fetchone()
    assert "Nhamússua" not in stored and stored.startswith("g1.")


def test_new_people_are_matched_after_the_commit(
    operation, registrar, tmp_path, monkeypatch, django_capture_on_commit_callbacks
):
    from mobility.registration import dedup_app
    from mobility.registration.models import DedupModel

    calls = []
    monkeypatch.setattr(dedup_app, "dedup_incremental_safe", lambda op, ids: calls.append((op, ids)) or True)
    path = write_file(tmp_path / "m0.csv", household_rows("HH-M0"))
    with django_capture_on_commit_callbacks(execute=True):
        import_job(path, operation, registrar)
    assert calls == []  # no saved model yet: nothing to match against
    DedupModel.objects.create(operation=operation, version=1, settings_json={"comparisons": []})
    before = set(Individual.objects.values_list("pk", flat=True))
    path = write_file(tmp_path / "m.csv", household_rows("HH-MT", members=[{"given_name": "Ali"}]))
    with django_capture_on_commit_callbacks(execute=True):
        job = import_job(path, operation, registrar)
    assert job.status == ImportJob.Status.SUCCEEDED
    assert calls == [(operation.pk, sorted(set(Individual.objects.values_list("pk", flat=True)) - before))]
    with django_capture_on_commit_callbacks(execute=True):
        import_job(path, operation, registrar)  # nobody new: nothing to match
    assert len(calls) == 1

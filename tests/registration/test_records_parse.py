"""individual_parse and household_parse on any text: they never crash, their errors never hold the
personal value they refused, and valid rows are read back exactly however people write them."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mobility.core.imports import RowError
from mobility.core.models import PopulationGroup
from mobility.registration.models import IdentityDocument, Relationship
from mobility.registration.records import (
    HOUSEHOLD_COLUMNS,
    MAX_AGE,
    PERSONAL_COLUMNS,
    ROW_MIXED_SCRIPT,
    ROW_MOJIBAKE,
    SPECIFIC_NEEDS,
    TEMPLATE_COLUMNS,
    WG_DOMAINS,
    household_parse,
    individual_parse,
    looks_mojibake,
    text_check,
)

TODAY = dt.date(2026, 11, 1)
CELLS = st.one_of(
    st.text(max_size=60),
    st.sampled_from(
        [
            "",
            " ",
            "head",
            "Child",
            "F",
            "male",
            "feminino",
            "1990",
            "0000",
            "٠٠٠٠",
            "1e400",
            "inf",
            "nan",
            "-3",
            "2.5",
            "31/02/1990",
            "2090-01-01",
            "1890-01-01",
            "yes",
            "não",
            "1",
            "5",
            "national_id",
            "passport",
            "+258 84 123 4567",
            "12",
            "IDP",
            "disability;pregnant_or_lactating",
            "MZ0109",
        ]
    ),
    st.integers(-(10**6), 10**6).map(str),
    st.dates(dt.date(1850, 1, 1), dt.date(2100, 1, 1)).map(lambda d: d.strftime("%d/%m/%Y")),
)
ROWS = st.dictionaries(st.sampled_from(TEMPLATE_COLUMNS), CELLS)


def _check_errors(errors: list[RowError], row: int) -> None:
    assert errors, "a refused row says why"
    for error in errors:
        assert error.row == row
        assert error.column in TEMPLATE_COLUMNS, error.column
        assert error.message
        if error.column in PERSONAL_COLUMNS:
            assert error.value == ""


@settings(max_examples=400, deadline=None)
@given(ROWS)
def test_individual_parse_never_crashes(raw):
    values, errors = individual_parse(raw, row=7, today=TODAY)
    if values is None:
        _check_errors(errors, 7)
    else:
        assert errors == []
        assert values.sex in ("f", "m", "u") and values.relationship in Relationship.values
        if values.birth_year is not None:
            assert TODAY.year - MAX_AGE - 1 <= values.birth_year <= TODAY.year


@settings(max_examples=400, deadline=None)
@given(ROWS)
def test_household_parse_never_crashes(raw):
    values, errors = household_parse(raw, row=9, today=TODAY)
    if values is None:
        _check_errors(errors, 9)
    else:
        assert errors == []
        assert values.size is None or 1 <= values.size <= 100
        assert set(values.specific_needs) <= set(SPECIFIC_NEEDS)


# A personal value that no message template could hold: it starts and ends with a sign no
# template (and no other cell here) uses, so any piece of it quoted in an error is found.
MARK = "§"
PERSONAL = st.text(max_size=40).map(lambda t: f"{MARK}{t}{MARK}")
OTHER_CELLS = CELLS.filter(lambda t: MARK not in t)


@settings(max_examples=400, deadline=None)
@given(
    st.dictionaries(st.sampled_from(sorted(set(TEMPLATE_COLUMNS) - PERSONAL_COLUMNS)), OTHER_CELLS),
    st.dictionaries(st.sampled_from(sorted(PERSONAL_COLUMNS)), PERSONAL, min_size=1),
)
def test_errors_never_hold_the_personal_value(plain, personal):
    raw = {**plain, **personal}
    for parse in (individual_parse, household_parse):
        _values, errors = parse(raw, row=3, today=TODAY)
        for error in errors:
            assert MARK not in error.message and MARK not in error.value, (error.column, error.message)
            assert MARK not in error.text


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(sorted(PERSONAL_COLUMNS)), st.sampled_from(["31/02/1990", "x" * 400, "a\x00b", "ЈoãoЈ"])
)
def test_bad_personal_cells_are_refused_without_their_value(column, text):
    raw = {
        "household_id": "H",
        "individual_id": "P",
        "relationship": "head",
        "sex": "f",
        "given_name": "Ana",
        column: text,
    }
    for parse in (individual_parse, household_parse):
        _values, errors = parse(raw, row=4, today=TODAY)
        for error in errors:
            assert text not in error.text and error.value == ""


# --- valid rows read back ---------------------------------------------------------------------

LATIN = st.text(alphabet="abcdefghijklmnopqrstuvwxyzãçéêíóõúâàüñ", min_size=1, max_size=12)
ARABIC = st.text(alphabet="ابتثجحخدذرزسشصضطظعغفقكلمنهوي", min_size=1, max_size=12)
NAMES = st.lists(st.one_of(LATIN.map(str.title), ARABIC), min_size=1, max_size=3).map(" ".join)
DATE_FORMATS = ["%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y"]


@st.composite
def valid_rows(draw):
    dob = draw(st.dates(dt.date(TODAY.year - MAX_AGE + 1, 1, 1), TODAY))
    fmt = draw(st.sampled_from(DATE_FORMATS))
    doc_type = draw(st.sampled_from(IdentityDocument.Type.values))
    number = draw(st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ0123456789", min_size=5, max_size=20))
    wg = {d: draw(st.sampled_from(["", "1", "2", "3", "4"])) for d in WG_DOMAINS}
    needs = draw(st.lists(st.sampled_from(SPECIFIC_NEEDS), unique=True, max_size=3))
    phone = draw(st.from_regex(r"\+2588[2-7][0-9]{7}", fullmatch=True))
    row = {
        "household_id": draw(st.from_regex(r"HH-[0-9]{1,6}", fullmatch=True)),
        "individual_id": draw(st.from_regex(r"P-[0-9]{1,8}", fullmatch=True)),
        "relationship": draw(st.sampled_from(Relationship.values)),
        "given_name": draw(NAMES),
        "family_name": draw(NAMES),
        "other_names": draw(st.lists(NAMES, max_size=2).map(";".join)),
        "sex": draw(st.sampled_from(["f", "m", "u"])),
        "date_of_birth": dob.strftime(fmt),
        "document_type": doc_type,
        "document_number": number,
        **{f"wg_{d}": v for d, v in wg.items()},
        "household_size": str(draw(st.integers(1, 100))),
        "population_group": draw(st.sampled_from(PopulationGroup.values)),
        "specific_needs": ";".join(needs),
        "phone": phone,
        "consent": draw(st.sampled_from(["yes", "no", "sim", "não"])),
    }
    return row, dob, needs


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_rows())
def test_valid_rows_round_trip(case):
    row, dob, needs = case
    person, errors = individual_parse(row, row=2, today=TODAY)
    assert errors == [], [e.text for e in errors]
    household, errors = household_parse(row, row=2, today=TODAY)
    assert errors == [], [e.text for e in errors]
    assert (person.reference, person.household_reference) == (row["individual_id"], row["household_id"])
    assert (person.given_name, person.family_name) == (row["given_name"], row["family_name"])
    assert person.other_names == [n for n in row["other_names"].split(";") if n]
    assert person.relationship == row["relationship"] and person.sex == row["sex"]
    assert person.date_of_birth == dob.isoformat() and person.birth_year == dob.year
    assert not person.dob_estimated
    assert person.documents == [(row["document_type"], row["document_number"])]
    assert person.disability == {d: int(row[f"wg_{d}"]) for d in WG_DOMAINS if row[f"wg_{d}"]}
    assert household.size == int(row["household_size"]) and household.phone == row["phone"]
    assert household.population_group == row["population_group"]
    assert household.specific_needs == sorted(needs)
    assert household.consent is (row["consent"] in ("yes", "sim"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ConceiÃ§Ã£o", ROW_MOJIBAKE),  # UTF-8 read as cp1252
        ("Ù…Ø­Ù…Ø¯", ROW_MOJIBAKE),  # Arabic UTF-8 read as cp1252
        ("Jo\ufffdo", ROW_MOJIBAKE),  # a byte the reader could not decode
        ("Joط£o", ROW_MOJIBAKE),  # UTF-8 read as cp1256
        ("Joãoط", ROW_MIXED_SCRIPT),  # an Arabic letter inside a Latin word
        ("Иван Pеtrov", ROW_MIXED_SCRIPT),  # Cyrillic letters inside a Latin word
    ],
)
def test_garbled_names_are_refused(text, message):
    errors: list[RowError] = []
    assert text_check(text, "given_name", 5, errors) == ""
    assert [(e.row, e.column, e.message, e.value) for e in errors] == [(5, "given_name", str(message), "")]


@pytest.mark.parametrize(
    "text",
    [
        "Conceição",
        "Simões Nhantumbo",
        "محمد عبد الله",
        "Muhammad محمد",
        "Rua 5, nº 12",
        "Ângela",
        "Amade-Ali",
        "گل خان",  # Urdu letters that cp1256 bytes would also read as UTF-8
        "اسپ شک",
        "ÚRSULA",
    ],
)
def test_real_names_are_kept(text):
    errors: list[RowError] = []
    assert text_check(text, "given_name", 5, errors) == text and errors == []
    assert not looks_mojibake(text)


def test_an_empty_household_row_reads_as_defaults():
    values, errors = household_parse({c: "" for c in HOUSEHOLD_COLUMNS}, row=2, today=TODAY)
    assert errors == [] and values.size is None and values.consent is False


@pytest.mark.django_db
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(valid_rows())
def test_valid_rows_round_trip_through_storage(operation, case):
    """Parsed, written (encrypted) and read back: the same values."""
    from mobility.registration.models import Household, Individual
    from mobility.registration.services import HouseholdBatchItem, households_write

    row, dob, needs = case
    row = {**row, "relationship": "head", "household_id": f"{row['household_id']}-{row['individual_id']}"}
    person, _ = individual_parse(row, row=2, today=TODAY)
    household, _ = household_parse(row, row=2, today=TODAY)
    Individual.objects.filter(operation=operation, reference=row["individual_id"]).delete()
    households_write(
        operation=operation, items=[HouseholdBatchItem(household=household, members=[person])], today=TODAY
    )
    stored = Individual.objects.get(operation=operation, reference=row["individual_id"])
    assert (stored.given_name, stored.family_name) == (row["given_name"], row["family_name"])
    assert stored.other_names == person.other_names and stored.date_of_birth == dob.isoformat()
    assert stored.disability == person.disability
    assert [(d.doc_type, d.number) for d in stored.documents.all()] == person.documents
    home = Household.objects.get(operation=operation, reference=row["household_id"])
    assert (home.phone, home.specific_needs, home.consent) == (row["phone"], sorted(needs), household.consent)

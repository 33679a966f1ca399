"""The Somalia flow-monitoring workbook of 2016 imports through the shipped source profile.

The real workbook (../shared) is checked figure by figure against totals computed here,
independently, with openpyxl; a small hand-made workbook of the same shape covers the rules
(two header rows, value maps, ticked reasons, duplicate form numbers, a totals row) on its own.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter

import openpyxl
import pytest
from django.core.exceptions import ValidationError

from mobility.core import imports
from mobility.core.models import ImportJob
from mobility.core.services import operation_create
from mobility.flows.counts import COUNT_NEGATIVE
from mobility.flows.importers.profile import KIND, PROFILE_OTHER_COUNTRY
from mobility.flows.models import FlowCount, FlowDaily, FlowMonitoringPoint
from mobility.flows.profiles import (
    PROFILE_FIELD_UNKNOWN,
    ROW_FMP_UNKNOWN,
    ROW_VALUE_UNKNOWN,
    header_names,
    profile_mapping,
    profile_validate,
)
from tests.conftest import shared

pytestmark = pytest.mark.django_db

SOMALIA = "dtm/somalia_dtm-flow-monitoring-dataset-oct-dec-2016.xlsx"
PROFILE = "somalia-fmp-2016"
CODES = {"doolow": "SOM-DOOLOW", "belethawa": "SOM-BELETXAAWO", "elwak": "SOM-CEELWAAQ"}


@pytest.fixture
def somalia(db):
    return operation_create(name="Somalia — Flow monitoring", country_iso3="SOM")


def run(path, operation, profile=PROFILE):
    name, mapping = profile_mapping(profile)
    job = imports.job_create(
        kind=KIND,
        source=path,
        operation=operation,
        profile={"source_profile": name, "mapping": mapping},
    )
    return imports.run(job)


def errors(job) -> list[str]:
    return [e.text for e in job.row_errors.all()]


def stored_totals(operation) -> dict[tuple[str, str], tuple[int, int]]:
    out: dict = {}
    for code, direction, individuals in FlowCount.objects.filter(operation=operation).values_list(
        "fmp__code", "direction", "individuals"
    ):
        records, people = out.get((code, direction), (0, 0))
        out[(code, direction)] = (records + 1, people + individuals)
    return out


def workbook_totals(path) -> dict[tuple[str, str], tuple[int, int]]:
    """Records and people per point and direction, read from the workbook by hand (openpyxl)."""
    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    out: dict = {}
    for sheet, direction in (("Entry Sheet", "in"), ("Exit Sheet", "out")):
        for row in book[sheet].iter_rows(min_row=3, values_only=True):
            form_number, _date, location, *_rest = row
            if form_number in (None, ""):
                continue  # the totals row under the data
            key = (CODES[str(location).strip().lower()], direction)
            records, people = out.get(key, (0, 0))
            out[key] = (records + 1, people + int(row[7]))  # H: "Family size / Total Households"
    return out


# --- the real workbook --------------------------------------------------------------------------


def test_the_somalia_workbook_imports_with_exact_totals_per_point_and_direction(somalia):
    path = shared(SOMALIA)
    job = run(path, somalia)
    assert job.status == ImportJob.Status.SUCCEEDED, errors(job)[:5]
    expected = workbook_totals(path)
    assert stored_totals(somalia) == expected
    # The figures, as a reader of the workbook finds them (its own totals rows say 1,571 and 753).
    assert expected == {
        ("SOM-DOOLOW", "in"): (275, 1440),
        ("SOM-BELETXAAWO", "in"): (11, 61),
        ("SOM-CEELWAAQ", "in"): (13, 70),
        ("SOM-DOOLOW", "out"): (110, 515),
        ("SOM-BELETXAAWO", "out"): (36, 84),
        ("SOM-CEELWAAQ", "out"): (79, 154),
    }
    assert (job.rows_read, job.created, job.updated) == (524, 524, 0)
    assert job.summary["points_created"] == 3
    warnings = " ".join(job.summary["warnings"])
    assert "Entry Sheet: skipped 1 row(s)" in warnings and "rows 302" in warnings
    assert "37 row(s) repeat a record id" in warnings
    assert "56 row(s) ticked several reason columns" in warnings
    # The summaries agree with the registry.
    daily = FlowDaily.objects.filter(operation=somalia)
    assert sum(daily.values_list("individuals", flat=True)) == 1571 + 753
    # One household of the Entry Sheet, field by field (row 3: Elwak, from Kenya to Luuq, Gedo).
    first = FlowCount.objects.get(fmp__code="SOM-CEELWAAQ", record_id="entry-1")
    assert (first.date, first.direction, first.from_country, first.to_country) == (
        dt.date(2016, 10, 2),
        "in",
        "KEN",
        "SOM",
    )
    assert (first.to_admin1, first.to_admin2, first.transport, first.reason) == (
        "SO26",
        "SO2606",
        "bus",
        "economic",
    )
    assert (first.individuals, first.households, first.females_5_17, first.males_18_59) == (5, 1, 1, 1)
    doolow = FlowMonitoringPoint.objects.get(operation=somalia, code="SOM-DOOLOW")
    assert (doolow.border_country_iso3, doolow.admin2_code, doolow.corridor.name) == (
        "ETH",
        "SO2605",
        "Gedo borders with Ethiopia and Kenya",
    )
    # "Ethopia" is Ethiopia; walking ("Other" + "Foot") is on foot.
    assert FlowCount.objects.filter(direction="in", from_country="ETH").count() == 277
    assert FlowCount.objects.filter(direction="in", transport="foot").count() == 20


def test_a_reimport_of_the_somalia_workbook_changes_nothing(somalia):
    path = shared(SOMALIA)
    assert run(path, somalia).status == ImportJob.Status.SUCCEEDED
    again = run(path, somalia)
    assert again.status == ImportJob.Status.SUCCEEDED, errors(again)[:5]
    assert (again.created, again.updated, again.unchanged) == (0, 0, 524)
    assert again.summary["points_created"] == 0
    assert FlowCount.objects.count() == 524 and FlowMonitoringPoint.objects.count() == 3


def test_the_profile_belongs_to_its_country(operation):
    job = run(shared(SOMALIA), operation)  # the Mozambique operation
    assert job.status == ImportJob.Status.FAILED
    assert job.error == PROFILE_OTHER_COUNTRY.format(
        profile=PROFILE, country="SOM", operation=operation, operation_country="MOZ"
    )


# --- a small workbook of the same shape ---------------------------------------------------------

TOP = (
    ["Enter form number", "Date of {verb}", "{verb} Location", "Sex of HH", "Age of HH"]
    + ["Family size", "", ""]
    + ["Children size", "", "", "", ""]
    + ["Adult size", "", ""]
    + ["Elderly size", "", ""]
)
SUB = (
    ["", "", "", "", "", "Male family members", "Female family members", "Total Households"]
    + ["Males 0-4 years", "Females 0-4 years", "Males 5-17 years", "Females 5-17 years", "Total children"]
    + ["Males 18-59 years", "Females 18-59 years", "Total Adults"]
    + ["Males 60 or older", "Females 60 or older", "Total elderly"]
)
ENTRY_TOP = [
    "Host Country (coming from which country)",
    "If other, please specify",
    "How long has family lived in Host country?",
    "Destination",
    "",
    "",
    "",
]
ENTRY_SUB = ["", "", "", "State", "Region", "District", "Village / Town / City"]
EXIT_TOP = ["Region & District you come from in Somalia", "", "Destination Country", "", "", "", ""]
EXIT_SUB = [
    "Which Region are you from? (In Somalia)",
    "Which District  are you from? (In Somalia)",
    "Country",
    "Province",
    "County",
    "District",
    "Town/Village",
]
REASONS = [
    "Food",
    "Health",
    "Education",
    "Security",
    "Employment opportunities",
    "Managing farmland",
    "Environmental factors",
    "Other",
]
VULNERABILITIES = [
    "SC= Unaccompanied or separated child",
    "WR= Woman at risk",
    "DS= Disabled person",
    "ER= Elder person at risk",
    "PG=Pregnant",
    "SP=Single parent",
    "SM= Serious medical condition",
    "LP= Special legal and protection needs",
    "CR=Child or adolescent at risk",
]
TAIL_TOP = (
    ["Whole or Partial Family Entry", "Mode of Transport", "If other, please specify"]
    + ["Reasons for Entry"]
    + [""] * len(REASONS)
    + ["Vulnerabilities observed/Special Needs Type"]
    + [""] * (len(VULNERABILITIES) - 1)
)
TAIL_SUB = ["", "", ""] + REASONS + ["If other, please specify"] + VULNERABILITIES


def household(number, day, place, sadd, *, middle, transport=("Truck/Bus", ""), reasons=(), flags=()):
    """One row: sadd = (m0-4, f0-4, m5-17, f5-17, m18-59, f18-59, m60, f60)."""
    m04, f04, m517, f517, m1859, f1859, m60, f60 = sadd
    total = sum(sadd)
    males, females = m04 + m517 + m1859 + m60, f04 + f517 + f1859 + f60
    return (
        [number, day, place, "female", 34, males, females, total]
        + [m04, f04, m517, f517, m04 + f04 + m517 + f517]
        + [m1859, f1859, m1859 + f1859, m60, f60, m60 + f60]
        + middle
        + ["Whole Entry", transport[0], transport[1]]
        + [r in reasons for r in REASONS]
        + [""]
        + [v in flags for v in VULNERABILITIES]
    )


def small_workbook(tmp_path, *, entry_rows=None, exit_rows=None):
    book = openpyxl.Workbook()
    entry = book.active
    entry.title = "Entry Sheet"
    exit_ = book.create_sheet("Exit Sheet")
    for sheet, verb, top, sub in (
        (entry, "Entry", ENTRY_TOP, ENTRY_SUB),
        (exit_, "Exit", EXIT_TOP, EXIT_SUB),
    ):
        sheet.append([c.format(verb=verb) for c in TOP] + top + TAIL_TOP)
        sheet.append(SUB + sub + TAIL_SUB)
    to_luuq = ["ethopia", "", ">_1_year", "Jubaland", "Gedo", "Luuq", "Luuq"]
    from_baidoa = ["Bay", "Baidoa", "Kenya ", "Northeastern", "Dadaab", "Dadaab", "Ifo"]
    entry_rows = entry_rows or [
        household(
            1, dt.datetime(2016, 10, 2), "Doolow", (1, 0, 1, 1, 1, 1, 0, 0), middle=to_luuq, reasons={"Food"}
        ),
        # Walking, fleeing insecurity and hunger (two reasons ticked: Security comes first).
        household(
            2,
            dt.datetime(2016, 10, 3),
            "Elwak ",
            (0, 1, 0, 0, 1, 1, 0, 1),
            middle=["Kenya", "", ">_1_year", "Jubaland", "Gedo", "Belet_xaawo", "Ufurow"],
            transport=("Other", "Foot"),
            reasons={"Food", "Security"},
            flags={"PG=Pregnant", "ER= Elder person at risk"},
        ),
        # The form number 1 again (forms restart): kept, with the row in its record id.
        household(1, dt.datetime(2016, 10, 4), "Doolow", (0, 0, 0, 0, 1, 0, 0, 0), middle=to_luuq),
    ]
    exit_rows = exit_rows or [
        household(
            1,
            dt.datetime(2016, 10, 9),
            "Belethawa ",
            (0, 0, 1, 0, 1, 1, 0, 0),
            middle=from_baidoa,
            reasons={"Education"},
        ),
    ]
    for row in entry_rows:
        entry.append(row)
    entry.append([""] * 7 + ["12 Individuals"])  # the workbook's own totals row
    for row in exit_rows:
        exit_.append(row)
    path = tmp_path / "somalia_fmp_small.xlsx"
    book.save(path)
    return path


def test_a_small_workbook_of_the_same_shape_maps_every_rule(somalia, tmp_path):
    job = run(small_workbook(tmp_path), somalia)
    assert job.status == ImportJob.Status.SUCCEEDED, errors(job)
    assert (job.rows_read, job.created) == (4, 4)
    rows = {c.record_id: c for c in FlowCount.objects.filter(operation=somalia).select_related("fmp")}
    assert set(rows) == {"entry-1", "entry-2", "entry-1-r5", "exit-1"}
    first, walking, again, leaving = rows["entry-1"], rows["entry-2"], rows["entry-1-r5"], rows["exit-1"]
    assert (first.fmp.code, first.from_country, first.to_admin1, first.to_admin2) == (
        "SOM-DOOLOW",
        "ETH",
        "SO26",
        "SO2606",
    )
    assert (first.individuals, first.males_0_4, first.reason, first.transport) == (5, 1, "food", "bus")
    assert (walking.fmp.code, walking.transport, walking.reason, walking.to_admin2) == (
        "SOM-CEELWAAQ",
        "foot",
        "conflict",
        "SO2603",
    )
    assert (walking.pregnant_women, walking.elderly, walking.disabilities, walking.individuals) == (
        1,
        1,
        0,
        4,
    )
    assert (again.fmp.code, again.date, again.individuals, again.reason) == (
        "SOM-DOOLOW",
        dt.date(2016, 10, 4),
        1,
        "unknown",
    )
    assert (
        leaving.direction,
        leaving.from_country,
        leaving.from_admin1,
        leaving.from_admin2,
        leaving.to_country,
    ) == (
        "out",
        "SOM",
        "SO24",
        "SO2401",
        "KEN",
    )
    assert leaving.reason == "services" and leaving.fmp.code == "SOM-BELETXAAWO"
    warnings = job.summary["warnings"]
    assert any("1 row(s) ticked several reason columns" in w for w in warnings)
    assert any("Entry Sheet: skipped 1 row(s)" in w and "rows 6" in w for w in warnings)


def test_bad_rows_name_the_sheet_row_and_workbook_column(somalia, tmp_path):
    middle = ["Ethopia", "", ">_1_year", "Jubaland", "Gedo", "Luuq", "Luuq"]
    bad_size = household(7, dt.datetime(2016, 10, 2), "Doolow", (1, 0, 0, 0, 1, 1, 0, 0), middle=middle)
    bad_size[7] = -3  # Total Households
    unknown_place = household(8, dt.datetime(2016, 10, 2), "Mandera", (0, 0, 0, 0, 1, 1, 0, 0), middle=middle)
    unknown_region = household(
        9,
        dt.datetime(2016, 10, 2),
        "Doolow",
        (0, 0, 0, 0, 1, 1, 0, 0),
        middle=["Kenya", "", "", "", "Atlantis", "", ""],
    )
    job = run(small_workbook(tmp_path, entry_rows=[bad_size, unknown_place, unknown_region]), somalia)
    assert job.status == ImportJob.Status.FAILED
    texts = errors(job)
    assert f'row 3, column Family size / Total Households (Entry Sheet): "-3" {COUNT_NEGATIVE}' in texts
    assert (
        f'row 4, column Entry Location (Entry Sheet): "Mandera" '
        f"{ROW_FMP_UNKNOWN.format(known='Doolow, Belethawa, Elwak')}"
    ) in texts
    assert any(
        t.startswith(
            'row 5, column Destination / Region (Entry Sheet): "Atlantis" is not a value the profile knows for to_admin1'
        )
        for t in texts
    )
    assert str(ROW_VALUE_UNKNOWN).startswith("is not a value")
    assert not FlowCount.objects.exists() and not FlowMonitoringPoint.objects.exists()


def test_two_header_rows_join_parent_and_child_and_number_repeats():
    top = ["Form", "Family size", "", "If other, please specify", "Mode", "If other, please specify"]
    sub = ["", "Males", "Total", "", "", ""]
    assert header_names([top, sub]) == [
        "Form",
        "Family size / Males",
        "Family size / Total",
        "If other, please specify",
        "Mode",
        "If other, please specify (2)",
    ]


def test_a_profile_with_mistakes_lists_every_one():
    _name, mapping = profile_mapping(PROFILE)
    broken = json.loads(json.dumps(mapping))
    broken["columns"]["people"] = "Family size / Total Households"
    broken["values"]["transport"]["Donkey"] = "camel"
    broken["one_hot"]["reason"]["columns"].append(["Reasons for Entry / Other", "boredom"])
    with pytest.raises(ValidationError) as caught:
        profile_validate(broken)
    messages = " | ".join(caught.value.messages)
    assert PROFILE_FIELD_UNKNOWN.format(field="people", where="columns", allowed="")[:40] in messages
    assert '"camel" is not a code of transport' in messages
    assert '"boredom" is not a code of reason' in messages


def test_every_shipped_profile_is_valid():
    from mobility.flows.profiles import profiles_shipped

    shipped = profiles_shipped()
    assert PROFILE in shipped
    for name, mapping in shipped.items():
        assert profile_validate(mapping).name == name
    counts = Counter(mapping["country"] for mapping in shipped.values())
    assert counts["SOM"] >= 1

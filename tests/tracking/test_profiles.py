"""Real DTM workbooks import through the shipped source profiles with the workbooks' own totals; totals rows never count."""

from __future__ import annotations

import datetime as dt
import re

import openpyxl
import pytest
from django.core.management import call_command
from django.db.models import Sum
from hypothesis import given
from hypothesis import strategies as st

from mobility.core import imports
from mobility.core.models import ImportJob, PopulationGroup
from mobility.core.services import operation_create, round_create
from mobility.gazetteer.models import MatchReview
from mobility.tracking.models import Assessment, PopulationFigure, SourceProfile
from mobility.tracking.profiles import (
    PCODE_UNMATCHED,
    PROFILE_UNKNOWN,
    WARN_TOTALS_SKIPPED,
    Profile,
    column_suggestions,
    parse_count,
    profile_get,
    profile_preview,
    workbook_outline,
)
from tests.conftest import shared
from tests.gazetteer.gazetteer_fixtures import moz_gazetteer_fixture  # noqa: F401

pytestmark = pytest.mark.django_db
WORKBOOKS = "dtm/baseline_assessments/"
TOTAL_WORDS = re.compile(r"^\s*(grand\s*)?total", re.I)


def sheet_sum(path, sheet, header_row, column, *, skip_columns=()):
    """The column's sum read with openpyxl (not the importer's reader), leaving out HXL and totals rows."""
    ws = openpyxl.load_workbook(path, read_only=True, data_only=True)[sheet]
    rows = ws.iter_rows(values_only=True)
    header = None
    total, count = 0, 0
    for i, row in enumerate(rows, start=1):
        if i < header_row:
            continue
        if i == header_row:
            header = [str(c).strip() if c is not None else "" for c in row]
            index = header.index(column)
            skip = [header.index(c) for c in skip_columns]
            continue
        cells = ["" if c is None else str(c) for c in row]
        filled = [c for c in cells if c.strip()]
        if not filled or sum(c.startswith("#") for c in filled) >= 0.8 * len(filled):
            continue
        if any(TOTAL_WORDS.match(cells[j]) for j in skip):
            continue
        value = row[index]
        total += int(value) if isinstance(value, int | float) else 0
        count += 1
    return total, count


# profile, workbook, country, (sheet, header row, IDP individuals column, name columns), places expected
CASES = {
    "mali": (
        "dtm-mali-baseline",
        "iom_dtm_hdx_dtm_mali_baseline_assessment_round_72.xlsx",
        "MLI",
        ("Baseline Assessment", 1, "Total No# of IDPs Ind#", ("Admin 1", "Admin 2")),
        56,
    ),
    "burundi": (
        "dtm-burundi-colline",
        "iom_dtm_dtm_burundi_baseline_assessment_round_68.xlsx",
        "BDI",
        ("Fiche Colline", 1, "pdi_nombre", ("Province", "Commune")),
        1415,
    ),
    "ethiopia": (
        "dtm-ethiopia-site",
        "iom_dtm_dtm_ethiopia_site_assessment_round_28.xlsx",
        "ETH",
        ("Sites", 1, "2.1.b.1: Total IDP (Individuals)", ("OCHA Region",)),
        289,  # 1440 sites without codes, summed into their 289 woredas
    ),
    "chad": (
        "dtm-chad-site-village",
        "iom_dtm_dtm_chad_site_and_village_assessment_round_16.xlsx",
        "TCD",
        ("Round16_data", 2, "Personnes Déplacées Internes", ("Nom Province",)),
        218,  # 223 localities, 5 of them with no population figure at all
    ),
    "sudan": (
        "dtm-sudan-master-list",
        "iom_dtm_dtm_sudan_idps_master_list_round_3.xlsx",
        "SDN",
        ("IDPs Dataset", 1, "IND", ("State_Name",)),
        685,
    ),
    "somalia": (
        "dtm-somalia-baseline-b2",
        "iom_dtm_dtm_somalia_baseline_assessment_round_1.xlsx",
        "SOM",
        ("B2, Dataset", 1, "IDPs ind Total", ("region_name",)),
        5330,
    ),
}
# What the workbooks' own summary sheets say (IDP individuals).
WORKBOOK_TOTALS = {"sudan": 3_086_553, "somalia": 1_166_657 + 519_388, "burundi": None}


def import_workbook(profile, workbook, country, number=1):
    gazetteer = imports.job_create(
        kind="gazetteer.global-pcodes",
        source=shared("pcodes/download-global-pcodes-adm-1-2.csv"),
        profile={"country": country},
    )
    if not Assessment.objects.exists() and imports.run(gazetteer).status != ImportJob.Status.SUCCEEDED:
        pytest.fail(gazetteer.error)
    operation = operation_create(name=f"{country} {profile} {number}", country_iso3=country)
    round_create(
        operation=operation, number=1, start_date=dt.date(2021, 1, 1), end_date=dt.date(2021, 12, 31)
    )
    job = imports.job_create(
        kind="tracking.profile",
        source=shared(WORKBOOKS + workbook),
        profile={"source_profile": profile, "operation": operation.pk, "round": 1},
    )
    return imports.run(job), operation


def burundi_pivot_total(path):
    """The "PDI" pivot of the IDPs_categories sheet: its Grand Total of pdi_nombre."""
    ws = openpyxl.load_workbook(path, read_only=True, data_only=True)["IDPs_categories"]
    in_pdi = False
    for row in ws.iter_rows(values_only=True):
        if row[0] == "PDI":
            in_pdi = True
        elif in_pdi and row[0] == "Grand Total":
            return int(row[2])
    raise AssertionError("no PDI pivot")


@pytest.mark.parametrize("case", list(CASES))
def test_shipped_profile_imports_its_workbook_with_the_workbooks_totals(case):
    profile, workbook, country, (sheet, header, column, names), places = CASES[case]
    path = shared(WORKBOOKS + workbook)
    expected, data_rows = sheet_sum(path, sheet, header, column, skip_columns=names)
    job, operation = import_workbook(profile, workbook, country)
    assert job.status == ImportJob.Status.SUCCEEDED, (job.error, [e.text for e in job.row_errors.all()[:5]])
    idp = PopulationFigure.objects.filter(
        assessment__operation=operation, population_group=PopulationGroup.IDP
    ).aggregate(n=Sum("individuals"))["n"]
    assert idp == expected
    if WORKBOOK_TOTALS.get(case):
        assert idp == WORKBOOK_TOTALS[case]
    if case == "burundi":
        assert idp == burundi_pivot_total(path) == 68_357
    assessments = Assessment.objects.filter(operation=operation)
    assert assessments.count() == places
    assert job.rows_read == data_rows
    assert not [
        a.place_key
        for a in assessments
        if any(TOTAL_WORDS.match(n) for n in (a.place_key, a.provider_admin1_name, a.provider_admin2_name))
    ]


def test_reimporting_a_workbook_changes_nothing():
    profile, workbook, country, *_ = CASES["mali"]
    job, operation = import_workbook(profile, workbook, country)
    again = imports.job_create(
        kind="tracking.profile",
        source=shared(WORKBOOKS + workbook),
        profile={"source_profile": profile, "operation": operation.pk, "round": 1},
    )
    imports.run(again)
    assert (again.status, again.created, again.updated, again.unchanged) == ("succeeded", 0, 0, 56)


# --- a small workbook of the same shape, standing alone --------------------------------------------


def small_workbook(
    tmp_path, rows, *, header=("Province", "Pcode", "District", "District Pcode", "PDI", "Ménages PDI")
):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Données"
    ws.append(["Évaluation de base — round 5"])  # a title row above the header
    ws.append(list(header))
    ws.append(
        ["#adm1+name", "#adm1+code", "#adm2+name", "#adm2+code", "#affected+idps+ind", "#affected+idps+hh"]
    )
    for row in rows:
        ws.append(list(row))
    path = tmp_path / "round5.xlsx"
    wb.save(path)
    return path


MOZ_MAPPING = {
    "sheet": "auto",
    "header_row": "auto",
    "level": "admin2",
    "constants": {"country": "MOZ"},
    "columns": {
        "admin1_name": "Province",
        "admin1_code": "Pcode",
        "admin2_name": "District",
        "admin2_code": "District Pcode",
        "idp_individuals": "PDI",
        "idp_households": "Ménages PDI",
    },
}


@pytest.fixture
def round5(operation):
    return round_create(
        operation=operation, number=5, start_date=dt.date(2026, 1, 1), end_date=dt.date(2026, 1, 31)
    )


def run_profile(path, operation, mapping=MOZ_MAPPING, name="moz-test"):
    SourceProfile.objects.update_or_create(name=name, defaults={"label": name, "mapping": mapping})
    job = imports.job_create(
        kind="tracking.profile",
        source=path,
        profile={"source_profile": name, "operation": operation.pk, "round": 5},
    )
    return imports.run(job)


def test_totals_rows_are_skipped_and_reported(tmp_path, moz_gazetteer, operation, round5):
    path = small_workbook(
        tmp_path,
        [
            ["Cabo Delgado", "MZ01", "Ancuabe", "MZ0101", "1 234", "300"],
            ["Cabo Delgado", "MZ01", "Balama", "MZ0102", "1,000", "-"],
            ["Cabo Delgado", "", "Sous-total", "", "2 234", "300"],
            ["TOTAL", "", "", "", "2234", "300"],
            ["", "", "", "", "2234", ""],
        ],
    )
    job = run_profile(path, operation)
    assert job.status == "succeeded", job.error
    figures = dict(PopulationFigure.objects.values_list("assessment__place_key", "individuals"))
    assert figures == {"MZ0101": 1234, "MZ0102": 1000}
    assert PopulationFigure.objects.get(assessment__place_key="MZ0102").households is None
    warning = WARN_TOTALS_SKIPPED.format(count=3, rows="6, 7, 8")
    assert warning in job.summary["warnings"]


def test_unknown_pcode_is_matched_by_name_or_sent_to_review(tmp_path, moz_gazetteer, operation, round5):
    path = small_workbook(
        tmp_path,
        [
            ["Cabo Delgado", "MOZ01", "Ancuabe", "MOZ0101", "10", "2"],  # old-edition codes, known names
            ["Cabo Delgado", "MZ01", "Nowhere Town", "MZ0199", "5", "1"],
        ],
    )
    job = run_profile(path, operation)
    assert job.status == "failed"
    texts = [e.text for e in job.row_errors.all()]
    assert texts == [
        'row 5, column District: "Nowhere Town" '
        + PCODE_UNMATCHED.format(value="Nowhere Town", country="MOZ")
    ]
    assert Assessment.objects.count() == 0
    assert MatchReview.objects.filter(provider_name="Nowhere Town", level=2).exists()


def test_name_match_replaces_an_old_pcode_with_a_warning(tmp_path, moz_gazetteer, operation, round5):
    path = small_workbook(tmp_path, [["Cabo Delgado", "MOZ01", "Ancuabe", "MOZ0101", "10", "2"]])
    job = run_profile(path, operation)
    assert job.status == "succeeded", job.error
    assert Assessment.objects.get().admin2_code == "MZ0101"
    assert any("MOZ0101→MZ0101" in w for w in job.summary["warnings"])


def test_negative_and_unreadable_numbers_are_row_errors(tmp_path, moz_gazetteer, operation, round5):
    path = small_workbook(
        tmp_path,
        [
            ["Cabo Delgado", "MZ01", "Ancuabe", "MZ0101", "-3", "2"],
            ["Cabo Delgado", "MZ01", "Balama", "MZ0102", "12.5", "x"],
        ],
    )
    job = run_profile(path, operation)
    texts = sorted(e.text for e in job.row_errors.all())
    assert texts == [
        'row 4, column PDI: "-3" "-3" is negative',
        'row 5, column Ménages PDI: "x" "x" is not a whole number',
        'row 5, column PDI: "12.5" "12.5" is not a whole number',
    ]


def test_preview_shows_rows_and_totals(tmp_path):
    path = small_workbook(
        tmp_path,
        [["Cabo Delgado", "MZ01", "Ancuabe", "MZ0101", "1 234", "300"], ["Total", "", "", "", "1234", "300"]],
    )
    preview = profile_preview(path, Profile.from_mapping(MOZ_MAPPING))
    assert preview["header_row"] == 2 and preview["places"] == 1 and preview["skipped"] == [5]
    assert preview["totals"] == {"idp_households": 300, "idp_individuals": 1234}


# --- suggestions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "column,field",
    [
        ("Nombre total de PDI", "idp_individuals"),
        ("Ménages PDI", "idp_households"),
        ("IDP HH", "idp_households"),
        ("IDP Ind", "idp_individuals"),
        ("Total IDPs", "idp_individuals"),
        ("Deslocados", "idp_individuals"),
        ("Agregados deslocados", "idp_households"),
        ("Province Pcode", "admin1_code"),
        ("Admin 2 pcode", "admin2_code"),
        ("Commune", "admin2_name"),
        ("2.1.b.1: Total IDP (Individuals)", "idp_individuals"),
    ],
)
def test_columns_are_suggested_from_their_names(column, field):
    suggestions = column_suggestions([column, "Remarques"])
    assert suggestions[field][0] == column


def test_outline_finds_the_sheet_and_the_header_row_of_a_three_row_header():
    outline = workbook_outline(shared(WORKBOOKS + CASES["chad"][1]))
    assert outline["sheet"] == "Round16_data" and outline["header_row"] == 2
    assert outline["suggestions"]["idp_individuals"][0] == "Personnes Déplacées Internes"


# --- numbers -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text,value",
    [
        ("1 234", 1234),
        ("1,234", 1234),
        ("1\u00a0234", 1234),
        ("12.0", 12),
        ("", None),
        ("-", None),
        ("0", 0),
        ("1.234.567", 1234567),
        ("-3", -3),
    ],
)
def test_numbers_as_people_write_them(text, value):
    assert parse_count(text) == value


@pytest.mark.parametrize("text", ["12.5", "abc", "1,23", "1 2 3x"])
def test_text_that_is_not_a_count_is_refused(text):
    with pytest.raises(ValueError):
        parse_count(text)


@given(st.integers(min_value=0, max_value=10**12), st.sampled_from(["", " ", ",", "\u00a0", "\u202f"]))
def test_any_count_written_with_thousands_separators_reads_back(n, sep):
    written = f"{n:,}".replace(",", sep) if sep else str(n)
    assert parse_count(written) == n
    assert parse_count(f" {written} ") == n
    assert parse_count(float(n)) == n


@given(st.text(max_size=12))
def test_the_parser_returns_a_count_or_refuses(text):
    try:
        value = parse_count(text)
    except ValueError:
        return
    assert value is None or isinstance(value, int)


# --- stored profiles ------------------------------------------------------------------------------


def test_builtin_profiles_load_the_first_time_one_is_asked_for():
    assert not SourceProfile.objects.exists()
    profile = profile_get("dtm-mali-baseline")
    assert profile.built_in and profile.country_iso3 == "MLI"
    assert SourceProfile.objects.filter(built_in=True).count() >= 5
    with pytest.raises(Exception, match=re.escape(PROFILE_UNKNOWN.format(name="nope"))):
        profile_get("nope")


def test_command_lists_loads_and_shows_profiles(capsys):
    call_command("tracking_profiles", "load")
    assert "created" in capsys.readouterr().out
    call_command("tracking_profiles", "load")
    assert "0 created, 0 updated" in capsys.readouterr().out
    call_command("tracking_profiles", "list")
    assert "dtm-burundi-colline" in capsys.readouterr().out
    call_command("tracking_profiles", "show", "dtm-chad-site-village")
    assert '"P-code localité"' in capsys.readouterr().out


@pytest.mark.parametrize(
    "mapping,problem",
    [
        ({"columns": {"admin1_code": "A"}}, "households or individuals"),
        ({"columns": {"idp_individuals": "A"}, "level": "admin2"}, "admin2_code or admin2_name"),
        ({"columns": {"idp_individuals": "A", "nonsense": "B", "admin2_code": "C"}}, "unknown fields"),
        ({"columns": {"idp_individuals": "A", "admin2_code": "C"}, "level": "country"}, "level must be"),
    ],
)
def test_invalid_profiles_are_refused_with_the_reason(mapping, problem):
    with pytest.raises(Exception, match=problem):
        Profile.from_mapping(mapping)

"""Importing DTM displacement records: the DTM API v3 JSON responses and the HDX DTM CSV."""

from __future__ import annotations

import csv
import json
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from django.core.management import call_command

from mobility.core.imports import job_create, run
from mobility.core.models import ImportJob, Operation, Round
from mobility.core.tables import read_table
from mobility.tracking.importers.dtm import (
    COUNT_NEGATIVE,
    CSV_KIND,
    JSON_KIND,
    NO_GAZETTEER,
    PCODE_READ_AS,
    PCODE_UNKNOWN,
)
from mobility.tracking.models import Assessment, FigureBreakdown, PopulationFigure
from mobility.tracking.reasons import reason_map
from tests.conftest import shared

DATA = Path(__file__).parent / "data"
DTM_JSON = [
    "dtmapi-displacement-admin0-admin0pcode-afg.json",
    "dtmapi-displacement-admin0-admin0pcode-hti.json",
    "dtmapi-displacement-admin0-admin0pcode-tcd.json",
    "dtmapi-displacement-admin1-admin0pcode-afg.json",
    "dtmapi-displacement-admin1-admin0pcode-hti.json",
    "dtmapi-displacement-admin1-admin0pcode-tcd.json",
    "dtmapi-displacement-admin2-admin0pcode-tcd.json",
]


def import_gazetteer(country: str) -> None:
    job = job_create(
        kind="gazetteer.global-pcodes",
        source=shared("pcodes/download-global-pcodes-adm-1-2.csv"),
        profile={"country": country},
    )
    assert run(job).status == ImportJob.Status.SUCCEEDED, job.error


def import_file(path: Path, kind: str = JSON_KIND, **profile) -> ImportJob:
    job = run(job_create(kind=kind, source=path, profile=profile))
    return job


def records_of(path: Path) -> list[dict]:
    return json.loads(path.read_text())["result"]


def deepest(record: dict) -> str:
    for key in ("admin2Pcode", "admin1Pcode", "admin0Pcode"):
        if key in record:
            return record[key]


@pytest.fixture
def tcd(db):
    import_gazetteer("TCD")


@pytest.mark.parametrize("name", DTM_JSON)
def test_every_staged_dtm_file_imports_once_and_sums_each_place_round(db, name):
    path = shared(f"dtm/{name}")
    records = records_of(path)
    import_gazetteer(records[0]["admin0Pcode"])
    job = import_file(path)
    assert job.status == ImportJob.Status.SUCCEEDED, (job.error, list(job.row_errors.all()[:5]))

    # Totals per round equal the file's sum of numPresentIdpInd.
    expected = Counter()
    for r in records:
        expected[(r["operation"], r["roundNumber"])] += r["numPresentIdpInd"]
    stored = Counter()
    for f in PopulationFigure.objects.select_related("assessment__round__operation"):
        stored[(f.assessment.round.operation.name, f.assessment.round.number)] += f.individuals
    assert stored == expected

    # No double counting: one assessment per place × round × type; one part per reason × origin.
    places = {(r["operation"], r["roundNumber"], r["assessmentType"], deepest(r)) for r in records}
    assert Assessment.objects.count() == len(places)
    assert PopulationFigure.objects.count() == len(places)
    parts = {
        (
            r["operation"],
            r["roundNumber"],
            r["assessmentType"],
            deepest(r),
            r["displacementReason"],
            r["idpOriginAdmin1Pcode"],
        )
        for r in records
    }
    assert FigureBreakdown.objects.count() == len(parts)
    assert Operation.objects.count() == len({r["operation"] for r in records})
    assert Round.objects.count() == len({(r["operation"], r["roundNumber"]) for r in records})

    # Re-importing the same file changes nothing.
    again = import_file(path)
    assert again.status == ImportJob.Status.SUCCEEDED
    assert (again.created, again.updated, again.unchanged) == (0, 0, len(places))
    assert Assessment.objects.count() == len(places)
    assert FigureBreakdown.objects.count() == len(parts)


@pytest.fixture
def lac_gazetteer(db):
    """A hand-written Chad gazetteer of Lac (ISO3 p-codes, as the global list has them)."""
    job = run(
        job_create(kind="gazetteer.cod", source=DATA / "tcd_lac_pcodes.csv", profile={"country": "TCD"})
    )
    assert job.status == ImportJob.Status.SUCCEEDED, job.error


def test_a_small_dtm_file_sums_rows_of_one_place_and_keeps_the_parts(lac_gazetteer):
    job = import_file(DATA / "dtm_tcd_admin2_small.json")
    assert job.status == ImportJob.Status.SUCCEEDED, job.error
    # DTM's ISO2-prefixed p-codes are read as the gazetteer's ISO3 ones, with a warning.
    assert (
        PCODE_READ_AS.format(code="TD0704", fixed="TCD0704", country="TCD", old="TD", new="TCD")
        in (job.summary["warnings"])
    )
    fouli = Assessment.objects.get(place_key="TCD0704", assessment_type="BA")
    assert (fouli.admin_level, fouli.admin1_code, fouli.admin2_code) == (2, "TCD07", "TCD0704")
    assert (fouli.provider_admin1_name, fouli.provider_admin2_name) == ("Lac", "Fouli")
    assert fouli.round.number == 1 and fouli.round.start_date.isoformat() == "2017-09-30"
    assert fouli.operation.name == "Lake Chad Basin Crisis" and fouli.operation.country_iso3 == "TCD"
    figure = fouli.figures.get()
    assert (figure.population_group, figure.individuals) == ("IDP", 63028)
    assert (figure.males, figure.females) == (None, None)  # one part without a sex split: unknown
    parts = {
        (
            p.displacement_reason,
            p.hazard_type,
            p.provider_reason,
            p.origin_admin1_code,
            p.origin_admin1_name,
            p.individuals,
            p.source_ref,
        )
        for p in figure.breakdowns.all()
    }
    assert parts == {
        ("conflict", "", "Conflict", "", "Not available", 61828, "900001"),
        ("natural_disaster", "", "Natural disaster", "TCD07", "Lac", 1200, "900002"),
    }
    kaya = Assessment.objects.get(place_key="TCD0703").figures.get()
    assert (kaya.individuals, kaya.males, kaya.females) == (58432, 28150, 30282)
    assert {(p.displacement_reason, p.hazard_type) for p in kaya.breakdowns.all()} == {
        ("conflict", ""),
        ("natural_disaster", "flood"),
    }
    assert Assessment.objects.get(place_key="TCD0701").assessment_type == "SA"


def test_bad_pcodes_and_counts_are_row_errors_and_nothing_is_stored(lac_gazetteer):
    job = import_file(DATA / "dtm_tcd_admin2_bad.json")
    assert job.status == ImportJob.Status.FAILED
    texts = [e.text for e in job.row_errors.all()]
    assert texts == [
        f'row 3, column admin2Pcode: "TD0799" {PCODE_UNKNOWN.format(country="TCD")}',
        f'row 4, column numPresentIdpInd: "-3" {COUNT_NEGATIVE}',
        'row 5, column numberFemales: "12.5" is not a whole number',
    ]
    assert texts[0] == 'row 3, column admin2Pcode: "TD0799" is not in the TCD gazetteer'
    assert not Assessment.objects.exists()
    assert not Operation.objects.exists() and not Round.objects.exists()


def test_a_country_without_gazetteer_gets_one_clear_error(db):
    job = import_file(DATA / "dtm_tcd_admin2_small.json")
    assert job.status == ImportJob.Status.FAILED
    assert [e.message for e in job.row_errors.all()] == [NO_GAZETTEER.format(country="TCD")]
    assert not Assessment.objects.exists()


def test_the_operation_can_be_given_and_an_existing_round_is_kept(lac_gazetteer):
    from mobility.core.services import operation_create, round_create

    operation = operation_create(name="Chad — Lac", country_iso3="TCD")
    import datetime as dt

    round_ = round_create(
        operation=operation, number=1, start_date=dt.date(2017, 9, 1), end_date=dt.date(2017, 10, 15)
    )
    job = import_file(DATA / "dtm_tcd_admin2_small.json", operation="Chad — Lac")
    assert job.status == ImportJob.Status.SUCCEEDED, job.error
    assert set(Assessment.objects.values_list("round", flat=True)) == {round_.pk}
    round_.refresh_from_db()
    assert (round_.start_date, round_.end_date) == (dt.date(2017, 9, 1), dt.date(2017, 10, 15))
    assert job.summary["operations_created"] == 0 and job.summary["rounds_created"] == 0


def test_an_operation_in_another_country_is_a_row_error(lac_gazetteer, other_operation):
    job = import_file(DATA / "dtm_tcd_admin2_small.json", operation=other_operation.name)
    assert job.status == ImportJob.Status.FAILED
    assert "is in PAK, but this record is in TCD" in job.row_errors.first().text


def test_the_cli_imports_with_a_guessed_format(lac_gazetteer, capsys):
    call_command("tracking", "import", str(DATA / "dtm_tcd_admin2_small.json"), "--quiet")
    out = capsys.readouterr().out
    assert "assessments created 3" in out and "rounds created 1" in out
    assert "was read as TCD0704" in out


def test_the_hdx_csv_matches_the_json_import_field_by_field(tcd):
    """SOURCES.md: feed the JSON through the importer and compare with the HDX CSV export."""
    for level in (0, 1):
        assert (
            import_file(shared(f"dtm/dtmapi-displacement-admin{level}-admin0pcode-tcd.json")).status
            == "succeeded"
        )
    assert import_file(shared("dtm/dtmapi-displacement-admin2-admin0pcode-tcd.json")).status == "succeeded"
    table = read_table(shared("dtm/global-iom-dtm-from-api-admin-0-to-2.csv"))
    rows = [r for _n, r in table if r["admin0Pcode"] == "TCD"]
    assert len(rows) == 257

    stored = {}
    for part in FigureBreakdown.objects.select_related("figure__assessment__round__operation"):
        a = part.figure.assessment
        key = (
            a.admin_level,
            a.round.operation.name,
            a.round.number,
            a.assessment_type,
            a.place_key,
            part.provider_reason,
            part.origin_admin1_code,
        )
        stored[key] = (a, part)
    iso3 = {"TD07": "TCD07", "TD0701": "TCD0701", "TD0703": "TCD0703", "TD0704": "TCD0704"}
    seen = 0
    for r in rows:
        level = int(r["adminLevel"])
        place = iso3.get(r[f"admin{level}Pcode"]) if level else "TCD"
        origin = "" if r["idpOriginAdmin1Pcode"] == "Not available" else iso3[r["idpOriginAdmin1Pcode"]]
        a, part = stored[
            (
                level,
                r["operation"],
                int(r["roundNumber"]),
                r["assessmentType"],
                place,
                r["displacementReason"],
                origin,
            )
        ]
        seen += 1
        assert part.individuals == int(r["numPresentIdpInd"])
        assert a.reporting_date.isoformat() == r["reportingDate"][:10]
        assert part.displacement_reason == reason_map(r["displacementReason"])[0]
        assert part.males == (int(r["numberMales"]) if r["numberMales"] else None)
        assert part.females == (int(r["numberFemales"]) if r["numberFemales"] else None)
        assert part.origin_admin1_name == r["idpOriginAdmin1Name"]
        assert part.source_ref == r["id"]
        assert a.provider_admin1_name == r["admin1Name"] and a.provider_admin2_name == r["admin2Name"]
        if level >= 1:
            assert a.admin1_code == iso3[r["admin1Pcode"]]
        if level == 2:
            assert a.admin2_code == iso3[r["admin2Pcode"]]
    assert seen == len(stored) == FigureBreakdown.objects.count()


def test_the_hdx_csv_imports_and_gives_the_same_figures_as_the_json(tcd):
    job = import_file(shared("dtm/global-iom-dtm-from-api-admin-0-to-2.csv"), CSV_KIND)
    # The global CSV has AFG and HTI rows too, whose gazetteers are not imported here: one clear error each.
    assert job.status == "failed"
    assert {e.message for e in job.row_errors.all() if e.row is None} == {
        NO_GAZETTEER.format(country="AFG"),
        NO_GAZETTEER.format(country="HTI"),
    }
    assert not Assessment.objects.exists()


@pytest.mark.heavy
def test_the_whole_hdx_csv_imports(db):
    for country in ("AFG", "HTI", "TCD"):
        import_gazetteer(country)
    path = shared("dtm/global-iom-dtm-from-api-admin-0-to-2.csv")
    job = import_file(path, CSV_KIND)
    assert job.status == "succeeded", (job.error, [e.text for e in job.row_errors.all()[:5]])
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))[1:]
    totals = defaultdict(int)
    for r in rows:
        totals[r["adminLevel"]] += int(r["numPresentIdpInd"])
    stored = defaultdict(int)
    for level, n in PopulationFigure.objects.values_list("assessment__admin_level", "individuals"):
        stored[str(level)] += n
    assert stored == totals


def test_the_cli_publishes_what_it_imported_with_the_disclosure_report(lac_gazetteer, capsys):
    from mobility.publishing.models import Release

    pytest.importorskip("mobility.publishing.services")
    call_command("tracking", "import", str(DATA / "dtm_tcd_admin2_small.json"), "--publish", "--quiet")
    out = capsys.readouterr().out
    release = Release.objects.get()
    assert release.status == Release.Status.CURRENT and release.source_note.startswith("IOM DTM")
    assert f"published {release}" in out
    assert Round.objects.get().status == Round.Status.PUBLISHED
    # Importing and publishing again leaves the published round as it is.
    call_command("tracking", "import", str(DATA / "dtm_tcd_admin2_small.json"), "--publish", "--quiet")
    assert "is already published" in capsys.readouterr().out
    assert Release.objects.count() == 1

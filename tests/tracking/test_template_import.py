"""Files in Mobility's own vocabulary import one row per place × group, with row errors that name row and column."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from mobility.core import imports
from mobility.core.sadd import SADD_PARTS_DISAGREE
from mobility.core.services import round_create
from mobility.gazetteer.models import MatchReview
from mobility.tracking.importers.template import DUPLICATE_ROW, GROUP_UNKNOWN, template_columns
from mobility.tracking.models import Assessment, FigureBreakdown, PopulationFigure
from mobility.tracking.profiles import NUMBER_NEGATIVE, PCODE_UNMATCHED
from tests.gazetteer.gazetteer_fixtures import moz_gazetteer_fixture  # noqa: F401

pytestmark = pytest.mark.django_db
TEMPLATE = Path(__file__).resolve().parents[2] / "mobility" / "tracking" / "data" / "template_assessments.csv"
HEADER = "admin1_code,admin2_code,admin2_name,site_code,population_group,households,individuals,displacement_reason\n"


@pytest.fixture
def round1(operation):
    return round_create(
        operation=operation, number=1, start_date=dt.date(2026, 1, 1), end_date=dt.date(2026, 1, 31)
    )


def run(tmp_path, operation, text, name="round1.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    job = imports.job_create(
        kind="tracking.template", source=path, profile={"operation": operation.pk, "round": 1}
    )
    return imports.run(job)


def test_the_downloadable_template_imports_as_it_is(moz_gazetteer, operation, round1):
    job = imports.run(
        imports.job_create(
            kind="tracking.template", source=TEMPLATE, profile={"operation": operation.pk, "round": 1}
        )
    )
    assert job.status == "succeeded", (job.error, [e.text for e in job.row_errors.all()])
    assert job.created == 2  # Ancuabe (IDP + returnees) and Balama
    ancuabe = PopulationFigure.objects.get(assessment__place_key="MZ0101", population_group="IDP")
    assert (ancuabe.individuals, ancuabe.males, ancuabe.females) == (540, 250, 290)
    assert ancuabe.sadd["female_0-4"] == 40 and ancuabe.shelter == {"host_family": 540}
    assert FigureBreakdown.objects.get(figure=ancuabe).origin_admin2_code == "MZ0110"
    assert (
        PopulationFigure.objects.get(assessment__place_key="MZ0101", population_group="RET-IDP").individuals
        == 150
    )


def test_header_follows_the_vocabulary():
    assert TEMPLATE.read_text(encoding="utf-8").splitlines()[0].split(",") == template_columns()


def test_rows_split_by_reason_make_one_figure(tmp_path, moz_gazetteer, operation, round1):
    job = run(
        tmp_path,
        operation,
        HEADER + "MZ01,MZ0101,,,IDP,10,40,conflict\nMZ01,MZ0101,,,IDP,5,20,Flooding\nMZ01,,Balama,,idp,,7,\n",
    )
    assert job.status == "succeeded", [e.text for e in job.row_errors.all()]
    figures = dict(PopulationFigure.objects.values_list("assessment__place_key", "individuals"))
    assert figures == {"MZ0101": 60, "MZ0102": 7}
    assert sorted(FigureBreakdown.objects.values_list("displacement_reason", flat=True)) == [
        "conflict",
        "natural_disaster",
    ]


def test_reimport_changes_nothing(tmp_path, moz_gazetteer, operation, round1):
    text = HEADER + "MZ01,MZ0101,,,IDP,10,40,conflict\n"
    run(tmp_path, operation, text)
    job = run(tmp_path, operation, text, name="again.csv")
    assert (job.created, job.updated, job.unchanged) == (0, 0, 1)


def test_every_bad_row_is_named_and_nothing_is_stored(tmp_path, moz_gazetteer, operation, round1):
    job = run(
        tmp_path,
        operation,
        HEADER
        + "MZ01,MZ0101,,,IDP,10,-3,\n"  # row 2
        + "MZ01,MZ0101,,,refugees?,,5,\n"  # row 3
        + "MZ01,,Atlantis,,IDP,,5,\n"  # row 4
        + "MZ01,MZ0102,,,IDP,,5,\n"  # row 5
        + "MZ01,MZ0102,,,IDP,,6,\n",  # row 6: the same place and group, other figures
    )
    assert job.status == "failed" and Assessment.objects.count() == 0
    texts = [e.text for e in job.row_errors.order_by("row")]
    assert texts == [
        'row 2, column individuals: "-3" ' + NUMBER_NEGATIVE.format(value="-3"),
        'row 3, column population_group: "refugees?" '
        + GROUP_UNKNOWN.format(value="refugees?", allowed="IDP, RET-IDP, RET-ABR, MIG, REF, HOST"),
        'row 4, column admin2_name: "Atlantis" ' + PCODE_UNMATCHED.format(value="Atlantis", country="MOZ"),
        'row 6, column population_group: "IDP" ' + DUPLICATE_ROW.format(place="MZ0102", group="IDP", first=5),
    ]
    assert MatchReview.objects.filter(provider_name="Atlantis").exists()


def test_sex_and_age_parts_must_add_up(tmp_path, moz_gazetteer, operation, round1):
    bands = "female_0-4,female_5-11,female_12-17,female_18-59,female_60+,male_0-4,male_5-11,male_12-17,male_18-59,male_60+"
    job = run(
        tmp_path,
        operation,
        f"admin2_code,population_group,individuals,{bands}\nMZ0101,IDP,100,1,1,1,1,1,1,1,1,1,1\n",
    )
    assert [e.text for e in job.row_errors.all()] == [
        "row 2, column female_/male_ columns: " + SADD_PARTS_DISAGREE.format(parts=10, total=100)
    ]


def test_identical_repeated_rows_count_once(tmp_path, moz_gazetteer, operation, round1):
    job = run(tmp_path, operation, HEADER + "MZ01,MZ0101,,,IDP,10,40,\nMZ01,MZ0101,,,IDP,10,40,\n")
    assert job.status == "succeeded"
    assert PopulationFigure.objects.get().individuals == 40
    assert any("counted once" in w for w in job.summary["warnings"])


def test_sites_keep_their_code_as_place(tmp_path, moz_gazetteer, operation, round1):
    job = run(
        tmp_path, operation, HEADER + "MZ01,MZ0101,,SITE-001,IDP,10,40,\nMZ01,MZ0101,,SITE-002,IDP,1,4,\n"
    )
    assert job.status == "succeeded", [e.text for e in job.row_errors.all()]
    assert sorted(Assessment.objects.values_list("place_key", "admin_level")) == [
        ("SITE-001", 2),
        ("SITE-002", 2),
    ]

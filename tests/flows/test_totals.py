"""`mobility flows import` and `mobility flows totals`: an officer imports a file and checks it at once."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

import mobility.flows.importers.points  # noqa: F401  (registers flows.points)
import mobility.flows.importers.profile  # noqa: F401  (registers flows.profile)
from mobility.core.services import operation_create
from mobility.flows.cli_totals import COUNTRY_UNKNOWN, FMP_UNKNOWN
from mobility.flows.counts import CountParser, counts_write
from mobility.flows.models import FlowCount
from mobility.flows.points import PointRow, points_write
from mobility.flows.totals import TOTALS_HEADER
from tests.conftest import shared

pytestmark = pytest.mark.django_db


def flows(*args) -> str:
    out = io.StringIO()
    call_command("flows", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def counted(operation):
    """Two points, counts on three days: what the totals must add up."""
    points_write(
        operation=operation,
        rows=[
            PointRow(code="MOZ-FMP-NEGOMANO", name="Negomano (Unity Bridge)", country_iso3="MOZ"),
            PointRow(code="MOZ-FMP-NAMOTO", name="Namoto", country_iso3="MOZ"),
        ],
    )
    from mobility.flows.surveys import fmp_ids

    parser = CountParser(fmp_ids(operation))
    rows = []
    for n, (code, date, direction, people) in enumerate(
        [
            ("MOZ-FMP-NEGOMANO", "2026-01-31", "in", 9),  # before the range
            ("MOZ-FMP-NEGOMANO", "2026-02-01", "in", 12),
            ("MOZ-FMP-NEGOMANO", "2026-02-01", "in", 3),
            ("MOZ-FMP-NEGOMANO", "2026-02-14", "out", 30),
            ("MOZ-FMP-NAMOTO", "2026-02-28", "in", 7),  # the last day is included
            ("MOZ-FMP-NAMOTO", "2026-03-01", "out", 50),  # after the range
        ],
        start=1,
    ):
        values, errors = parser.parse(
            {
                "fmp_code": code,
                "record_id": f"R{n}",
                "date": date,
                "direction": direction,
                "individuals": str(people),
            },
            row=n,
        )
        assert not errors, errors
        rows.append(values)
    counts_write(operation=operation, rows=rows)
    return operation


def test_totals_print_records_and_individuals_per_point_and_direction(counted):
    out = flows("totals", "--country", "MOZ", "--from", "2026-02-01", "--to", "2026-02-28")
    assert out.splitlines() == [
        ",".join(TOTALS_HEADER),
        "MOZ-FMP-NAMOTO,Namoto,in,1,7",
        "MOZ-FMP-NEGOMANO,Negomano (Unity Bridge),in,2,15",
        "MOZ-FMP-NEGOMANO,Negomano (Unity Bridge),out,1,30",
    ]
    one = flows(
        "totals", "--country", "moz", "--fmp", "MOZ-FMP-NAMOTO", "--from", "2026-01-01", "--to", "2026-12-31"
    )
    assert one.splitlines()[1:] == ["MOZ-FMP-NAMOTO,Namoto,in,1,7", "MOZ-FMP-NAMOTO,Namoto,out,1,50"]


def test_totals_read_the_registry_not_the_summaries(counted):
    from mobility.flows.models import FlowDaily

    FlowDaily.objects.all().delete()  # summaries gone: the check of an import still adds up
    out = flows("totals", "--country", "MOZ", "--from", "2026-02-01", "--to", "2026-02-28")
    assert "MOZ-FMP-NEGOMANO,Negomano (Unity Bridge),in,2,15" in out.splitlines()


def test_totals_say_what_is_wrong(counted):
    with pytest.raises(CommandError, match=COUNTRY_UNKNOWN.format(country="ETH", countries="MOZ")):
        flows("totals", "--country", "ETH", "--from", "2026-02-01", "--to", "2026-02-28")
    with pytest.raises(CommandError, match=FMP_UNKNOWN.format(code="NOPE", country="MOZ")):
        flows("totals", "--country", "MOZ", "--fmp", "NOPE", "--from", "2026-02-01", "--to", "2026-02-28")
    with pytest.raises(CommandError, match="not a date"):
        flows("totals", "--country", "MOZ", "--from", "1/2/2026", "--to", "2026-02-28")
    with pytest.raises(CommandError, match="is after"):
        flows("totals", "--country", "MOZ", "--from", "2026-03-01", "--to", "2026-02-28")


def test_import_then_totals_on_the_somalia_workbook(db):
    path = shared("dtm/somalia_dtm-flow-monitoring-dataset-oct-dec-2016.xlsx")
    somalia = operation_create(name="Somalia — Flow monitoring", country_iso3="SOM")
    out = flows(
        "import",
        "profile",
        str(path),
        "--operation",
        somalia.slug,
        "--profile",
        "somalia-fmp-2016",
        "--quiet",
    )
    assert "rows read 524, created 524, updated 0, unchanged 0, rejected 0" in out
    assert "flow monitoring points registered: 3" in out
    assert "warning: Entry Sheet: skipped 1 row(s)" in out
    totals = flows("totals", "--country", "SOM", "--from", "2016-09-01", "--to", "2016-12-31")
    assert totals.splitlines() == [
        "fmp_code,fmp_name,direction,records,individuals",
        "SOM-BELETXAAWO,Belet Xaawo (Belethawa),in,11,61",
        "SOM-BELETXAAWO,Belet Xaawo (Belethawa),out,36,84",
        "SOM-CEELWAAQ,Ceel Waaq (Elwak),in,13,70",
        "SOM-CEELWAAQ,Ceel Waaq (Elwak),out,79,154",
        "SOM-DOOLOW,Doolow,in,275,1440",
        "SOM-DOOLOW,Doolow,out,110,515",
    ]
    doolow_december = flows(
        "totals", "--country", "SOM", "--fmp", "SOM-DOOLOW", "--from", "2016-12-01", "--to", "2016-12-31"
    )
    expected = FlowCount.objects.filter(fmp__code="SOM-DOOLOW", date__month=12)
    assert doolow_december.splitlines()[1:] == [
        f"SOM-DOOLOW,Doolow,{d},{expected.filter(direction=d).count()},"
        f"{sum(expected.filter(direction=d).values_list('individuals', flat=True))}"
        for d in ("in", "out")
        if expected.filter(direction=d).exists()
    ]


def test_import_refuses_what_it_cannot_do(operation, tmp_path):
    path = tmp_path / "points.csv"
    path.write_text("code,name\nMOZ-FMP-A,A\n", encoding="utf-8")
    with pytest.raises(CommandError, match="is not a flows import"):
        flows("import", "sideways", str(path), "--operation", operation.slug)
    with pytest.raises(CommandError, match="No operation"):
        flows("import", "points", str(path), "--operation", "atlantis")
    with pytest.raises(CommandError, match="A profile import needs --profile"):
        flows("import", "profile", str(path), "--operation", operation.slug)
    with pytest.raises(CommandError, match='No flow source profile "nope"'):
        flows("import", "profile", str(path), "--operation", operation.slug, "--profile", "nope")
    out = flows("import", "points", str(path), "--operation", operation.slug, "--quiet")
    assert "rows read 1, created 1" in out


def test_a_profile_of_an_earlier_job_can_be_reused(db, tmp_path):
    path = shared("dtm/somalia_dtm-flow-monitoring-dataset-oct-dec-2016.xlsx")
    somalia = operation_create(name="Somalia — Flow monitoring", country_iso3="SOM")
    flows(
        "import",
        "profile",
        str(path),
        "--operation",
        somalia.slug,
        "--profile",
        "somalia-fmp-2016",
        "--quiet",
    )
    from mobility.core.models import ImportJob

    job = ImportJob.objects.get(kind="flows.profile")
    out = flows(
        "import", "profile", str(path), "--operation", somalia.slug, "--profile", f"job:{job.pk}", "--quiet"
    )
    assert "created 0, updated 0, unchanged 524" in out


def test_totals_csv_keeps_formula_names_as_text_and_line_breaks_inside_their_cell():
    from mobility.flows.totals import TotalRow, totals_csv

    text = totals_csv(
        [TotalRow(fmp_code="=1+1", fmp_name="Bridge\rNorth", direction="in", records=1, individuals=3)]
    )
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[1] == ["'=1+1", "Bridge\rNorth", "in", "1", "3"]

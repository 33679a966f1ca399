"""An officer registers the flow monitoring points of an operation from a CSV: once, then updates."""

from __future__ import annotations

import pytest

from mobility.core import imports
from mobility.core.models import ImportJob
from mobility.flows.importers.points import (
    KIND,
    ROW_CODE_TWICE,
    ROW_HALF_COORDINATES,
    ROW_PCODE_OUTSIDE,
    ROW_PCODE_UNKNOWN,
    ROW_REQUIRED,
)
from mobility.flows.models import Corridor, FlowMonitoringPoint
from mobility.flows.points import (
    SCHEDULE_BAD_HOURS,
    SCHEDULE_NOT_WHOLE_HOURS,
    days_parse,
    hours_parse,
    schedule_parse,
    schedule_text,
)
from tests.gazetteer.gazetteer_fixtures import moz_gazetteer_fixture  # noqa: F401

pytestmark = pytest.mark.django_db

HEADER = (
    "code,name,type,country,border_country,admin1,admin2,latitude,longitude,"
    "movement_types,observed_days,observed_hours,corridor"
)
NEGOMANO = (
    "MOZ-FMP-NEGOMANO,Negomano (Unity Bridge),Border crossing,MOZ,TZA,MZ01,MZ0112,-11.4305,38.4879,"
    "cross-border,Mon-Sat,06:00-18:00,Mozambique–Tanzania border (Cabo Delgado)"
)
NAMOTO = (
    "MOZ-FMP-NAMOTO,Namoto,border_crossing,MOZ,Tanzania,MZ01,MZ0116,-10.5047,40.4463,"
    'cross_border;return,daily,"07-12, 14-17",Mozambique–Tanzania border (Cabo Delgado)'
)
MUEDA = "MOZ-FMP-MUEDA,Mueda bus station,bus terminal,,,MZ01,MZ0112,-11.6605,39.5572,internal,Mon-Fri,05:00-17:00,"


def write(tmp_path, *rows, header=HEADER, name="points.csv"):
    path = tmp_path / name
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def run(path, operation):
    return imports.run(imports.job_create(kind=KIND, source=path, operation=operation))


def errors(job) -> list[str]:
    return [e.text for e in job.row_errors.all()]


def test_a_registry_creates_points_with_their_schedule_and_corridor(operation, moz_gazetteer, tmp_path):
    job = run(write(tmp_path, NEGOMANO, NAMOTO, MUEDA), operation)
    assert job.status == ImportJob.Status.SUCCEEDED, errors(job)
    assert (job.rows_read, job.created, job.updated, job.unchanged) == (3, 3, 0, 0)
    negomano = FlowMonitoringPoint.objects.get(code="MOZ-FMP-NEGOMANO")
    assert (negomano.type, negomano.country_iso3, negomano.border_country_iso3) == (
        "border_crossing",
        "MOZ",
        "TZA",
    )
    assert (negomano.admin1_code, negomano.admin2_code) == ("MZ01", "MZ0112")
    assert negomano.observed_days == [0, 1, 2, 3, 4, 5]
    assert negomano.observed_hours == list(range(6, 18))
    assert negomano.latitude == pytest.approx(-11.4305)
    namoto = FlowMonitoringPoint.objects.get(code="MOZ-FMP-NAMOTO")
    assert namoto.border_country_iso3 == "TZA"  # from the country's name
    assert namoto.movement_types == ["cross_border", "return"]
    assert namoto.observed_days == list(range(7))
    assert namoto.observed_hours == [7, 8, 9, 10, 11, 14, 15, 16]
    mueda = FlowMonitoringPoint.objects.get(code="MOZ-FMP-MUEDA")
    assert (mueda.type, mueda.country_iso3, mueda.corridor) == ("bus_station", "MOZ", None)
    corridor = Corridor.objects.get()
    assert corridor.name == "Mozambique–Tanzania border (Cabo Delgado)"
    assert set(corridor.points.values_list("code", flat=True)) == {"MOZ-FMP-NEGOMANO", "MOZ-FMP-NAMOTO"}


def test_a_reimport_updates_never_duplicates(operation, moz_gazetteer, tmp_path):
    run(write(tmp_path, NEGOMANO, NAMOTO), operation)
    again = run(write(tmp_path, NEGOMANO, NAMOTO, name="again.csv"), operation)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    changed = run(
        write(tmp_path, NEGOMANO.replace("Mon-Sat", "Mon-Fri"), NAMOTO, name="changed.csv"), operation
    )
    assert (changed.created, changed.updated, changed.unchanged) == (0, 1, 1)
    assert FlowMonitoringPoint.objects.count() == 2 and Corridor.objects.count() == 1
    assert FlowMonitoringPoint.objects.get(code="MOZ-FMP-NEGOMANO").observed_days == [0, 1, 2, 3, 4]


def test_bad_rows_name_row_and_column_and_store_nothing(operation, moz_gazetteer, tmp_path):
    path = write(
        tmp_path,
        NEGOMANO,
        ",Nameless,,,,,,,,,,,",  # row 3: no code
        "MOZ-FMP-X,Wrong p-code,,,,MZ99,,,,,,,",  # row 4
        "MOZ-FMP-Y,Outside,,,,MZ01,MZ0201,,,,,,",  # row 5: MZ0201 is in Niassa (MZ02)
        "MOZ-FMP-Z,Half,,,,,,-11.2,,,,06:30-18:00,",  # row 6
        NEGOMANO,  # row 7: the same code again
    )
    job = run(path, operation)
    assert job.status == ImportJob.Status.FAILED
    texts = errors(job)
    assert f"row 3, column code: {ROW_REQUIRED}" in texts
    assert f'row 4, column admin1: "MZ99" {ROW_PCODE_UNKNOWN.format(level=1, country="MOZ")}' in texts
    assert f'row 5, column admin2: "MZ0201" {ROW_PCODE_OUTSIDE.format(parent="MZ01")}' in texts
    assert f"row 6, column latitude: {ROW_HALF_COORDINATES}" in texts
    assert f"row 6, column observed_hours: {SCHEDULE_NOT_WHOLE_HOURS.format(text='06:30-18:00')}" in texts
    assert f"row 7, column code: {ROW_CODE_TWICE.format(code='MOZ-FMP-NEGOMANO', first=2)}" in texts
    assert not FlowMonitoringPoint.objects.exists() and not Corridor.objects.exists()


def test_pcodes_are_not_checked_without_a_gazetteer(operation, tmp_path):
    """A country with no areas loaded yet: the p-codes are kept as given (checked once it has them)."""
    job = run(write(tmp_path, NEGOMANO.replace("MZ0112", "MZ0199")), operation)
    assert job.status == ImportJob.Status.SUCCEEDED, errors(job)
    assert FlowMonitoringPoint.objects.get().admin2_code == "MZ0199"


def test_the_schedule_reads_as_teams_write_it():
    assert days_parse("Mon-Fri") == [0, 1, 2, 3, 4]
    assert days_parse("Fri - Mon") == [0, 4, 5, 6]
    assert days_parse("sat and sun") == [5, 6]
    assert hours_parse("22:00-06:00") == [0, 1, 2, 3, 4, 5, 22, 23]
    assert hours_parse("6am-6pm") == list(range(6, 18))
    assert hours_parse("24h") == list(range(24))
    assert schedule_parse("Mon-Fri 06:00-18:00") == ([0, 1, 2, 3, 4], list(range(6, 18)))
    assert schedule_parse("07:00-19:00") == (list(range(7)), list(range(7, 19)))
    for text in ("Mon-Fri 06:00-18:00", "daily 07:00-12:00, 14:00-18:00", "Sat 08:00-12:00"):
        assert schedule_text(*schedule_parse(text)) == text
    with pytest.raises(ValueError, match="not a list of hours"):
        hours_parse("noon")
    assert str(SCHEDULE_BAD_HOURS.format(text="noon")).startswith('"noon"')

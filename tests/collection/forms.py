"""Small real-shaped XLSForms and instances for the collection tests (written here, no IOM files)."""

from __future__ import annotations

import io

from openpyxl import Workbook


def xlsform(survey: list[list], choices: list[list] | None = None, settings: dict | None = None) -> bytes:
    """Build an XLSForm workbook: survey rows (first row the header), choices, settings."""
    wb = Workbook()
    sheet = wb.active
    sheet.title = "survey"
    for row in survey:
        sheet.append(row)
    if choices:
        ch = wb.create_sheet("choices")
        for row in choices:
            ch.append(row)
    if settings:
        st = wb.create_sheet("settings")
        st.append(list(settings))
        st.append(list(settings.values()))
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def simple_xlsform(version: str = "2026112501", extra: list[list] | None = None) -> bytes:
    return xlsform(
        [
            ["type", "name", "label::English (en)", "label::Português (pt)", "personal_data"],
            ["start", "start", "", "", ""],
            ["end", "end", "", "", ""],
            ["text", "respondent_name", "Respondent name", "Nome do respondente", "yes"],
            ["select_one yesno", "displaced", "Displaced?", "Deslocado?", ""],
            ["integer", "people", "People in household", "Pessoas no agregado", ""],
            ["geopoint", "gps", "Location", "Localização", ""],
            *(extra or []),
        ],
        [
            ["list_name", "name", "label::English (en)", "label::Português (pt)"],
            ["yesno", "yes", "Yes", "Sim"],
            ["yesno", "no", "No", "Não"],
        ],
        {"form_id": "household_visit", "form_title": "Household visit", "version": version},
    )


def instance_xml(
    instance_id: str,
    *,
    people: int = 3,
    form_id: str = "household_visit",
    version: str = "2026112501",
    deprecated: str = "",
    name: str = "Amina Test",
    gps: str = "-12.97 40.52 0 5",
    start: str = "2026-11-20T09:00:00.000+02:00",
    end: str = "2026-11-20T09:20:00.000+02:00",
) -> bytes:
    dep = f"<deprecatedID>{deprecated}</deprecatedID>" if deprecated else ""
    return (
        f'<?xml version="1.0"?><data xmlns:orx="http://openrosa.org/xforms" id="{form_id}" version="{version}">'
        f"<start>{start}</start><end>{end}</end><respondent_name>{name}</respondent_name>"
        f"<displaced>yes</displaced><people>{people}</people><gps>{gps}</gps>"
        f"<meta><instanceID>{instance_id}</instanceID>{dep}</meta></data>"
    ).encode()

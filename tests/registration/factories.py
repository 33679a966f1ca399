"""Building households for tests through the real write path (records → households_write)."""

from __future__ import annotations

import datetime as dt
import itertools

from mobility.registration.records import household_parse, individual_parse
from mobility.registration.services import HouseholdBatchItem, households_write

TODAY = dt.date(2026, 11, 1)
_counter = itertools.count(1)


def rows_to_items(rows: list[dict], *, today: dt.date = TODAY) -> list[HouseholdBatchItem]:
    """Parse template rows (one per individual) into batch items; fails loudly on a row error."""
    items: dict[str, HouseholdBatchItem] = {}
    for number, raw in enumerate(rows, start=2):
        person, errors = individual_parse(raw, row=number, today=today)
        assert not errors, [e.text for e in errors]
        hh, errors = household_parse(raw, row=number, today=today)
        assert not errors, [e.text for e in errors]
        items.setdefault(hh.reference, HouseholdBatchItem(household=hh, members=[])).members.append(person)
    return list(items.values())


def household_rows(
    reference: str | None = None,
    *,
    head: dict | None = None,
    members: list[dict] = (),
    **household,
) -> list[dict]:
    """Rows of one household: a head (override any column) and further members."""
    n = next(_counter)
    reference = reference or f"HH-{n:05d}"
    base = {"household_id": reference, **household}
    head_row = {
        **base,
        "individual_id": f"{reference}-1",
        "relationship": "head",
        "given_name": "Amina",
        "family_name": f"Saide{n}",
        "sex": "f",
        "date_of_birth": "1988-05-17",
        **(head or {}),
    }
    rows = [head_row]
    for i, member in enumerate(members, start=2):
        rows.append(
            {
                **base,
                "individual_id": f"{reference}-{i}",
                "relationship": "child",
                "sex": "m",
                "age": "6",
                **member,
            }
        )
    return rows


def household_make(operation, reference: str | None = None, *, by=None, **kwargs):
    """Register one household (through households_write) and return it."""
    from mobility.registration.models import Household

    rows = household_rows(reference, **kwargs)
    households_write(operation=operation, items=rows_to_items(rows), by=by)
    return Household.objects.get(operation=operation, reference=rows[0]["household_id"])

"""Rolling reason × origin parts up to coarser DTM levels never turns a suppressed part into a number."""

import datetime as dt

from mobility.publishing.dtm_rollup import KEY_COLUMNS, roll_up


def cell(pk, admin2, individuals, *, suppressed=False, reason="Conflict", males=None):
    row = {c: "" for c in KEY_COLUMNS}
    row.update(
        {
            "pk": pk,
            "release_id": 1,
            "release__operation__name": "Op",
            "release__reporting_round": 3,
            "country_iso3": "MOZ",
            "admin1_code": "MZ01",
            "admin2_code": admin2,
            "provider_reason": reason,
            "individuals": None if suppressed else individuals,
            "males": males,
            "females": None,
            "suppressed": suppressed,
            "reporting_date": dt.date(2026, 3, pk),
            "source_ref": str(pk),
        }
    )
    return row


def test_parts_of_districts_sum_to_their_province():
    [row] = roll_up([cell(1, "MZ0101", 100, males=40), cell(2, "MZ0102", 50, males=10)], level=1)
    assert (row["individuals"], row["males"], row["admin2_code"], row["pk"]) == (150, 50, "", 1)
    assert row["reporting_date"] == dt.date(2026, 3, 2) and row["source_ref"] == ""


def test_one_suppressed_part_makes_the_sum_suppressed_not_partial():
    [row] = roll_up([cell(1, "MZ0101", 100), cell(2, "MZ0102", 3, suppressed=True)], level=1)
    assert row["suppressed"] and row["individuals"] is None and row["males"] is None


def test_different_reasons_stay_apart_and_admin0_drops_admin1():
    rows = roll_up([cell(1, "MZ0101", 100), cell(2, "MZ0102", 7, reason="Flood")], level=0)
    assert sorted((r["provider_reason"], r["individuals"], r["admin1_code"]) for r in rows) == [
        ("Conflict", 100, ""),
        ("Flood", 7, ""),
    ]

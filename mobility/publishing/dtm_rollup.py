"""DTM API v3 serves every round at admin 0, 1 and 2. A round counted at admin 2 has reason × origin
parts only at admin 2, so the coarser levels are rolled up here, at read time, from published cells.

A rolled-up record is the sum of published parts only. If any part under it is suppressed, the
record's counts are null (like a suppressed cell), never a partial sum: the roll-up reveals nothing
that the published cells do not already show.
"""

from __future__ import annotations

from collections.abc import Iterable

KEY_COLUMNS = (
    "release__operation__name",
    "release__reporting_round",
    "country_iso3",
    "location_name",
    "admin1_code",
    "admin1_name",
    "provider_admin1_name",
    "admin2_code",
    "admin2_name",
    "provider_admin2_name",
    "displacement_reason",
    "provider_reason",
    "origin_admin1_code",
    "origin_admin1_name",
    "assessment_type",
)
# Columns blanked at each target level (they describe areas below it).
BELOW = {
    0: (
        "admin1_code",
        "admin1_name",
        "provider_admin1_name",
        "admin2_code",
        "admin2_name",
        "provider_admin2_name",
    ),
    1: ("admin2_code", "admin2_name", "provider_admin2_name"),
}


def _add(a, b):
    return None if a is None or b is None else a + b


def roll_up(cells: Iterable[dict], *, level: int) -> list[dict]:
    """Sum finer reason × origin cells (dicts with the api_dtm cell columns) into `level` records."""
    groups: dict[tuple, dict] = {}
    for cell in cells:
        row = dict(cell)
        for column in BELOW.get(level, ()):
            row[column] = ""
        key = (row["release_id"], *(row[c] for c in KEY_COLUMNS))
        current = groups.get(key)
        if current is None:
            row["source_ref"] = ""  # a sum has no single source record
            groups[key] = row
            continue
        current["pk"] = min(current["pk"], row["pk"])
        current["suppressed"] = current["suppressed"] or row["suppressed"]
        current["individuals"] = _add(current["individuals"], row["individuals"])
        current["males"] = _add(current["males"], row["males"])
        current["females"] = _add(current["females"], row["females"])
        current["reporting_date"] = max(current["reporting_date"], row["reporting_date"])
    out = []
    for row in groups.values():
        if row["suppressed"] or row["individuals"] is None:
            row["suppressed"] = True
            row["individuals"] = row["males"] = row["females"] = None
        out.append(row)
    return sorted(
        out,
        key=lambda r: (r["release_id"], r["admin1_code"], r["admin2_code"], r["assessment_type"], r["pk"]),
    )

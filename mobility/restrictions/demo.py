"""Demo data for the restrictions pages: six invented, real-shaped points of entry and key locations
of Mozambique with a status history over six months (published), and a few travel restrictions
written by hand in the style of COBAP (no COBAP or WFP data is shipped).

Places and p-codes are real (OCHA COD-AB 2019); statuses, flows and restrictions are invented.
Running it again stores nothing new: the records are compared with what is stored.
"""

from __future__ import annotations

import datetime as dt

from mobility.core.models import Operation

from .models import PoEStatus, TravelRestriction
from .services import (
    poe_upsert,
    status_record,
    status_signature,
    statuses_publish,
    travel_publish,
    travel_restriction_save,
)

D = dt.date.fromisoformat
DEMO_SOURCE = "Demo: invented for the Mobility demonstration"

# code, name, type, country, border country, IATA, admin1, admin2, latitude, longitude
POINTS = [
    ("MOZ-RG", "Ressano Garcia", "land_border", "MOZ", "ZAF", "", "MZ05", "MZ0507", -25.4426, 31.9917),
    (
        "MOZ-MPM",
        "Maputo International Airport",
        "airport",
        "MOZ",
        "",
        "MPM",
        "MZ06",
        "MZ0601",
        -25.9208,
        32.5726,
    ),
    (
        "MOZ-NEG",
        "Negomano (Unity Bridge)",
        "land_border",
        "MOZ",
        "TZA",
        "",
        "MZ01",
        "MZ0112",
        -11.4400,
        38.4870,
    ),
    ("MOZ-BEW", "Port of Beira", "blue_border", "MOZ", "", "", "MZ09", "MZ0906", -19.8300, 34.8400),
    (
        "MOZ-MUE",
        "Mueda transit point",
        "internal_transit",
        "MOZ",
        "",
        "",
        "MZ01",
        "MZ0112",
        -11.6600,
        39.5500,
    ),
    (
        "MOZ-PEM",
        "Pemba stranded migrants site",
        "stranded_site",
        "MOZ",
        "",
        "",
        "MZ01",
        "MZ0104",
        -12.9740,
        40.5178,
    ),
]

# code, effective from, status, restriction, affected groups, measures, inflow, outflow, notes
HISTORY = [
    ("MOZ-RG", "2026-05-04", "open", "none", [], ["medical_screening"], 5200, 4800, ""),
    (
        "MOZ-RG",
        "2026-06-15",
        "partial",
        "entry",
        ["irregular_migrants"],
        ["medical_screening", "documentation"],
        3100,
        4600,
        "Entry limited to documented travellers after a cholera alert in Mpumalanga.",
    ),
    (
        "MOZ-RG",
        "2026-08-01",
        "closed",
        "both",
        ["all"],
        ["medical_screening"],
        0,
        0,
        "Closed for three weeks during the border works.",
    ),
    (
        "MOZ-RG",
        "2026-08-01",
        "closed",
        "both",
        ["all"],
        ["medical_screening"],
        0,
        150,
        "Closed to travellers; returning Mozambican nationals admitted (correction).",
    ),
    ("MOZ-RG", "2026-08-22", "open", "none", [], ["medical_screening"], 5600, 5100, ""),
    ("MOZ-MPM", "2026-05-04", "open", "none", [], ["medical_screening"], 1400, 1350, ""),
    (
        "MOZ-MPM",
        "2026-07-10",
        "open",
        "entry",
        ["regular_migrants"],
        ["medical_screening", "testing"],
        1250,
        1300,
        "Test on arrival for passengers from countries with an active outbreak.",
    ),
    ("MOZ-MPM", "2026-09-30", "open", "none", [], ["medical_screening"], 1500, 1450, ""),
    ("MOZ-NEG", "2026-05-04", "partial", "entry", ["irregular_migrants"], ["documentation"], 120, 80, ""),
    (
        "MOZ-NEG",
        "2026-06-02",
        "closed",
        "both",
        ["all"],
        [],
        0,
        0,
        "Closed after insecurity in Mueda district.",
    ),
    (
        "MOZ-NEG",
        "2026-10-12",
        "partial",
        "both",
        ["nationals", "regular_migrants"],
        ["documentation", "medical_screening"],
        60,
        40,
        "Reopened for nationals and documented migrants, daytime only.",
    ),
    ("MOZ-BEW", "2026-05-04", "open", "none", [], [], 300, 280, ""),
    (
        "MOZ-BEW",
        "2026-07-20",
        "partial",
        "entry",
        ["all"],
        ["quarantine"],
        90,
        260,
        "Crew shore leave suspended; passengers quarantined 7 days.",
    ),
    ("MOZ-BEW", "2026-09-05", "open", "none", [], [], 310, 300, ""),
    ("MOZ-MUE", "2026-05-04", "open", "none", [], [], 450, 420, ""),
    (
        "MOZ-MUE",
        "2026-06-02",
        "partial",
        "exit",
        ["all"],
        [],
        700,
        90,
        "Exit towards Negomano blocked; inflow of displaced families from the border.",
    ),
    ("MOZ-MUE", "2026-10-12", "open", "none", [], [], 380, 400, ""),
    (
        "MOZ-PEM",
        "2026-06-05",
        "open",
        "none",
        [],
        [],
        35,
        0,
        "About 240 migrants from Ethiopia and Somalia stranded after the Negomano closure.",
    ),
    ("MOZ-PEM", "2026-09-14", "unknown", "none", [], [], None, None, "No access for the team this month."),
    (
        "MOZ-PEM",
        "2026-10-20",
        "open",
        "none",
        [],
        ["medical_screening"],
        5,
        60,
        "Most stranded migrants have moved on.",
    ),
]

# ref, imposing, target, target ISO3 / region, kind, from, to, air, land, sea, notes
TRAVEL = [
    (
        "DEMO-ZA01",
        "ZAF",
        "country",
        "MOZ",
        "partial",
        "2026-06-10",
        "2026-08-31",
        False,
        True,
        False,
        "Land entry from Mozambique limited to nationals, residents and freight.",
    ),
    (
        "DEMO-ZA02",
        "ZAF",
        "all",
        "",
        "medical",
        "2026-06-10",
        None,
        True,
        True,
        True,
        "Health screening for every arrival.",
    ),
    (
        "DEMO-TZ01",
        "TZA",
        "country",
        "MOZ",
        "total",
        "2026-06-01",
        "2026-10-10",
        False,
        True,
        False,
        "Border with Mozambique closed (Mtwara region).",
    ),
    (
        "DEMO-MW01",
        "MWI",
        "country",
        "MOZ",
        "medical",
        "2026-07-01",
        "2026-09-30",
        True,
        True,
        False,
        "Test certificate for travellers from Mozambique.",
    ),
    (
        "DEMO-ZW01",
        "ZWE",
        "region",
        "Southern African Development Community",
        "partial",
        "2026-06-20",
        "2026-07-31",
        False,
        True,
        False,
        "Essential travel only from SADC neighbours.",
    ),
    (
        "DEMO-MZ01",
        "MOZ",
        "country",
        "TZA",
        "partial",
        "2026-06-02",
        "2026-10-11",
        False,
        True,
        False,
        "Entry from Tanzania at Negomano suspended.",
    ),
    (
        "DEMO-KE01",
        "KEN",
        "all",
        "",
        "visa",
        "2026-08-15",
        None,
        True,
        True,
        True,
        "Visa on arrival suspended for every nationality.",
    ),
]


def _travel_save(operation: Operation, row) -> bool:
    ref, imposing, target, target_code, kind, start, end, air, land, sea, notes = row
    key = {
        "operation": operation,
        "source": "manual",
        "source_ref": ref,
        "target": target,
        "target_iso3": target_code if target == "country" else "",
        "target_region": target_code if target == "region" else "",
    }
    values = {
        "imposing_iso3": imposing,
        "kind": kind,
        "effective_from": D(start),
        "effective_to": D(end) if end else None,
        "details": {
            "air": air,
            "land": land,
            "sea": sea,
            "measures": ["medical_screening"] if kind == "medical" else [],
        },
        "notes": notes,
    }
    restriction = TravelRestriction.objects.filter(**key).first()
    if restriction is not None and all(getattr(restriction, k) == v for k, v in values.items()):
        return False
    restriction = restriction or TravelRestriction(**key)
    for field, value in values.items():
        setattr(restriction, field, value)
    travel_restriction_save(restriction=restriction)
    return True


def restrictions_demo(operation: Operation) -> dict[str, int]:
    """Load the demo points, statuses and travel restrictions into the (Mozambique) operation, published."""
    points = {}
    for code, name, type_, country, border, iata, admin1, admin2, lat, lon in POINTS:
        points[code], _ = poe_upsert(
            operation=operation,
            code=code,
            name=name,
            type=type_,
            country_iso3=country,
            border_country_iso3=border,
            iata_code=iata,
            admin1_code=admin1,
            admin2_code=admin2,
            latitude=lat,
            longitude=lon,
        )
    # A demo row already stored (even if a later correction of that day replaced it) is not recorded again.
    stored = {
        (r.poe_id, r.effective_from, status_signature(r))
        for r in PoEStatus.objects.filter(poe__operation=operation)
    }
    statuses = 0
    for code, start, status, restriction, groups, measures, inflow, outflow, notes in HISTORY:
        row = {
            "status": status,
            "restriction": restriction,
            "affected_groups": groups,
            "measures": measures,
            "daily_inflow": inflow,
            "daily_outflow": outflow,
            "notes": notes,
            "source": DEMO_SOURCE,
        }
        if (points[code].pk, D(start), status_signature(row)) in stored:
            continue
        _record, created = status_record(
            poe=points[code],
            effective_from=D(start),
            status=status,
            restriction=restriction,
            affected_groups=groups,
            measures=measures,
            daily_inflow=inflow,
            daily_outflow=outflow,
            notes=notes,
            source=DEMO_SOURCE,
        )
        statuses += created
    travel = sum(_travel_save(operation, row) for row in TRAVEL)
    published = statuses_publish(operation=operation) + travel_publish(operation=operation, source="manual")
    return {
        "points": len(points),
        "statuses": statuses,
        "travel_restrictions": travel,
        "published": published,
    }

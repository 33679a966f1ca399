"""Demo flow monitoring for the Cabo Delgado demo operation: invented, real-shaped, reproducible.

Four flow monitoring points on the Mozambique–Tanzania corridor (real places and p-codes of the
OCHA COD 2019, coordinates near the real crossings), 90 days of hour-by-hour counts during each
point's observed hours, and a few dozen survey interviews. Every figure is invented from a fixed
seed: running it again stores nothing new (the record ids are fixed) and changes nothing.
Publishing a period is left to the caller (the demo command).
"""

from __future__ import annotations

import datetime as dt
import math
import random

from django.db import transaction

from mobility.core.models import Operation

from .counts import CountParser, counts_write
from .models import FlowMonitoringPoint
from .points import PointRow, points_write, schedule_parse
from .surveys import fmp_ids, survey_parse, surveys_write

CORRIDOR = "Mozambique–Tanzania border (Cabo Delgado)"
START = dt.date(2026, 1, 1)
DAYS = 90

# code, name, type, admin2, lat, lon, schedule, border country, movement types, mean groups an hour
POINTS = [
    (
        "MOZ-FMP-NEGOMANO",
        "Negomano (Unity Bridge)",
        "border_crossing",
        "MZ0112",
        -11.4305,
        38.4879,
        "Mon-Sat 06:00-18:00",
        "TZA",
        "cross_border",
        1.6,
    ),
    (
        "MOZ-FMP-NAMOTO",
        "Namoto (Rovuma crossing)",
        "border_crossing",
        "MZ0116",
        -10.5047,
        40.4463,
        "daily 07:00-17:00",
        "TZA",
        "cross_border;return",
        2.2,
    ),
    (
        "MOZ-FMP-PALMA",
        "Palma town transit",
        "transit_centre",
        "MZ0116",
        -10.7773,
        40.4729,
        "daily 06:00-18:00",
        "",
        "internal;transit;return",
        2.8,
    ),
    (
        "MOZ-FMP-MUEDA",
        "Mueda bus station",
        "bus_station",
        "MZ0112",
        -11.6605,
        39.5572,
        "Mon-Sat 05:00-17:00",
        "",
        "internal;transit",
        2.0,
    ),
]

# What moves where, per point: (weight, direction, nationality, from (country, admin1, admin2),
# to (country, admin1, admin2), transports, reasons, durations).
PATTERNS = {
    "MOZ-FMP-NEGOMANO": [
        (
            5,
            "in",
            "TZA",
            ("TZA", "", ""),
            ("MOZ", "MZ01", "MZ0112"),
            ["bus", "motorbike", "car"],
            ["economic", "family"],
            ["lt_1w", "1w_1m"],
        ),
        (
            4,
            "out",
            "TZA",
            ("MOZ", "MZ01", "MZ0112"),
            ("TZA", "", ""),
            ["bus", "motorbike"],
            ["return", "economic"],
            ["permanent", "lt_1w"],
        ),
        (
            3,
            "in",
            "MOZ",
            ("TZA", "", ""),
            ("MOZ", "MZ01", "MZ0112"),
            ["bus", "foot"],
            ["return", "family"],
            ["permanent", "1m_6m"],
        ),
        (
            2,
            "out",
            "MOZ",
            ("MOZ", "MZ01", "MZ0112"),
            ("TZA", "", ""),
            ["bus", "foot"],
            ["economic", "services"],
            ["1w_1m", "lt_1w"],
        ),
        (1, "in", "MWI", ("TZA", "", ""), ("MOZ", "MZ01", "MZ0112"), ["bus"], ["economic"], ["1w_1m"]),
    ],
    "MOZ-FMP-NAMOTO": [
        (
            5,
            "in",
            "MOZ",
            ("TZA", "", ""),
            ("MOZ", "MZ01", "MZ0116"),
            ["foot", "boat"],
            ["return"],
            ["permanent"],
        ),
        (
            3,
            "out",
            "MOZ",
            ("MOZ", "MZ01", "MZ0116"),
            ("TZA", "", ""),
            ["foot", "boat"],
            ["conflict"],
            ["1m_6m", "gt_6m"],
        ),
        (
            2,
            "in",
            "TZA",
            ("TZA", "", ""),
            ("MOZ", "MZ01", "MZ0116"),
            ["boat", "foot"],
            ["economic", "family"],
            ["lt_1w"],
        ),
        (
            2,
            "out",
            "TZA",
            ("MOZ", "MZ01", "MZ0116"),
            ("TZA", "", ""),
            ["boat", "foot"],
            ["economic", "return"],
            ["permanent", "lt_1w"],
        ),
    ],
    "MOZ-FMP-PALMA": [
        (
            5,
            "in",
            "MOZ",
            ("MOZ", "MZ01", "MZ0110"),
            ("MOZ", "MZ01", "MZ0116"),
            ["foot", "car", "bus"],
            ["return", "family"],
            ["permanent", "1m_6m"],
        ),
        (
            4,
            "out",
            "MOZ",
            ("MOZ", "MZ01", "MZ0116"),
            ("MOZ", "MZ01", "MZ0112"),
            ["bus", "car", "foot"],
            ["conflict", "services"],
            ["1m_6m", "1w_1m"],
        ),
        (
            2,
            "out",
            "MOZ",
            ("MOZ", "MZ01", "MZ0116"),
            ("MOZ", "MZ01", "MZ0108"),
            ["boat", "bus"],
            ["conflict", "food"],
            ["gt_6m", "unknown"],
        ),
        (
            1,
            "in",
            "TZA",
            ("TZA", "", ""),
            ("MOZ", "MZ01", "MZ0116"),
            ["boat", "car"],
            ["economic"],
            ["lt_1w"],
        ),
    ],
    "MOZ-FMP-MUEDA": [
        (
            5,
            "in",
            "MOZ",
            ("MOZ", "MZ01", "MZ0115"),
            ("MOZ", "MZ01", "MZ0112"),
            ["bus"],
            ["conflict", "services"],
            ["1m_6m", "gt_6m"],
        ),
        (
            4,
            "out",
            "MOZ",
            ("MOZ", "MZ01", "MZ0112"),
            ("MOZ", "MZ01", "MZ0101"),
            ["bus"],
            ["economic", "family", "services"],
            ["lt_1w", "1w_1m"],
        ),
        (
            2,
            "out",
            "MOZ",
            ("MOZ", "MZ01", "MZ0112"),
            ("MOZ", "MZ01", "MZ0116"),
            ["bus", "car"],
            ["return"],
            ["permanent"],
        ),
        (1, "in", "TZA", ("TZA", "", ""), ("MOZ", "MZ01", "MZ0112"), ["bus"], ["economic"], ["lt_1w"]),
    ],
}
NEEDS = ["food", "water", "shelter", "health", "transport", "documentation", "cash", "information"]


def _poisson(rng: random.Random, mean: float) -> int:
    """Knuth's method: fine for the small means of groups per hour."""
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _hour_weight(hour: int) -> float:
    """More crossings mid-morning and mid-afternoon, few at dawn and dusk."""
    return 0.4 + 0.9 * math.exp(-((hour - 9.5) ** 2) / 6) + 0.7 * math.exp(-((hour - 15) ** 2) / 5)


def _sadd(rng: random.Random, individuals: int) -> dict[str, str]:
    bands = [
        "males_0_4",
        "females_0_4",
        "males_5_17",
        "females_5_17",
        "males_18_59",
        "females_18_59",
        "males_60",
        "females_60",
    ]
    weights = [0.08, 0.08, 0.12, 0.12, 0.26, 0.27, 0.035, 0.035]
    counts = dict.fromkeys(bands, 0)
    adult = "males_18_59" if rng.random() < 0.55 else "females_18_59"
    counts[adult] = 1  # every group has an adult
    for _ in range(individuals - 1):
        counts[rng.choices(bands, weights)[0]] += 1
    return {k: str(v) for k, v in counts.items()}


def _count_rows(code: str, observed_days: list[int], observed_hours: list[int], mean: float) -> list[dict]:
    rng = random.Random(f"flows-demo-{code}")
    patterns = PATTERNS[code]
    rows = []
    for offset in range(DAYS):
        day = START + dt.timedelta(days=offset)
        if day.weekday() not in observed_days:
            continue
        # Market day on Fridays, fewer crossings on Sundays; a slow rise over the quarter.
        day_factor = (1.35 if day.weekday() == 4 else 0.7 if day.weekday() == 6 else 1.0) * (
            0.85 + 0.3 * offset / DAYS
        )
        for hour in observed_hours:
            groups = _poisson(rng, mean * day_factor * _hour_weight(hour))
            for n in range(groups):
                _w, direction, nationality, origin, dest, transports, reasons, durations = rng.choices(
                    patterns, [p[0] for p in patterns]
                )[0]
                transport = rng.choice(transports)
                size = {"bus": (8, 35), "boat": (3, 18), "car": (2, 6), "motorbike": (1, 3)}.get(
                    transport, (1, 7)
                )
                individuals = rng.randint(*size)
                row = {
                    "fmp_code": code,
                    "record_id": f"DEMO-{code[8:]}-{day:%Y%m%d}-{hour:02d}-{n + 1}",
                    "date": day.isoformat(),
                    "hour_start": str(hour),
                    "period_hours": "1",
                    "direction": direction,
                    "from_country": origin[0],
                    "from_admin1": origin[1],
                    "from_admin2": origin[2],
                    "to_country": dest[0],
                    "to_admin1": dest[1],
                    "to_admin2": dest[2],
                    "nationality": nationality,
                    "transport": transport,
                    "reason": rng.choice(reasons),
                    "intended_duration": rng.choice(durations),
                    "individuals": str(individuals),
                    "households": str(max(1, individuals // 5)),
                    **_sadd(rng, individuals),
                    "unaccompanied_children": "1" if rng.random() < 0.02 else "0",
                    "pregnant_women": "1" if rng.random() < 0.06 else "0",
                    "elderly": "1" if rng.random() < 0.05 else "0",
                    "disabilities": "1" if rng.random() < 0.03 else "0",
                }
                rows.append(row)
    return rows


def _survey_rows(codes: list[str]) -> list[dict]:
    rng = random.Random("flows-demo-surveys")
    rows = []
    for i in range(48):
        code = codes[i % len(codes)]
        _w, direction, nationality, origin, dest, transports, reasons, durations = rng.choice(PATTERNS[code])
        day = START + dt.timedelta(days=rng.randrange(DAYS))
        rows.append(
            {
                "record_id": f"DEMO-S{i + 1:03d}",
                "fmp_code": code,
                "date": day.isoformat(),
                "direction": direction,
                "sex": rng.choice(["f", "m"]),
                "age": str(rng.randint(18, 70)),
                "nationality": nationality,
                "from_country": origin[0],
                "from_admin1": origin[1],
                "to_country": dest[0],
                "to_admin1": dest[1],
                "reason": rng.choice(reasons),
                "intended_duration": rng.choice(durations),
                "transport": rng.choice(transports),
                "travelling_with": str(rng.randint(0, 8)),
                "needs": ";".join(rng.sample(NEEDS, rng.randint(1, 3))),
                "first_time_crossing": rng.choice(["yes", "no"]),
                "days_travelling": str(rng.randint(0, 6)),
            }
        )
    return rows


@transaction.atomic
def flows_demo(operation: Operation) -> dict[str, int]:
    """Store the demo corridor, points, counts and surveys in the operation; returns what was stored."""
    rows = []
    for code, name, kind, admin2, lat, lon, schedule, border, movements, _mean in POINTS:
        days, hours = schedule_parse(schedule)
        rows.append(
            PointRow(
                code=code,
                name=name,
                type=kind,
                country_iso3="MOZ",
                border_country_iso3=border,
                admin1_code="MZ01",
                admin2_code=admin2,
                latitude=lat,
                longitude=lon,
                movement_types=movements.split(";"),
                observed_days=days,
                observed_hours=hours,
                corridor=CORRIDOR,
            )
        )
    points = points_write(operation=operation, rows=rows)
    fmps = fmp_ids(operation)
    parser = CountParser(fmps)
    values = []
    for point in FlowMonitoringPoint.objects.filter(operation=operation, code__in=[p[0] for p in POINTS]):
        mean = next(p[9] for p in POINTS if p[0] == point.code)
        for number, raw in enumerate(
            _count_rows(point.code, point.observed_days, point.observed_hours, mean), 1
        ):
            parsed, errors = parser.parse(raw, row=number)
            if errors:  # the demo's own data: a bug here, not a user's mistake
                raise ValueError(f"demo count {raw['record_id']}: {errors[0].text}")
            values.append(parsed)
    counts = counts_write(operation=operation, rows=values)
    surveys = []
    for number, raw in enumerate(_survey_rows([p[0] for p in POINTS]), 1):
        parsed, errors = survey_parse(raw, row=number, fmps=fmps)
        if errors:
            raise ValueError(f"demo survey {raw['record_id']}: {errors[0].text}")
        surveys.append(parsed)
    survey_counts = surveys_write(operation=operation, rows=surveys)
    return {
        "points_created": points["created"],
        "counts": len(values),
        "counts_created": counts.created,
        "surveys": len(surveys),
        "surveys_created": survey_counts.created,
    }

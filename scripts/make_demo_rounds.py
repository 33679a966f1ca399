#!/usr/bin/env python3
"""Write the demo's two Mozambique rounds (invented, real-shaped figures) in the template vocabulary.

Run: python3 scripts/make_demo_rounds.py   (writes mobility/tracking/data/demo_moz_round{1,2}.csv)
The figures are invented for the demo; the places are the real OCHA COD districts.
"""

import csv
import random
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PCODES = REPO / "mobility" / "gazetteer" / "data" / "moz_adm0-3_pcodes_ocha_2019.csv"
OUT = REPO / "mobility" / "tracking" / "data"
PROVINCES = {"MZ01": 1.0, "MZ07": 0.35, "MZ02": 0.2}  # Cabo Delgado, Nampula, Gaza: weight of displacement
BANDS = ["0-4", "5-11", "12-17", "18-59", "60+"]
SHARE = [0.17, 0.2, 0.13, 0.42, 0.08]
COLUMNS = [
    "location_code",
    "admin1_code",
    "admin1_name",
    "admin2_code",
    "admin2_name",
    "population_group",
    "households",
    "individuals",
    "males",
    "females",
    *[f"female_{b}" for b in BANDS],
    *[f"male_{b}" for b in BANDS],
    "displacement_reason",
    "origin_admin1_code",
    "origin_admin2_code",
    "shelter_type",
    "reporting_date",
    "assessment_type",
    "key_informants",
]


def districts():
    seen = {}
    with PCODES.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["ADM1 PCODE"] in PROVINCES:
                seen[row["ADM2 PCODE"]] = (row["ADM1 PCODE"], row["ADM1 PT"], row["ADM2 PT"])
    return dict(sorted(seen.items()))


def split(total, shares, rng):
    parts = [int(total * s * rng.uniform(0.85, 1.15)) for s in shares]
    parts[-2] += total - sum(parts)  # keep the sum exact
    return parts


def rows_for(round_number, rng):
    date = {1: "2026-01-31", 2: "2026-03-31"}[round_number]
    out = []
    for code, (a1, a1_name, a2_name) in districts().items():
        weight = PROVINCES[a1]
        if round_number == 1 and rng.random() < 0.1:
            continue  # not every district was reached in round 1
        base = int(rng.lognormvariate(8.3, 1.1) * weight)
        idp = max(3, int(base * (1.0 if round_number == 1 else rng.uniform(0.7, 1.35))))
        females = split(idp // 2 + idp % 2, SHARE, rng) if idp > 40 else [""] * 5
        males = split(idp // 2, SHARE, rng) if idp > 40 else [""] * 5
        sadd_known = idp > 40
        out.append(
            {
                "location_code": "MOZ",
                "admin1_code": a1,
                "admin1_name": a1_name,
                "admin2_code": code,
                "admin2_name": a2_name,
                "population_group": "IDP",
                "households": max(1, idp // 5),
                "individuals": idp,
                "males": sum(males) if sadd_known else "",
                "females": sum(females) if sadd_known else "",
                **{f"female_{b}": v for b, v in zip(BANDS, females, strict=True)},
                **{f"male_{b}": v for b, v in zip(BANDS, males, strict=True)},
                "displacement_reason": "conflict"
                if a1 == "MZ01" or rng.random() < 0.6
                else "natural_disaster",
                "origin_admin1_code": "MZ01",
                "origin_admin2_code": "",
                "shelter_type": rng.choice(["host_family", "host_family", "camp", "spontaneous_site"]),
                "reporting_date": date,
                "assessment_type": "BA",
                "key_informants": rng.randint(2, 6),
            }
        )
        if round_number == 2 and rng.random() < 0.4:
            ret = int(idp * rng.uniform(0.05, 0.3)) + 1
            out.append(
                {
                    "location_code": "MOZ",
                    "admin1_code": a1,
                    "admin1_name": a1_name,
                    "admin2_code": code,
                    "admin2_name": a2_name,
                    "population_group": "RET-IDP",
                    "households": max(1, ret // 5),
                    "individuals": ret,
                    "reporting_date": date,
                    "assessment_type": "BA",
                }
            )
    return out


def main():
    for number in (1, 2):
        rng = random.Random(2026 + number)
        path = OUT / f"demo_moz_round{number}.csv"
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=COLUMNS)
            writer.writeheader()
            for row in rows_for(number, rng):
                writer.writerow(row)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()

"""Precision, recall and speed of the p-code name matcher on names perturbed the way field data is.

Run:  .venv/bin/python bench/bench_matching.py [--per-area 4] [--seed 7]

For every admin2 and admin3 area of Mozambique (Portuguese names) and Pakistan, it writes a few
misspelt versions (one typo, dropped accents, case, transliteration variants, swapped words, an
added "District"/"Distrito de", extra spaces or punctuation), seeded, and matches them with and
without the parent. Figures printed:

- precision: of the names the matcher decided (exact, alias or fuzzy), the share given the right p-code
- recall: the share of all names given the right p-code
- review: the share sent to review (ambiguous or unmatched)
- names/s: with the result cache off (every name scored afresh)

beside the reference: rapidfuzz.process.extractOne over the raw names (WRatio, no normalisation,
no margin), which always answers.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ["DJANGO_SETTINGS_MODULE"] = "mobility.settings"
os.environ["MOBILITY_VAR_DIR"] = tempfile.mkdtemp(prefix="mobility-bench-")
os.environ.pop("DATABASE_URL", None)

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from rapidfuzz import fuzz, process  # noqa: E402

from mobility.gazetteer.matching import MATCHED, AreaMatcher  # noqa: E402
from tests.gazetteer.gazetteer_fixtures import load_gazetteer  # noqa: E402

LETTERS = "abcdefghijklmnopqrstuvwxyz"
PREFIXES = {
    "MOZ": {2: ["Distrito de ", "Distrito ", ""], 3: ["Posto Administrativo de ", "PA ", ""]},
    "PAK": {2: ["District ", "", "Zila "], 3: ["Tehsil ", "", ""]},
}
SUFFIXES = {
    "MOZ": {2: [" District", " distrito"], 3: [" Posto"]},
    "PAK": {2: [" District"], 3: [" Tehsil", " Taluka"]},
}
# Spelling variants seen in Pakistani lists, applied one way or the other.
TRANSLIT = [
    ("kh", "k"),
    ("ff", "f"),
    ("ee", "i"),
    ("i", "ee"),
    ("oo", "u"),
    ("u", "oo"),
    ("pur", "poor"),
    ("abad", " Abad"),
    ("gh", "g"),
    ("a", "aa"),
    ("q", "k"),
    ("z", "zz"),
    ("ll", "l"),
    ("sh", "sh"),
]


def drop_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


def typo(rng: random.Random, text: str) -> str:
    positions = [i for i, c in enumerate(text) if c.isalpha()]
    if len(positions) < 3:
        return text
    i = rng.choice(positions[1:])
    kind = rng.choice(["insert", "delete", "substitute", "transpose"])
    if kind == "insert":
        return text[:i] + rng.choice(LETTERS) + text[i:]
    if kind == "delete":
        return text[:i] + text[i + 1 :]
    if kind == "substitute":
        return text[:i] + rng.choice(LETTERS.replace(text[i].lower(), "")) + text[i + 1 :]
    if i + 1 < len(text):
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    return text[: i - 1] + text[i] + text[i - 1]


def transliterate(rng: random.Random, text: str) -> str:
    options = [(a, b) for a, b in TRANSLIT if a in text.lower()]
    if not options:
        return typo(rng, text)
    a, b = rng.choice(options)
    i = text.lower().index(a)
    return (text[:i] + b + text[i + len(a) :]).strip()


def perturb(rng: random.Random, name: str, country: str, level: int) -> tuple[str, str]:
    """A field-data version of a name, and what was done to it."""
    kinds = ["typo", "accents_case", "swap", "prefix", "spaces", "suffix"]
    if country == "PAK":
        kinds += ["translit", "translit"]
    chosen = rng.sample(kinds, k=rng.choice([1, 1, 2]))
    # In the order field data picks them up: spelling first, then the words and spaces around it.
    order = ["translit", "typo", "swap", "accents_case", "prefix", "suffix", "spaces"]
    chosen = sorted(chosen, key=order.index)
    out = name
    for kind in chosen:
        if kind == "typo":
            out = typo(rng, out)
        elif kind == "accents_case":
            out = rng.choice([str.upper, str.lower, str.title])(drop_accents(out))
        elif kind == "swap":
            words = out.split()
            if len(words) > 1:
                i = rng.randrange(len(words) - 1)
                words[i], words[i + 1] = words[i + 1], words[i]
                out = " ".join(words)
            else:
                out = drop_accents(out).lower()
        elif kind == "prefix":
            out = rng.choice(PREFIXES[country][level]) + out
        elif kind == "suffix":
            out = out + rng.choice(SUFFIXES[country][level])
        elif kind == "spaces":
            out = rng.choice(["  {}  ", "{}.", "{} -", " {}", "{},"]).format(
                out.replace(" ", rng.choice(["  ", "-", " "]))
            )
        elif kind == "translit":
            out = transliterate(rng, out)
    return out, "+".join(chosen)


def cases(country: str, level: int, per_area: int, rng: random.Random, matcher: AreaMatcher):
    areas = sorted((a for a in matcher.areas.values() if a.level == level), key=lambda a: a.pcode)
    out = []
    for area in areas:
        for _ in range(per_area):
            text, kind = perturb(rng, area.name, country, level)
            parent_name = matcher.areas[area.parent].name if area.parent else ""
            out.append((text, kind, area.pcode, area.parent, parent_name))
    return out


def evaluate(matcher: AreaMatcher, rows, with_parent: bool):
    matcher._cache.clear()
    started = time.perf_counter()
    results = [
        matcher.match(text, parent=parent_name if with_parent else None)
        for text, _, _, _, parent_name in rows
    ]
    seconds = time.perf_counter() - started
    decided = [(r, row) for r, row in zip(results, rows, strict=True) if r.status in MATCHED]
    correct = sum(1 for r, row in decided if r.pcode == row[2])
    return {
        "n": len(rows),
        "precision": correct / len(decided) if decided else 1.0,
        "recall": correct / len(rows),
        "review": 1 - len(decided) / len(rows),
        "per_s": len(rows) / seconds,
        "wrong": [
            (row[0], r.matched_name, matcher.area_name(row[2])) for r, row in decided if r.pcode != row[2]
        ],
    }


def reference(matcher: AreaMatcher, rows, with_parent: bool, cutoff: float | None):
    names_by_parent: dict[str, tuple[list[str], list[str]]] = {}
    everything = (
        [a.name for a in matcher.areas.values() if a.level == matcher.level],
        [a.pcode for a in matcher.areas.values() if a.level == matcher.level],
    )
    for a in matcher.areas.values():
        if a.level == matcher.level:
            names, codes = names_by_parent.setdefault(a.parent, ([], []))
            names.append(a.name)
            codes.append(a.pcode)
    started = time.perf_counter()
    decided = correct = 0
    for text, _, truth, parent, _ in rows:
        names, codes = names_by_parent[parent] if with_parent else everything
        best = process.extractOne(text, names, scorer=fuzz.WRatio, score_cutoff=cutoff or 0)
        if best is None:
            continue
        decided += 1
        correct += codes[best[2]] == truth
    seconds = time.perf_counter() - started
    return {
        "precision": correct / decided if decided else 1.0,
        "recall": correct / len(rows),
        "review": 1 - decided / len(rows),
        "per_s": len(rows) / seconds,
    }


def exact_speed(matcher: AreaMatcher, repeat: int = 20) -> float:
    names = [a.name for a in matcher.areas.values() if a.level == matcher.level] * repeat
    matcher._cache.clear()
    started = time.perf_counter()
    for i, name in enumerate(names):
        matcher._match(name, "")  # bypass the cache: every lookup is real
        if i % 5000 == 0:
            pass
    return len(names) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-area", type=int, default=4)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--show-wrong", type=int, default=0)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    for country in ("MOZ", "PAK"):
        load_gazetteer(country, geometry=False)

    header = f"{'set':<20}{'names':>7} | {'precision':>9}{'recall':>8}{'review':>8}{'names/s':>10} | {'ref prec':>8}{'ref rec':>8}{'ref/s':>9} | {'ref@88 prec':>11}{'rec':>7}"
    print(
        f"Mobility matcher (threshold/margin from settings) vs rapidfuzz extractOne(WRatio) on raw names, seed {args.seed}"
    )
    print(header)
    print("-" * len(header))
    totals = {"n": 0, "correct_decided": 0.0, "decided": 0.0, "correct": 0.0, "time": 0.0}
    for country in ("MOZ", "PAK"):
        for level in (2, 3):
            matcher = AreaMatcher(country, level)
            rows = cases(
                country, level, args.per_area, random.Random(f"{args.seed}-{country}-{level}"), matcher
            )
            for with_parent in (False, True):
                ours = evaluate(matcher, rows, with_parent)
                ref = reference(matcher, rows, with_parent, None)
                ref88 = reference(matcher, rows, with_parent, matcher.threshold)
                label = f"{country} adm{level} {'+parent' if with_parent else 'no parent'}"
                print(
                    f"{label:<20}{ours['n']:>7} | {ours['precision']:>9.1%}{ours['recall']:>8.1%}{ours['review']:>8.1%}"
                    f"{ours['per_s']:>10,.0f} | {ref['precision']:>8.1%}{ref['recall']:>8.1%}{ref['per_s']:>9,.0f}"
                    f" | {ref88['precision']:>11.1%}{ref88['recall']:>7.1%}"
                )
                decided = ours["n"] * (1 - ours["review"])
                totals["n"] += ours["n"]
                totals["decided"] += decided
                totals["correct_decided"] += ours["precision"] * decided
                totals["correct"] += ours["recall"] * ours["n"]
                totals["time"] += ours["n"] / ours["per_s"]
                for wrong in ours["wrong"][: args.show_wrong]:
                    print("    wrong:", wrong)
    print("-" * len(header))
    print(
        f"{'all':<20}{totals['n']:>7} | {totals['correct_decided'] / totals['decided']:>9.2%}"
        f"{totals['correct'] / totals['n']:>8.2%}{1 - totals['decided'] / totals['n']:>8.2%}"
        f"{totals['n'] / totals['time']:>10,.0f}"
    )
    print()
    for country, level in (("PAK", 3), ("MOZ", 3)):
        matcher = AreaMatcher(country, level)
        print(f"exact names, no cache, {country} adm{level}: {exact_speed(matcher):,.0f} names/s")
    matcher = AreaMatcher("PAK", 3)
    rows = cases("PAK", 3, args.per_area, random.Random(args.seed), matcher) * 10
    matcher._cache.clear()
    started = time.perf_counter()
    for text, *_ in rows:
        matcher.match(text)
    print(
        f"field file with repeats (10x each name), cache on, PAK adm3: {len(rows) / (time.perf_counter() - started):,.0f} names/s"
    )


if __name__ == "__main__":
    main()

"""No suppressed value can be recovered from the published cells: checked by brute force on small tables."""

from __future__ import annotations

from collections import defaultdict

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mobility.publishing.disclosure import (
    PRIMARY,
    ROLLUP,
    SECONDARY,
    WHY_PRIMARY,
    AreaRow,
    Cell,
    FigureRow,
    Group,
    PartRow,
    area_band_key,
    area_key,
    area_sex_key,
    build_cells,
    determined_cells,
    disclosure_check,
    part_key,
    site_key,
    site_sex_key,
)

AGES = ["0-17", "18+"]
BANDS = [f"{sex}_{age}" for sex in ("female", "male") for age in AGES]


def cell(name, value, kind="sex_age"):
    return Cell(key=(name,), value=value, kind=kind, label=name)


# --- the rule on hand-made tables ------------------------------------------------------------


def test_a_small_band_is_suppressed_with_its_smallest_neighbour():
    cells = [cell("T", 30, "total"), cell("a", 3), cell("b", 7), cell("c", 20)]
    report = disclosure_check(cells, [Group(("T",), (("a",), ("b",), ("c",)))], threshold=5)
    assert {s.key: s.reason for s in report.suppressed} == {("a",): PRIMARY, ("b",): SECONDARY}
    assert report.suppressed[0].why == WHY_PRIMARY.format(threshold=5)
    assert report.suppressed[1].why == "protects a"


def test_zero_is_not_sensitive_and_big_cells_stay():
    cells = [cell("T", 25, "total"), cell("a", 0), cell("b", 5), cell("c", 20)]
    report = disclosure_check(cells, [Group(("T",), (("a",), ("b",), ("c",)))], threshold=5)
    assert report.suppressed == []


def test_a_lone_part_takes_its_total_and_the_total_its_sibling():
    # Area A has one site with 3 people: publishing A's total would reveal the site.
    cells = [
        cell("country", 50, "total"),
        cell("A", 3, "total"),
        cell("B", 20, "total"),
        cell("C", 27, "total"),
        cell("site", 3, "site"),
    ]
    groups = [Group(("country",), (("A",), ("B",), ("C",))), Group(("A",), (("site",),))]
    report = disclosure_check(cells, groups, threshold=5)
    assert report.suppressed_keys == {("site",), ("A",), ("B",)}
    assert not determined_cells(groups, report.suppressed_keys)


def test_groups_that_do_not_add_up_are_not_used():
    cells = [cell("T", 40, "total"), cell("a", 3), cell("b", 30)]  # 3 + 30 != 40
    report = disclosure_check(cells, [Group(("T",), (("a",), ("b",)))], threshold=5)
    assert report.suppressed_keys == {("a",)}


def test_crossing_totals_are_audited():
    """A two-way table where every row and column has two suppressed cells, yet one is determined."""
    # Rows r1..r4, columns c1..c4; suppressed: a 2x2 block, another 2x2 block, and a bridge r2c3.
    grid = {(r, c): 10 for r in range(4) for c in range(4)}
    small = {(0, 0), (0, 1), (1, 0), (1, 1), (2, 2), (2, 3), (3, 2), (3, 3), (1, 2)}
    cells = [cell(f"r{r}c{c}", 2 if (r, c) in small else v) for (r, c), v in grid.items()]
    values = {c.key: c.value for c in cells}
    cells += [cell(f"r{r}", sum(values[(f"r{r}c{c}",)] for c in range(4)), "total") for r in range(4)]
    cells += [cell(f"c{c}", sum(values[(f"r{r}c{c}",)] for r in range(4)), "total") for c in range(4)]
    groups = [Group((f"r{r}",), tuple((f"r{r}c{c}",) for c in range(4))) for r in range(4)]
    groups += [Group((f"c{c}",), tuple((f"r{r}c{c}",) for r in range(4))) for c in range(4)]
    # The 0-or-2 rule alone leaves the bridge determined:
    assert ("r1c2",) in determined_cells(groups, {(f"r{r}c{c}",) for r, c in small})
    report = disclosure_check(cells, groups, threshold=5)
    assert not determined_cells(groups, report.suppressed_keys)
    assert_no_cell_recoverable(cells, groups, report.suppressed_keys)


def test_the_report_names_every_suppressed_cell_and_never_its_value():
    cells = [cell("T", 100_006, "total"), cell("secret", 6), cell("b", 100_000)]
    report = disclosure_check(cells, [Group(("T",), (("secret",), ("b",)))], threshold=8)
    text, data = report.as_text(), report.as_dict()
    assert "secret" in text and "protects secret" in text
    assert " 6" not in text and "100000" not in str(data) and "100,000" not in text
    assert data["by_reason"] == {PRIMARY: 1, ROLLUP: 0, SECONDARY: 1}
    assert data["threshold"] == 8 and data["suppressed_total"] == 2
    assert set(data["suppressed"][0]) == {"label", "kind", "reason", "why"}


# --- brute force -----------------------------------------------------------------------------


def alternative_exists(target, suppressed_values, equations, limit=2) -> bool:
    """Is there an integer change d (|d_i| <= limit) with d_target != 0, every equation still
    balanced and every suppressed value still >= 0? Exhaustive depth-first search."""
    order = [target]
    seen = {target}
    eq_of = defaultdict(list)
    for i, eq in enumerate(equations):
        for k in eq:
            eq_of[k].append(i)
    queue = [target]
    while queue:  # visit unknowns in the order equations connect them, so equations close early
        k = queue.pop(0)
        for i in eq_of[k]:
            for other in equations[i]:
                if other not in seen:
                    seen.add(other)
                    order.append(other)
                    queue.append(other)
    relevant = [eq for eq in equations if all(k in seen for k in eq)]
    position = {k: i for i, k in enumerate(order)}
    closes_at = defaultdict(list)
    for eq in relevant:
        closes_at[max(position[k] for k in eq)].append(eq)
    d = {}

    def ok(eq):
        assigned = [eq[k] * d[k] for k in eq if k in d]
        free = sum(1 for k in eq if k not in d)
        return abs(sum(assigned)) <= free * limit

    def search(i):
        if i == len(order):
            return True
        k = order[i]
        choices = [v for v in range(-limit, limit + 1) if suppressed_values[k] + v >= 0]
        if i == 0:
            choices = [v for v in choices if v != 0]
        for v in sorted(choices, key=abs):
            d[k] = v
            if all(ok(eq) for eq in relevant_touching(k)) and all(
                sum(eq[j] * d[j] for j in eq) == 0 for eq in closes_at[i]
            ):
                if search(i + 1):
                    return True
            del d[k]
        return False

    touching = defaultdict(list)
    for eq in relevant:
        for k in eq:
            touching[k].append(eq)

    def relevant_touching(k):
        return touching[k]

    return search(0)


def assert_no_cell_recoverable(cells, groups, suppressed, constraints=None):
    """For every suppressed cell, two different non-negative completions agree with every published value.

    Suppressed zeros are exempt: zero is not sensitive, and non-negativity may pin a suppressed zero
    at zero without revealing anything else.
    """
    values = {c.key: c.value for c in cells}
    constraints = constraints if constraints is not None else [(g.total, g.parts) for g in groups]
    equations = []
    for total, parts in constraints:
        if any(k not in values for k in (total, *parts)) or sum(values[p] for p in parts) != values[total]:
            continue
        eq = defaultdict(int)
        eq[total] += 1
        for p in parts:
            eq[p] -= 1
        eq = {k: v for k, v in eq.items() if k in suppressed and v}
        if eq:
            equations.append(eq)
            # An equation with one suppressed unknown pins it: that must never happen.
            assert len(eq) > 1, f"{next(iter(eq))} is recoverable from one total"
    for target in suppressed:
        if values[target] == 0:
            continue
        assert alternative_exists(target, {k: values[k] for k in suppressed}, equations), (
            f"{target} is uniquely determined by the published cells"
        )


@st.composite
def small_rounds(draw):
    """A country → admin1 → admin2 → sites table with sex/age bands and reason parts."""
    sites, admin1s = [], draw(st.integers(1, 3))
    for a1 in range(admin1s):
        for a2 in range(draw(st.integers(1, 2))):
            for s in range(draw(st.integers(1, 2))):
                bands = {b: draw(st.integers(0, 9)) for b in BANDS}
                total = sum(bands.values())
                cut = draw(st.integers(0, total))
                parts = [cut, total - cut] if draw(st.booleans()) else [total]
                sites.append((("C", f"A{a1}", f"A{a1}{a2}"), f"S{a1}{a2}{s}", bands, parts))
    return sites


def round_rows(sites):
    figures, totals, parts_of = [], defaultdict(lambda: defaultdict(int)), {}
    part_id = 0
    for path, place, bands, parts in sites:
        part_rows = []
        for n in parts:
            part_id += 1
            part_rows.append(PartRow(part_id=part_id, individuals=n, label=f"p{part_id}"))
        parts_of[place] = part_rows
        males = sum(v for b, v in bands.items() if b.startswith("male"))
        females = sum(v for b, v in bands.items() if b.startswith("female"))
        figures.append(
            FigureRow(
                figure_id=len(figures) + 1,
                assessment_type="SA",
                population_group="IDP",
                path=path,
                place_key=place,
                site=True,
                individuals=males + females,
                males=males,
                females=females,
                sadd=dict(bands),
                parts=part_rows,
            )
        )
        for depth in range(1, len(path) + 1):
            t = totals[path[:depth]]
            t["individuals"] += males + females
            t["males"] += males
            t["females"] += females
    areas = [AreaRow("SA", "IDP", p, t["individuals"], t["males"], t["females"]) for p, t in totals.items()]
    return areas, figures, parts_of


def independent_constraints(sites, parts_of):
    """The additive relations of the table, written out from its structure (not by the code under test)."""
    out = []
    paths = {p[:d] for p, *_ in sites for d in range(1, len(p) + 1)}
    for p in paths:

        def a(*k, p=p):
            return area_key("SA", "IDP", p) if not k else area_sex_key("SA", "IDP", p, k[0])

        out.append((a(), (a("male"), a("female"))))
        for sex in ("male", "female"):
            out.append((a(sex), tuple(area_band_key("SA", "IDP", p, b) for b in BANDS if b.startswith(sex))))
        kids = sorted(q for q in paths if len(q) == len(p) + 1 and q[: len(p)] == p)
        if kids:
            out.append((a(), tuple(area_key("SA", "IDP", q) for q in kids)))
            for sex in ("male", "female"):
                out.append((a(sex), tuple(area_sex_key("SA", "IDP", q, sex) for q in kids)))
            for b in BANDS:
                out.append(
                    (area_band_key("SA", "IDP", p, b), tuple(area_band_key("SA", "IDP", q, b) for q in kids))
                )
        here = [place for path, place, *_ in sites if path == p]
        if here:
            out.append((a(), tuple(site_key("SA", "IDP", s) for s in here)))
            for sex in ("male", "female"):
                out.append((a(sex), tuple(site_sex_key("SA", "IDP", s, sex) for s in here)))
    for _path, place, *_ in sites:
        s = site_key("SA", "IDP", place)
        out.append(
            (s, (site_sex_key("SA", "IDP", place, "male"), site_sex_key("SA", "IDP", place, "female")))
        )
        out.append((s, tuple(part_key(p.part_id) for p in parts_of[place])))
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sites=small_rounds(), threshold=st.sampled_from([3, 5, 10]))
def test_no_suppressed_value_is_recoverable_on_random_rounds(sites, threshold):
    areas, figures, parts_of = round_rows(sites)
    cells, groups = build_cells(areas=areas, figures=figures, age_bands=AGES)
    report = disclosure_check(cells, groups, threshold=threshold)
    values = {c.key: c.value for c in cells}
    kinds = {c.key: c.kind for c in cells}
    # Every small breakdown cell is suppressed; every suppressed cell is listed with its reason.
    for key, v in values.items():
        if kinds[key] != "total" and 0 < v < threshold:
            assert key in report.suppressed_keys
    assert_no_cell_recoverable(
        cells, groups, report.suppressed_keys, constraints=independent_constraints(sites, parts_of)
    )


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(st.integers(0, 12), min_size=2, max_size=6),
    threshold=st.integers(2, 8),
)
def test_one_additive_group_by_exhaustive_enumeration(values, threshold):
    """A single total and its parts: enumerate every completion of the suppressed cells."""
    import itertools

    cells = [cell("T", sum(values), "total")] + [cell(f"p{i}", v) for i, v in enumerate(values)]
    group = Group(("T",), tuple((f"p{i}",) for i in range(len(values))))
    report = disclosure_check(cells, [group], threshold=threshold)
    hidden = sorted(report.suppressed_keys)
    if not hidden:
        return
    assert len(hidden) > 1
    if ("T",) in hidden:
        return  # the total is unknown too: any hidden part can grow with it
    published_sum = sum(v for i, v in enumerate(values) if (f"p{i}",) not in report.suppressed_keys)
    remaining = sum(values) - published_sum
    parts_hidden = [k for k in hidden if k != ("T",)]
    completions = [
        combo
        for combo in itertools.product(range(remaining + 1), repeat=len(parts_hidden))
        if sum(combo) == remaining
    ]
    for i, key in enumerate(parts_hidden):
        assert len({combo[i] for combo in completions}) > 1, f"{key} is determined"


def test_the_builder_makes_the_cells_a_release_publishes():
    sites = [
        (
            ("C", "A0", "A00"),
            "S1",
            {"female_0-17": 1, "female_18+": 10, "male_0-17": 6, "male_18+": 8},
            [20, 5],
        ),
        (("C", "A0", "A01"), "S2", {"female_0-17": 9, "female_18+": 10, "male_0-17": 6, "male_18+": 8}, [33]),
    ]
    areas, figures, parts_of = round_rows(sites)
    cells, groups = build_cells(areas=areas, figures=figures, age_bands=AGES)
    keys = {c.key for c in cells}
    assert area_band_key("SA", "IDP", ("C", "A0"), "female_0-17") in keys
    assert site_key("SA", "IDP", "S1") in keys and part_key(1) in keys
    report = disclosure_check(cells, groups, threshold=5)
    assert report.reason_of(area_band_key("SA", "IDP", ("C", "A0", "A00"), "female_0-17")) == PRIMARY
    assert_no_cell_recoverable(
        cells, groups, report.suppressed_keys, constraints=independent_constraints(sites, parts_of)
    )


@pytest.mark.parametrize("threshold", [1, 0])
def test_a_threshold_of_one_or_less_suppresses_nothing(threshold):
    cells = [cell("T", 3, "total"), cell("a", 1), cell("b", 2)]
    assert disclosure_check(cells, [Group(("T",), (("a",), ("b",)))], threshold=threshold).suppressed == []

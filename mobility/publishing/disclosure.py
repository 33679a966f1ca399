"""Disclosure control: which cells of a round may be published, as pure functions over plain rows.

A round publishes *cells* (a number with a place, a population group and what it counts) that are
tied together by *additive groups* (a total and the parts that sum to it exactly): the children
areas of a parent, the sex/age bands of an area, the sites of an area, the reason × origin parts of
one figure, and so on. A total can itself be a part of a higher group.

The rule:

1. **Primary suppression.** A breakdown cell (sex, sex/age band, reason part, site-level figure)
   with ``0 < value < threshold`` is suppressed. Zero is not sensitive. Admin-area totals are
   never suppressed for being small (they are the unit DTM publishes), only to protect others.
2. **Secondary suppression.** In every additive group, a suppressed cell could be recovered by
   subtracting the published members from the published total if it were the only suppressed
   member. So while a group has exactly one suppressed member, the next-smallest published member
   is suppressed too (a non-zero part first, then a zero part, then the total — and a suppressed
   total then counts in its own higher group).
3. **Audit.** "Each group has 0 or ≥ 2 suppressed cells" is not enough where groups cross (areas ×
   bands is a two-way table): a suppressed cell can still be a linear combination of published
   values. The audit solves the system of all groups restricted to the suppressed cells (exact
   elimination modulo a large prime) and suppresses one more cell beside every cell it finds
   determined, until none is.

Only groups that are exactly additive in the data are used (an area whose reported figure differs
from the sum of its children gives an attacker no equation). The report never holds a suppressed
value, so it can be shown and stored beside the release.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

# What a cell counts. Totals are the admin-area figures; every other kind is a breakdown.
TOTAL, SEX, SEX_AGE, REASON, SITE = "total", "sex", "sex_age", "reason", "site"
SENSITIVE_KINDS = frozenset({SEX, SEX_AGE, REASON, SITE})
KIND_LABELS = {
    TOTAL: "area total",
    SEX: "sex",
    SEX_AGE: "sex/age band",
    REASON: "reason × origin part",
    SITE: "site-level figure",
}
PRIMARY, SECONDARY, ROLLUP = "primary", "secondary", "rollup"

WHY_PRIMARY = "fewer than {threshold} people"
WHY_ROLLUP = "fewer than {threshold} people; counted only in the total of {parent}"
WHY_SECONDARY = "protects {other}"

_PRIME = (1 << 61) - 1  # exact elimination modulo a Mersenne prime: no floating-point rank guesses


@dataclass(frozen=True)
class Cell:
    """One number a release would publish."""

    key: tuple
    value: int
    kind: str
    label: str
    parent_label: str = ""  # the area a site-level figure rolls up into


@dataclass(frozen=True)
class Group:
    """A published total and the published parts that sum to it exactly."""

    total: tuple
    parts: tuple[tuple, ...]
    kind: str = ""

    @property
    def members(self) -> tuple[tuple, ...]:
        return (self.total, *self.parts)


@dataclass
class Suppression:
    key: tuple
    label: str
    kind: str
    reason: str  # primary | secondary | rollup
    why: str

    @property
    def kind_label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind)

    def as_dict(self) -> dict:
        return {"label": self.label, "kind": self.kind, "reason": self.reason, "why": self.why}


@dataclass
class DisclosureReport:
    """What the disclosure check suppressed and why. Holds no suppressed value."""

    threshold: int
    cells_checked: int = 0
    groups_checked: int = 0
    suppressed: list[Suppression] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    audit_rounds: int = 0

    @property
    def suppressed_keys(self) -> set[tuple]:
        return {s.key for s in self.suppressed}

    def reason_of(self, key: tuple) -> str:
        for s in self.suppressed:
            if s.key == key:
                return s.reason
        return ""

    def counts(self) -> dict[str, dict[str, int]]:
        """{kind: {reason: n}} for every kind and reason that occurs."""
        out: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for s in self.suppressed:
            out[s.kind][s.reason] += 1
        return {kind: dict(reasons) for kind, reasons in sorted(out.items())}

    def counts_by_reason(self) -> dict[str, int]:
        out = {PRIMARY: 0, ROLLUP: 0, SECONDARY: 0}
        for s in self.suppressed:
            out[s.reason] += 1
        return out

    def as_dict(self) -> dict:
        return {
            "threshold": self.threshold,
            "cells_checked": self.cells_checked,
            "groups_checked": self.groups_checked,
            "suppressed_total": len(self.suppressed),
            "by_reason": self.counts_by_reason(),
            "by_kind": self.counts(),
            "suppressed": [s.as_dict() for s in self.suppressed],
            "notes": list(self.notes),
        }

    def summary(self) -> str:
        by = self.counts_by_reason()
        return (
            f"threshold {self.threshold}: {self.cells_checked:,} cells checked, "
            f"{len(self.suppressed):,} suppressed ({by[PRIMARY]} primary, {by[ROLLUP]} rolled up, "
            f"{by[SECONDARY]} secondary)"
        )

    def as_text(self, *, limit: int | None = None) -> str:
        lines = [
            f"Disclosure check — threshold {self.threshold} "
            f"(breakdown cells with 1 to {self.threshold - 1} people are suppressed)",
            f"Cells checked: {self.cells_checked:,} in {self.groups_checked:,} additive groups",
            f"Suppressed: {len(self.suppressed):,}",
        ]
        for kind, reasons in self.counts().items():
            parts = ", ".join(f"{n} {reason}" for reason, n in sorted(reasons.items()))
            lines.append(f"  {KIND_LABELS.get(kind, kind)}: {parts}")
        lines += [f"Note: {note}" for note in self.notes]
        if self.suppressed:
            lines.append("Suppressed cells:")
            shown = self.suppressed if limit is None else self.suppressed[:limit]
            lines += [f"  {s.reason:<9} {s.label}: {s.why}" for s in shown]
            if len(shown) < len(self.suppressed):
                lines.append(f"  … and {len(self.suppressed) - len(shown):,} more")
        return "\n".join(lines)


# --- the check ---------------------------------------------------------------------------------


def exact_groups(values: dict[tuple, int], groups: Iterable[Group]) -> list[Group]:
    """The groups whose members are all cells and whose parts add up to the total exactly."""
    out = []
    for g in groups:
        if not g.parts or any(k not in values for k in g.members):
            continue
        if sum(values[k] for k in g.parts) == values[g.total]:
            out.append(g)
    return out


def disclosure_check(cells: Iterable[Cell], groups: Iterable[Group], *, threshold: int) -> DisclosureReport:
    """Suppress small breakdown cells and enough others that none can be recovered; report why."""
    cells = list(cells)
    by_key = {c.key: c for c in cells}
    values = {c.key: c.value for c in cells}
    groups = exact_groups(values, groups)
    report = DisclosureReport(threshold=threshold, cells_checked=len(cells), groups_checked=len(groups))
    groups_of: dict[tuple, list[int]] = defaultdict(list)
    for i, g in enumerate(groups):
        for k in g.members:
            groups_of[k].append(i)
    suppressed: dict[tuple, Suppression] = {}

    def suppress(key: tuple, reason: str, why: str) -> None:
        cell = by_key[key]
        suppressed[key] = Suppression(key=key, label=cell.label, kind=cell.kind, reason=reason, why=why)
        pending.extend(groups_of.get(key, ()))

    pending: list[int] = []
    for cell in cells:
        if cell.kind in SENSITIVE_KINDS and 0 < cell.value < threshold:
            if cell.kind == SITE and cell.parent_label:
                suppress(cell.key, ROLLUP, WHY_ROLLUP.format(threshold=threshold, parent=cell.parent_label))
            else:
                suppress(cell.key, PRIMARY, WHY_PRIMARY.format(threshold=threshold))

    def partner(group: Group, protect: tuple) -> tuple | None:
        """The next-smallest published member: a non-zero part, else the total, else a zero part.

        Zero parts come last: a suppressed zero can be pinned by non-negativity (x >= 0), which
        would pin its partners too.
        """
        parts = [k for k in group.parts if k not in suppressed]
        nonzero = sorted((k for k in parts if values[k] > 0), key=lambda k: (values[k], by_key[k].label))
        zero = sorted((k for k in parts if values[k] == 0), key=lambda k: by_key[k].label)
        total = [group.total] if group.total not in suppressed and values[group.total] > 0 else []
        ordered = (
            nonzero + total + zero + ([group.total] if group.total not in suppressed and not total else [])
        )
        return ordered[0] if ordered else None

    def settle() -> None:
        while pending:
            g = groups[pending.pop()]
            hidden = [k for k in g.members if k in suppressed]
            if len(hidden) == 1:
                other = partner(g, hidden[0])
                if other is not None:
                    suppress(other, SECONDARY, WHY_SECONDARY.format(other=by_key[hidden[0]].label))

    settle()
    while True:
        determined = determined_cells(groups, set(suppressed))
        if not determined:
            break
        report.audit_rounds += 1
        added = 0
        for key in sorted(determined, key=lambda k: by_key[k].label):
            best = None
            for gi in groups_of.get(key, ()):
                other = partner(groups[gi], key)
                if other is None:
                    continue
                rank = (values[other] == 0, other == groups[gi].total, values[other], by_key[other].label)
                if best is None or rank < best[0]:
                    best = (rank, other)
            if best is not None and best[1] not in suppressed:
                suppress(best[1], SECONDARY, WHY_SECONDARY.format(other=by_key[key].label))
                added += 1
        if not added:
            # Every group of the determined cells is fully suppressed: widen to any group that still
            # has a published member, smallest first (never expected with tree-shaped tables).
            candidates = [
                (values[k] == 0, values[k], by_key[k].label, k)
                for g in groups
                if any(m in suppressed for m in g.members)
                for k in g.members
                if k not in suppressed
            ]
            if not candidates:
                report.notes.append("some suppressed cells could not be protected further")
                break
            key = min(determined, key=lambda k: by_key[k].label)
            suppress(min(candidates)[3], SECONDARY, WHY_SECONDARY.format(other=by_key[key].label))
        settle()
    order = {PRIMARY: 0, ROLLUP: 1, SECONDARY: 2}
    report.suppressed = sorted(suppressed.values(), key=lambda s: (order[s.reason], s.label))
    if report.audit_rounds:
        report.notes.append(
            f"{report.audit_rounds} audit pass(es) suppressed extra cells that crossing totals would have revealed"
        )
    return report


def determined_cells(groups: list[Group], suppressed: set[tuple]) -> set[tuple]:
    """Suppressed cells whose value follows from the published ones by linear algebra."""
    # Union-find over suppressed cells that share a group: each component is solved on its own.
    parent: dict[tuple, tuple] = {k: k for k in suppressed}

    def find(k):
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    touched: list[tuple[Group, list[tuple]]] = []
    for g in groups:
        hidden = [k for k in g.members if k in suppressed]
        if not hidden:
            continue
        touched.append((g, hidden))
        for k in hidden[1:]:
            ra, rb = find(hidden[0]), find(k)
            if ra != rb:
                parent[ra] = rb
    by_component: dict[tuple, list[dict[tuple, int]]] = defaultdict(list)
    for g, hidden in touched:
        # total - sum(parts) = (published values): only the suppressed side matters for determinacy.
        by_component[find(hidden[0])].append({k: (1 if k == g.total else -1) for k in hidden})
    out: set[tuple] = set()
    for rows in by_component.values():
        out |= _solved_unknowns(rows)
    return out


def _solved_unknowns(rows: list[dict[tuple, int]]) -> set[tuple]:
    """Unknowns fixed by homogeneous equations (i.e. e_k lies in the row space), by exact RREF mod p."""
    columns = sorted({k for row in rows for k in row})
    index = {k: i for i, k in enumerate(columns)}
    pivots: dict[int, dict[int, int]] = {}
    for raw in rows:
        row = {index[k]: v % _PRIME for k, v in raw.items() if v % _PRIME}
        while True:
            col = next((c for c in row if c in pivots), None)
            if col is None:
                break
            factor = row[col]
            for c, v in pivots[col].items():
                nv = (row.get(c, 0) - factor * v) % _PRIME
                if nv:
                    row[c] = nv
                else:
                    row.pop(c, None)
        if not row:
            continue
        pc = min(row)
        inv = pow(row[pc], _PRIME - 2, _PRIME)
        row = {c: v * inv % _PRIME for c, v in row.items()}
        for other in pivots.values():
            factor = other.get(pc)
            if factor:
                for c, v in row.items():
                    nv = (other.get(c, 0) - factor * v) % _PRIME
                    if nv:
                        other[c] = nv
                    else:
                        other.pop(c, None)
        pivots[pc] = row
    return {columns[c] for c, row in pivots.items() if len(row) == 1}


# --- building the cells and groups of a round from plain rows --------------------------------


@dataclass
class AreaRow:
    """An analytics cell (tracking.AreaFigure) as plain values; ``path`` runs from ISO3 down."""

    assessment_type: str
    population_group: str
    path: tuple[str, ...]
    individuals: int
    males: int | None = None
    females: int | None = None


@dataclass
class PartRow:
    part_id: int
    individuals: int
    males: int | None = None
    females: int | None = None
    label: str = ""  # e.g. "conflict from MZ01"


@dataclass
class FigureRow:
    """One PopulationFigure with its assessment's place; ``site`` marks a location-level figure."""

    figure_id: int
    assessment_type: str
    population_group: str
    path: tuple[str, ...]
    place_key: str
    site: bool
    individuals: int
    males: int | None = None
    females: int | None = None
    sadd: dict = field(default_factory=dict)
    parts: list[PartRow] = field(default_factory=list)


SEXES = ("male", "female")


def area_key(atype: str, group: str, path: tuple) -> tuple:
    return ("area", atype, group, tuple(path))


def area_sex_key(atype: str, group: str, path: tuple, sex: str) -> tuple:
    return ("area_sex", atype, group, tuple(path), sex)


def area_band_key(atype: str, group: str, path: tuple, band: str) -> tuple:
    return ("area_band", atype, group, tuple(path), band)


def site_key(atype: str, group: str, place_key: str) -> tuple:
    return ("site", atype, group, place_key)


def site_sex_key(atype: str, group: str, place_key: str, sex: str) -> tuple:
    return ("site_sex", atype, group, place_key, sex)


def part_key(part_id: int) -> tuple:
    return ("part", part_id)


def part_sex_key(part_id: int, sex: str) -> tuple:
    return ("part_sex", part_id, sex)


def band_names(labels: list[str]) -> list[str]:
    """Sex × age band keys as in core.sadd.Sadd.as_dict, females first."""
    return [f"{sex}_{label}" for sex in ("female", "male") for label in labels]


def _sum_known(values: Iterable[int | None]) -> int | None:
    total = 0
    for v in values:
        if v is None:
            return None
        total += v
    return total


def build_cells(
    *, areas: list[AreaRow], figures: list[FigureRow], age_bands: list[str]
) -> tuple[list[Cell], list[Group]]:
    """Every cell a release of these rows would publish, and the additive groups that tie them."""
    cells: dict[tuple, Cell] = {}
    groups: list[Group] = []
    bands = band_names(age_bands)

    def add(key, value, kind, label, parent_label=""):
        if value is not None:
            cells[key] = Cell(key=key, value=int(value), kind=kind, label=label, parent_label=parent_label)

    def where(atype, group, path):
        return f"{group} {atype} {path[-1]}"

    # Area totals and their sex split.
    area_paths: dict[tuple, set[tuple]] = defaultdict(set)  # (type, group) -> paths
    for a in areas:
        path = tuple(a.path)
        area_paths[(a.assessment_type, a.population_group)].add(path)
        add(
            area_key(a.assessment_type, a.population_group, path),
            a.individuals,
            TOTAL,
            where(a.assessment_type, a.population_group, path),
        )
        for sex, v in zip(SEXES, (a.males, a.females), strict=True):
            add(
                area_sex_key(a.assessment_type, a.population_group, path, sex),
                v,
                SEX,
                f"{where(a.assessment_type, a.population_group, path)} {sex}s",
            )
        groups.append(
            Group(
                area_key(a.assessment_type, a.population_group, path),
                tuple(area_sex_key(a.assessment_type, a.population_group, path, s) for s in SEXES),
                "sex",
            )
        )

    # Sex/age bands of areas: an area's own figures' bands where it has own figures, else its children's.
    own_bands: dict[tuple, list[int | None]] = {}
    own_has: set[tuple] = set()
    figures_at: dict[tuple, list[FigureRow]] = defaultdict(list)
    for f in figures:
        figures_at[(f.assessment_type, f.population_group, tuple(f.path))].append(f)
    for key, rows in figures_at.items():
        own_has.add(key)
        sums: list[int | None] = []
        for band in bands:
            sums.append(_sum_known((r.sadd or {}).get(band) for r in rows))
        own_bands[key] = sums
    for (atype, group), paths in area_paths.items():
        final: dict[tuple, list[int | None]] = {}
        children: dict[tuple, list[tuple]] = defaultdict(list)
        for p in paths:
            if len(p) > 1 and p[:-1] in paths:
                children[p[:-1]].append(p)
        for p in sorted(paths, key=len, reverse=True):
            if (atype, group, p) in own_has:
                final[p] = own_bands[(atype, group, p)]
            elif children.get(p):
                final[p] = [_sum_known(final[c][i] for c in children[p]) for i in range(len(bands))]
            else:
                final[p] = [None] * len(bands)
            for band, v in zip(bands, final[p], strict=True):
                add(
                    area_band_key(atype, group, p, band),
                    v,
                    SEX_AGE,
                    f"{where(atype, group, p)} {band.replace('_', ' ')}",
                )
            for sex in SEXES:
                groups.append(
                    Group(
                        area_sex_key(atype, group, p, sex),
                        tuple(area_band_key(atype, group, p, b) for b in bands if b.startswith(sex + "_")),
                        "bands",
                    )
                )
            if area_sex_key(atype, group, p, "male") not in cells:
                groups.append(
                    Group(
                        area_key(atype, group, p),
                        tuple(area_band_key(atype, group, p, b) for b in bands),
                        "bands",
                    )
                )
        # Children areas of one parent, for the total, each sex and each band.
        for p, kids in children.items():
            kids = sorted(kids)
            groups.append(
                Group(area_key(atype, group, p), tuple(area_key(atype, group, c) for c in kids), "areas")
            )
            for sex in SEXES:
                groups.append(
                    Group(
                        area_sex_key(atype, group, p, sex),
                        tuple(area_sex_key(atype, group, c, sex) for c in kids),
                        "areas",
                    )
                )
            for band in bands:
                groups.append(
                    Group(
                        area_band_key(atype, group, p, band),
                        tuple(area_band_key(atype, group, c, band) for c in kids),
                        "areas",
                    )
                )

    # Site-level figures, their sex split, and the sites of one area.
    for (atype, group, path), rows in figures_at.items():
        sites = [r for r in rows if r.site]
        for r in sites:
            label = f"{group} {atype} site {r.place_key}"
            add(site_key(atype, group, r.place_key), r.individuals, SITE, label, parent_label=f"{path[-1]}")
            for sex, v in zip(SEXES, (r.males, r.females), strict=True):
                add(site_sex_key(atype, group, r.place_key, sex), v, SEX, f"{label} {sex}s")
            groups.append(
                Group(
                    site_key(atype, group, r.place_key),
                    tuple(site_sex_key(atype, group, r.place_key, s) for s in SEXES),
                    "sex",
                )
            )
        if sites and len(sites) == len(rows):
            keys = tuple(sorted(site_key(atype, group, r.place_key) for r in sites))
            groups.append(Group(area_key(atype, group, path), keys, "sites"))
            for sex in SEXES:
                groups.append(
                    Group(
                        area_sex_key(atype, group, path, sex),
                        tuple(sorted(site_sex_key(atype, group, r.place_key, sex) for r in sites)),
                        "sites",
                    )
                )

    # Reason × origin parts of each figure, at the figure's own level.
    for (atype, group, path), rows in figures_at.items():
        for r in rows:
            if not r.parts:
                continue
            if r.site:
                total = site_key(atype, group, r.place_key)
                sex_total = {s: site_sex_key(atype, group, r.place_key, s) for s in SEXES}
                where_label = f"{group} {atype} site {r.place_key}"
            elif len(rows) == 1:
                total = area_key(atype, group, path)
                sex_total = {s: area_sex_key(atype, group, path, s) for s in SEXES}
                where_label = where(atype, group, path)
            else:
                total, sex_total, where_label = None, {}, where(atype, group, path)
            for part in r.parts:
                label = f"{where_label} part {part.label or part.part_id}"
                add(part_key(part.part_id), part.individuals, REASON, label)
                for sex, v in zip(SEXES, (part.males, part.females), strict=True):
                    add(part_sex_key(part.part_id, sex), v, SEX, f"{label} {sex}s")
                groups.append(
                    Group(part_key(part.part_id), tuple(part_sex_key(part.part_id, s) for s in SEXES), "sex")
                )
            if total is not None:
                groups.append(Group(total, tuple(part_key(p.part_id) for p in r.parts), "reasons"))
                for sex in SEXES:
                    groups.append(
                        Group(sex_total[sex], tuple(part_sex_key(p.part_id, sex) for p in r.parts), "reasons")
                    )
    return list(cells.values()), groups

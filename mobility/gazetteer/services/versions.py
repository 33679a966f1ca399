"""Gazetteer versions: store an edition, diff it against the current one, keep a crosswalk old → new.

An importer hands over a validated ``GazetteerData`` (areas parents-first); ``gazetteer_version_store``
compares it with the country's current version. Same content → nothing is written. Different
content → a new version becomes current, the old one is kept with all its areas, and the p-code
changes and the old → new crosswalk are recorded so figures stored under old codes stay readable.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import transaction

from mobility.core.imports import NullProgress, Progress

from ..models import AdminArea, AreaCrosswalk, GazetteerVersion, PcodeChange

__all__ = [
    "AreaRow",
    "GazetteerData",
    "VersionResult",
    "COUNTRY_UNKNOWN",
    "VERSION_NOT_FOUND",
    "VERSION_NOT_LATER",
    "countries",
    "country_iso3_for_code",
    "crosswalk_pcode",
    "gazetteer_version_store",
    "version_content_equal",
]

COUNTRY_UNKNOWN = "{code!r} is not an ISO 3166 country code."
VERSION_NOT_FOUND = "{country} has no gazetteer version {version!r}."
VERSION_NOT_LATER = "{country} version {to_version!r} does not follow {from_version!r}."

COUNTRIES_CSV = Path(__file__).resolve().parent.parent / "data" / "countries.csv"
AREA_BATCH = 2000


@dataclass
class AreaRow:
    """One validated admin area as an importer read it."""

    pcode: str
    level: int
    parent_pcode: str
    name: str
    names: dict[str, str]
    name_normalized: str
    area_type: str = ""
    area_km2: float | None = None

    def content(self) -> tuple:
        """What makes two editions' areas 'the same' (geometry and areas are not part of it)."""
        return (self.level, self.parent_pcode, tuple(sorted(self.names.items())), self.area_type)


@dataclass
class GazetteerData:
    """One country's edition, ready to store: areas ordered parents first."""

    country_iso3: str
    edition: str
    valid_from: dt.date
    source_format: str
    areas: list[AreaRow]
    source: str = ""
    sha256: str = ""
    languages: list[str] = field(default_factory=list)


@dataclass
class VersionResult:
    version: GazetteerVersion
    new_version: bool
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    changes: dict[str, int] = field(default_factory=dict)

    def summary(self) -> dict:
        return {
            "country": self.version.country_iso3,
            "version_id": self.version.pk,
            "edition": self.version.edition,
            "valid_from": self.version.valid_from.isoformat(),
            "new_version": self.new_version,
            "areas": self.version.area_count,
            "changes": self.changes,
        }


# --- countries -----------------------------------------------------------------------------


@functools.cache
def countries() -> dict[str, tuple[str, str]]:
    """ISO3 → (ISO2, English name), from the shipped ISO 3166-1 table."""
    with COUNTRIES_CSV.open(encoding="utf-8", newline="") as fh:
        return {row["iso3"]: (row["iso2"], row["name"]) for row in csv.DictReader(fh)}


@functools.cache
def _iso2_to_iso3() -> dict[str, str]:
    return {iso2: iso3 for iso3, (iso2, _name) in countries().items()}


def country_iso3_for_code(code: str) -> str | None:
    """The ISO3 of an admin0 p-code: OCHA uses ISO2 ("MZ") or sometimes ISO3 ("BDI")."""
    code = (code or "").strip().upper()
    if code in countries():
        return code
    return _iso2_to_iso3().get(code)


def simple_normalize(text: str) -> str:
    """Casefold, strip accents and squeeze spaces: enough to compare names between editions."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(stripped.casefold().split())


# --- storing a version ---------------------------------------------------------------------


def _current_content(version: GazetteerVersion) -> dict[str, tuple]:
    rows = AdminArea.objects.filter(version=version).values_list(
        "pcode", "level", "parent__pcode", "names", "area_type", "name"
    )
    return {
        pcode: ((level, parent or "", tuple(sorted((names or {}).items())), area_type), name)
        for pcode, level, parent, names, area_type, name in rows.iterator(chunk_size=5000)
    }


def version_content_equal(version: GazetteerVersion, areas: Iterable[AreaRow]) -> bool:
    """True when the stored version holds exactly these areas (p-code, level, parent, names, type)."""
    stored = _current_content(version)
    areas = list(areas)
    return len(stored) == len(areas) and all(stored.get(a.pcode, (None,))[0] == a.content() for a in areas)


def _unique_edition(country: str, edition: str, valid_from: dt.date) -> str:
    taken = set(GazetteerVersion.objects.filter(country_iso3=country).values_list("edition", flat=True))
    if edition not in taken:
        return edition
    candidate = f"{edition} ({valid_from.isoformat()})"
    n = 2
    while candidate in taken:
        candidate = f"{edition} ({valid_from.isoformat()}) #{n}"
        n += 1
    return candidate[:100]


@transaction.atomic
def gazetteer_version_store(
    *, data: GazetteerData, import_job=None, progress: Progress | None = None
) -> VersionResult:
    """Store an edition as the country's current version, or change nothing when its content is the same."""
    progress = progress or NullProgress()
    current = (
        GazetteerVersion.objects.select_for_update()
        .filter(country_iso3=data.country_iso3, is_current=True)
        .first()
    )
    old = _current_content(current) if current else {}
    if (
        current
        and len(old) == len(data.areas)
        and all(old.get(a.pcode, (None,))[0] == a.content() for a in data.areas)
    ):
        progress.advance(len(data.areas))
        return VersionResult(version=current, new_version=False, unchanged=len(data.areas))

    version = GazetteerVersion(
        country_iso3=data.country_iso3,
        edition=_unique_edition(data.country_iso3, data.edition[:100], data.valid_from),
        valid_from=data.valid_from,
        source=data.source[:300],
        source_format=data.source_format,
        sha256=data.sha256,
        is_current=True,
        supersedes=current,
        import_job=import_job,
        max_level=max((a.level for a in data.areas), default=0),
        languages=data.languages,
        area_count=len(data.areas),
    )
    if current:
        # The partial unique constraint allows one current version per country at any moment.
        GazetteerVersion.objects.filter(pk=current.pk).update(is_current=False)
    version.full_clean()
    version.save()

    geometry = _carried_geometry(current, data.areas, old) if current else {}
    ids = _bulk_create_areas(version=version, areas=data.areas, geometry=geometry, progress=progress)

    result = VersionResult(version=version, new_version=True)
    if current is None:
        result.created = len(data.areas)
        result.changes = {"added": len(data.areas)}
        return result
    changes = _record_changes(current, version, old, data.areas)
    _record_crosswalk(current, version, data.areas, ids)
    counts = defaultdict(int)
    for change in changes:
        counts[change.change] += 1
    result.changes = dict(sorted(counts.items()))
    touched = {c.pcode for c in changes if c.change != PcodeChange.Change.ADDED}
    for area in data.areas:
        if area.pcode not in old:
            result.created += 1
        elif area.pcode in touched or old[area.pcode][0] != area.content():
            result.updated += 1
        else:
            result.unchanged += 1
    return result


def _carried_geometry(
    current: GazetteerVersion, areas: list[AreaRow], old: dict[str, tuple]
) -> dict[str, tuple]:
    """Geometry of p-codes whose place in the tree did not change is carried to the new version."""
    keep = {a.pcode for a in areas if a.pcode in old and old[a.pcode][0][:2] == (a.level, a.parent_pcode)}
    rows = (
        AdminArea.objects.filter(version=current)
        .exclude(geometry="")
        .values_list("pcode", "geometry", "min_lon", "min_lat", "max_lon", "max_lat")
    )
    return {row[0]: row[1:] for row in rows.iterator(chunk_size=500) if row[0] in keep}


def _bulk_create_areas(
    *, version: GazetteerVersion, areas: list[AreaRow], geometry: dict[str, tuple], progress: Progress
) -> dict[str, int]:
    """Insert the areas level by level, parents first, so each child knows its parent's id."""
    ids: dict[str, int] = {}
    by_level: dict[int, list[AreaRow]] = defaultdict(list)
    for area in areas:
        by_level[area.level].append(area)
    for level in sorted(by_level):
        objs = []
        for a in by_level[level]:
            geo = geometry.get(a.pcode)
            objs.append(
                AdminArea(
                    version=version,
                    country_iso3=version.country_iso3,
                    pcode=a.pcode,
                    level=a.level,
                    parent_id=ids.get(a.parent_pcode) if a.parent_pcode else None,
                    name=a.name[:200],
                    names=a.names,
                    name_normalized=a.name_normalized[:200],
                    area_type=a.area_type[:60],
                    area_km2=a.area_km2,
                    geometry=geo[0] if geo else "",
                    min_lon=geo[1] if geo else None,
                    min_lat=geo[2] if geo else None,
                    max_lon=geo[3] if geo else None,
                    max_lat=geo[4] if geo else None,
                )
            )
        for start in range(0, len(objs), AREA_BATCH):
            batch = AdminArea.objects.bulk_create(objs[start : start + AREA_BATCH])
            ids.update((obj.pcode, obj.pk) for obj in batch)
            progress.advance(len(batch))
    return ids


def _record_changes(
    old_version: GazetteerVersion, new_version: GazetteerVersion, old: dict[str, tuple], areas: list[AreaRow]
) -> list[PcodeChange]:
    Change = PcodeChange.Change
    new = {a.pcode: a for a in areas}
    changes: list[PcodeChange] = []

    def change(kind, pcode, level, **names):
        changes.append(
            PcodeChange(
                from_version=old_version,
                to_version=new_version,
                pcode=pcode,
                level=level,
                change=kind,
                **names,
            )
        )

    for pcode, ((level, parent, _names, _type), name) in old.items():
        area = new.get(pcode)
        if area is None:
            change(Change.REMOVED, pcode, level, old_name=name, old_parent=parent)
            continue
        if dict(_names) != area.names:
            change(Change.RENAMED, pcode, area.level, old_name=name, new_name=area.name)
        if (level, parent) != (area.level, area.parent_pcode):
            change(
                Change.REPARENTED,
                pcode,
                area.level,
                old_parent=parent,
                new_parent=area.parent_pcode,
                new_name=area.name,
            )
    for area in areas:
        if area.pcode not in old:
            change(Change.ADDED, area.pcode, area.level, new_name=area.name, new_parent=area.parent_pcode)
    PcodeChange.objects.bulk_create(changes, batch_size=AREA_BATCH)
    return changes


def _record_crosswalk(
    old_version: GazetteerVersion, new_version: GazetteerVersion, areas: list[AreaRow], ids: dict[str, int]
) -> None:
    """Every old p-code gets a way forward: the same code, the same name under the same parent, or its parent."""
    Method = AreaCrosswalk.Method
    new_codes = set(ids)
    by_parent_name = {(a.parent_pcode, a.level, a.name_normalized): a.pcode for a in areas}
    old_rows = AdminArea.objects.filter(version=old_version).values_list(
        "pcode", "level", "parent__pcode", "name_normalized"
    )
    old_parent: dict[str, str] = {}
    removed = []
    rows = []
    for pcode, level, parent, normalized in old_rows.iterator(chunk_size=5000):
        old_parent[pcode] = parent or ""
        if pcode in new_codes:
            rows.append((pcode, pcode, Method.SAME))
        else:
            removed.append((pcode, level, parent or "", normalized))
    for pcode, level, parent, normalized in removed:
        renamed_to = by_parent_name.get((parent, level, normalized))
        if renamed_to:
            rows.append((pcode, renamed_to, Method.NAME))
            continue
        ancestor = parent
        while ancestor and ancestor not in new_codes:
            ancestor = old_parent.get(ancestor, "")
        if ancestor:
            rows.append((pcode, ancestor, Method.PARENT))
    AreaCrosswalk.objects.bulk_create(
        (
            AreaCrosswalk(
                from_version=old_version, to_version=new_version, old_pcode=o, new_pcode=n, method=m
            )
            for o, n, m in rows
        ),
        batch_size=AREA_BATCH,
    )


# --- reading the crosswalk -----------------------------------------------------------------


def _version(country: str, ref: GazetteerVersion | str | int) -> GazetteerVersion:
    if isinstance(ref, GazetteerVersion):
        return ref
    qs = GazetteerVersion.objects.filter(country_iso3=country)
    found = qs.filter(pk=ref).first() if isinstance(ref, int) else qs.filter(edition=ref).first()
    if found is None:
        raise ValidationError(VERSION_NOT_FOUND.format(country=country, version=ref))
    return found


def crosswalk_pcode(
    *,
    country: str,
    pcode: str,
    from_version: GazetteerVersion | str | int,
    to_version: GazetteerVersion | str | int | None = None,
) -> list[tuple[str, float]]:
    """Where an old p-code's figures go in a later edition: [(new_pcode, weight)], following every edition between.

    ``from_version``/``to_version`` are versions, editions or ids; ``to_version`` defaults to the current one.
    An empty list means the p-code is unknown in ``from_version`` or has no successor.
    """
    start = _version(country, from_version)
    if to_version is None:
        end = GazetteerVersion.objects.filter(country_iso3=country, is_current=True).first() or start
    else:
        end = _version(country, to_version)
    chain = []
    step = end
    while step is not None and step.pk != start.pk:
        chain.append(step)
        step = step.supersedes
    if step is None:
        raise ValidationError(
            VERSION_NOT_LATER.format(country=country, to_version=end.edition, from_version=start.edition)
        )
    if not chain:
        exists = AdminArea.objects.filter(version=start, pcode=pcode).exists()
        return [(pcode, 1.0)] if exists else []
    weights = {pcode: 1.0}
    previous = start
    for version in reversed(chain):
        links = AreaCrosswalk.objects.filter(
            from_version=previous, to_version=version, old_pcode__in=list(weights)
        ).values_list("old_pcode", "new_pcode", "weight")
        carried: dict[str, float] = defaultdict(float)
        for old_code, new_code, weight in links:
            carried[new_code] += weights[old_code] * weight
        weights = carried
        previous = version
        if not weights:
            break
    return sorted(weights.items())

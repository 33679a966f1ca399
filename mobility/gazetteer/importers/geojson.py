"""GeoJSON boundaries → geometry and bounding box on the areas of a country's current gazetteer version.

The join is found, not configured: a property whose values are p-codes of the country (``tehsil_code``,
``ADM2_PCODE``…) or, failing that, a name property (``shapeName``, ``ADM2_EN``…) matched by normalised
name at the level where most names match. Geometry is stored as GeoJSON text rounded to 5 decimals
(about a metre), which is plenty for maps and point-in-polygon and keeps rows small.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from django.utils.translation import gettext_lazy as _
from shapely import make_valid, unary_union
from shapely.geometry import mapping, shape
from shapely.validation import explain_validity

from mobility.core.imports import Counts, ImportFailed, ReadResult, RowError, job_path, register
from mobility.core.tables import check_size, clean_text

from ..models import AdminArea, GazetteerVersion
from ..services.versions import countries, simple_normalize
from .cod import name_normalizer, profile_country

GEOJSON_KIND = "gazetteer.geojson"
COORDINATE_DECIMALS = 5

GEOJSON_INVALID = "The file is not valid JSON: {reason}."
GEOJSON_TOO_DEEP = "The file nests JSON too deeply to be GeoJSON; it is refused as unsafe."
GEOJSON_NOT_FEATURES = 'The file is not a GeoJSON FeatureCollection (its "type" is {found!r}).'
GEOJSON_NO_FEATURES = "The FeatureCollection has no features."
GEOJSON_NO_VERSION = "{country} has no gazetteer yet: import its p-code table before its boundaries."
GEOJSON_COUNTRY_NEEDED = "The country cannot be told from the file; give it (--country ISO3)."
GEOJSON_NO_JOIN = (
    "No property of the features holds p-codes or names of {country}'s areas "
    "(best: {best!r}, {hits} of {total} features); properties seen: {keys}."
)
GEOMETRY_MISSING = "feature {index} ({pcode}) has no geometry."
GEOMETRY_UNREADABLE = "feature {index} ({pcode}): the geometry cannot be read: {reason}."
GEOMETRY_NOT_POLYGON = "feature {index} ({pcode}) is a {kind}; boundaries must be Polygon or MultiPolygon."
GEOMETRY_INVALID = "feature {index} ({pcode}): the geometry is not valid: {reason}."
GEOMETRY_NOT_WGS84 = (
    "feature {index} ({pcode}): the coordinates lie outside longitude -180..180 and latitude -90..90; "
    "boundaries must be in WGS84 (EPSG:4326) degrees."
)
FEATURE_UNMATCHED = "feature {index}: {value!r} is not a {join} of {country} in its current gazetteer."
FEATURE_AMBIGUOUS = "feature {index}: the name {value!r} fits several areas ({pcodes})."
FEATURE_DUPLICATE = (
    "feature {index} ({pcode}) gives the boundary of an area already given by feature {first}."
)

# Rough share of features that must join for a property to count as the join key.
JOIN_MIN_SHARE = 0.5
# Longer property values are no area's name: not normalised for the name join (that costs seconds a MB).
MAX_NAME_CHARS = 500


@dataclass
class Boundaries:
    country: str
    version_id: int
    join_key: str
    join_by: str  # "p-code" | "name"
    level: int | None
    geometries: dict[int, tuple[str, tuple[float, float, float, float]]] = field(
        default_factory=dict
    )  # area id →
    unmatched: int = 0
    dissolve_up: bool = False


def _round(coords):
    if isinstance(coords, (int, float)):
        return round(float(coords), COORDINATE_DECIMALS)
    return [_round(c) for c in coords]


def geometry_text(geometry) -> str:
    """GeoJSON text of a shapely geometry or a GeoJSON mapping, coordinates rounded to 5 decimals."""
    geo = mapping(geometry) if hasattr(geometry, "geom_type") else geometry
    return json.dumps({"type": geo["type"], "coordinates": _round(geo["coordinates"])}, separators=(",", ":"))


def _load(path) -> dict:
    check_size(path)
    try:
        with path.open("rb") as fh:
            return json.loads(fh.read().decode("utf-8-sig"))
    except RecursionError:
        raise ImportFailed(GEOJSON_TOO_DEEP)
    except UnicodeDecodeError as exc:
        raise ImportFailed(GEOJSON_INVALID.format(reason=f"not UTF-8 text ({exc.reason})"))
    except ValueError as exc:
        raise ImportFailed(GEOJSON_INVALID.format(reason=str(exc)[:200]))


def _scalar(value) -> str:
    if isinstance(value, bool) or value is None or isinstance(value, (dict, list)):
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return clean_text(str(value))


def _properties(feature: dict) -> dict:
    """A feature's properties; anything but a JSON object there counts as none."""
    properties = feature.get("properties")
    if not isinstance(properties, dict):
        return {}
    # Names go into messages and row errors: no control characters or lone surrogates in them.
    return {clean_text(key)[:200]: value for key, value in properties.items()}


def _find_country(profile, features: list[dict]) -> str | None:
    """Profile first; else a property that names one ISO3 country (geoBoundaries' shapeGroup)."""
    country = profile_country(profile)
    if country:
        return country
    values: dict[str, set[str]] = defaultdict(set)
    for feature in features[:200]:
        for key, value in _properties(feature).items():
            values[key].add(_scalar(value).upper())
    for found in values.values():
        if len(found) == 1 and (code := next(iter(found))) in countries():
            return code
    return None


def read_boundaries(job, progress) -> ReadResult:
    """Match every feature to an area and check its geometry; collect every problem."""
    doc = _load(job_path(job))
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        found = doc.get("type") if isinstance(doc, dict) else type(doc).__name__
        raise ImportFailed(GEOJSON_NOT_FEATURES.format(found=found))
    listed = doc.get("features")
    features = [f if isinstance(f, dict) else {} for f in (listed if isinstance(listed, list) else [])]
    if not features:
        raise ImportFailed(GEOJSON_NO_FEATURES)
    profile = job.profile
    country = _find_country(profile, features)
    areas_qs = AdminArea.objects.filter(version__is_current=True)
    if country:
        areas_qs = areas_qs.filter(country_iso3=country)
    areas = list(areas_qs.values_list("id", "country_iso3", "pcode", "level", "name_normalized", "names"))

    # Join by p-code: the property (and country) whose values hit the most p-codes.
    by_pcode: dict[str, list[tuple]] = defaultdict(list)
    for area in areas:
        by_pcode[area[2]].append(area)
    keys = sorted({k for f in features for k in _properties(f)})
    hits: Counter = Counter()
    for feature in features:
        for key, value in _properties(feature).items():
            for area in by_pcode.get(_scalar(value), ()):
                hits[(key, area[1])] += 1
    join_by, join_key, best_hits = "p-code", "", 0
    if hits:
        (join_key, country_hit), best_hits = hits.most_common(1)[0]
        country = country or country_hit
    find: Callable[[str], list[tuple]] = lambda value: []  # noqa: E731
    level = None
    if best_hits < max(1, JOIN_MIN_SHARE * len(features)):
        if country is None:
            current = list(
                GazetteerVersion.objects.filter(is_current=True).values_list("country_iso3", flat=True)
            )
            if len(current) != 1:
                raise ImportFailed(GEOJSON_COUNTRY_NEEDED)
            country = current[0]
        join_by, join_key, level, best_hits, find = _name_join(
            features, [a for a in areas if a[1] == country]
        )
        if best_hits < max(1, JOIN_MIN_SHARE * len(features)):
            raise ImportFailed(
                GEOJSON_NO_JOIN.format(
                    country=country,
                    best=join_key,
                    hits=best_hits,
                    total=len(features),
                    keys=", ".join(k[:60] for k in keys[:30]),
                )
            )
    else:

        def find(value: str) -> list[tuple]:
            return [a for a in by_pcode.get(value, ()) if a[1] == country]

    version = GazetteerVersion.objects.filter(country_iso3=country, is_current=True).first()
    if version is None:
        raise ImportFailed(GEOJSON_NO_VERSION.format(country=country))

    result = Boundaries(
        country=country,
        version_id=version.pk,
        join_key=join_key,
        join_by=join_by,
        level=level,
        dissolve_up=bool(profile.get("dissolve_up")),
    )
    errors: list[RowError] = []
    first_feature: dict[int, int] = {}
    levels: Counter = Counter()
    skip_unmatched = bool(profile.get("skip_unmatched"))
    progress.start(len(features), "checking geometry")
    for index, feature in enumerate(features, start=1):
        progress.advance()
        value = _scalar(_properties(feature).get(join_key))
        found = find(value) if value else []
        if not found:
            if skip_unmatched:
                result.unmatched += 1
                continue
            message = FEATURE_UNMATCHED.format(index=index, value=value, join=join_by, country=country)
            errors.append(RowError(index, join_key, message, value))
            continue
        if len(found) > 1:
            pcodes = ", ".join(sorted(a[2] for a in found))
            errors.append(
                RowError(index, join_key, FEATURE_AMBIGUOUS.format(index=index, value=value, pcodes=pcodes))
            )
            continue
        area_id, _country, pcode, area_level = found[0][:4]
        if area_id in first_feature:
            message = FEATURE_DUPLICATE.format(index=index, pcode=pcode, first=first_feature[area_id])
            errors.append(RowError(index, join_key, message, value))
            continue
        first_feature[area_id] = index
        checked = _check_geometry(index, pcode, feature.get("geometry"))
        if isinstance(checked, str):
            errors.append(RowError(index, "geometry", checked, pcode))
            continue
        result.geometries[area_id] = checked
        levels[area_level] += 1
    if result.level is None and levels:
        result.level = levels.most_common(1)[0][0]
    return ReadResult(data=result, rows_read=len(features), errors=errors)


def _name_join(features, areas) -> tuple[str, str, int | None, int, Callable[[str], list[tuple]]]:
    """The (property, level) whose values match the most area names of one level.

    Names are compared exactly first (case and accents aside), then by the matcher's looser key:
    the loose key alone would join "Cidade de Pemba" to both the city and Pemba district.
    """
    loose_key = name_normalizer()
    exact: dict[int, dict[str, list[tuple]]] = defaultdict(lambda: defaultdict(list))
    loose: dict[int, dict[str, list[tuple]]] = defaultdict(lambda: defaultdict(list))
    for area in areas:
        names = [n for n in (area[5] or {}).values() if n]
        for key in {simple_normalize(n) for n in names}:
            exact[area[3]][key].append(area)
        for key in {area[4]} | {loose_key(n) for n in names}:
            loose[area[3]][key].append(area)

    def finder(level: int) -> Callable[[str], list[tuple]]:
        def find(value: str) -> list[tuple]:
            return exact[level].get(simple_normalize(value)) or loose[level].get(loose_key(value), [])

        return find

    values: dict[str, list[str]] = defaultdict(list)
    for feature in features:
        for key, value in _properties(feature).items():
            if isinstance(value, str) and value.strip() and len(value) <= MAX_NAME_CHARS:
                values[key].append(value)
    best = ("", None, 0)
    for key, names in values.items():
        for level in sorted(exact):
            find = finder(level)
            hits = sum(1 for n in names if find(n))
            # Deeper levels win ties: a district and its province often share a name.
            if hits > best[2] or (hits == best[2] and hits and level > (best[1] or 0)):
                best = (key, level, hits)
    key, level, hits = best
    return "name", key, level, hits, finder(level) if level is not None else (lambda value: [])


def _check_geometry(index: int, pcode: str, geometry) -> tuple[str, tuple] | str:
    """(GeoJSON text, bbox) for a valid polygon, else the error message."""
    if not geometry:
        return GEOMETRY_MISSING.format(index=index, pcode=pcode)
    try:
        geom = shape(geometry)
        kind = geom.geom_type
    except Exception as exc:  # shapely raises several types for malformed coordinates
        return GEOMETRY_UNREADABLE.format(
            index=index, pcode=pcode, reason=str(exc)[:120] or type(exc).__name__
        )
    if kind not in ("Polygon", "MultiPolygon"):
        return GEOMETRY_NOT_POLYGON.format(index=index, pcode=pcode, kind=kind)
    if geom.is_empty or not geom.is_valid:
        reason = "empty" if geom.is_empty else explain_validity(geom)
        return GEOMETRY_INVALID.format(index=index, pcode=pcode, reason=reason[:200])
    min_lon, min_lat, max_lon, max_lat = geom.bounds
    if min_lon < -180 or max_lon > 180 or min_lat < -90 or max_lat > 90:
        return GEOMETRY_NOT_WGS84.format(index=index, pcode=pcode)
    return geometry_text(geometry), tuple(round(v, COORDINATE_DECIMALS) for v in geom.bounds)


def write_boundaries(job, data: Boundaries, progress) -> Counts:
    """Set geometry and bbox on the matched areas; optionally build parents' geometry from their children."""
    areas = {a.pk: a for a in AdminArea.objects.filter(pk__in=list(data.geometries))}
    changed = []
    for area_id, (text, bbox) in data.geometries.items():
        area = areas[area_id]
        if area.geometry == text:
            continue
        area.geometry = text
        area.min_lon, area.min_lat, area.max_lon, area.max_lat = bbox
        changed.append(area)
        progress.advance()
    fields = ["geometry", "min_lon", "min_lat", "max_lon", "max_lat"]
    AdminArea.objects.bulk_update(changed, fields, batch_size=200)
    counts = Counts(updated=len(changed), unchanged=len(data.geometries) - len(changed))
    dissolved, partial = _dissolve_up(data.version_id, fields) if data.dissolve_up else (0, [])
    counts.updated += dissolved
    version = GazetteerVersion.objects.get(pk=data.version_id)
    counts.summary = {
        "country": data.country,
        "version_id": version.pk,
        "edition": version.edition,
        "join": f"{data.join_by} in property {data.join_key!r}",
        "level": data.level,
        "geometries": len(data.geometries),
        "unmatched_skipped": data.unmatched,
        "dissolved": dissolved,
    }
    if partial:
        counts.summary["dissolved_partial"] = partial[:50]
    return counts


def _dissolve_up(version_id: int, fields: list[str]) -> tuple[int, list[str]]:
    """Parents without geometry get the union of their children's, deepest level first."""
    rows = list(
        AdminArea.objects.filter(version_id=version_id).only("id", "pcode", "level", "parent_id", *fields)
    )
    children: dict[int, list[AdminArea]] = defaultdict(list)
    for area in rows:
        if area.parent_id:
            children[area.parent_id].append(area)
    dissolved: list[AdminArea] = []
    partial: list[str] = []
    for area in sorted(rows, key=lambda a: -a.level):
        if area.geometry or not children.get(area.pk):
            continue
        shapes = [shape(json.loads(c.geometry)) for c in children[area.pk] if c.geometry]
        if not shapes:
            continue
        if len(shapes) < len(children[area.pk]):
            partial.append(area.pcode)
        union = _polygonal(unary_union([s if s.is_valid else make_valid(s) for s in shapes]))
        if union is None:
            continue
        area.geometry = geometry_text(union)
        area.min_lon, area.min_lat, area.max_lon, area.max_lat = (
            round(v, COORDINATE_DECIMALS) for v in union.bounds
        )
        dissolved.append(area)
    AdminArea.objects.bulk_update(dissolved, fields, batch_size=100)
    return len(dissolved), partial


def _polygonal(geom):
    """The polygon part of a geometry (make_valid may add stray lines or points), or None."""
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [g for g in getattr(geom, "geoms", []) if g.geom_type in ("Polygon", "MultiPolygon")]
    return unary_union(parts) if parts else None


class GeoJsonImporter:
    kind = GEOJSON_KIND
    label = _("Gazetteer: boundaries (GeoJSON)")

    def read(self, *, job, progress) -> ReadResult:
        return read_boundaries(job, progress)

    def write(self, *, job, data, progress) -> Counts:
        return write_boundaries(job, data, progress)


register(GeoJsonImporter())

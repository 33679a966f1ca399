"""Quality flags of submissions, computed on arrival and recomputed for a whole form on demand.

A flag is ``{"code": ..., "message": ...}`` in ``Submission.flags``. Messages name fields, p-codes,
areas, durations and instance ids — never a personal value (a personal numeric field is named,
its value and the form's statistics of it are not).

Arrival must stay cheap (it runs on every submission; the load bench sends 10,000 in a minute):
- GPS: the gazetteer's boundaries are loaded once per process and gazetteer edition (cached for
  ``GEO_CACHE_SECONDS``, since boundaries can be added to an edition in place; which edition is
  current is re-read every ``EDITION_CHECK_SECONDS``); a check is a prepared point-in-polygon test.
- Duplicate content: one indexed query on (content_sha256).
- Outliers: a per-form numeric summary (sorted values of each numeric field over the latest
  ``OUTLIER_SAMPLE`` current submissions) is kept in memory per process and rebuilt after a tenth
  of the sample has arrived (every 100 arrivals on a large form) or after ``SUMMARY_SECONDS``.
``flags_recompute(form)`` recomputes every current submission of a form against the whole form.
"""

from __future__ import annotations

import bisect
import logging
import math
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from django.db import transaction

from .models import Form, FormVersion, Submission

log = logging.getLogger(__name__)

GPS_OUTSIDE_AREA = "gps_outside_area"
TOO_SHORT = "too_short"
DURATION_IMPLAUSIBLE = "duration_implausible"
DUPLICATE_CONTENT = "duplicate_content"
OUTLIER = "outlier"
# What each code means, for the browser's filter and legend.
FLAG_CODES: dict[str, str] = {
    GPS_OUTSIDE_AREA: "GPS point outside the stated admin area",
    TOO_SHORT: "Interview shorter than the form's minimum duration",
    DURATION_IMPLAUSIBLE: "Interview ends before it starts, or lasts implausibly long",
    DUPLICATE_CONTENT: "Same answers as an earlier submission under another instanceID",
    OUTLIER: "A numeric answer far from the form's usual values",
}

GPS_IN_OTHER_AREA = "GPS point lies in {found} {found_name}, not in the stated {stated} {stated_name}"
GPS_IN_NO_AREA = "GPS point lies outside the stated {stated} {stated_name} and in no area with a boundary"
DURATION_SHORT = "Interview took {took}; the form's minimum is {minimum}"
DURATION_NEGATIVE = "Interview ends {took} before it starts (check the phone's clock)"
DURATION_LONG = "Interview lasted {took}, more than {limit}"
DUPLICATE = "Same answers as submission {earlier} (an earlier instanceID)"
OUTLIER_VALUE = "{field} = {value} is far from this form's usual values (median {median} over {n} answers)"
OUTLIER_PERSONAL = "{field} (a personal field) has a value far from this form's usual values"

MAX_PLAUSIBLE_SECONDS = 24 * 3600  # a form opened one day and finished the next is a suspect interview
GEO_CACHE_SECONDS = 300
EDITION_CHECK_SECONDS = 30  # a new gazetteer edition is seen within this time
NEAR_EDGE_DEGREES = 0.01  # as the gazetteer's locator: simplified boundaries leave slivers (~1 km)
OUTLIER_SAMPLE = 1000
OUTLIER_MIN_SAMPLE = 20
SUMMARY_SECONDS = 600
# Modified z-score (Iglewicz & Hoaglin): |x - median| / (1.4826 MAD) above this is an outlier...
OUTLIER_Z = 3.5
# ...and only if at most this share of the sample (or two answers) is as extreme: a value that 5% of
# the submissions give is not an outlier, however far from the median.
OUTLIER_MAX_SHARE = 0.01
OUTLIER_MIN_RELATIVE_SCALE = 0.1
NUMERIC_TYPES = {"integer", "decimal", "int", "range"}

MY_CODES = set(FLAG_CODES)


# ---------------------------------------------------------------- entry points


def flags_on_arrival(submission: Submission) -> list[dict]:
    """Compute the flags of a newly stored submission and save them. Never raises (it runs after the commit)."""
    try:
        version = submission.form_version or submission.form.current_version
        flags = [
            *_gps_flags(submission),
            *_duration_flags(submission, submission.form.min_duration_seconds),
            *_duplicate_flags(submission),
            *_outlier_flags(submission, version, _arrival_summary(submission.form, version)),
        ]
        merged = _merged(submission.flags, flags)
        if merged != (submission.flags or []):
            Submission.objects.filter(pk=submission.pk).update(flags=merged)
            submission.flags = merged
        return flags
    except Exception as exc:  # a flag must never fail a submission that is already stored
        log.error("quality flags failed for submission %s: %s", submission.pk, type(exc).__name__)
        return []


@transaction.atomic
def flags_recompute(form: Form, *, by=None) -> dict[str, int]:
    """Recompute the flags of every current submission of a form (outliers against the whole form).

    Superseded versions keep the flags they had. Flags with other codes (not this module's) are kept.

    Returns the number of submissions carrying each code afterwards, and "changed".
    """
    from mobility.core.services import audit_record

    current = Submission.objects.filter(form=form, superseded_by__isnull=True)
    rows = list(
        current.only(
            "id",
            "instance_id",
            "form",
            "form_version",
            "content_sha256",
            "data",
            "corrections",
            "started_at",
            "ended_at",
            "latitude",
            "longitude",
            "area_code",
            "flags",
        ).order_by("id")
    )
    versions = {v.pk: v for v in form.versions.all()}
    fallback = form.current_version
    summaries = _summaries_by_version(rows, versions, fallback)
    first_of: dict[str, str] = {}
    geography_cache: dict = {}
    counts: Counter = Counter()
    changed = []
    for s in rows:
        s.form = form
        version = versions.get(s.form_version_id) or fallback
        flags = [*_gps_flags(s, geography_cache), *_duration_flags(s, form.min_duration_seconds)]
        earlier = first_of.setdefault(s.content_sha256, s.instance_id)
        if earlier != s.instance_id:
            flags.append({"code": DUPLICATE_CONTENT, "message": DUPLICATE.format(earlier=earlier)})
        flags += _outlier_flags(s, version, summaries.get(version.pk if version else None))
        merged = _merged(s.flags, flags)
        counts.update({f["code"] for f in merged})
        if merged != (s.flags or []):
            s.flags = merged
            changed.append(s)
    Submission.objects.bulk_update(changed, ["flags"], batch_size=500)
    summary_forget(form.pk)
    result = {code: counts.get(code, 0) for code in FLAG_CODES} | {"changed": len(changed)}
    audit_record(
        action="collection.flags_recompute",
        obj=form,
        by=by,
        operation=form.operation,
        detail={"submissions": len(rows), **result},
    )
    return result


def _merged(existing: list | None, mine: list[dict]) -> list[dict]:
    """Replace this module's flags, keep any other (e.g. written by processing)."""
    return [f for f in existing or [] if f.get("code") not in MY_CODES] + mine


# ---------------------------------------------------------------- GPS outside the stated area


@dataclass
class _Geography:
    """One gazetteer edition's boundaries, as the GPS check needs them (cached per process)."""

    version_id: int
    loaded_at: float
    locator: object  # mobility.gazetteer.geo.AreaLocator
    parent: dict[str, str]  # pcode -> parent pcode
    children: dict[str, list[str]]
    own_geometry: set[str]
    shapes: dict[str, object] = field(default_factory=dict)  # pcode -> numpy array of prepared geometries

    def reference(self, pcode: str) -> list[str]:
        """Areas whose boundaries bound the stated area: its own, or its children's if they cover it
        completely, or else the nearest ancestor's (outside the province is outside the district)."""
        covering = self._covering(pcode)
        if covering:
            return covering
        node = self.parent.get(pcode)
        while node:
            if node in self.own_geometry:
                return [node]
            node = self.parent.get(node)
        return []

    def _covering(self, pcode: str) -> list[str]:
        if pcode in self.own_geometry:
            return [pcode]
        kids = self.children.get(pcode) or []
        if not kids:
            return []
        out = []
        for kid in kids:
            part = self._covering(kid)
            if not part:
                return []  # one child without a boundary: the children do not cover the area
            out += part
        return out

    def contains(self, pcode: str, lon: float, lat: float) -> bool | None:
        """Is the point in (or within the edge tolerance of) the area? None when no boundary bounds it."""
        import numpy as np
        import shapely

        shapes = self.shapes.get(pcode)
        if shapes is None:
            from mobility.gazetteer.models import AdminArea

            reference = self.reference(pcode)
            texts = list(
                AdminArea.objects.filter(version_id=self.version_id, pcode__in=reference)
                .exclude(geometry="")
                .values_list("geometry", flat=True)
            )
            shapes = shapely.make_valid(shapely.from_geojson(texts, on_invalid="ignore")) if texts else []
            shapes = np.asarray(shapes, dtype=object)
            if len(shapes):
                shapes = shapes[~shapely.is_missing(shapes) & ~shapely.is_empty(shapes)]
                shapely.prepare(shapes)
            self.shapes[pcode] = shapes
        if not len(shapes):
            return None
        point = shapely.Point(lon, lat)
        return bool(shapely.dwithin(shapes, point, NEAR_EDGE_DEGREES).any())


_geographies: dict[str, _Geography | None] = {}
_editions: dict[str, tuple[float, tuple | None]] = {}  # country -> (checked at, (pk, created_at))
_countries: dict[int, tuple[float, str]] = {}  # operation id -> (checked at, ISO3)
_geo_lock = threading.Lock()


def geography_forget() -> None:
    """Drop the cached boundaries (after a boundary import, and between tests)."""
    with _geo_lock:
        _geographies.clear()
        _editions.clear()
        _countries.clear()


def _country_of(operation_id: int) -> str:
    cached = _countries.get(operation_id)
    if cached is not None and time.monotonic() - cached[0] < GEO_CACHE_SECONDS:
        return cached[1]
    from mobility.core.models import Operation

    country = Operation.objects.values_list("country_iso3", flat=True).get(pk=operation_id)
    _countries[operation_id] = (time.monotonic(), country)
    return country


def _current_edition(country_iso3: str) -> tuple | None:
    cached = _editions.get(country_iso3)
    if cached is not None and time.monotonic() - cached[0] < EDITION_CHECK_SECONDS:
        return cached[1]
    from mobility.gazetteer.models import GazetteerVersion

    current = (
        GazetteerVersion.objects.filter(country_iso3=country_iso3, is_current=True)
        .values_list("pk", "created_at")
        .first()
    )
    _editions[country_iso3] = (time.monotonic(), current)
    return current


def _geography(country_iso3: str) -> _Geography | None:
    current = _current_edition(country_iso3)
    if current is None:
        return None
    # The creation time keeps a cached edition apart from a new one reusing its id (SQLite, tests).
    key = f"{country_iso3}:{current[0]}:{current[1].isoformat()}"
    cached = _geographies.get(key, False)
    if cached is not False and (cached is None or time.monotonic() - cached.loaded_at < GEO_CACHE_SECONDS):
        return cached
    geography = _geography_load(current[0])
    with _geo_lock:
        for stale in [k for k in _geographies if k.startswith(f"{country_iso3}:")]:
            del _geographies[stale]
        _geographies[key] = geography
    return geography


def _geography_load(version_id: int) -> _Geography | None:
    from mobility.gazetteer.geo import AreaLocator
    from mobility.gazetteer.models import AdminArea, GazetteerVersion

    areas = AdminArea.objects.filter(version_id=version_id)
    own_geometry = set(areas.exclude(geometry="").values_list("pcode", flat=True))
    if not own_geometry:
        return None
    parent, children = {}, {}
    for pcode, parent_pcode in areas.values_list("pcode", "parent__pcode"):
        if parent_pcode:
            parent[pcode] = parent_pcode
            children.setdefault(parent_pcode, []).append(pcode)
    version = GazetteerVersion.objects.get(pk=version_id)
    locator = AreaLocator(version.country_iso3, version=version)
    return _Geography(version_id, time.monotonic(), locator, parent, children, own_geometry)


def _gps_flags(submission: Submission, local_cache: dict | None = None) -> list[dict]:
    stated = (submission.area_code or "").strip()
    lat, lon = submission.latitude, submission.longitude
    if not stated or lat is None or lon is None:
        return []
    country = _country_of(submission.form.operation_id)
    if local_cache is not None:  # one lookup per country for a whole-form recompute
        geography = local_cache.get(country, False)
        if geography is False:
            geography = local_cache[country] = _geography(country)
    else:
        geography = _geography(country)
    if geography is None:
        return []  # no boundaries for the operation's country: nothing to check against
    if stated not in geography.locator.levels:
        geography = _geography_of_pcode(stated, local_cache)  # another country's p-code (regional operation)
        if geography is None:
            return []
    inside = geography.contains(stated, lon, lat)
    if inside is None or inside:
        return []
    names = geography.locator.names
    found = str(geography.locator.locate_pcodes([lon], [lat])[0] or "")
    if found:
        message = GPS_IN_OTHER_AREA.format(
            found=found, found_name=names.get(found, ""), stated=stated, stated_name=names.get(stated, "")
        )
    else:
        message = GPS_IN_NO_AREA.format(stated=stated, stated_name=names.get(stated, ""))
    return [{"code": GPS_OUTSIDE_AREA, "message": " ".join(message.split())}]


def _geography_of_pcode(pcode: str, local_cache: dict | None) -> _Geography | None:
    """The geography of whichever country's current gazetteer has this p-code (regional operations)."""
    from mobility.gazetteer.models import AdminArea

    country = (
        AdminArea.objects.filter(version__is_current=True, pcode=pcode)
        .values_list("country_iso3", flat=True)
        .first()
    )
    if not country:
        return None
    geography = _geography(country)
    if local_cache is not None:
        local_cache[country] = geography
    return geography if geography is not None and pcode in geography.locator.levels else None


# ---------------------------------------------------------------- duration


def _took(seconds: float) -> str:
    seconds = int(round(abs(seconds)))
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    if seconds >= 60:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds} s"


def _duration_flags(submission: Submission, minimum: int) -> list[dict]:
    if submission.started_at is None or submission.ended_at is None:
        return []
    seconds = (submission.ended_at - submission.started_at).total_seconds()
    if seconds < 0:
        return [{"code": DURATION_IMPLAUSIBLE, "message": DURATION_NEGATIVE.format(took=_took(seconds))}]
    if seconds > MAX_PLAUSIBLE_SECONDS:
        return [
            {
                "code": DURATION_IMPLAUSIBLE,
                "message": DURATION_LONG.format(took=_took(seconds), limit=_took(MAX_PLAUSIBLE_SECONDS)),
            }
        ]
    if minimum and seconds < minimum:
        return [
            {"code": TOO_SHORT, "message": DURATION_SHORT.format(took=_took(seconds), minimum=_took(minimum))}
        ]
    return []


# ---------------------------------------------------------------- duplicate content


def _duplicate_flags(submission: Submission) -> list[dict]:
    """The later of two current submissions with the same answers names the earliest one."""
    # Only the content hash in SQL: with the form in the WHERE clause SQLite walks the form's index
    # (every submission of the form) instead of the hash's, which made each arrival O(form size).
    same = (
        Submission.objects.filter(content_sha256=submission.content_sha256, pk__lt=submission.pk)
        .order_by("pk")
        .values_list("form_id", "instance_id", "superseded_by_id")
    )
    first = list(same[:20])
    for form_id, instance_id, superseded_by_id in first if len(first) < 20 else same.iterator(chunk_size=200):
        if form_id == submission.form_id and superseded_by_id is None:
            return [{"code": DUPLICATE_CONTENT, "message": DUPLICATE.format(earlier=instance_id)}]
    return []


# ---------------------------------------------------------------- numeric outliers


@dataclass
class _FieldSummary:
    values: list[float]  # sorted
    median: float
    scale: float  # robust standard deviation (1.4826 MAD, or 1.2533 mean absolute deviation), floored


@dataclass
class _Summary:
    fields: dict[str, _FieldSummary]
    submissions: int
    built_at: float
    paths: frozenset = frozenset()
    arrivals: int = 0


_summaries: dict[tuple, _Summary] = {}
_summary_lock = threading.Lock()


def summary_forget(form_id: int | None = None) -> None:
    """Drop the cached numeric summary of a form (or of all forms)."""
    with _summary_lock:
        for key in [k for k in _summaries if form_id is None or k[0] == form_id]:
            del _summaries[key]


def numeric_fields(version: FormVersion | None) -> list[dict]:
    return [f for f in (version.fields if version else []) if f.get("type") in NUMERIC_TYPES]


def _number(value) -> float | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _numbers_of(values: dict, fields: list[dict]) -> dict[str, list[float]]:
    """Every number given for each numeric field (a field in a repeat has one per entry)."""
    out: dict[str, list[float]] = {}
    for f in fields:
        found = out.setdefault(f["path"], [])
        for value in _answers(values, f["path"], f.get("repeat") or ""):
            number = _number(value)
            if number is not None:
                found.append(number)
    return out


def _answers(values: dict, path: str, repeat: str):
    if not repeat:
        yield values.get(path)
        return
    # Walk down the chain of repeats: "hh/members/age" in repeat "hh/members" inside repeat "hh".
    chain, node = [], repeat
    while node:
        chain.append(node)
        node = node.rsplit("/", 1)[0] if "/" in node else ""
    containers = [values]
    for level in reversed(chain):
        nxt = []
        for container in containers:
            entries = container.get(level)
            if isinstance(entries, dict):
                entries = [entries]
            if isinstance(entries, list):
                nxt += [e for e in entries if isinstance(e, dict)]
            elif container is values and any(k.startswith(f"{level}/") for k in container):
                nxt.append(container)  # a single entry flattened into the parent
        containers = nxt
    for container in containers:
        yield container.get(path)


def _field_summary(numbers: list[float]) -> _FieldSummary | None:
    if len(numbers) < OUTLIER_MIN_SAMPLE:
        return None
    ordered = sorted(numbers)
    median = _median(ordered)
    deviations = sorted(abs(x - median) for x in ordered)
    scale = 1.4826 * _median(deviations)
    if scale == 0:  # more than half the answers equal: the mean absolute deviation instead
        scale = 1.2533 * (sum(deviations) / len(deviations))
    # Within about a third of the median is never "far" (everyone answering 1200 makes 1111 no outlier).
    scale = max(scale, OUTLIER_MIN_RELATIVE_SCALE * abs(median))
    if scale == 0:
        return None  # every value the same: nothing says how far is far
    return _FieldSummary(ordered, median, scale)


def _median(ordered: list[float]) -> float:
    n = len(ordered)
    mid = n // 2
    return ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _summary_of(values_list, fields: list[dict]) -> _Summary:
    pooled: dict[str, list[float]] = {f["path"]: [] for f in fields}
    count = 0
    for values in values_list:
        count += 1
        for path, numbers in _numbers_of(values, fields).items():
            pooled[path] += numbers
    summaries = {path: s for path, numbers in pooled.items() if (s := _field_summary(numbers))}
    return _Summary(summaries, count, time.monotonic(), frozenset(pooled))


def _recent_values(form_id: int):
    rows = (
        Submission.objects.filter(form_id=form_id, superseded_by__isnull=True)
        .order_by("-submitted_at", "-id")
        .values_list("data", "corrections")[:OUTLIER_SAMPLE]
    )
    for data, corrections in rows:
        yield {**data, **corrections} if corrections else data


def _arrival_summary(form: Form, version: FormVersion | None) -> _Summary | None:
    fields = numeric_fields(version)
    if not fields:
        return None
    key = (form.pk, form.created_at)  # not the id alone: SQLite reuses ids after a rollback (tests)
    with _summary_lock:
        summary = _summaries.get(key)
        if summary is not None:
            summary.arrivals += 1
            # Rebuilt every tenth of the sample: every arrival while a form is young, every 100 later.
            fresh = (
                summary.arrivals < max(1, min(summary.submissions, OUTLIER_SAMPLE) // 10)
                and time.monotonic() - summary.built_at < SUMMARY_SECONDS
                and summary.paths == frozenset(f["path"] for f in fields)  # a new version may add fields
            )
            if fresh:
                return summary
    summary = _summary_of(_recent_values(form.pk), fields)
    with _summary_lock:
        _summaries[key] = summary
    return summary


def _summaries_by_version(rows, versions: dict, fallback) -> dict:
    """Whole-form summaries for a recompute: one per version's numeric fields, over every version's answers."""
    values = [r.values for r in rows]
    out = {}
    for version in {versions.get(r.form_version_id) or fallback for r in rows} - {None}:
        fields = numeric_fields(version)
        if fields:
            out[version.pk] = _summary_of(values, fields)
    return out


def _shown(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else f"{number:.4g}"


def _outlier_flags(
    submission: Submission, version: FormVersion | None, summary: _Summary | None
) -> list[dict]:
    if summary is None or not summary.fields:
        return []
    flags = []
    by_path = {f["path"]: f for f in numeric_fields(version)}
    for path, numbers in _numbers_of(submission.values, list(by_path.values())).items():
        stats = summary.fields.get(path)
        if stats is None:
            continue
        for number in numbers:
            if not _is_outlier(number, stats):
                continue
            f = by_path[path]
            if f.get("personal"):
                message = OUTLIER_PERSONAL.format(field=path)
            else:
                message = OUTLIER_VALUE.format(
                    field=path, value=_shown(number), median=_shown(stats.median), n=len(stats.values)
                )
            flags.append({"code": OUTLIER, "message": message})
            break  # one flag per field is enough (a repeat may hold several)
    return flags


def _is_outlier(number: float, stats: _FieldSummary) -> bool:
    if abs(number - stats.median) / stats.scale <= OUTLIER_Z:
        return False
    n = len(stats.values)
    if number > stats.median:
        as_extreme = n - bisect.bisect_left(stats.values, number)
    else:
        as_extreme = bisect.bisect_right(stats.values, number)
    # Two equal extreme answers (a pair of duplicates, a re-interview) are still both outliers.
    return as_extreme <= max(2, OUTLIER_MAX_SHARE * n)

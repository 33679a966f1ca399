"""Flow monitoring points and corridors: the writes, and the observation schedule as people write it.

A team describes its schedule the way it pins it on the wall: "Mon-Fri 06:00-18:00", "daily
07-19", "Mon, Wed, Fri". ``days_parse`` and ``hours_parse`` turn that into the weekday and hour
lists a point keeps (0 = Monday; hour h means the hour from h:00 to h:59, so "06:00-18:00" is
hours 6..17). The estimator relies on these lists to know which hours were not observed, so a
schedule that cannot be read is refused, never guessed.

``point_upsert`` creates or updates one point by (operation, code) with ``full_clean``; a re-import
of the same registry leaves every point unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _

from mobility.core.models import Operation

from .models import Corridor, FlowMonitoringPoint, FmpType, MovementType

DAY_NAMES = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_DAY_WORDS = {
    **{name: i for i, name in enumerate(DAY_NAMES)},
    **{
        word: i
        for i, words in enumerate(
            [
                ("monday", "seg", "segunda", "lun", "lundi"),
                ("tuesday", "tues", "ter", "terca", "terça", "mar", "mardi"),
                ("wednesday", "qua", "quarta", "mer", "mercredi"),
                ("thursday", "thurs", "thur", "qui", "quinta", "jeu", "jeudi"),
                ("friday", "sex", "sexta", "ven", "vendredi"),
                ("saturday", "sab", "sáb", "sabado", "sábado", "sam", "samedi"),
                ("sunday", "dom", "domingo", "dim", "dimanche"),
            ]
        )
        for word in words
    },
}
_EVERY_DAY = {"daily", "every day", "everyday", "all", "all days", "mon-sun", "7/7", "todos", "diario"}
_EVERY_HOUR = {"24h", "24/7", "all", "all day", "00:00-24:00", "0-24", "24 hours"}

SCHEDULE_BAD_DAYS = _('"{text}" is not a list of weekdays; write e.g. "Mon-Fri", "Mon, Wed, Fri" or "daily".')
SCHEDULE_BAD_HOURS = _('"{text}" is not a list of hours; write e.g. "06:00-18:00", "07-12, 14-18" or "24h".')
SCHEDULE_NOT_WHOLE_HOURS = _(
    '"{text}": observation hours start and end on the hour (the estimator works hour by hour).'
)
SCHEDULE_BAD = _('"{text}" is not a schedule; write the days then the hours, e.g. "Mon-Fri 06:00-18:00".')
POINT_TYPE_UNKNOWN = _('"{text}" is not a point type; use one of: {allowed}.')
MOVEMENT_TYPE_UNKNOWN = _('"{text}" is not a movement type; use one of: {allowed}.')

_TYPE_WORDS = {
    "border": FmpType.BORDER_CROSSING,
    "border point": FmpType.BORDER_CROSSING,
    "border post": FmpType.BORDER_CROSSING,
    "crossing": FmpType.BORDER_CROSSING,
    "poe": FmpType.BORDER_CROSSING,
    "point of entry": FmpType.BORDER_CROSSING,
    "transit": FmpType.TRANSIT_CENTRE,
    "transit center": FmpType.TRANSIT_CENTRE,
    "transit point": FmpType.TRANSIT_CENTRE,
    "bus": FmpType.BUS_STATION,
    "bus stop": FmpType.BUS_STATION,
    "bus terminal": FmpType.BUS_STATION,
    "train": FmpType.TRAIN_STATION,
    "railway station": FmpType.TRAIN_STATION,
    "seaport": FmpType.PORT,
    "harbour": FmpType.PORT,
    "harbor": FmpType.PORT,
    "jetty": FmpType.PORT,
    "road": FmpType.ROADSIDE,
    "road side": FmpType.ROADSIDE,
    "checkpoint": FmpType.ROADSIDE,
}
_MOVEMENT_WORDS = {
    "cross border": MovementType.CROSS_BORDER,
    "crossborder": MovementType.CROSS_BORDER,
    "international": MovementType.CROSS_BORDER,
    "domestic": MovementType.INTERNAL,
    "returns": MovementType.RETURN,
    "returnee": MovementType.RETURN,
    "pastoral": MovementType.SEASONAL,
    "transhumance": MovementType.SEASONAL,
}


def _words(text: str) -> str:
    return " ".join(re.sub(r"[_\-/]+", " ", (text or "").strip().lower()).split())


def point_type_parse(text: str) -> str:
    """A point type code from its code, its label or a common word ("bus terminal" → bus_station)."""
    key = _words(text)
    if not key:
        return FmpType.BORDER_CROSSING
    for value, label in FmpType.choices:
        if key in (_words(value), _words(str(label))):
            return value
    if key in _TYPE_WORDS:
        return _TYPE_WORDS[key]
    raise ValueError(POINT_TYPE_UNKNOWN.format(text=text, allowed=", ".join(FmpType.values)))


def movement_types_parse(text: str) -> list[str]:
    """Movement type codes from a list separated by ";" or "," (codes, labels or common words)."""
    out: list[str] = []
    for part in re.split(r"[;,|]", text or ""):
        key = _words(part)
        if not key:
            continue
        found = None
        for value, label in MovementType.choices:
            if key in (_words(value), _words(str(label)), _words(str(label).split("/")[0])):
                found = value
        found = found or _MOVEMENT_WORDS.get(key)
        if found is None:
            raise ValueError(
                MOVEMENT_TYPE_UNKNOWN.format(text=part.strip(), allowed=", ".join(MovementType.values))
            )
        if found not in out:
            out.append(found)
    return out


def _day(word: str, text: str) -> int:
    key = word.strip().lower().rstrip(".")
    if key.isdigit() and 0 <= int(key) <= 6:
        return int(key)
    if key in _DAY_WORDS:
        return _DAY_WORDS[key]
    raise ValueError(SCHEDULE_BAD_DAYS.format(text=text))


def days_parse(text: str) -> list[int]:
    """Weekdays (0 = Monday) from "Mon-Fri", "Mon, Wed, Fri", "Fri-Mon" (wraps), "daily" or ""."""
    raw = " ".join((text or "").strip().lower().split())
    raw = re.sub(r"\s*[-–]\s*", "-", raw)
    if not raw:
        return []
    if raw in _EVERY_DAY:
        return list(range(7))
    days: set[int] = set()
    for part in re.split(r"[;,/]|\s+(?:and|e|et)\s+|\s+", raw):
        part = part.strip()
        if not part:
            continue
        if "-" in part or "–" in part:
            first, _sep, last = re.split(r"([-–])", part, maxsplit=1)
            start, end = _day(first, text), _day(last, text)
            day = start
            while True:
                days.add(day)
                if day == end:
                    break
                day = (day + 1) % 7
        else:
            days.add(_day(part, text))
    return sorted(days)


_HOUR = r"(\d{1,2})(?:[:h.](\d{2}))?\s*(am|pm)?"
_RANGE = re.compile(rf"^{_HOUR}\s*[-–to]+\s*{_HOUR}$")


def _hour(number: str, minutes: str | None, half: str | None, text: str) -> int:
    hour = int(number)
    if minutes and int(minutes) != 0:
        raise ValueError(SCHEDULE_NOT_WHOLE_HOURS.format(text=text))
    if half == "pm" and hour < 12:
        hour += 12
    elif half == "am" and hour == 12:
        hour = 0
    if not 0 <= hour <= 24:
        raise ValueError(SCHEDULE_BAD_HOURS.format(text=text))
    return hour


def hours_parse(text: str) -> list[int]:
    """Observed hours (0..23) from "06:00-18:00" (end excluded), "07-12, 14-18", "22:00-06:00" (wraps), "24h"."""
    raw = " ".join((text or "").strip().lower().split())
    if not raw:
        return []
    if raw in _EVERY_HOUR:
        return list(range(24))
    hours: set[int] = set()
    for part in re.split(r"[;,]|\s+(?:and|e|et)\s+", raw):
        part = part.strip()
        if not part:
            continue
        match = _RANGE.match(part)
        if match is None:
            if re.fullmatch(r"\d{1,2}", part) and int(part) <= 23:
                hours.add(int(part))  # a single hour
                continue
            raise ValueError(SCHEDULE_BAD_HOURS.format(text=text))
        start = _hour(*match.group(1, 2, 3), text)
        end = _hour(*match.group(4, 5, 6), text)
        if start == 24 or start == end:
            raise ValueError(SCHEDULE_BAD_HOURS.format(text=text))
        hour, stop = start, end % 24
        while True:  # "22:00-06:00" wraps past midnight; "00:00-24:00" is every hour
            hours.add(hour)
            hour = (hour + 1) % 24
            if hour == stop:
                break
    return sorted(hours)


def schedule_parse(text: str) -> tuple[list[int], list[int]]:
    """(days, hours) from one text such as "Mon-Fri 06:00-18:00" or "daily 24h"; hours only means every day."""
    raw = " ".join((text or "").strip().split())
    if not raw:
        return [], []
    match = re.search(r"\d", raw)
    if match is None:
        return days_parse(raw), list(range(24))
    head, tail = raw[: match.start()].strip(), raw[match.start() :].strip()
    if head.lower() in ("", "daily", "every day", "everyday"):
        return list(range(7)), hours_parse(tail)
    try:
        return days_parse(head), hours_parse(tail)
    except ValueError:
        raise ValueError(SCHEDULE_BAD.format(text=text)) from None


def _ranges(values: list[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for v in sorted(values):
        if out and v == out[-1][1] + 1:
            out[-1] = (out[-1][0], v)
        else:
            out.append((v, v))
    return out


def schedule_text(days: list[int], hours: list[int]) -> str:
    """The schedule as people write it: "Mon-Fri 06:00-18:00" (the inverse of ``schedule_parse``)."""
    if not days and not hours:
        return ""
    if sorted(days) == list(range(7)) or not days:
        day_text = "daily"
    else:
        day_text = ", ".join(
            DAY_NAMES[a].title() if a == b else f"{DAY_NAMES[a].title()}-{DAY_NAMES[b].title()}"
            for a, b in _ranges(days)
        )
    if not hours or sorted(hours) == list(range(24)):
        hour_text = "24h"
    else:
        hour_text = ", ".join(f"{a:02d}:00-{b + 1:02d}:00" for a, b in _ranges(hours))
    return f"{day_text} {hour_text}"


# --- writes ----------------------------------------------------------------------------------------


@dataclass
class PointRow:
    """One point as a registry row states it (already parsed; p-codes checked by the importer)."""

    code: str
    name: str
    type: str = FmpType.BORDER_CROSSING
    country_iso3: str = ""
    border_country_iso3: str = ""
    admin1_code: str = ""
    admin2_code: str = ""
    latitude: float | None = None
    longitude: float | None = None
    movement_types: list[str] | None = None
    observed_days: list[int] | None = None
    observed_hours: list[int] | None = None
    corridor: str = ""  # the corridor's name ("" = none)
    active: bool = True


POINT_FIELDS = [
    "name",
    "type",
    "country_iso3",
    "border_country_iso3",
    "admin1_code",
    "admin2_code",
    "latitude",
    "longitude",
    "movement_types",
    "observed_days",
    "observed_hours",
    "active",
]


def corridor_upsert(*, operation: Operation, name: str, description: str = "") -> Corridor:
    """The operation's corridor of this name (found by its slug), created when missing."""
    name = " ".join((name or "").split())
    slug = slugify(name)[:100] or "corridor"
    corridor = Corridor.objects.filter(operation=operation, slug=slug).first()
    if corridor is None:
        corridor = Corridor(operation=operation, slug=slug, name=name, description=description)
        corridor.full_clean()
        corridor.save()
    elif description and corridor.description != description:
        corridor.description = description
        corridor.full_clean()
        corridor.save(update_fields=["description", "updated_at"])
    return corridor


def point_upsert(
    *, operation: Operation, row: PointRow, corridors: dict[str, Corridor] | None = None
) -> tuple[FlowMonitoringPoint, str]:
    """Create or update the point with this code; returns it and "created", "updated" or "unchanged".

    Call inside a transaction (``points_write`` does). ``corridors`` caches corridors by name.
    """
    corridors = corridors if corridors is not None else {}
    corridor = None
    if row.corridor:
        corridor = corridors.get(row.corridor)
        if corridor is None:
            corridor = corridors[row.corridor] = corridor_upsert(operation=operation, name=row.corridor)
    values = {
        "name": row.name,
        "type": row.type,
        "country_iso3": (row.country_iso3 or operation.country_iso3).upper(),
        "border_country_iso3": row.border_country_iso3.upper(),
        "admin1_code": row.admin1_code,
        "admin2_code": row.admin2_code,
        "latitude": row.latitude,
        "longitude": row.longitude,
        "movement_types": row.movement_types or [],
        "observed_days": row.observed_days or [],
        "observed_hours": row.observed_hours or [],
        "active": row.active,
    }
    point = FlowMonitoringPoint.objects.filter(operation=operation, code=row.code).first()
    if point is None:
        point = FlowMonitoringPoint(operation=operation, code=row.code, corridor=corridor, **values)
        point.full_clean()
        point.save()
        return point, "created"
    changed = [f for f, v in values.items() if getattr(point, f) != v]
    if point.corridor_id != (corridor.pk if corridor else None):
        changed.append("corridor")
    if not changed:
        return point, "unchanged"
    for field, value in values.items():
        setattr(point, field, value)
    point.corridor = corridor
    point.full_clean()
    point.save()
    return point, "updated"


@transaction.atomic
def points_write(*, operation: Operation, rows: list[PointRow], progress=None) -> dict[str, int]:
    """Upsert every row's point (all or nothing); counts of created, updated and unchanged points."""
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    corridors: dict[str, Corridor] = {}
    for row in rows:
        try:
            _point, outcome = point_upsert(operation=operation, row=row, corridors=corridors)
        except ValidationError as exc:
            raise ValidationError(f"point {row.code}: " + "; ".join(exc.messages)) from exc
        counts[outcome] += 1
        if progress is not None:
            progress.advance()
    return counts

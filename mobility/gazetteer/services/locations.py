"""Writes for typed locations: place each point in its admin areas and flag stated p-codes that disagree."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from mobility.core.models import Operation
from mobility.core.services import audit_record

from ..geo import AreaLocator
from ..models import Location

__all__ = [
    "LOCATION_COORDINATES_HALF",
    "LOCATION_PCODE_UNKNOWN",
    "LOCATION_TYPE_UNKNOWN",
    "MISMATCH_OUTSIDE",
    "MISMATCH_STATED",
    "MISMATCH_STATED_CHAIN",
    "location_place",
    "location_save",
    "location_upsert",
]

LOCATION_PCODE_UNKNOWN = "stated admin{level} {pcode} is not a p-code of the current {country} gazetteer."
LOCATION_PCODE_WRONG_LEVEL = "stated admin{level} {pcode} is an admin{actual} area."
LOCATION_COORDINATES_HALF = "give both latitude and longitude, or neither."
LOCATION_TYPE_UNKNOWN = "{value!r} is not a location type; use one of: {allowed}."
MISMATCH_STATED = (
    "stated admin{level} {stated} ({stated_name}) but coordinates fall in {found} ({found_name})"
)
MISMATCH_OUTSIDE = "coordinates ({lat}, {lon}) fall outside every admin area of {country}"
MISMATCH_STATED_CHAIN = (
    "stated admin{level} {stated} ({stated_name}) is not inside admin{parent_level} {parent}"
)

_FIELDS = (
    "type",
    "name",
    "names",
    "country_iso3",
    "operation_id",
    "latitude",
    "longitude",
    "stated_admin1_code",
    "stated_admin2_code",
    "stated_admin3_code",
    "admin1_code",
    "admin2_code",
    "admin3_code",
    "pcode_mismatch",
    "mismatch_detail",
    "attributes",
)


def location_place(
    *,
    locator: AreaLocator,
    latitude: float | None,
    longitude: float | None,
    stated: dict[int, str],
) -> tuple[dict[str, str], str]:
    """(admin1..3 codes, mismatch detail or "") for a point and the p-codes its source stated."""
    country = locator.country_iso3
    for level, pcode in stated.items():
        if pcode and pcode not in locator.codes:
            raise ValidationError(LOCATION_PCODE_UNKNOWN.format(level=level, pcode=pcode, country=country))
        if pcode and locator.levels[pcode] != level:
            raise ValidationError(
                LOCATION_PCODE_WRONG_LEVEL.format(level=level, pcode=pcode, actual=locator.levels[pcode])
            )
    problems: list[str] = []
    # The deepest stated p-code, with its parents filled in from the gazetteer.
    from_stated: dict[str, str] = {}
    for level in sorted((lvl for lvl, p in stated.items() if p), reverse=True):
        chain = locator.codes[stated[level]]
        if not from_stated:
            from_stated = dict(chain)
            continue
        if from_stated.get(f"admin{level}_code") != stated[level]:
            deeper = max(lvl for lvl, p in stated.items() if p)
            problems.append(
                MISMATCH_STATED_CHAIN.format(
                    level=deeper,
                    stated=stated[deeper],
                    stated_name=locator.names[stated[deeper]],
                    parent_level=level,
                    parent=stated[level],
                )
            )
    codes = {f"admin{n}_code": from_stated.get(f"admin{n}_code", "") for n in (1, 2, 3)}
    if latitude is None or longitude is None or not locator.has_boundaries:
        return codes, "; ".join(problems)

    found = locator.locate(longitude, latitude)
    if not any(found.values()):
        problems.append(MISMATCH_OUTSIDE.format(lat=latitude, lon=longitude, country=country))
        return codes, "; ".join(problems)
    # Coordinates win down to the deepest level with boundaries; below it the stated p-code is kept
    # when it lies inside the area the coordinates found.
    placed = dict(found)
    deepest = locator.deepest_level
    disagreements: list[str] = []
    for level in (1, 2, 3):
        key = f"admin{level}_code"
        stated_code = stated.get(level, "")
        if level <= deepest:
            if stated_code and found[key] and stated_code != found[key]:
                disagreements.append(
                    MISMATCH_STATED.format(
                        level=level,
                        stated=stated_code,
                        stated_name=locator.names[stated_code],
                        found=found[key],
                        found_name=locator.names[found[key]],
                    )
                )
        elif stated_code:
            inside = locator.codes[stated_code].get(f"admin{deepest}_code") == found.get(
                f"admin{deepest}_code"
            )
            placed[key] = stated_code if inside else ""
            if not inside:
                outer = found[f"admin{deepest}_code"]
                disagreements.append(
                    MISMATCH_STATED.format(
                        level=level,
                        stated=stated_code,
                        stated_name=locator.names[stated_code],
                        found=outer,
                        found_name=locator.names[outer],
                    )
                )
    # The shallowest disagreement says it all: a wrong district implies a wrong tehsil.
    return placed, "; ".join(disagreements[:1] + problems)


def location_save(
    *,
    code: str,
    type: str,  # noqa: A002 - the field's word
    name: str,
    country_iso3: str,
    latitude: float | None = None,
    longitude: float | None = None,
    stated_admin1_code: str = "",
    stated_admin2_code: str = "",
    stated_admin3_code: str = "",
    names: dict | None = None,
    attributes: dict | None = None,
    operation: Operation | None = None,
    locator: AreaLocator | None = None,
    by=None,
    audit: bool = True,
) -> tuple[Location, str]:
    """location_upsert, telling whether the row was "created", "updated" or "unchanged" (for importers)."""
    country = country_iso3.strip().upper()
    if type not in Location.Type.values:
        raise ValidationError(
            LOCATION_TYPE_UNKNOWN.format(value=type, allowed=", ".join(Location.Type.values))
        )
    if (latitude is None) != (longitude is None):
        raise ValidationError(LOCATION_COORDINATES_HALF)
    locator = locator or AreaLocator(country)
    stated = {1: stated_admin1_code.strip(), 2: stated_admin2_code.strip(), 3: stated_admin3_code.strip()}
    codes, detail = location_place(locator=locator, latitude=latitude, longitude=longitude, stated=stated)
    values = {
        "type": type,
        "name": name.strip(),
        "names": names or {},
        "country_iso3": country,
        "operation_id": operation.pk if operation else None,
        "latitude": latitude,
        "longitude": longitude,
        "stated_admin1_code": stated[1],
        "stated_admin2_code": stated[2],
        "stated_admin3_code": stated[3],
        **codes,
        "pcode_mismatch": bool(detail),
        "mismatch_detail": detail[:300],
        "attributes": attributes or {},
    }
    location = Location.objects.select_for_update().filter(code=code.strip()).first()
    if location is None:
        location, outcome = Location(code=code.strip(), **values), "created"
    elif all(getattr(location, f) == values[f] for f in _FIELDS):
        return location, "unchanged"
    else:
        for field, value in values.items():
            setattr(location, field, value)
        outcome = "updated"
    location.full_clean()
    location.save()
    if audit:
        audit_record(action=f"location.{'create' if outcome == 'created' else 'update'}", obj=location, by=by)
    return location, outcome


@transaction.atomic
def location_upsert(**fields) -> tuple[Location, bool]:
    """Create or update a location by its code, placing it in its admin areas; (location, created).

    Takes the keyword arguments of ``location_save`` (code, type, name, country_iso3, coordinates,
    stated p-codes, ...), in one transaction.
    """
    location, outcome = location_save(**fields)
    return location, outcome == "created"

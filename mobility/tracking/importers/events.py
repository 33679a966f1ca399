"""Import emergency event tracking (ETT) reports: one row per group movement, with its event's columns.

Columns (the project's vocabulary; header case does not matter):

- event: ``event_code`` (required: the source's id, the event's identity in the operation),
  ``event_type`` (required; free text is mapped: "Armed attack" → conflict, "Cheias" → flood,
  "Cyclone Freddy" → cyclone), ``event_date`` (required: YYYY-MM-DD or DD/MM/YYYY),
  ``event_description``, and where it happened: ``event_admin1_code``…``event_admin3_code`` or
  ``event_admin1_name``…``event_admin3_name`` (when absent: where its first movement came from).
- movement: ``movement_code`` (its identity in the event; when absent, rows with the same from,
  to, group and shelter are one movement), ``population_group`` (default IDP), ``households``,
  ``individuals`` (required), ``from_admin1_code``…/``from_admin1_name``…, ``to_admin1_code``…/
  ``to_admin1_name``…, ``to_location_code`` (optional: a gazetteer location, e.g. a site),
  ``shelter`` (vocabulary, free text mapped), ``initial_needs`` (sector codes separated by ; or ,).

P-codes are checked against the operation's current gazetteer; names are matched to p-codes, and a
name the matcher will not decide goes to the review list and rejects its row. The file is stored
whole or not at all; importing it again updates, never duplicates (alerts are raised once).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from mobility.core.imports import Counts, ImportFailed, ReadResult, RowError, job_path, register
from mobility.core.models import ImportJob, Operation, PopulationGroup
from mobility.core.tables import MAX_COUNT, read_table
from mobility.gazetteer.matching import MatchResult
from mobility.gazetteer.models import AdminArea, GazetteerVersion, Location
from mobility.gazetteer.services import match_names

from ..events import (
    EventRecord,
    MovementRecord,
    event_type_from_text,
    events_write,
    needs_from_text,
    plain_text,
    shelter_from_text,
)
from ..models import EventType, Sector, ShelterType

EVENTS_KIND = "tracking.events"

EVENTS_NO_OPERATION = (
    "Say which operation the events belong to (choose it on the upload form, or --operation)."
)
EVENTS_NO_GAZETTEER = "There is no current gazetteer for {country}; import its p-codes before events."
EVENTS_MISSING_COLUMNS = "The file has no {columns} column; it has: {found}."
ROW_REQUIRED = "is required"
ROW_NOT_INTEGER = "is not a whole number"
ROW_NEGATIVE = "is negative"
ROW_TOO_LARGE = "is larger than any count (at most 2,147,483,647)"
ROW_HOUSEHOLDS_EXCEED = "households ({households}) exceed individuals ({individuals})"
ROW_BAD_DATE = "is not a date (write YYYY-MM-DD or DD/MM/YYYY)"
ROW_FUTURE_DATE = "is in the future"
ROW_BAD_EVENT_TYPE = "is not an event type; use one of: {allowed}"
ROW_BAD_SHELTER = "is not a shelter type; use one of: {allowed}"
ROW_BAD_NEEDS = "{parts} is not a sector; use sector codes: {allowed}"
ROW_BAD_GROUP = "is not a population group; use one of: {allowed}"
ROW_PCODE_UNKNOWN = "is not a p-code of the current {country} gazetteer"
ROW_PCODE_WRONG_LEVEL = "is an admin{actual} p-code, not admin{level}"
ROW_PCODE_NOT_INSIDE = "{pcode} is not inside {parent}"
ROW_NAME_NOT_MATCHED = "could not be matched to an admin{level} p-code ({status}); it is on the review list"
ROW_NO_FROM = "say where the group came from: from_admin1_code… or from_admin1_name…"
ROW_LOCATION_UNKNOWN = "is not a location in the gazetteer"
ROW_EVENT_DIFFERS = "differs from row {first} of the same event ({value!r} there)"
ROW_MOVEMENT_DUPLICATE = "is already used for this event on row {first}"

REQUIRED_COLUMNS = ("event_code", "event_type", "event_date", "individuals")
LEVELS = (1, 2, 3)
PLACE_PREFIXES = ("event", "from", "to")
EXPECTED_COLUMNS = {
    *REQUIRED_COLUMNS,
    "event_description",
    "movement_code",
    "population_group",
    "households",
    "to_location_code",
    "shelter",
    "initial_needs",
    *(f"{p}_admin{n}_{k}" for p in PLACE_PREFIXES for n in LEVELS for k in ("code", "name")),
}
DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%Y/%m/%d")

GROUP_WORDS = {
    **{value.lower(): value for value in PopulationGroup.values},
    **{str(label).lower(): value for value, label in PopulationGroup.choices},
    "idps": PopulationGroup.IDP,
    "deslocados": PopulationGroup.IDP,
    "returnees": PopulationGroup.RETURNEE_IDP,
    "returnee": PopulationGroup.RETURNEE_IDP,
    "migrants": PopulationGroup.MIGRANT,
    "refugees": PopulationGroup.REFUGEE,
}


# --- cells -----------------------------------------------------------------------------------------


def parse_count(text: str) -> int | None:
    """A non-negative whole number from a cell ("" → None); ValueError with the row message otherwise."""
    text = (text or "").strip().replace("\u00a0", "").replace(" ", "")
    if not text:
        return None
    if re.fullmatch(r"\d{1,3}(,\d{3})+", text):
        text = text.replace(",", "")
    try:
        value = float(text)
    except ValueError:
        raise ValueError(ROW_NOT_INTEGER) from None
    if value != value or not value.is_integer():
        raise ValueError(ROW_NOT_INTEGER)
    if value < 0:
        raise ValueError(ROW_NEGATIVE)
    if value > MAX_COUNT:
        raise ValueError(ROW_TOO_LARGE)
    return int(value)


def parse_date(text: str) -> dt.date:
    text = (text or "").strip()
    if "T" in text:
        text = text.split("T", 1)[0]
    if " " in text:
        text = text.split(" ", 1)[0]
    for fmt in DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(ROW_BAD_DATE)


def population_group_from_text(text: str) -> str | None:
    key = " ".join((text or "").strip().lower().split())
    if not key:
        return PopulationGroup.IDP
    return GROUP_WORDS.get(key)


# --- places ----------------------------------------------------------------------------------------


class GazetteerCodes:
    """The current gazetteer's p-codes of one country: level, name and admin codes of each."""

    def __init__(self, country_iso3: str):
        self.country_iso3 = country_iso3
        version = GazetteerVersion.objects.filter(country_iso3=country_iso3, is_current=True).first()
        if version is None:
            raise ImportFailed(EVENTS_NO_GAZETTEER.format(country=country_iso3))
        rows = list(
            AdminArea.objects.filter(version=version, level__gte=1).values_list(
                "id", "pcode", "level", "name", "parent_id"
            )
        )
        by_id = {r[0]: r for r in rows}
        self.levels = {r[1]: r[2] for r in rows}
        self.names = {r[1]: r[3] for r in rows}
        self.upper = {r[1].upper(): r[1] for r in rows}
        self.codes: dict[str, dict[str, str]] = {}
        for area_id, pcode, *_rest in rows:
            codes, node = {}, by_id.get(area_id)
            while node is not None:
                codes[f"admin{node[2]}_code"] = node[1]
                node = by_id.get(node[4])
            self.codes[pcode] = codes

    def lookup(self, text: str) -> str | None:
        return self.upper.get(text.strip().upper())


@dataclass
class PlaceCells:
    """What a row says about one place (event, from or to), before names are matched."""

    column_prefix: str
    codes: dict[int, str] = field(default_factory=dict)
    names: dict[int, str] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.codes and not self.names

    def deepest(self) -> int:
        return max([*self.codes, *self.names], default=0)


def place_cells(values: dict[str, str], prefix: str) -> PlaceCells:
    cells = PlaceCells(column_prefix=prefix)
    for n in LEVELS:
        code = values.get(f"{prefix}_admin{n}_code", "").strip()
        name = values.get(f"{prefix}_admin{n}_name", "").strip()
        if code:
            cells.codes[n] = code
        if name:
            cells.names[n] = name
    return cells


def resolve_codes(
    cells: PlaceCells, gazetteer: GazetteerCodes, errors: list[RowError], row: int
) -> dict | None:
    """Admin codes from the p-code cells (checked level by level), or None after adding row errors."""
    resolved: dict[str, str] = {}
    ok = True
    for n in sorted(cells.codes, reverse=True):
        column = f"{cells.column_prefix}_admin{n}_code"
        pcode = gazetteer.lookup(cells.codes[n])
        if pcode is None:
            errors.append(
                RowError(
                    row, column, ROW_PCODE_UNKNOWN.format(country=gazetteer.country_iso3), cells.codes[n]
                )
            )
            ok = False
            continue
        if gazetteer.levels[pcode] != n:
            errors.append(
                RowError(
                    row, column, ROW_PCODE_WRONG_LEVEL.format(actual=gazetteer.levels[pcode], level=n), pcode
                )
            )
            ok = False
            continue
        if not resolved:
            resolved = dict(gazetteer.codes[pcode])
        elif resolved.get(f"admin{n}_code") != pcode:
            deeper = next(v for k, v in sorted(resolved.items(), reverse=True) if v)
            errors.append(
                RowError(row, column, ROW_PCODE_NOT_INSIDE.format(pcode=deeper, parent=pcode), pcode)
            )
            ok = False
    return resolved if ok else None


# --- rows ------------------------------------------------------------------------------------------


@dataclass
class PendingName:
    """A place whose deepest cell is a name: matched in one batch per level after all rows are read."""

    row: int
    cells: PlaceCells
    level: int
    parent: str  # a p-code or a name one level up, or ""
    target: dict  # the dict the matched codes are written into


@dataclass
class ParsedRow:
    row: int
    event_code: str
    event_type: str
    event_date: dt.date
    description: str
    event_codes: dict | None
    movement_code: str
    population_group: str
    households: int | None
    individuals: int
    from_codes: dict
    to_codes: dict
    to_location: Location | None
    shelter: str
    needs: list[str]
    raw: dict


class EventsImporter:
    kind = EVENTS_KIND
    label = _("Emergency event tracking (ETT): events and group movements")

    def _operation(self, job: ImportJob) -> Operation:
        operation = job.operation
        if operation is None and job.profile.get("operation"):
            operation = Operation.objects.filter(pk=job.profile["operation"]).first()
        if operation is None:
            raise ImportFailed(EVENTS_NO_OPERATION)
        return operation

    def read(self, *, job: ImportJob, progress) -> ReadResult:
        operation = self._operation(job)
        country = operation.country_iso3
        gazetteer = GazetteerCodes(country)
        table = read_table(job_path(job), expected=EXPECTED_COLUMNS)
        lower = {c.lower(): c for c in table.columns}
        missing = [c for c in REQUIRED_COLUMNS if c not in lower]
        if missing:
            raise ImportFailed(
                EVENTS_MISSING_COLUMNS.format(columns=", ".join(missing), found=", ".join(table.columns))
            )
        errors: list[RowError] = []
        parsed: list[ParsedRow] = []
        pending: list[PendingName] = []
        location_codes: set[str] = set()
        raw_rows = []
        progress.start(table.total_rows, "reading")
        for row_number, raw in table:
            values = {key.lower(): (value or "").strip() for key, value in raw.items()}
            if not any(values.values()):
                continue
            raw_rows.append((row_number, values))
            if values.get("to_location_code"):
                location_codes.add(values["to_location_code"])
            progress.advance()
        locations = {
            loc.code: loc for loc in Location.objects.filter(code__in=location_codes, country_iso3=country)
        }
        today = timezone.localdate()
        for row_number, values in raw_rows:
            row_errors: list[RowError] = []
            item = self._parse(row_number, values, gazetteer, locations, today, row_errors, pending)
            errors += row_errors
            if item is not None and not row_errors:
                parsed.append(item)
        # Names: one matcher call per level, all rows together (the review list counts each name once).
        self._match_pending(pending, country=country, job=job, operation=operation, errors=errors)
        records = self._records(parsed, country=country, errors=errors)
        errors.sort(key=lambda e: (e.row or 0, e.column))
        return ReadResult(
            data={"operation_id": operation.pk, "records": records}, rows_read=len(raw_rows), errors=errors
        )

    def _parse(self, row, values, gazetteer, locations, today, errors, pending) -> ParsedRow | None:
        def required(column):
            if not values.get(column):
                errors.append(RowError(row, column, ROW_REQUIRED))
            return values.get(column, "")

        event_code = required("event_code")
        type_text = required("event_type")
        event_type = event_type_from_text(type_text) if type_text else None
        if type_text and event_type is None:
            errors.append(
                RowError(
                    row,
                    "event_type",
                    ROW_BAD_EVENT_TYPE.format(allowed=", ".join(EventType.values)),
                    type_text,
                )
            )
        date_text = required("event_date")
        event_date = None
        if date_text:
            try:
                event_date = parse_date(date_text)
            except ValueError as exc:
                errors.append(RowError(row, "event_date", str(exc), date_text))
            else:
                if event_date > today + dt.timedelta(days=1):
                    errors.append(RowError(row, "event_date", ROW_FUTURE_DATE, date_text))
        counts = {}
        for column in ("households", "individuals"):
            try:
                counts[column] = parse_count(values.get(column, ""))
            except ValueError as exc:
                errors.append(RowError(row, column, str(exc), values.get(column, "")))
                counts[column] = None
        if values.get("individuals", "") == "":
            errors.append(RowError(row, "individuals", ROW_REQUIRED))
        if (
            counts["households"] is not None
            and counts["individuals"] is not None
            and counts["households"] > counts["individuals"]
        ):
            errors.append(
                RowError(
                    row,
                    "households",
                    ROW_HOUSEHOLDS_EXCEED.format(
                        households=counts["households"], individuals=counts["individuals"]
                    ),
                    values.get("households", ""),
                )
            )
        group = population_group_from_text(values.get("population_group", ""))
        if group is None:
            errors.append(
                RowError(
                    row,
                    "population_group",
                    ROW_BAD_GROUP.format(allowed=", ".join(PopulationGroup.values)),
                    values.get("population_group", ""),
                )
            )
        shelter = shelter_from_text(values.get("shelter", ""))
        if shelter is None:
            errors.append(
                RowError(
                    row,
                    "shelter",
                    ROW_BAD_SHELTER.format(allowed=", ".join(ShelterType.values)),
                    values["shelter"],
                )
            )
        needs, unknown = needs_from_text(values.get("initial_needs", ""))
        if unknown:
            errors.append(
                RowError(
                    row,
                    "initial_needs",
                    ROW_BAD_NEEDS.format(
                        parts=", ".join(repr(u) for u in unknown), allowed=", ".join(Sector.values)
                    ),
                    values.get("initial_needs", ""),
                )
            )
        to_location = None
        if values.get("to_location_code"):
            to_location = locations.get(values["to_location_code"])
            if to_location is None:
                errors.append(
                    RowError(row, "to_location_code", ROW_LOCATION_UNKNOWN, values["to_location_code"])
                )

        places = {}
        for prefix in PLACE_PREFIXES:
            cells = place_cells(values, prefix)
            target: dict = {}
            places[prefix] = (cells, target)
            if cells.empty:
                continue
            deepest = cells.deepest()
            if deepest in cells.codes:
                codes = resolve_codes(cells, gazetteer, errors, row)
                if codes is not None:
                    target.update(codes)
            else:
                parent = cells.codes.get(deepest - 1) or cells.names.get(deepest - 1, "")
                if deepest - 1 in cells.codes and gazetteer.lookup(cells.codes[deepest - 1]) is None:
                    resolve_codes(
                        PlaceCells(prefix, {deepest - 1: cells.codes[deepest - 1]}), gazetteer, errors, row
                    )
                    continue
                pending.append(PendingName(row, cells, deepest, parent, target))
        if places["from"][0].empty:
            errors.append(RowError(row, "from_admin1_code", ROW_NO_FROM))
        if places["to"][0].empty and to_location is not None:
            places["to"][1].update(
                {
                    f"admin{n}_code": getattr(to_location, f"admin{n}_code")
                    for n in LEVELS
                    if getattr(to_location, f"admin{n}_code")
                }
            )
        if errors:
            return None
        return ParsedRow(
            row=row,
            event_code=event_code,
            event_type=event_type,
            event_date=event_date,
            description=values.get("event_description", ""),
            event_codes=None if places["event"][0].empty else places["event"][1],
            movement_code=values.get("movement_code", ""),
            population_group=group,
            households=counts["households"],
            individuals=counts["individuals"],
            from_codes=places["from"][1],
            to_codes=places["to"][1],
            to_location=to_location,
            shelter=shelter,
            needs=needs,
            raw=values,
        )

    def _match_pending(self, pending, *, country, job, operation, errors) -> None:
        by_level: dict[int, list[PendingName]] = {}
        for item in pending:
            by_level.setdefault(item.level, []).append(item)
        for level, items in sorted(by_level.items()):
            results: list[MatchResult] = match_names(
                country_iso3=country,
                level=level,
                names=[i.cells.names[level] for i in items],
                parents=[i.parent or None for i in items],
                import_job=job,
                operation=operation,
            )
            for item, result in zip(items, results, strict=True):
                column = f"{item.cells.column_prefix}_admin{level}_name"
                if not result.matched:
                    errors.append(
                        RowError(
                            item.row,
                            column,
                            ROW_NAME_NOT_MATCHED.format(level=level, status=result.status),
                            item.cells.names[level],
                        )
                    )
                    continue
                item.target.update({k: v for k, v in result.codes.items() if v})

    def _records(self, parsed: list[ParsedRow], *, country: str, errors: list[RowError]) -> list[EventRecord]:
        failed_rows = {e.row for e in errors}
        records: dict[str, EventRecord] = {}
        first_values: dict[str, ParsedRow] = {}
        explicit_codes: dict[tuple[str, str], int] = {}
        for item in parsed:
            if item.row in failed_rows:
                continue
            first = first_values.get(item.event_code)
            if first is None:
                first_values[item.event_code] = item
                records[item.event_code] = EventRecord(
                    code=item.event_code,
                    event_type=item.event_type,
                    date=item.event_date,
                    country_iso3=country,
                    codes=dict(item.event_codes if item.event_codes is not None else item.from_codes),
                    description=item.description,
                    first_row=item.row,
                )
            else:
                for column, mine, theirs in (
                    ("event_type", item.event_type, first.event_type),
                    ("event_date", item.event_date, first.event_date),
                    ("event_description", item.description, first.description),
                    ("event_admin1_code", item.event_codes, first.event_codes),
                ):
                    if item.event_codes is None and column == "event_admin1_code":
                        continue
                    if mine != theirs:
                        shown = theirs.isoformat() if isinstance(theirs, dt.date) else theirs
                        if isinstance(shown, dict):
                            shown = next(iter(sorted(shown.values(), reverse=True)), "")
                        errors.append(
                            RowError(
                                item.row,
                                column,
                                ROW_EVENT_DIFFERS.format(first=first.row, value=shown),
                                item.raw.get(column, ""),
                            )
                        )
            record = records[item.event_code]
            if item.movement_code:
                key = (item.event_code, item.movement_code)
                if key in explicit_codes:
                    errors.append(
                        RowError(
                            item.row,
                            "movement_code",
                            ROW_MOVEMENT_DUPLICATE.format(first=explicit_codes[key]),
                            item.movement_code,
                        )
                    )
                    continue
                explicit_codes[key] = item.row
                code = item.movement_code
            else:
                code = _implicit_code(item)
            movement = record.movements.get(code)
            if movement is None:
                record.movements[code] = MovementRecord(
                    code=code,
                    individuals=item.individuals,
                    households=item.households,
                    population_group=item.population_group,
                    from_codes=item.from_codes,
                    to_codes=item.to_codes,
                    to_location_id=item.to_location.pk if item.to_location else None,
                    shelter=item.shelter,
                    initial_needs=item.needs,
                )
            else:
                # Same implicit identity: one group reported over several rows, summed once.
                movement.individuals += item.individuals
                movement.households = (
                    None
                    if movement.households is None or item.households is None
                    else movement.households + item.households
                )
                movement.initial_needs += [n for n in item.needs if n not in movement.initial_needs]
        return list(records.values())

    def write(self, *, job: ImportJob, data, progress) -> Counts:
        operation = Operation.objects.get(pk=data["operation_id"])
        return events_write(operation=operation, records=data["records"], job=job, progress=progress)


def _deepest(codes: dict) -> str:
    for n in (3, 2, 1):
        if codes.get(f"admin{n}_code"):
            return codes[f"admin{n}_code"]
    return ""


def _implicit_code(item: ParsedRow) -> str:
    to = item.to_location.code if item.to_location else _deepest(item.to_codes) or "?"
    parts = [_deepest(item.from_codes) or "?", to, item.population_group]
    if item.shelter:
        parts.append(item.shelter)
    return ">".join(parts[:2]) + "/" + "/".join(parts[2:])


def template_header() -> list[str]:
    """The columns of the downloadable template, in the order a person fills them."""
    return [
        "event_code",
        "event_type",
        "event_date",
        "event_description",
        "event_admin1_code",
        "event_admin2_code",
        "movement_code",
        "population_group",
        "households",
        "individuals",
        "from_admin1_code",
        "from_admin2_code",
        "from_admin2_name",
        "to_admin1_code",
        "to_admin2_code",
        "to_admin2_name",
        "to_location_code",
        "shelter",
        "initial_needs",
    ]


__all__ = ["EVENTS_KIND", "EventsImporter", "parse_count", "parse_date", "plain_text", "template_header"]

register(EventsImporter())

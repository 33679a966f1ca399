"""Import multi-sectoral site assessments (SA): one row per site and round, in the project's vocabulary.

Columns (header case does not matter):

- the site: ``site_code`` and ``site_name`` (required), ``latitude``/``longitude``, and the areas the
  source states: ``admin1_code``…``admin3_code``. The site becomes (or updates) a gazetteer
  Location of type "site", placed in its areas from its coordinates.
- when: ``reporting_round`` (the round number; or the job profile's "round"), ``reporting_date``
  (default: the round's end date).
- site profile: ``site_type``, ``management_agency``, ``accessibility`` (small vocabularies, free
  text mapped), ``management_agency_name`` (text), ``key_informants``.
- population per group: ``idp_households``, ``idp_individuals``, ``idp_males``, ``idp_females`` and
  the same for ``ret_idp_``, ``ret_abr_``, ``mig_``, ``ref_``, ``host_``.
- sector indicators: any column named ``<sector>.<indicator>`` (sectors: wash, food, health,
  livelihoods, protection, shelter, communication, education, site), e.g. ``wash.water_source``,
  ``health.facility_distance_km``, ``protection.safe_spaces``. Known indicators have a kind (number,
  yes/no, choice with its choices); an unknown indicator's kind is taken from its values. A value
  that does not fit the kind rejects the row, naming the column.

Each row becomes one Assessment (type SA, place_key = site code) with its figures and indicators,
written through ``tracking.services.assessments_write``: all or nothing, and idempotent.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from mobility.core.imports import Counts, ImportFailed, ReadResult, RowError, job_path, register
from mobility.core.models import ImportJob, Operation, PopulationGroup, Round
from mobility.core.tables import read_table
from mobility.gazetteer.geo import AreaLocator
from mobility.gazetteer.models import Location
from mobility.gazetteer.services import location_place, location_save

from ..events import plain_text
from ..models import AssessmentType, IndicatorValue, Sector
from ..records import AssessmentRecord, IndicatorRecord, RecordBuilder
from ..services import assessments_write
from .events import GazetteerCodes, parse_count, parse_date

SITES_KIND = "tracking.site-assessment"

SITES_NO_OPERATION = (
    "Say which operation the site assessments belong to (choose it on the upload form, or --operation)."
)
SITES_MISSING_COLUMNS = "The file has no {columns} column; it has: {found}."
SITES_BAD_SECTOR = 'column "{column}": {sector!r} is not a sector; use one of: {allowed}.'
ROW_REQUIRED = "is required"
ROW_NO_ROUND = "is required (or give the round when importing)"
ROW_ROUND_UNKNOWN = "round {number} does not exist in {operation}; create it first"
ROW_NOT_NUMBER = "is not a number"
ROW_NOT_YES_NO = "is not yes or no"
ROW_NOT_CHOICE = "is not one of: {allowed}"
ROW_OUT_OF_RANGE = "is outside {low}..{high}"
ROW_BAD_VOCABULARY = "is not a {what}; use one of: {allowed}"
ROW_SITE_TWICE = "site {code} in round {number} is already on row {first}"
ROW_HALF_COORDINATES = "latitude and longitude must be given together"
ROW_PARTS_EXCEED = "males + females ({parts}) exceed individuals ({individuals})"
ROW_HOUSEHOLDS_EXCEED = "households ({households}) exceed individuals ({individuals})"
ROW_NO_POPULATION = "the row has no population figure (e.g. idp_individuals)"

SITE_TYPES = {
    "planned_camp": _("Planned camp"),
    "spontaneous_site": _("Spontaneous / informal site"),
    "collective_centre": _("Collective centre"),
    "transit_centre": _("Transit centre"),
    "resettlement_site": _("Resettlement site"),
    "host_community": _("Host community area"),
}
SITE_TYPE_WORDS = {
    "camp": "planned_camp",
    "planned site": "planned_camp",
    "planned": "planned_camp",
    "informal site": "spontaneous_site",
    "spontaneous": "spontaneous_site",
    "informal": "spontaneous_site",
    "collective center": "collective_centre",
    "school": "collective_centre",
    "transit": "transit_centre",
    "transit center": "transit_centre",
    "resettlement": "resettlement_site",
    "relocation site": "resettlement_site",
    "centro de reassentamento": "resettlement_site",
    "host community": "host_community",
}
MANAGEMENT_AGENCIES = {
    "government": _("Government"),
    "un_agency": _("UN agency"),
    "international_ngo": _("International NGO"),
    "national_ngo": _("National NGO"),
    "community": _("Community / self-managed"),
    "none": _("No management agency"),
}
MANAGEMENT_WORDS = {
    "gov": "government",
    "governo": "government",
    "ingd": "government",
    "un": "un_agency",
    "iom": "un_agency",
    "unhcr": "un_agency",
    "ingo": "international_ngo",
    "ngo": "national_ngo",
    "nngo": "national_ngo",
    "local ngo": "national_ngo",
    "self managed": "community",
    "community based": "community",
    "no agency": "none",
}
ACCESSIBILITY = {
    "accessible": _("Accessible"),
    "partially_accessible": _("Partially accessible"),
    "not_accessible": _("Not accessible"),
}
ACCESSIBILITY_WORDS = {
    "yes": "accessible",
    "open": "accessible",
    "partial": "partially_accessible",
    "partially": "partially_accessible",
    "seasonal": "partially_accessible",
    "by boat only": "partially_accessible",
    "no": "not_accessible",
    "inaccessible": "not_accessible",
    "cut off": "not_accessible",
}
PROFILE_COLUMNS = {
    # column: (profile key, vocabulary, free-text words, what it is)
    "site_type": ("type", SITE_TYPES, SITE_TYPE_WORDS, "site type"),
    "management_agency": ("management", MANAGEMENT_AGENCIES, MANAGEMENT_WORDS, "management agency type"),
    "accessibility": ("accessibility", ACCESSIBILITY, ACCESSIBILITY_WORDS, "accessibility"),
}

# Indicators with a known kind. kind, choices (for "choice"), (low, high) range (for "number").
Kind = IndicatorValue.Kind
INDICATORS: dict[tuple[str, str], dict] = {
    ("wash", "water_source"): {
        "kind": Kind.CHOICE,
        "choices": [
            "piped",
            "borehole",
            "protected_well",
            "unprotected_well",
            "surface_water",
            "water_trucking",
            "other",
        ],
    },
    ("wash", "water_litres_per_person_day"): {"kind": Kind.NUMBER, "range": (0, 1000)},
    ("wash", "functioning_latrines"): {"kind": Kind.NUMBER, "range": (0, 1_000_000)},
    ("wash", "handwashing_stations"): {"kind": Kind.BOOLEAN},
    ("wash", "open_defecation"): {"kind": Kind.BOOLEAN},
    ("food", "distribution_last_month"): {"kind": Kind.BOOLEAN},
    ("food", "main_source"): {
        "kind": Kind.CHOICE,
        "choices": ["distribution", "market", "own_production", "host_community", "none", "other"],
    },
    ("health", "facility_on_site"): {"kind": Kind.BOOLEAN},
    ("health", "facility_distance_km"): {"kind": Kind.NUMBER, "range": (0, 500)},
    ("health", "main_problem"): {
        "kind": Kind.CHOICE,
        "choices": [
            "malaria",
            "diarrhoea",
            "respiratory",
            "malnutrition",
            "measles",
            "cholera",
            "none",
            "other",
        ],
    },
    ("livelihoods", "main_activity"): {
        "kind": Kind.CHOICE,
        "choices": ["agriculture", "fishing", "daily_labour", "trade", "none", "other"],
    },
    ("protection", "safe_spaces"): {"kind": Kind.BOOLEAN},
    ("protection", "lighting"): {"kind": Kind.CHOICE, "choices": ["adequate", "partial", "none"]},
    ("protection", "gbv_referral"): {"kind": Kind.BOOLEAN},
    ("shelter", "main_type"): {
        "kind": Kind.CHOICE,
        "choices": ["tent", "makeshift", "mud_brick", "collective", "other"],
    },
    ("shelter", "households_without_shelter"): {"kind": Kind.NUMBER, "range": (0, 1_000_000)},
    ("communication", "main_source"): {
        "kind": Kind.CHOICE,
        "choices": ["radio", "phone", "community_leaders", "humanitarian_staff", "none", "other"],
    },
    ("education", "children_in_school_pct"): {"kind": Kind.NUMBER, "range": (0, 100)},
    ("site", "committee_exists"): {"kind": Kind.BOOLEAN},
}
YES = {"yes", "y", "true", "1", "sim", "s", "oui", "نعم"}
NO = {"no", "n", "false", "0", "nao", "non", "لا"}

GROUP_PREFIXES = {
    "idp": PopulationGroup.IDP,
    "ret_idp": PopulationGroup.RETURNEE_IDP,
    "ret_abr": PopulationGroup.RETURNEE_ABROAD,
    "mig": PopulationGroup.MIGRANT,
    "ref": PopulationGroup.REFUGEE,
    "host": PopulationGroup.HOST,
}
FIGURE_PARTS = ("households", "individuals", "males", "females")
EXPECTED_COLUMNS = {
    "site_code",
    "site_name",
    "latitude",
    "longitude",
    "admin1_code",
    "admin2_code",
    "admin3_code",
    "reporting_round",
    "reporting_date",
    "key_informants",
    "management_agency_name",
    *PROFILE_COLUMNS,
    *(f"{p}_{part}" for p in GROUP_PREFIXES for part in FIGURE_PARTS),
}


def indicator_kind(sector: str, indicator: str, values: list[str]) -> dict:
    """The catalogue entry of an indicator, or a kind guessed from the column's values."""
    known = INDICATORS.get((sector, indicator))
    if known:
        return known
    filled = [plain_text(v) for v in values if v.strip()]
    if filled and all(v in YES or v in NO for v in filled):
        return {"kind": Kind.BOOLEAN}
    try:
        [float(v.replace(",", ".")) for v in values if v.strip()]
    except ValueError:
        return {"kind": Kind.TEXT}
    return {"kind": Kind.NUMBER} if filled else {"kind": Kind.TEXT}


def indicator_value(sector: str, indicator: str, spec: dict, text: str) -> IndicatorRecord:
    """The typed value of a cell; ValueError with the row message when it does not fit the kind."""
    kind = spec["kind"]
    record = IndicatorRecord(sector=sector, indicator=indicator, kind=kind)
    if kind == Kind.NUMBER:
        try:
            value = float(text.replace(",", ".")) if text.count(",") == 1 and "." not in text else float(text)
        except ValueError:
            raise ValueError(ROW_NOT_NUMBER) from None
        if not math.isfinite(value):
            raise ValueError(ROW_NOT_NUMBER)
        low, high = spec.get("range", (None, None))
        if low is not None and not low <= value <= high:
            raise ValueError(ROW_OUT_OF_RANGE.format(low=low, high=high))
        record.value_number = value
    elif kind == Kind.BOOLEAN:
        key = plain_text(text) or text.strip()
        if key in YES:
            record.value_boolean = True
        elif key in NO:
            record.value_boolean = False
        else:
            raise ValueError(ROW_NOT_YES_NO)
    elif kind == Kind.CHOICE:
        key = plain_text(text).replace(" ", "_")
        if key not in spec["choices"]:
            raise ValueError(ROW_NOT_CHOICE.format(allowed=", ".join(spec["choices"])))
        record.value_text = key
    else:
        record.value_text = text.strip()[:500]
    return record


def vocabulary_value(text: str, vocabulary: dict, words: dict) -> str | None:
    key = plain_text(text)
    if not key:
        return ""
    underscored = key.replace(" ", "_")
    if underscored in vocabulary:
        return underscored
    labels = {plain_text(str(label)): code for code, label in vocabulary.items()}
    return words.get(key) or labels.get(key)


@dataclass
class SiteRow:
    row: int
    code: str
    name: str
    latitude: float | None
    longitude: float | None
    stated: dict[int, str]
    round_id: int
    round_number: int
    reporting_date: dt.date
    key_informants: int | None
    profile: dict
    figures: dict[str, dict]
    indicators: list[IndicatorRecord] = field(default_factory=list)


class SiteAssessmentImporter:
    kind = SITES_KIND
    label = _("Site assessments (multi-sectoral location assessment)")

    def read(self, *, job: ImportJob, progress) -> ReadResult:
        operation = job.operation
        if operation is None and job.profile.get("operation"):
            operation = Operation.objects.filter(pk=job.profile["operation"]).first()
        if operation is None:
            raise ImportFailed(SITES_NO_OPERATION)
        country = operation.country_iso3
        GazetteerCodes(country)  # refuses a country without a gazetteer, with its own message
        locator = AreaLocator(country)
        table = read_table(job_path(job), expected=EXPECTED_COLUMNS)
        columns = {c.lower(): c for c in table.columns}
        missing = [c for c in ("site_code", "site_name") if c not in columns]
        if missing:
            raise ImportFailed(
                SITES_MISSING_COLUMNS.format(columns=", ".join(missing), found=", ".join(table.columns))
            )
        indicator_columns: dict[str, tuple[str, str]] = {}
        header_errors = []
        for lowered in columns:
            if "." in lowered:
                sector, indicator = lowered.split(".", 1)
                if sector not in Sector.values:
                    header_errors.append(
                        SITES_BAD_SECTOR.format(
                            column=columns[lowered], sector=sector, allowed=", ".join(Sector.values)
                        )
                    )
                indicator_columns[lowered] = (sector, indicator.strip().replace(" ", "_"))
        if header_errors:
            raise ImportFailed(" ".join(header_errors))

        rounds = {
            r.number: r
            for r in Round.objects.filter(operation=operation)
            .exclude(status=Round.Status.SUPERSEDED)
            .order_by("number", "version")
        }
        default_round = job.profile.get("round")
        progress.start(table.total_rows, "reading")
        raw_rows = []
        for row_number, raw in table:
            values = {k.lower(): (v or "").strip() for k, v in raw.items()}
            if any(values.values()):
                raw_rows.append((row_number, values))
            progress.advance()
        specs = {
            column: indicator_kind(sector, indicator, [v.get(column, "") for _, v in raw_rows])
            for column, (sector, indicator) in indicator_columns.items()
        }
        errors: list[RowError] = []
        rows: list[SiteRow] = []
        seen: dict[tuple[str, int], int] = {}
        for row_number, values in raw_rows:
            row_errors: list[RowError] = []
            site = self._parse(
                row_number,
                values,
                operation,
                rounds,
                default_round,
                locator,
                indicator_columns,
                specs,
                row_errors,
            )
            if site is not None and not row_errors:
                key = (site.code, site.round_id)
                if key in seen:
                    row_errors.append(
                        RowError(
                            row_number,
                            "site_code",
                            ROW_SITE_TWICE.format(code=site.code, number=site.round_number, first=seen[key]),
                            site.code,
                        )
                    )
                else:
                    seen[key] = row_number
                    rows.append(site)
            errors += row_errors
        return ReadResult(
            data={"operation_id": operation.pk, "rows": rows, "locator": locator},
            rows_read=len(raw_rows),
            errors=errors,
        )

    def _parse(
        self, row, values, operation, rounds, default_round, locator, indicator_columns, specs, errors
    ):
        code, name = values.get("site_code", ""), values.get("site_name", "")
        for column, value in (("site_code", code), ("site_name", name)):
            if not value:
                errors.append(RowError(row, column, ROW_REQUIRED))
        # When
        round_text = values.get("reporting_round", "") or str(default_round or "")
        round_ = None
        if not round_text:
            errors.append(RowError(row, "reporting_round", ROW_NO_ROUND))
        else:
            try:
                number = parse_count(round_text)
            except ValueError as exc:
                errors.append(RowError(row, "reporting_round", str(exc), round_text))
            else:
                round_ = rounds.get(number)
                if round_ is None:
                    errors.append(
                        RowError(
                            row,
                            "reporting_round",
                            ROW_ROUND_UNKNOWN.format(number=number, operation=operation.name),
                            round_text,
                        )
                    )
        reporting_date = round_.end_date if round_ else None
        if values.get("reporting_date"):
            try:
                reporting_date = parse_date(values["reporting_date"])
            except ValueError as exc:
                errors.append(RowError(row, "reporting_date", str(exc), values["reporting_date"]))
        # Where
        coords = {}
        for column, low, high in (("latitude", -90, 90), ("longitude", -180, 180)):
            text = values.get(column, "")
            coords[column] = None
            if text:
                try:
                    value = (
                        float(text.replace(",", "."))
                        if text.count(",") == 1 and "." not in text
                        else float(text)
                    )
                except ValueError:
                    errors.append(RowError(row, column, ROW_NOT_NUMBER, text))
                    continue
                if not math.isfinite(value) or not low <= value <= high:
                    errors.append(RowError(row, column, ROW_OUT_OF_RANGE.format(low=low, high=high), text))
                    continue
                coords[column] = value
        if (coords["latitude"] is None) != (coords["longitude"] is None) and not any(
            e.column in ("latitude", "longitude") for e in errors
        ):
            errors.append(RowError(row, "latitude", ROW_HALF_COORDINATES))
        stated = {n: values.get(f"admin{n}_code", "") for n in (1, 2, 3)}
        try:
            location_place(locator=locator, latitude=None, longitude=None, stated=stated)
        except ValidationError as exc:
            column = next(
                (f"admin{n}_code" for n in (3, 2, 1) if stated[n] and stated[n] in exc.messages[0]),
                "admin1_code",
            )
            errors.append(RowError(row, column, exc.messages[0], stated.get(int(column[5]), "")))
        # Profile
        profile = {}
        for column, (key, vocabulary, words, what) in PROFILE_COLUMNS.items():
            text = values.get(column, "")
            value = vocabulary_value(text, vocabulary, words)
            if value is None:
                errors.append(
                    RowError(
                        row, column, ROW_BAD_VOCABULARY.format(what=what, allowed=", ".join(vocabulary)), text
                    )
                )
            elif value:
                profile[key] = value
        if values.get("management_agency_name"):
            profile["management_agency_name"] = values["management_agency_name"][:200]
        key_informants = None
        if values.get("key_informants"):
            try:
                key_informants = parse_count(values["key_informants"])
            except ValueError as exc:
                errors.append(RowError(row, "key_informants", str(exc), values["key_informants"]))
        # Population
        figures: dict[str, dict] = {}
        for prefix, group in GROUP_PREFIXES.items():
            parts = {}
            for part in FIGURE_PARTS:
                column = f"{prefix}_{part}"
                try:
                    parts[part] = parse_count(values.get(column, ""))
                except ValueError as exc:
                    errors.append(RowError(row, column, str(exc), values.get(column, "")))
                    parts[part] = None
            bad_cell = any(e.column.startswith(f"{prefix}_") for e in errors)
            if all(v is None for v in parts.values()) or bad_cell:
                continue
            individuals = parts["individuals"]
            if individuals is None:
                errors.append(RowError(row, f"{prefix}_individuals", ROW_REQUIRED))
                continue
            if parts["households"] is not None and parts["households"] > individuals:
                errors.append(
                    RowError(
                        row,
                        f"{prefix}_households",
                        ROW_HOUSEHOLDS_EXCEED.format(households=parts["households"], individuals=individuals),
                        str(parts["households"]),
                    )
                )
            if (
                parts["males"] is not None
                and parts["females"] is not None
                and parts["males"] + parts["females"] > individuals
            ):
                errors.append(
                    RowError(
                        row,
                        f"{prefix}_males",
                        ROW_PARTS_EXCEED.format(
                            parts=parts["males"] + parts["females"], individuals=individuals
                        ),
                        str(parts["males"]),
                    )
                )
            figures[group] = parts
        if not figures and not any(e.column.endswith(FIGURE_PARTS) for e in errors):
            errors.append(RowError(row, "idp_individuals", ROW_NO_POPULATION))
        # Indicators
        indicators = []
        for column, (sector, indicator) in indicator_columns.items():
            text = values.get(column, "")
            if not text:
                continue
            try:
                indicators.append(indicator_value(sector, indicator, specs[column], text))
            except ValueError as exc:
                errors.append(RowError(row, column, str(exc), text))
        if errors or round_ is None:
            return None
        return SiteRow(
            row=row,
            code=code,
            name=name,
            latitude=coords["latitude"],
            longitude=coords["longitude"],
            stated=stated,
            round_id=round_.pk,
            round_number=round_.number,
            reporting_date=reporting_date,
            key_informants=key_informants,
            profile=profile,
            figures=figures,
            indicators=indicators,
        )

    def write(self, *, job: ImportJob, data, progress) -> Counts:
        operation = Operation.objects.get(pk=data["operation_id"])
        locator = data["locator"]
        locations: dict[str, Location] = {}
        site_counts = {"created": 0, "updated": 0, "unchanged": 0}
        # The latest round's row describes the site (its name and coordinates).
        for site in sorted(data["rows"], key=lambda s: (s.round_number, s.row)):
            location, outcome = location_save(
                code=site.code,
                type=Location.Type.SITE,
                name=site.name,
                country_iso3=operation.country_iso3,
                latitude=site.latitude,
                longitude=site.longitude,
                stated_admin1_code=site.stated[1],
                stated_admin2_code=site.stated[2],
                stated_admin3_code=site.stated[3],
                operation=operation,
                locator=locator,
                by=job.created_by,
                audit=False,
            )
            if site.code not in locations:
                site_counts[outcome] += 1
            locations[site.code] = location
        builder = RecordBuilder()
        for site in data["rows"]:
            location = locations[site.code]
            codes = {n: getattr(location, f"admin{n}_code") for n in (1, 2, 3)}
            level = max((n for n, c in codes.items() if c), default=0)
            record = builder.record(
                AssessmentRecord(
                    operation_id=operation.pk,
                    round_id=site.round_id,
                    assessment_type=AssessmentType.SITE,
                    place_key=site.code,
                    country_iso3=operation.country_iso3,
                    admin_level=level,
                    reporting_date=site.reporting_date,
                    admin1_code=codes[1],
                    admin2_code=codes[2] if level >= 2 else "",
                    admin3_code=codes[3] if level >= 3 else "",
                    location_id=location.pk,
                    provider_location_name=site.name[:200],
                    key_informants=site.key_informants,
                    site_profile=site.profile,
                    source="site-assessment",
                    source_ref=site.code,
                    indicators=site.indicators,
                    first_row=site.row,
                )
            )
            for group, parts in site.figures.items():
                builder.add_figure(record, population_group=group, **parts)
        counts = assessments_write(records=builder.results(), job=job, progress=progress)
        counts.summary["sites"] = site_counts
        return counts


def template_header() -> list[str]:
    """The columns of the downloadable site assessment template."""
    return [
        "site_code",
        "site_name",
        "latitude",
        "longitude",
        "admin1_code",
        "admin2_code",
        "reporting_round",
        "site_type",
        "management_agency",
        "management_agency_name",
        "accessibility",
        "idp_households",
        "idp_individuals",
        "idp_males",
        "idp_females",
        *(f"{sector}.{indicator}" for sector, indicator in INDICATORS),
    ]


register(SiteAssessmentImporter())

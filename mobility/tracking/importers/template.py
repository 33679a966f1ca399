"""Importer ``tracking.template``: CSV/XLSX in the project's own vocabulary, one row per place × population group.

job.profile = {"operation": ID, "round": NUMBER}. The columns are documented in
tracking/data/template_columns.csv and docs/tracking.md; the template is at /tracking/template.csv.
"""

from __future__ import annotations

from mobility.core.imports import Counts, ReadResult, RowError, job_path, register
from mobility.core.models import PopulationGroup
from mobility.core.sadd import AgeBands, Sadd
from mobility.core.tables import read_table

from ..models import AssessmentType
from ..profiles import (
    DATE_INVALID,
    NUMBER_INVALID,
    NUMBER_NEGATIVE,
    PLACE_MISSING,
    PREFIX_GROUP,
    PlaceResolver,
    context_for_job,
    parse_count,
    parse_date,
    reason_from_text,
    shelter_from_text,
)
from ..records import AssessmentRecord, BreakdownPart, RecordBuilder
from ..services import assessments_write

GROUP_UNKNOWN = '"{value}" is not a population group; use one of: {allowed}'
TYPE_UNKNOWN = '"{value}" is not an assessment type; use one of: {allowed}'
COUNTRY_UNKNOWN = '"{value}" is not the operation\'s country {country}'
DUPLICATE_ROW = "{place} / {group} already appears in row {first} with different figures"
INDIVIDUALS_REQUIRED = "individuals is required (the number of people this row counts)"
WARN_DUPLICATE_SAME = "{count} row(s) repeat an earlier row exactly and were counted once: rows {rows}"

PLACE_COLUMNS = [
    "location_code",
    "admin1_code",
    "admin1_name",
    "admin2_code",
    "admin2_name",
    "admin3_code",
    "admin3_name",
    "site_code",
    "site_name",
]
FIGURE_COLUMNS = ["population_group", "households", "individuals", "males", "females"]
DETAIL_COLUMNS = [
    "displacement_reason",
    "origin_admin1_code",
    "origin_admin2_code",
    "shelter_type",
    "reporting_date",
    "assessment_type",
    "key_informants",
]


def template_columns(bands: AgeBands | None = None) -> list[str]:
    """The template's header, in order (sex-age columns follow the operation's bands)."""
    bands = bands or AgeBands.default()
    sadd = [f"{sex}_{label}" for sex in ("female", "male") for label in bands.labels()]
    return PLACE_COLUMNS + FIGURE_COLUMNS + sadd + DETAIL_COLUMNS


def _group(value: str) -> str | None:
    text = value.strip()
    if text.upper() in PopulationGroup.values:
        return text.upper()
    key = text.lower().replace(" ", "_").replace("-", "_")
    return PREFIX_GROUP.get(key) or PREFIX_GROUP.get(key.rstrip("s"))


class TemplateImporter:
    kind = "tracking.template"
    label = "Tracking: assessments in the Mobility template (CSV/XLSX)"

    def read(self, *, job, progress) -> ReadResult:
        context = context_for_job(job)
        context.country_iso3 = context.operation.country_iso3
        bands = (
            AgeBands.parse(context.operation.age_bands) if context.operation.age_bands else AgeBands.default()
        )
        columns = template_columns(bands)
        table = read_table(job_path(job), expected=columns)
        resolver = PlaceResolver(country_iso3=context.country_iso3, job=job, operation=context.operation)
        builder = RecordBuilder()
        errors: list[RowError] = []
        seen: dict[tuple, tuple[int, tuple]] = {}
        repeated: list[int] = []
        rows_read = 0
        progress.start(table.total_rows, "reading")
        for number, raw in table:
            rows_read += 1
            progress.advance()
            values = {c: raw.get(c, "").strip() for c in columns}
            row_errors: list[RowError] = []

            def count(column, _v=values, _e=row_errors, _n=number):
                text = _v.get(column, "")
                try:
                    n = parse_count(text)
                except ValueError:
                    _e.append(RowError(_n, column, NUMBER_INVALID.format(value=text[:50]), text[:50]))
                    return None
                if n is not None and n < 0:
                    _e.append(RowError(_n, column, NUMBER_NEGATIVE.format(value=text[:50]), text[:50]))
                    return None
                return n

            group = _group(values["population_group"])
            if group is None:
                row_errors.append(
                    RowError(
                        number,
                        "population_group",
                        GROUP_UNKNOWN.format(
                            value=values["population_group"][:50], allowed=", ".join(PopulationGroup.values)
                        ),
                        values["population_group"][:50],
                    )
                )
            individuals = count("individuals")
            if individuals is None and not any(e.column == "individuals" for e in row_errors):
                row_errors.append(RowError(number, "individuals", INDIVIDUALS_REQUIRED))
            households, males, females = count("households"), count("males"), count("females")
            female = [count(f"female_{b}") for b in bands.labels()]
            male = [count(f"male_{b}") for b in bands.labels()]
            sadd = {}
            if individuals is not None and any(p is not None for p in female + male):
                parts = Sadd.build(total=individuals, bands=bands, female=female, male=male)
                problems = parts.problems()
                if problems:
                    row_errors.append(RowError(number, "female_/male_ columns", problems[0]))
                else:
                    sadd = {k: v for k, v in parts.as_dict().items() if k != "total"}
                    if parts.is_complete and males is None and females is None:
                        males, females = parts.male_total, parts.female_total
            atype = values["assessment_type"].upper() or AssessmentType.BASELINE_AREA
            if atype not in AssessmentType.values:
                row_errors.append(
                    RowError(
                        number,
                        "assessment_type",
                        TYPE_UNKNOWN.format(value=atype[:20], allowed=", ".join(AssessmentType.values)),
                        atype[:20],
                    )
                )
            country = values["location_code"].upper()
            if country and country != context.country_iso3:
                row_errors.append(
                    RowError(
                        number,
                        "location_code",
                        COUNTRY_UNKNOWN.format(value=country[:20], country=context.country_iso3),
                        country[:20],
                    )
                )
            try:
                reporting_date = parse_date(values["reporting_date"]) or context.round.end_date
            except ValueError:
                row_errors.append(
                    RowError(
                        number,
                        "reporting_date",
                        DATE_INVALID.format(value=values["reporting_date"][:50]),
                        values["reporting_date"][:50],
                    )
                )
                reporting_date = context.round.end_date
            depth = max(
                (lvl for lvl in (1, 2, 3) if values[f"admin{lvl}_code"] or values[f"admin{lvl}_name"]),
                default=0,
            )
            site = values["site_code"]
            if depth == 0 and not site:
                row_errors.append(
                    RowError(
                        number, "admin1_code", PLACE_MISSING.format(what="admin code, name or site code")
                    )
                )
                codes = {}
            else:
                codes, problems = resolver.resolve(values, depth) if depth else ({}, [])
                for column, value, message in problems:
                    row_errors.append(RowError(number, column, message, value[:50]))
            if row_errors:
                errors += row_errors
                continue
            place_key = site or codes.get(f"admin{depth}_code", "")
            reason_text = values["displacement_reason"]
            part = None
            if reason_text or values["origin_admin1_code"] or values["origin_admin2_code"]:
                part = BreakdownPart(
                    displacement_reason=reason_from_text(reason_text),
                    provider_reason=reason_text[:200],
                    origin_admin1_code=values["origin_admin1_code"][:32],
                    origin_admin2_code=values["origin_admin2_code"][:32],
                    individuals=individuals,
                    households=households,
                    males=males,
                    females=females,
                    source_ref=f"row {number}",
                )
            key = (atype, place_key, group, part.key() if part else None)
            signature = (
                individuals,
                households,
                males,
                females,
                tuple(sorted(sadd.items())),
                values["shelter_type"],
            )
            if key in seen:
                if seen[key][1] != signature:
                    errors.append(
                        RowError(
                            number,
                            "population_group",
                            DUPLICATE_ROW.format(place=place_key, group=group, first=seen[key][0]),
                            group,
                        )
                    )
                else:
                    repeated.append(number)
                continue
            seen[key] = (number, signature)
            record = builder.record(
                AssessmentRecord(
                    operation_id=context.operation.pk,
                    round_id=context.round.pk,
                    assessment_type=atype,
                    place_key=place_key[:64],
                    country_iso3=context.country_iso3,
                    admin_level=depth,
                    reporting_date=reporting_date,
                    admin1_code=codes.get("admin1_code", ""),
                    admin2_code=codes.get("admin2_code", ""),
                    admin3_code=codes.get("admin3_code", ""),
                    location_id=resolver.location_id(site) if site else None,
                    provider_admin1_name=values["admin1_name"][:200],
                    provider_admin2_name=values["admin2_name"][:200],
                    provider_admin3_name=values["admin3_name"][:200],
                    provider_location_name=values["site_name"][:200],
                    key_informants=count("key_informants"),
                    source="template",
                    source_ref=f"row {number}",
                    first_row=number,
                )
            )
            shelter = (
                {shelter_from_text(values["shelter_type"]): individuals} if values["shelter_type"] else None
            )
            builder.add_figure(
                record,
                population_group=group,
                individuals=individuals,
                households=households,
                males=males,
                females=females,
                sadd=sadd,
                shelter=shelter,
                part=part,
            )
        resolver.record_review()
        warnings = resolver.warnings()
        if repeated:
            warnings.append(
                WARN_DUPLICATE_SAME.format(count=len(repeated), rows=", ".join(map(str, repeated[:20])))
            )
        return ReadResult(data=builder.results(), rows_read=rows_read, errors=errors, warnings=warnings)

    def write(self, *, job, data, progress) -> Counts:
        return assessments_write(records=data, job=job, progress=progress)


register(TemplateImporter())

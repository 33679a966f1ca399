"""Importer ``tracking.template``: CSV/XLSX in the project's own vocabulary, one row per place × population group.

job.profile = {"operation": ID, "round": NUMBER}. The columns are documented in
tracking/data/template_columns.csv and docs/tracking.md; the template is at /tracking/template.csv.
A CSV of settings.TRACKING_FAST_IMPORT_ROWS rows or more (default 50,000) is first offered to
template_fast.read_fast (column-wise, polars); when it declines, the rows are read one by one here.
"""

from __future__ import annotations

from collections import Counter

from django.conf import settings

from mobility.core.imports import Counts, ReadResult, RowError, job_path, register
from mobility.core.models import PopulationGroup
from mobility.core.sadd import AgeBands, Sadd
from mobility.core.tables import read_table

from ..models import AssessmentType
from ..profiles import (
    DATE_INVALID,
    NUMBER_INVALID,
    NUMBER_NEGATIVE,
    NUMBER_TOO_LARGE,
    PLACE_MISSING,
    PREFIX_GROUP,
    CountTooLarge,
    PlaceResolver,
    context_for_job,
    count_checked,
    parse_count,
    parse_date,
    reason_from_text,
    shelter_from_text,
)
from ..records import AssessmentRecord, BreakdownPart, RecordBuilder
from ..services import assessments_write
from .template_fast import FAST_MIN_ROWS, read_fast

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


_GROUPS = frozenset(PopulationGroup.values)
_TYPES = frozenset(AssessmentType.values)
PROGRESS_EVERY = 1000  # rows between progress updates (each update costs a clock read)


def _group(value: str) -> str | None:
    text = value.strip()
    if text.upper() in _GROUPS:
        return text.upper()
    key = text.lower().replace(" ", "_").replace("-", "_")
    return PREFIX_GROUP.get(key) or PREFIX_GROUP.get(key.rstrip("s"))


def _count(text: str) -> int | None:
    """parse_count, with the common case (plain digits) taken first."""
    if not text:
        return None
    if text.isdigit() and text.isascii():
        return int(text)
    return parse_count(text)


class _Memo:
    """Results of pure text functions, computed once per distinct text (a file repeats few values)."""

    def __init__(self, fn):
        self.fn, self.seen = fn, {}

    def __call__(self, text):
        try:
            result = self.seen[text]
        except KeyError:
            try:
                result = self.fn(text)
            except ValueError as exc:
                result = exc
            self.seen[text] = result
        if isinstance(result, ValueError):
            raise result
        return result


class _ResolverCache:
    """PlaceResolver.resolve once per distinct place columns; repeats replay its counters and review list."""

    KEYS = ("admin1_code", "admin1_name", "admin2_code", "admin2_name", "admin3_code", "admin3_name")

    def __init__(self, resolver: PlaceResolver):
        self.resolver, self.seen = resolver, {}

    def resolve(self, values: dict[str, str], depth: int):
        key = (depth, *(values[k] for k in self.KEYS))
        hit = self.seen.get(key)
        r = self.resolver
        if hit is None:
            kept, replaced, reviewed = Counter(r.kept), Counter(r.replaced), len(r.review)
            codes, problems = r.resolve(values, depth)
            hit = self.seen[key] = (
                codes,
                problems,
                r.kept - kept,
                r.replaced - replaced,
                r.review[reviewed:],
            )
        else:
            codes, problems, kept, replaced, review = hit
            r.kept.update(kept)
            r.replaced.update(replaced)
            r.review.extend(review)
        return codes, problems


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
        resolver = PlaceResolver(country_iso3=context.country_iso3, job=job, operation=context.operation)
        places = _ResolverCache(resolver)
        group_of, date_of = _Memo(_group), _Memo(parse_date)
        reason_of, shelter_of = _Memo(reason_from_text), _Memo(shelter_from_text)
        fast = read_fast(
            path=job_path(job),
            columns=columns,
            bands=bands,
            country_iso3=context.country_iso3,
            round_end=context.round.end_date,
            operation_id=context.operation.pk,
            round_id=context.round.pk,
            places=places,
            group_of=group_of,
            date_of=date_of,
            reason_of=reason_of,
            shelter_of=shelter_of,
            types=_TYPES,
            default_type=AssessmentType.BASELINE_AREA,
            min_rows=getattr(settings, "TRACKING_FAST_IMPORT_ROWS", FAST_MIN_ROWS),
            progress=progress,
        )
        if fast is not None:
            records, rows_read = fast
            resolver.record_review()
            return ReadResult(data=records, rows_read=rows_read, errors=[], warnings=resolver.warnings())
        table = read_table(job_path(job), expected=columns)
        missing = dict.fromkeys((c for c in columns if c not in set(table.columns)), "")
        labels = bands.labels()
        female_columns = [f"female_{b}" for b in labels]
        male_columns = [f"male_{b}" for b in labels]
        allowed_groups = ", ".join(PopulationGroup.values)
        allowed_types = ", ".join(AssessmentType.values)
        operation_id, round_id = context.operation.pk, context.round.pk
        round_end = context.round.end_date
        builder = RecordBuilder()
        errors: list[RowError] = []
        seen: dict[tuple, tuple[int, tuple]] = {}
        repeated: list[int] = []
        rows_read = 0
        progress.start(table.total_rows, "reading")
        for number, values in table:
            rows_read += 1
            if rows_read % PROGRESS_EVERY == 0:
                progress.advance(PROGRESS_EVERY)
            if missing:
                values.update(missing)  # the table's cells are already stripped
            row_errors: list[RowError] = []

            def count(column, _v=values, _e=row_errors, _n=number):
                text = _v[column]
                try:
                    n = count_checked(_count(text), text)
                except CountTooLarge:
                    _e.append(RowError(_n, column, NUMBER_TOO_LARGE.format(value=text[:50]), text[:50]))
                    return None
                except ValueError:
                    _e.append(RowError(_n, column, NUMBER_INVALID.format(value=text[:50]), text[:50]))
                    return None
                if n is not None and n < 0:
                    _e.append(RowError(_n, column, NUMBER_NEGATIVE.format(value=text[:50]), text[:50]))
                    return None
                return n

            group = group_of(values["population_group"])
            if group is None:
                row_errors.append(
                    RowError(
                        number,
                        "population_group",
                        GROUP_UNKNOWN.format(value=values["population_group"][:50], allowed=allowed_groups),
                        values["population_group"][:50],
                    )
                )
            individuals = count("individuals")
            if individuals is None and not any(e.column == "individuals" for e in row_errors):
                row_errors.append(RowError(number, "individuals", INDIVIDUALS_REQUIRED))
            households, males, females = count("households"), count("males"), count("females")
            female = [count(c) for c in female_columns]
            male = [count(c) for c in male_columns]
            sadd = {}
            if individuals is not None and (
                any(p is not None for p in female) or any(p is not None for p in male)
            ):
                parts = Sadd.build(total=individuals, bands=bands, female=female, male=male)
                problems = parts.problems()
                if problems:
                    row_errors.append(RowError(number, "female_/male_ columns", problems[0]))
                else:
                    sadd = {k: v for k, v in parts.as_dict().items() if k != "total"}
                    if parts.is_complete and males is None and females is None:
                        males, females = parts.male_total, parts.female_total
            atype = values["assessment_type"].upper() or AssessmentType.BASELINE_AREA
            if atype not in _TYPES:
                row_errors.append(
                    RowError(
                        number,
                        "assessment_type",
                        TYPE_UNKNOWN.format(value=atype[:20], allowed=allowed_types),
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
                reporting_date = date_of(values["reporting_date"]) or round_end
            except ValueError:
                row_errors.append(
                    RowError(
                        number,
                        "reporting_date",
                        DATE_INVALID.format(value=values["reporting_date"][:50]),
                        values["reporting_date"][:50],
                    )
                )
                reporting_date = round_end
            key_informants = count("key_informants")
            if values["admin3_code"] or values["admin3_name"]:
                depth = 3
            elif values["admin2_code"] or values["admin2_name"]:
                depth = 2
            elif values["admin1_code"] or values["admin1_name"]:
                depth = 1
            else:
                depth = 0
            site = values["site_code"]
            if depth == 0 and not site:
                row_errors.append(
                    RowError(
                        number, "admin1_code", PLACE_MISSING.format(what="admin code, name or site code")
                    )
                )
                codes = {}
            else:
                codes, problems = places.resolve(values, depth) if depth else ({}, [])
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
                    displacement_reason=reason_of(reason_text),
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
                tuple(sorted(sadd.items())) if sadd else (),
                values["shelter_type"],
            )
            first = seen.get(key)
            if first is not None:
                if first[1] != signature:
                    errors.append(
                        RowError(
                            number,
                            "population_group",
                            DUPLICATE_ROW.format(place=place_key, group=group, first=first[0]),
                            group,
                        )
                    )
                else:
                    repeated.append(number)
                continue
            seen[key] = (number, signature)
            record = builder.record(
                AssessmentRecord(
                    operation_id=operation_id,
                    round_id=round_id,
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
                    key_informants=key_informants,
                    source="template",
                    source_ref=f"row {number}",
                    first_row=number,
                )
            )
            shelter = {shelter_of(values["shelter_type"]): individuals} if values["shelter_type"] else None
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
        progress.advance(rows_read % PROGRESS_EVERY)
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

"""Applying a profile to a workbook: p-code resolution, totals rows, records or row errors; preview and outline."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from django.core.exceptions import ValidationError

from mobility.core.imports import ReadResult, RowError
from mobility.core.models import Operation, PopulationGroup, Round
from mobility.core.sadd import Sadd
from mobility.core.tables import normalise_header

from ..records import AssessmentRecord, BreakdownPart, RecordBuilder
from .mapping import GROUP_PREFIX, LEVELS, PLACE_FIELDS, Profile, _place_fields, group_fields
from .messages import (
    DATE_INVALID,
    DUPLICATE_PLACE,
    NUMBER_INVALID,
    NUMBER_NEGATIVE,
    NUMBER_TOO_LARGE,
    OPERATION_MISSING,
    PCODE_UNMATCHED,
    PLACE_MISSING,
    ROUND_UNKNOWN,
    WARN_CODE_KEPT,
    WARN_PCODE_REPLACED,
    WARN_RENUMBERED,
    WARN_SADD_DROPPED,
    WARN_SITE_KEYED,
    WARN_TOTALS_SKIPPED,
)
from .parsing import (
    CountTooLarge,
    count_checked,
    normalise_column,
    parse_count,
    parse_date,
    reason_from_text,
    shelter_from_text,
)
from .store import round_for
from .suggest import column_suggestions
from .workbook import Sheet, detect_header, header_columns, hxl_like, mapped_table, workbook_sheets

DEFAULT_SKIP_PATTERN = (
    r"^\s*(grand\s*total|sous[\s-]*total|sub[\s-]*total|total(es|aux)?(\s+(general|général|result))?)\b"
)


# --- p-codes --------------------------------------------------------------------------------------


class PlaceResolver:
    """Checks admin codes against the current gazetteer and falls back to the names (see the module rule)."""

    def __init__(self, *, country_iso3: str, pcode_prefix: dict | None = None, job=None, operation=None):
        from mobility.gazetteer.matching import matcher_for
        from mobility.gazetteer.models import AdminArea, GazetteerVersion, Location

        self.country = country_iso3
        self.prefix = sorted((pcode_prefix or {}).items(), key=lambda kv: -len(kv[0]))
        self.job, self.operation = job, operation
        version = GazetteerVersion.objects.filter(country_iso3=country_iso3, is_current=True).first()
        if version is None:
            from mobility.gazetteer.matching import MATCH_NO_GAZETTEER

            raise ValidationError(MATCH_NO_GAZETTEER.format(country=country_iso3))
        self.max_level = max(
            AdminArea.objects.filter(version=version).values_list("level", flat=True).distinct() or [0]
        )
        self.matchers = {lvl: matcher_for(country_iso3, lvl) for lvl in range(1, min(self.max_level, 3) + 1)}
        self.locations = dict(Location.objects.filter(country_iso3=country_iso3).values_list("code", "pk"))
        self.review: list = []
        self.replaced: Counter = Counter()
        self.kept: Counter = Counter()

    def _known(self, code: str, level: int) -> str:
        matcher = self.matchers.get(level)
        if matcher is None or not code:
            return ""
        for candidate in [
            code,
            *(to + code[len(frm) :] for frm, to in self.prefix if code.upper().startswith(frm.upper())),
        ]:
            hit = matcher._pcode_upper.get(candidate.upper())
            if hit and matcher.areas[hit].level == level:
                return hit
        return ""

    def resolve(
        self, values: dict[str, str], depth: int
    ) -> tuple[dict[str, str], list[tuple[str, str, str]]]:
        """({adminN_code: code}, [(column field, value, message)]) for admin levels 1..depth."""
        codes: dict[str, str] = {}
        problems = []
        parent = ""
        for level in range(1, depth + 1):
            code = values.get(f"admin{level}_code", "")
            name = values.get(f"admin{level}_name", "")
            if level > min(self.max_level, 3):
                if code or name:
                    codes[f"admin{level}_code"] = code or ""
                    if code:
                        self.kept[level] += 1
                continue
            known = self._known(code, level)
            if known:
                codes[f"admin{level}_code"] = known
                parent = known
                continue
            if not name and not code:
                if level < depth:
                    continue  # a higher level left out; the deeper code carries the place
                problems.append(
                    (f"admin{level}_code", "", PLACE_MISSING.format(what=f"admin{level} code or name"))
                )
                break
            result = self.matchers[level].match(name or code, parent=parent or None)
            if result.matched:
                codes[f"admin{level}_code"] = result.pcode
                parent = result.pcode
                if code:
                    self.replaced[f"{code}→{result.pcode}"] += 1
                continue
            if result.needs_review:
                self.review.append(result)
            field_name = f"admin{level}_name" if name else f"admin{level}_code"
            problems.append(
                (field_name, name or code, PCODE_UNMATCHED.format(value=name or code, country=self.country))
            )
            break
        if not problems:
            # Higher levels left out: their codes come from the deepest area's parents, so the analytics
            # path of the row is whole (an empty admin1 or admin2 code would collide with its siblings').
            deepest = max((lvl for lvl in self.matchers if codes.get(f"admin{lvl}_code")), default=0)
            pcode = codes.get(f"admin{deepest}_code", "")
            if deepest > 1 and pcode in self.matchers[deepest].areas:
                for key, ancestor in self.matchers[deepest].codes_for(pcode).items():
                    codes.setdefault(key, ancestor)
        return codes, problems

    def location_id(self, code: str) -> int | None:
        return self.locations.get(code)

    def record_review(self) -> None:
        from mobility.gazetteer.services import review_record

        if self.review:
            review_record(
                results=self.review, country_iso3=self.country, import_job=self.job, operation=self.operation
            )

    def warnings(self) -> list[str]:
        out = []
        if self.replaced:
            total = sum(self.replaced.values())
            examples = ", ".join(list(self.replaced)[:5])
            out.append(WARN_PCODE_REPLACED.format(count=total, country=self.country, examples=examples))
        for level, count in sorted(self.kept.items()):
            out.append(WARN_CODE_KEPT.format(count=count, level=level, country=self.country))
        return out


# --- applying a profile ---------------------------------------------------------------------------


@dataclass
class ImportContext:
    operation: Operation
    round: Round
    country_iso3: str
    job: object = None
    record_review: bool = True


def _skip_patterns(profile: Profile) -> list[tuple[str, re.Pattern]]:
    rules = [
        (f, re.compile(DEFAULT_SKIP_PATTERN, re.I)) for f in PLACE_FIELDS if f.endswith(("_name", "_code"))
    ]
    rules += [(r.get("column", "*"), re.compile(r["matches"], re.I)) for r in profile.skip_rows_where]
    return rules


def _is_totals_row(values: dict[str, str], raw: dict[str, str], rules, place_code_field: str) -> bool:
    for fname, pattern in rules:
        texts = raw.values() if fname == "*" else [values.get(fname, "")]
        if any(t and pattern.search(t) for t in texts):
            return True
    # A row with numbers but no code for its place is a subtotal line.
    if (
        place_code_field
        and not values.get(place_code_field)
        and not any(values.get(f) for f in ("admin1_name", "admin2_name", "admin3_name", "site_name"))
    ):
        return any(values.get(f) for f in group_fields())
    return False


def profile_read(*, path: Path | str, profile: Profile, context: ImportContext, progress=None) -> ReadResult:
    """Map, validate and p-code every row of a workbook with a profile; records or row errors, never both."""
    table = mapped_table(workbook_sheets(path), profile)
    resolver = PlaceResolver(
        country_iso3=context.country_iso3,
        pcode_prefix=profile.pcode_prefix,
        job=context.job,
        operation=context.operation,
    )
    builder = RecordBuilder()
    errors: list[RowError] = []
    warnings: list[str] = []
    bands = profile.bands
    rules = _skip_patterns(profile)
    depth = 3 if profile.level == "site" else LEVELS[profile.level]
    code_field = "site_code" if profile.level == "site" else f"admin{depth}_code"
    if code_field not in profile.columns:
        code_field = ""
    first_row: dict[tuple, tuple[int, tuple]] = {}
    totals_rows: list[int] = []
    sadd_dropped: list[str] = []
    keyed_by_name: list[str] = []
    renumbered: list[str] = []
    if progress:
        progress.start(len(table.rows), "reading")
    default_date = _constant_date(profile) or context.round.end_date
    for number, raw in table.rows:
        if progress:
            progress.advance()
        values = {f: raw.get(normalise_header(c), "").strip() for f, c in profile.columns.items()}
        if not any(values.get(f) for f in group_fields()) and not any(
            values.get(f) for f in _place_fields(profile.level)
        ):
            continue
        if _is_totals_row(values, raw, rules, code_field):
            totals_rows.append(number)
            continue
        row_errors: list[RowError] = []

        def number_of(fname, _values=values, _errors=row_errors, _number=number, negative_ok=False):
            text = _values.get(fname, "")
            try:
                n = count_checked(parse_count(text), text)
            except CountTooLarge:
                _errors.append(
                    RowError(
                        _number, _column(profile, fname), NUMBER_TOO_LARGE.format(value=text[:50]), text[:50]
                    )
                )
                return None
            except ValueError:
                _errors.append(
                    RowError(
                        _number, _column(profile, fname), NUMBER_INVALID.format(value=text[:50]), text[:50]
                    )
                )
                return None
            if n is not None and n < 0 and not negative_ok:
                _errors.append(
                    RowError(
                        _number, _column(profile, fname), NUMBER_NEGATIVE.format(value=text[:50]), text[:50]
                    )
                )
                return None
            return n

        figures = {}
        for group, prefix in GROUP_PREFIX.items():
            hh = number_of(f"{prefix}_households")
            ind = number_of(f"{prefix}_individuals")
            if f"{prefix}_individuals" in profile.columns and ind is not None:
                figures[group] = (hh, ind)
        codes, problems = resolver.resolve(values, depth)
        for fname, value, message in problems:
            row_errors.append(RowError(number, _column(profile, fname), message, value[:50]))
        try:
            reporting_date = (
                parse_date(values.get("reporting_date"), day_first=profile.day_first) or default_date
            )
        except ValueError:
            row_errors.append(
                RowError(
                    number,
                    _column(profile, "reporting_date"),
                    DATE_INVALID.format(value=values["reporting_date"][:50]),
                    values["reporting_date"][:50],
                )
            )
            reporting_date = default_date
        admin_level = depth
        if profile.level == "site":
            admin_level = max((lvl for lvl in (1, 2, 3) if codes.get(f"admin{lvl}_code")), default=0)
            place_key = values.get("site_code", "")
            if not place_key and values.get("site_name") and admin_level:
                # Sub-areas without a code (Burundi's collines): keyed by their area and name.
                place_key = site_key(codes[f"admin{admin_level}_code"], values["site_name"])
                keyed_by_name.append(place_key)
            if not place_key:
                row_errors.append(
                    RowError(
                        number, _column(profile, "site_code"), PLACE_MISSING.format(what="site code or name")
                    )
                )
        else:
            place_key = codes.get(f"admin{depth}_code", "")
        sadd, males, females = {}, number_of("idp_males"), number_of("idp_females")
        sadd_columns = [f for f in profile.columns if f.startswith(("idp_female_", "idp_male_"))]
        if sadd_columns and PopulationGroup.IDP in figures:
            # Negative parts are a sex-age problem (core.sadd), handled by the profile's sadd_mismatch.
            female = [number_of(f"idp_female_{b}", negative_ok=True) for b in bands.labels()]
            male = [number_of(f"idp_male_{b}", negative_ok=True) for b in bands.labels()]
            parts = Sadd.build(total=figures[PopulationGroup.IDP][1], bands=bands, female=female, male=male)
            problems = parts.problems() if any(p is not None for p in parts.parts) else []
            if problems and profile.sadd_mismatch == "error":
                row_errors.append(RowError(number, "idp sex and age", problems[0]))
            elif problems:
                sadd_dropped.append(f"row {number}: {problems[0]}")
            elif any(p is not None for p in parts.parts):
                sadd = {k: v for k, v in parts.as_dict().items() if k != "total"}
                if males is None and parts.is_complete:
                    males, females = parts.male_total, parts.female_total
        if row_errors:
            errors += row_errors
            continue
        if not figures:
            continue
        record = AssessmentRecord(
            operation_id=context.operation.pk,
            round_id=context.round.pk,
            assessment_type=profile.assessment_type,
            place_key=place_key[:64],
            country_iso3=context.country_iso3,
            admin_level=admin_level,
            reporting_date=reporting_date,
            admin1_code=codes.get("admin1_code", ""),
            admin2_code=codes.get("admin2_code", ""),
            admin3_code=codes.get("admin3_code", ""),
            location_id=resolver.location_id(place_key) if profile.level == "site" else None,
            provider_admin1_name=values.get("admin1_name", "")[:200],
            provider_admin2_name=values.get("admin2_name", "")[:200],
            provider_admin3_name=values.get("admin3_name", "")[:200],
            provider_location_name=values.get("site_name", "")[:200],
            key_informants=number_of("key_informants"),
            source=f"profile:{profile.name}"[:64],
            source_ref=f"row {number}",
            first_row=number,
        )
        signature = tuple(sorted((g, f) for g, f in figures.items()))
        seen = first_row.get(record.identity())
        if seen is not None and profile.duplicates == "number" and seen[1] != signature:
            # Two places share a code in the workbook: both are counted, the later one numbered.
            n = 2
            while first_row.get((*record.identity()[:2], f"{place_key}~{n}")):
                n += 1
            record.place_key = f"{place_key}~{n}"[:64]
            renumbered.append(f"row {number}: {place_key} → {record.place_key}")
            seen = None
        if seen is not None and profile.duplicates in ("error", "number"):
            if seen[1] != signature:
                errors.append(
                    RowError(
                        number,
                        _column(profile, code_field or "site_code"),
                        DUPLICATE_PLACE.format(place=place_key, first=seen[0]),
                        place_key,
                    )
                )
            continue
        first_row.setdefault(record.identity(), (number, signature))
        record = builder.record(record)
        reason_text = values.get("displacement_reason", "")
        for group, (hh, ind) in figures.items():
            is_idp = group == PopulationGroup.IDP
            part = None
            if is_idp and (
                reason_text or values.get("origin_admin1_name") or values.get("origin_admin1_code")
            ):
                part = BreakdownPart(
                    displacement_reason=reason_from_text(reason_text),
                    provider_reason=reason_text[:200],
                    origin_admin1_code=values.get("origin_admin1_code", "")[:32],
                    origin_admin1_name=values.get("origin_admin1_name", "")[:200],
                    origin_admin2_code=values.get("origin_admin2_code", "")[:32],
                    origin_admin2_name=values.get("origin_admin2_name", "")[:200],
                    individuals=ind,
                    households=hh,
                    source_ref=f"row {number}",
                )
            shelter = (
                {shelter_from_text(values["shelter_type"]): ind}
                if is_idp and values.get("shelter_type")
                else None
            )
            builder.add_figure(
                record,
                population_group=group,
                individuals=ind,
                households=hh,
                males=males if is_idp else None,
                females=females if is_idp else None,
                sadd=sadd if is_idp else None,
                shelter=shelter,
                part=part,
            )
    if context.record_review:
        resolver.record_review()
    if totals_rows:
        warnings.append(
            WARN_TOTALS_SKIPPED.format(count=len(totals_rows), rows=", ".join(map(str, totals_rows[:20])))
        )
    if sadd_dropped:
        warnings.append(WARN_SADD_DROPPED.format(count=len(sadd_dropped), first=sadd_dropped[0]))
    if renumbered:
        warnings.append(WARN_RENUMBERED.format(count=len(renumbered), examples="; ".join(renumbered[:5])))
    if keyed_by_name:
        warnings.append(WARN_SITE_KEYED.format(count=len(keyed_by_name), example=keyed_by_name[0]))
    warnings += resolver.warnings()
    records = builder.results()
    return ReadResult(data=records, rows_read=len(table.rows), errors=errors, warnings=warnings)


def site_key(area_code: str, name: str) -> str:
    """A stable key for a sub-area that has no code of its own: its area's p-code and its plain name."""
    return f"{area_code}:{normalise_column(name).upper().replace(' ', '-')}"[:64]


def _column(profile: Profile, fname: str) -> str:
    return profile.columns.get(fname, fname)


def _constant_date(profile: Profile) -> dt.date | None:
    value = profile.constants.get("reporting_date")
    return parse_date(value) if value else None


def records_totals(records: list[AssessmentRecord]) -> dict[str, int]:
    """Individuals per population group over the records (what a preview shows)."""
    totals: Counter = Counter()
    for record in records:
        for group, figure in record.figures.items():
            totals[group] += figure.individuals
    return dict(totals)


# --- outline (before anything is mapped) --------------------------------------------------------


def workbook_outline(path: Path | str, *, sheet: str | None = None) -> dict:
    """What the mapping page shows before anything is mapped: sheets, chosen sheet, header row, columns, suggestions."""
    sheets = workbook_sheets(path)
    chosen = next((s for s in sheets if s.name == sheet), None) if sheet else None
    if chosen is None:
        # The sheet whose header resembles the vocabulary most.
        def fit(s: Sheet) -> float:
            if not s.rows:
                return -1
            header = detect_header(s.rows)
            return len(column_suggestions(header_columns(s.rows[header - 1]))) + len(s.rows) / 1e6

        chosen = max(sheets, key=fit)
    header = detect_header(chosen.rows) if chosen.rows else 1
    return outline_at(chosen, header, [s.name for s in sheets])


def outline_at(sheet: Sheet, header: int, sheet_names: list[str]) -> dict:
    """The outline of one sheet read with a given header row."""
    columns = header_columns(sheet.rows[header - 1]) if sheet.rows else []
    data = [r for r in sheet.rows[header : header + 30] if any(r) and not hxl_like(r)]
    samples = {c: [r[i] if i < len(r) else "" for r in data] for i, c in enumerate(columns)}
    suggestions = column_suggestions(columns, samples=samples)
    level = next(
        (
            lvl
            for lvl, f in (("site", "site_code"), ("admin3", "admin3_code"), ("admin2", "admin2_code"))
            if f in suggestions
        ),
        "admin1" if "admin1_code" in suggestions else "admin2",
    )
    if level != "site" and "site_name" in suggestions and "admin3_code" not in suggestions:
        level = "site"
    return {
        "sheets": sheet_names,
        "sheet": sheet.name,
        "header_row": header,
        "columns": columns,
        "suggestions": suggestions,
        "level": level,
        "data_rows": max(0, len(sheet.rows) - header),
    }


# --- jobs and preview -----------------------------------------------------------------------------


def context_for_job(job) -> ImportContext:
    """Operation, round and country of an import job from job.profile {"operation", "round"}."""
    params = job.profile or {}
    operation = job.operation
    if params.get("operation"):
        operation = (
            Operation.objects.filter(pk=params["operation"]).first()
            or Operation.objects.filter(slug=str(params["operation"])).first()
            or Operation.objects.filter(name=str(params["operation"])).first()
        )
    if operation is None:
        raise ValidationError(OPERATION_MISSING)
    if not params.get("round"):
        raise ValidationError(ROUND_UNKNOWN.format(operation=operation.name, number="(none given)"))
    round_ = round_for(operation, params["round"])
    return ImportContext(operation=operation, round=round_, country_iso3="", job=job)


PREVIEW_ROWS = 10


def profile_preview(path: Path | str, profile: Profile, *, limit: int = PREVIEW_ROWS) -> dict:
    """What the mapping page shows: the first mapped rows, totals per mapped figure, and skipped totals rows.

    No p-code is checked here (that needs the operation's gazetteer and happens on import).
    """
    table = mapped_table(workbook_sheets(path), profile)
    rules = _skip_patterns(profile)
    code_field = "site_code" if profile.level == "site" else f"admin{LEVELS[profile.level]}_code"
    if code_field not in profile.columns:
        code_field = ""
    figure_fields = [f for f in group_fields() if f in profile.columns]
    totals: Counter = Counter({f: 0 for f in figure_fields})
    rows, skipped, bad, places = [], [], 0, 0
    for number, raw in table.rows:
        values = {f: raw.get(normalise_header(c), "").strip() for f, c in profile.columns.items()}
        if not any(values.get(f) for f in figure_fields) and not any(
            values.get(f) for f in _place_fields(profile.level)
        ):
            continue
        if _is_totals_row(values, raw, rules, code_field):
            skipped.append(number)
            continue
        places += 1
        for f in figure_fields:
            try:
                totals[f] += parse_count(values.get(f)) or 0
            except ValueError:
                bad += 1
        if len(rows) < limit:
            rows.append((number, [values.get(f, "") for f in profile.columns]))
    return {
        "sheet": table.sheet,
        "header_row": table.header_row,
        "fields": list(profile.columns),
        "rows": rows,
        "totals": dict(totals),
        "places": places,
        "skipped": skipped,
        "unreadable_numbers": bad,
    }

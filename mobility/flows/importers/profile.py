"""Importer ``flows.profile``: a flow-monitoring workbook read through a source profile.

job.profile = {"operation": ID or slug, "source_profile": NAME, "mapping": {the profile's JSON}}

The mapping is kept in the job (the CLI and the upload form put it there), so a run can be
repeated, and its profile reused, even after the shipped profile changed. Each source row is
mapped to the template's vocabulary (``profiles.RowMapper``) and then checked by the template's
own row parser (``counts.count_parse``, through its many-row form ``CountParser``): a workbook read through a profile is held to exactly the
rules of a template file. Errors name the sheet's own column, e.g.
``row 14, column Family size / Total Households (Entry Sheet): "-3" is negative``.

FMPs the profile declares under ``points`` and the operation does not have yet are registered in
the same transaction as the counts.
"""

from __future__ import annotations

from collections import defaultdict

from django.utils.translation import gettext_lazy as _

from mobility.core.imports import Counts, ImportFailed, ReadResult, RowError, job_path, register
from mobility.core.models import Operation

from ..counts import CountParser, counts_write
from ..models import FlowMonitoringPoint
from ..points import points_write
from ..profiles import WARN_SKIPPED, RowMapper, profile_mapping, profile_validate, short_rows, workbook_sheets
from .points import _Gazetteers, job_operation, point_parse

KIND = "flows.profile"

PROFILE_MISSING = _(
    "Say which source profile reads the file (--profile NAME, or choose one on the upload form)."
)
PROFILE_OTHER_COUNTRY = _(
    'The profile "{profile}" reads {country} flow monitoring; the operation "{operation}" is for {operation_country}.'
)
PROFILE_POINT_BROKEN = _("The profile declares point {code} wrongly: {problem}")


def _point_values(point: dict) -> dict[str, str]:
    out = {}
    for key, value in point.items():
        if isinstance(value, list):
            value = ";".join(str(v) for v in value)
        out[key] = "" if value is None else str(value)
    return out


class FlowProfileImporter:
    kind = KIND
    label = "Flows: a flow-monitoring workbook through a source profile"

    def read(self, *, job, progress) -> ReadResult:
        operation = job_operation(job)
        settings = job.profile or {}
        mapping = settings.get("mapping")
        if not mapping:
            if not settings.get("source_profile"):
                raise ImportFailed(str(PROFILE_MISSING))
            _name, mapping = profile_mapping(str(settings["source_profile"]))
        profile = profile_validate(mapping, name=str(settings.get("source_profile") or ""))
        if profile.country and profile.country != operation.country_iso3:
            raise ImportFailed(
                str(
                    PROFILE_OTHER_COUNTRY.format(
                        profile=profile.name,
                        country=profile.country,
                        operation=operation,
                        operation_country=operation.country_iso3,
                    )
                )
            )
        fmps = dict(FlowMonitoringPoint.objects.filter(operation=operation).values_list("code", "pk"))
        # Points the profile declares and the operation lacks: registered by write(); until then
        # they stand in the row values under a negative placeholder id.
        new_points = []
        gazetteers = _Gazetteers()
        for point in profile.points:
            if point["code"] in fmps:
                continue
            parsed, problems = point_parse(
                _point_values(point), row=0, operation=operation, gazetteers=gazetteers
            )
            if parsed is None:
                raise ImportFailed(
                    str(
                        PROFILE_POINT_BROKEN.format(
                            code=point["code"],
                            problem="; ".join(f"{e.column}: {e.message}" for e in problems),
                        )
                    )
                )
            new_points.append(parsed)
            fmps[parsed.code] = -len(new_points)
        sheets = workbook_sheets(job_path(job), profile)
        progress.start(sum(s.total for s in sheets), "reading")
        mapper = RowMapper(profile)
        parser = CountParser(fmps)
        rows: list[dict] = []
        errors: list[RowError] = []
        skipped: dict[str, list[int]] = defaultdict(list)
        read = 0
        for sheet in sheets:
            for src in sheet.rows:
                progress.advance()
                if mapper.skip(src):
                    skipped[sheet.spec.sheet].append(src.row)
                    continue
                read += 1
                mapped = mapper.map(src)
                values, row_errors = parser.parse(mapped.raw, row=src.row)
                errors += mapped.errors
                for error in row_errors:
                    # Name the workbook's own column, and the sheet (row numbers repeat across sheets).
                    error.column = mapped.sources.get(error.column) or f"{error.column} ({sheet.spec.sheet})"
                    errors.append(error)
                if values is not None and not mapped.errors:
                    rows.append(values)
        warnings = [
            str(
                WARN_SKIPPED.format(
                    sheet=sheet_name,
                    count=len(numbers),
                    columns=" / ".join(profile.skip_rows_without),
                    rows=short_rows(numbers),
                )
            )
            for sheet_name, numbers in skipped.items()
        ] + mapper.warnings()
        return ReadResult(
            data={"operation": operation.pk, "rows": rows, "points": new_points, "profile": profile.name},
            rows_read=read,
            errors=errors,
            warnings=warnings,
        )

    def write(self, *, job, data, progress) -> Counts:
        operation = Operation.objects.get(pk=data["operation"])
        placeholders: dict[int, int] = {}
        if data["points"]:
            points_write(operation=operation, rows=data["points"])
            ids = dict(
                FlowMonitoringPoint.objects.filter(
                    operation=operation, code__in=[p.code for p in data["points"]]
                ).values_list("code", "pk")
            )
            placeholders = {-(i + 1): ids[p.code] for i, p in enumerate(data["points"])}
        rows = data["rows"]
        if placeholders:
            for row in rows:
                if row["fmp_id"] < 0:
                    row["fmp_id"] = placeholders[row["fmp_id"]]
        counts = counts_write(operation=operation, rows=rows, job=job, progress=progress)
        counts.summary = {
            **(counts.summary or {}),
            "profile": data["profile"],
            "points_created": len(data["points"]),
        }
        return counts


register(FlowProfileImporter())

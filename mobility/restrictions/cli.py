"""Subcommands of `mobility restrictions`: thin wrappers over the services and selectors.

Each class is a subcommand (HELP, EXAMPLE, add_arguments, handle), registered in
management/commands/restrictions.py. Queries print CSV on stdout, so an officer can pipe or save them.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from mobility.core.command import import_file
from mobility.core.models import Operation
from mobility.core.tables import neutralise

from . import selectors, services
from .api import POINT_FIELDS
from .models import AffectedGroup, Measure, OperationalStatus, RestrictionType
from .selectors import Audience

KINDS = {
    "points": "restrictions.points",
    "statuses": "restrictions.statuses",
    "cobap": "restrictions.cobap",
    "wfp": "restrictions.wfp",
}
OPERATION_UNKNOWN = "No operation {slug!r}; see `mobility operations list`."
DATE_INVALID = "{value!r} is not a date (YYYY-MM-DD)."
FILE_MISSING = "No such file: {path}"
PROFILE_BROKEN = "The profile {path} is not valid JSON: {reason}"

# The API's columns, less the free-text notes (a terminal table stays readable).
AS_OF_FIELDS = [f for f in POINT_FIELDS if f != "notes"]
CHANGE_FIELDS = [
    "operation",
    "code",
    "name",
    "effective_from",
    "status",
    "previous_status",
    "restriction",
    "affected_groups",
    "measures",
    "daily_inflow",
    "daily_outflow",
    "changed_fields",
    "correction",
    "published",
    "source",
    "notes",
]
RESTRICTING_FIELDS = [
    "imposing_iso3",
    "imposing_name",
    "target_iso3",
    "as_of",
    "kind",
    "kinds",
    "via",
    "sources",
    "source_refs",
]
CHANGED_FIELDS = [
    "imposing_iso3",
    "imposing_name",
    "target_iso3",
    "date_from",
    "date_to",
    "kind_before",
    "kind_after",
    "change",
]


def _operation(command, slug: str | None) -> Operation | None:
    if not slug:
        return None
    operation = Operation.objects.filter(slug=slug).first()
    if operation is None:
        command.fail(OPERATION_UNKNOWN.format(slug=slug))
    return operation


def _date(command, value: str | None, default: dt.date | None = None) -> dt.date | None:
    if not value:
        return default
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        command.fail(DATE_INVALID.format(value=value))


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple | set):
        return ";".join(str(v) for v in value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def write_csv(command, rows: list[dict], fields: list[str]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")  # RFC 4180: a CR inside a value is quoted too
    writer.writerow(fields)
    for row in rows:
        writer.writerow([neutralise(_cell(row.get(f))) for f in fields])
    command.stdout.write(buffer.getvalue(), ending="")


def _audience(published_only: bool) -> Audience:
    return Audience.public() if published_only else Audience.internal()


class ImportCommand:
    HELP = "Import points of entry, a status history, or travel restrictions (COBAP, WFP) into an operation."
    EXAMPLE = (
        "mobility restrictions import statuses poe_status_history.csv --operation mozambique-cabo-delgado"
    )

    @staticmethod
    def add_arguments(parser):
        parser.add_argument("kind", choices=sorted(KINDS), help="what the file holds")
        parser.add_argument("file", help="CSV or XLSX file")
        parser.add_argument("--operation", required=True, help="operation slug")
        parser.add_argument("--profile", help="a JSON source profile replacing the shipped one (cobap, wfp)")
        parser.add_argument("--publish", action="store_true", help="publish what the import stored")
        parser.add_argument("--quiet", action="store_true", help="no progress bar")

    @staticmethod
    def handle(command, *, kind, file, operation, profile=None, publish=False, quiet=False, **options):
        path = Path(file)
        if not path.exists():
            command.fail(FILE_MISSING.format(path=path))
        op = _operation(command, operation)
        job_profile = {}
        if profile:
            try:
                job_profile["source_profile"] = json.loads(Path(profile).read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as exc:
                command.fail(PROFILE_BROKEN.format(path=profile, reason=exc))
        job = import_file(
            command,
            kind=KINDS[kind],
            path=path,
            label=f"restrictions {kind}",
            quiet=quiet,
            operation=op,
            profile=job_profile,
        )
        summary = job.summary or {}
        if kind == "cobap":
            command.stdout.write(
                f"policies imported {summary.get('policies_imported', 0)} of {summary.get('policies_read', 0)}; "
                f"restrictions {summary.get('restrictions', 0)} (countries {summary.get('targets_country', 0)}, "
                f"regions {summary.get('targets_region', 0)}, all {summary.get('targets_all', 0)}); "
                f"country names matched {summary.get('names_matched', 0)}, "
                f"unmatched {summary.get('names_unmatched', 0)} "
                f"({len(summary.get('unmatched_names', {}))} distinct)"
            )
        if kind == "statuses":
            command.stdout.write(f"corrections {summary.get('corrections', 0)}")
        for warning in summary.get("warnings", []):
            command.stdout.write(f"warning: {warning}")
        if publish:
            if kind == "points":
                command.stdout.write(
                    "points have no draft state: publish their statuses (import statuses --publish)"
                )
            elif kind == "statuses":
                count = services.statuses_publish(operation=op, job=job)
                command.stdout.write(f"published {count} status record(s)")
            else:
                count = services.travel_publish(operation=op, source=kind)
                command.stdout.write(f"published {count} travel restriction(s)")


class StatusCommand:
    HELP = "Record one status change of a point of entry (a new record; the same date again is a correction)."
    EXAMPLE = (
        "mobility restrictions status --operation mozambique-cabo-delgado --poe MOZ-RG --date 2026-03-01 "
        "--status partial --restriction entry --groups irregular_migrants --measures 'medical_screening;testing'"
    )

    @staticmethod
    def add_arguments(parser):
        parser.add_argument("--operation", required=True, help="operation slug")
        parser.add_argument("--poe", required=True, help="point of entry code")
        parser.add_argument("--date", required=True, help="effective from (YYYY-MM-DD)")
        parser.add_argument("--status", required=True, choices=OperationalStatus.values)
        parser.add_argument("--restriction", default=RestrictionType.NONE, choices=RestrictionType.values)
        parser.add_argument(
            "--groups", default="", help=f"semicolon list of {', '.join(AffectedGroup.values)}"
        )
        parser.add_argument("--measures", default="", help=f"semicolon list of {', '.join(Measure.values)}")
        parser.add_argument("--inflow", type=int, help="estimated daily inflow")
        parser.add_argument("--outflow", type=int, help="estimated daily outflow")
        parser.add_argument("--notes", default="")
        parser.add_argument("--source", default="")
        parser.add_argument("--publish", action="store_true", help="publish the record at once")

    @staticmethod
    def handle(command, *, operation, poe, date, status, restriction, groups, measures, **options):
        op = _operation(command, operation)
        day = _date(command, date)
        try:
            point = services.poe_get(operation=op, code=poe)
            record, created = services.status_record(
                poe=point,
                effective_from=day,
                status=status,
                restriction=restriction,
                affected_groups=[g.strip() for g in groups.split(";") if g.strip()],
                measures=[m.strip() for m in measures.split(";") if m.strip()],
                daily_inflow=options.get("inflow"),
                daily_outflow=options.get("outflow"),
                notes=options.get("notes", ""),
                source=options.get("source", ""),
                publish=options.get("publish", False),
            )
        except (ValidationError, PermissionDenied) as exc:
            command.fail("; ".join(getattr(exc, "messages", [str(exc)])))
        state = "recorded" if created else "unchanged (the same record exists)"
        command.stdout.write(
            f"{state}: {point.code} {record.status} from {record.effective_from.isoformat()} "
            f"(record {record.pk}{', published' if record.published else ', draft'})"
        )


class AsOfCommand:
    HELP = "Print the status of every point of entry on a date, as CSV (drafts included unless --published-only)."
    EXAMPLE = (
        "mobility restrictions as-of --operation mozambique-cabo-delgado --date 2026-01-15 > statuses.csv"
    )

    @staticmethod
    def add_arguments(parser):
        parser.add_argument("--operation", help="operation slug (all operations when not given)")
        parser.add_argument("--date", help="the date (YYYY-MM-DD; today when not given)")
        parser.add_argument("--published-only", action="store_true", help="what the public sees")

    @staticmethod
    def handle(command, *, operation=None, date=None, published_only=False, **options):
        op = _operation(command, operation)
        day = _date(command, date, timezone.localdate())
        pairs = selectors.points_as_of(day=day, audience=_audience(published_only), operation=op)
        write_csv(command, [selectors.point_status_row(p, s, day) for p, s in pairs], AS_OF_FIELDS)


class RestrictingCommand:
    HELP = (
        "Which countries restrict entry from a country on a date (CSV); with --compare, what changed since."
    )
    EXAMPLE = "mobility restrictions restricting --country MOZ --date 2020-04-15 --compare 2020-03-01"

    @staticmethod
    def add_arguments(parser):
        parser.add_argument("--country", required=True, help="ISO3 of the travellers' country")
        parser.add_argument("--date", help="the date (YYYY-MM-DD; today when not given)")
        parser.add_argument("--compare", help="an earlier date: print the changes between it and --date")
        parser.add_argument("--operation", help="operation slug (all operations when not given)")
        parser.add_argument("--source", help="only this source (cobap, wfp, manual)")
        parser.add_argument("--published-only", action="store_true", help="what the public sees")

    @staticmethod
    def handle(command, *, country, date=None, compare=None, operation=None, source=None, **options):
        op = _operation(command, operation)
        day = _date(command, date, timezone.localdate())
        audience = _audience(options.get("published_only", False))
        if compare:
            rows = selectors.restricting_changes(
                iso3=country,
                day_from=_date(command, compare),
                day_to=day,
                audience=audience,
                operation=op,
                source=source,
            )
            write_csv(command, rows, CHANGED_FIELDS)
            return
        rows = selectors.restricting_countries(
            iso3=country, day=day, audience=audience, operation=op, source=source
        )
        write_csv(command, rows, RESTRICTING_FIELDS)


class ChangesCommand:
    HELP = "Print the change log of point-of-entry statuses (newest first, what changed), as CSV."
    EXAMPLE = "mobility restrictions changes --operation mozambique-cabo-delgado --from 2026-01-01"

    @staticmethod
    def add_arguments(parser):
        parser.add_argument("--operation", help="operation slug (all operations when not given)")
        parser.add_argument("--poe", help="one point's code")
        parser.add_argument("--from", dest="date_from", help="records effective on or after (YYYY-MM-DD)")
        parser.add_argument("--to", dest="date_to", help="records effective on or before (YYYY-MM-DD)")
        parser.add_argument("--published-only", action="store_true", help="what the public sees")

    @staticmethod
    def handle(command, *, operation=None, poe=None, date_from=None, date_to=None, **options):
        rows = selectors.status_change_log(
            audience=_audience(options.get("published_only", False)),
            operation=_operation(command, operation),
            poe_code=poe,
            date_from=_date(command, date_from),
            date_to=_date(command, date_to),
        )
        write_csv(command, rows, CHANGE_FIELDS)


class CountsCommand:
    HELP = "Print how many points were open, partially open, closed (or had no status) on each day, as CSV."
    EXAMPLE = (
        "mobility restrictions counts --operation mozambique-cabo-delgado --from 2026-01-01 --to 2026-03-31"
    )

    @staticmethod
    def add_arguments(parser):
        parser.add_argument("--operation", help="operation slug (all operations when not given)")
        parser.add_argument("--from", dest="date_from", required=True, help="first day (YYYY-MM-DD)")
        parser.add_argument("--to", dest="date_to", help="last day (YYYY-MM-DD; today when not given)")
        parser.add_argument("--published-only", action="store_true", help="what the public sees")

    @staticmethod
    def handle(command, *, operation=None, date_from, date_to=None, **options):
        rows = selectors.status_counts_by_day(
            date_from=_date(command, date_from),
            date_to=_date(command, date_to, timezone.localdate()),
            audience=_audience(options.get("published_only", False)),
            operation=_operation(command, operation),
        )
        write_csv(command, rows, ["date", *selectors.STATUS_KEYS])


class PublishCommand:
    HELP = "Publish an operation's draft point-of-entry statuses and travel restrictions."
    EXAMPLE = "mobility restrictions publish --operation mozambique-cabo-delgado --until 2026-03-31"

    @staticmethod
    def add_arguments(parser):
        parser.add_argument("--operation", required=True, help="operation slug")
        parser.add_argument(
            "--what",
            choices=["all", "statuses", "travel"],
            default="all",
            help="what to publish (default: all)",
        )
        parser.add_argument("--until", help="statuses effective on or before this date only (YYYY-MM-DD)")
        parser.add_argument("--source", help="travel restrictions of this source only (cobap, wfp, manual)")

    @staticmethod
    def handle(command, *, operation, what="all", until=None, source=None, **options):
        op = _operation(command, operation)
        if what in ("all", "statuses"):
            count = services.statuses_publish(operation=op, until=_date(command, until))
            command.stdout.write(f"published {count} status record(s)")
        if what in ("all", "travel"):
            count = services.travel_publish(operation=op, source=source)
            command.stdout.write(f"published {count} travel restriction(s)")


SUBCOMMANDS = {
    "import": ImportCommand,
    "status": StatusCommand,
    "as-of": AsOfCommand,
    "restricting": RestrictingCommand,
    "changes": ChangesCommand,
    "counts": CountsCommand,
    "publish": PublishCommand,
}

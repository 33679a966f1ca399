"""`mobility gazetteer locations import|check`: load typed locations and list the ones whose p-codes disagree."""

from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ValidationError

from mobility.core.command import RichProgress
from mobility.core.imports import job_create, run
from mobility.core.models import ImportJob, Operation

from .models import Location

HELP = "Import sites, villages, points of entry and flow monitoring points, or list p-code mismatches."
EXAMPLE = (
    'mobility gazetteer locations import sites.xlsx --country MOZ --operation "Mozambique — Cabo Delgado"\n'
    "mobility gazetteer locations check --country PAK"
)
OPERATION_UNKNOWN = 'There is no operation named "{name}".'


def add_arguments(parser):
    sub = parser.add_subparsers(dest="action", required=True)
    imp = sub.add_parser(
        "import", help="import a CSV/XLSX of locations (code, type, name, latitude, longitude, ...)"
    )
    imp.add_argument("file")
    imp.add_argument("--country", required=True, help="ISO3 code, e.g. MOZ")
    imp.add_argument("--operation", help="name of the operation the locations belong to")
    check = sub.add_parser(
        "check", help="list locations whose stated p-codes disagree with their coordinates"
    )
    check.add_argument("--country", required=True, help="ISO3 code, e.g. PAK")


def handle(command, *, action, country, **options):
    country = country.strip().upper()
    if action == "check":
        flagged = Location.objects.filter(country_iso3=country, pcode_mismatch=True).order_by("code")
        for location in flagged:
            command.stdout.write(f"{location.code}\t{location.name}\t{location.mismatch_detail}")
        command.stdout.write(f"{flagged.count()} location(s) in {country} with a p-code mismatch")
        return
    operation = None
    if options.get("operation"):
        operation = Operation.objects.filter(name=options["operation"]).first()
        if operation is None:
            command.fail(OPERATION_UNKNOWN.format(name=options["operation"]))
    try:
        job = job_create(
            kind="gazetteer.locations",
            source=Path(options["file"]),
            profile={"country": country},
            operation=operation,
        )
    except ValidationError as exc:
        command.fail("; ".join(exc.messages))
    job = run(job, progress=RichProgress(enabled=options.get("verbosity", 1) > 0))
    if job.status != ImportJob.Status.SUCCEEDED:
        for error in job.row_errors.all()[:50]:
            command.stderr.write(error.text)
        command.fail(job.error)
    command.stdout.write(
        f"job {job.pk}: {job.rows_read} rows read, {job.created} created, {job.updated} updated, "
        f"{job.unchanged} unchanged, {job.summary.get('pcode_mismatch', 0)} with a p-code mismatch"
    )

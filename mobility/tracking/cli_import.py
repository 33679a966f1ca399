"""`mobility tracking import FILE`: DTM API v3 JSON or the HDX DTM CSV, optionally published in the same step."""

from __future__ import annotations

import csv
from pathlib import Path

from django.core.exceptions import ValidationError

from mobility.core.command import RichProgress
from mobility.core.imports import job_create, registered_kinds, run
from mobility.core.models import ImportJob, Round
from mobility.core.tables import detect_encoding, sniff_kind

from .importers.dtm import CSV_KIND, JSON_KIND, rounds_in_summary
from .ops import round_to_validating

HELP = (
    "Import assessment data (DTM API v3 JSON, the HDX DTM CSV); creates the operations and rounds it names."
)
EXAMPLE = (
    "mobility tracking import dtmapi-displacement-admin1-admin0pcode-tcd.json --format dtm-api-v3 --publish"
)

FORMATS = {"dtm-api-v3": JSON_KIND, "dtm-hdx-csv": CSV_KIND}
FILE_MISSING = "No such file: {path}"
FORMAT_UNKNOWN = "Cannot tell the format of {name}; give it with --format ({choices})."
SOURCE_NOTE = "IOM DTM ({source}, already public)"
SHOWN_ERRORS = 20
ALREADY_PUBLISHED = (
    "{round} is already published; left as it is (publish a correction with `mobility tracking publish`)."
)


def _formats() -> dict[str, str]:
    """Our formats plus any other tracking importer registered (e.g. by source profiles)."""
    formats = dict(FORMATS)
    for kind in registered_kinds():
        if kind.startswith("tracking.") and kind not in formats.values():
            formats[kind.removeprefix("tracking.")] = kind
    return formats


def add_arguments(parser):
    parser.add_argument("file", help="the file to import (.json DTM API v3 response, .csv HDX DTM export)")
    parser.add_argument(
        "--format", help="dtm-api-v3 or dtm-hdx-csv (guessed from the content when not given)"
    )
    parser.add_argument(
        "--operation",
        help="put every record in this operation (name; created when missing) instead of the file's",
    )
    parser.add_argument(
        "--publish",
        action="store_true",
        help="then publish every round the file touched (runs the disclosure check and prints its report)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def guess_format(path: Path) -> str | None:
    """dtm-api-v3 for JSON, dtm-hdx-csv for a CSV whose header has DTM's columns; else None."""
    kind = sniff_kind(path)
    if kind == "json":
        return "dtm-api-v3"
    if kind == "csv":
        with path.open(encoding=detect_encoding(path) or "utf-8-sig", newline="") as fh:
            header = next(csv.reader(fh), [])
        names = {h.strip().lstrip("\ufeff") for h in header}
        if {"numPresentIdpInd", "adminLevel"} <= names:
            return "dtm-hdx-csv"
    return None


def tracking_import(*, path: Path, format: str, operation: str = "", by=None, progress=None) -> ImportJob:  # noqa: A002
    """Keep the file and run its import job now; returns the finished job."""
    profile = {"operation": operation} if operation else {}
    job = job_create(kind=_formats()[format], source=path, profile=profile, by=by)
    return run(job, progress=progress)


def publish_rounds(*, job: ImportJob, source_note: str) -> list[tuple]:
    """Publish every round the job wrote to; (round, release or None, disclosure report text) per round.

    A source that is already public goes straight to publishing: its rounds move on to validating first.
    A round already published is left as it is (a correction goes through `mobility tracking publish`).
    """
    from mobility.publishing.services import disclosure_check, release_publish

    published = []
    for round_ in Round.objects.filter(pk__in=rounds_in_summary(job.summary)).order_by(
        "operation__name", "number"
    ):
        if round_.status in (Round.Status.PUBLISHED, Round.Status.SUPERSEDED):
            published.append((round_, None, ""))
            continue
        round_ = round_to_validating(round=round_, by=job.created_by)
        report = disclosure_check(round=round_)
        release = release_publish(round=round_, by=job.created_by, source_note=source_note, confirm=True)
        published.append((round_, release, report.as_text()))
    return published


def handle(command, *, file, format=None, operation=None, publish=False, quiet=False, **options):  # noqa: A002
    path = Path(file)
    if not path.exists():
        command.fail(FILE_MISSING.format(path=path))
    formats = _formats()
    format = format or guess_format(path)
    if format not in formats:
        command.fail(FORMAT_UNKNOWN.format(name=path.name, choices=", ".join(formats)))
    try:
        job = tracking_import(
            path=path, format=format, operation=operation or "", progress=RichProgress(enabled=not quiet)
        )
    except ValidationError as exc:
        command.fail("; ".join(exc.messages))
    out = command.stdout
    if job.status != ImportJob.Status.SUCCEEDED:
        for error in job.row_errors.all()[:SHOWN_ERRORS]:
            command.stderr.write(error.text)
        if job.rejected > SHOWN_ERRORS:
            command.stderr.write(f"... see `mobility` import job {job.pk} for all row errors")
        command.fail(job.error)
    summary = job.summary or {}
    out.write(
        f"job {job.pk}: {job.rows_read} rows read; assessments created {job.created}, updated {job.updated}, "
        f"unchanged {job.unchanged}; operations created {summary.get('operations_created', 0)}, "
        f"rounds created {summary.get('rounds_created', 0)}"
    )
    for warning in summary.get("warnings", []):
        out.write(f"warning: {warning}")
    for warning in summary.get("analytics_warnings", []):
        out.write(f"analytics warning: {warning}")
    if publish:
        for round_, release, report in publish_rounds(job=job, source_note=SOURCE_NOTE.format(source=format)):
            if release is None:
                out.write(ALREADY_PUBLISHED.format(round=round_))
                continue
            out.write(f"published {release}")
            out.write(report)

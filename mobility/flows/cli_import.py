"""`mobility flows import KIND FILE --operation SLUG [--profile NAME]`: a flows file through its importer.

KIND is the importer's name without "flows." (counts, points, surveys, profile). A workbook in
another layout is read through a source profile: ``--profile`` names a shipped profile, a JSON
file, or "job:ID" (the profile of an earlier import), and implies KIND "profile".
"""

from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ValidationError

from mobility.core.command import import_file
from mobility.core.imports import registered_kinds
from mobility.core.models import Operation

from .profiles import profile_mapping, profile_validate

HELP = "Import flow monitoring points, counts (template), surveys, or a workbook through a source profile."
EXAMPLE = (
    "mobility flows import profile somalia_dtm-flow-monitoring-dataset-oct-dec-2016.xlsx "
    "--operation somalia-flow-monitoring --profile somalia-fmp-2016"
)

FILE_MISSING = "No such file: {path}"
KIND_UNKNOWN = "{kind!r} is not a flows import; use one of: {kinds}."
OPERATION_UNKNOWN = 'No operation "{operation}"; the operations are: {operations}.'
PROFILE_NEEDED = "A profile import needs --profile NAME (shipped: {names})."
PROFILE_ONLY_FOR_PROFILE = "--profile reads a workbook in another layout: use KIND profile (not {kind})."


def flows_kinds() -> dict[str, str]:
    """Short name → importer kind, for every registered flows importer."""
    return {k.removeprefix("flows."): k for k in registered_kinds() if k.startswith("flows.")}


def add_arguments(parser):
    parser.add_argument("kind", help="counts, points, surveys or profile")
    parser.add_argument("file", help="the CSV or XLSX file to import")
    parser.add_argument("--operation", required=True, help="the operation's slug (or name)")
    parser.add_argument(
        "--profile",
        default="",
        help="a source profile: a shipped name (e.g. somalia-fmp-2016), a .json file, or job:ID",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def handle(command, *, kind, file, operation, profile="", quiet=False, **options):
    path = Path(file)
    if not path.exists():
        command.fail(FILE_MISSING.format(path=path))
    kinds = flows_kinds()
    short = kind.removeprefix("flows.")
    if short not in kinds:
        command.fail(KIND_UNKNOWN.format(kind=kind, kinds=", ".join(sorted(kinds))))
    chosen = (
        Operation.objects.filter(slug=operation).first() or Operation.objects.filter(name=operation).first()
    )
    if chosen is None:
        names = ", ".join(Operation.objects.order_by("slug").values_list("slug", flat=True)) or "none"
        command.fail(OPERATION_UNKNOWN.format(operation=operation, operations=names))
    job_profile: dict = {"operation": chosen.pk}
    if profile and short != "profile":
        command.fail(PROFILE_ONLY_FOR_PROFILE.format(kind=short))
    if short == "profile":
        from .profiles import profiles_shipped

        if not profile:
            command.fail(PROFILE_NEEDED.format(names=", ".join(profiles_shipped()) or "none"))
        try:
            name, mapping = profile_mapping(profile)
            profile_validate(mapping, name=name)
        except ValidationError as exc:
            command.fail("; ".join(exc.messages))
        job_profile.update(source_profile=name, mapping=mapping)
    job = import_file(
        command,
        kind=kinds[short],
        path=path,
        label=f"flows {short}",
        quiet=quiet,
        operation=chosen,
        profile=job_profile,
    )
    summary = job.summary or {}
    if summary.get("points_created"):
        command.stdout.write(f"flow monitoring points registered: {summary['points_created']}")
    for warning in summary.get("warnings", []):
        command.stdout.write(f"warning: {warning}")
    return None

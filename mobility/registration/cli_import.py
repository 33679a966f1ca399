"""`mobility registration import FILE --operation SLUG --user NAME [--map COLUMN=SOURCE …]`.

Imports a registration list (one row per individual) through the ``registration.individuals``
importer, on behalf of a user who holds the ``register`` capability in the operation. ``--template
OUT.csv`` writes the empty template instead.
"""

from __future__ import annotations

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied

from mobility.core.command import import_file
from mobility.core.models import Operation

from . import access
from .importers.individuals import KIND
from .importers.template import template_header
from .models import Capability
from .records import TEMPLATE_COLUMNS

HELP = "Import a registration list (CSV/XLSX, one row per individual; households grouped by household_id)."
EXAMPLE = (
    "mobility registration import registration_metuge.csv --operation mozambique-cabo-delgado --user amina "
    "--map given_name=Nome --map family_name=Apelido"
)

FILE_MISSING = "No such file: {path}"
FILE_NEEDED = "Give the FILE to import (or --template OUT.csv to write the empty template)."
OPERATION_UNKNOWN = 'No operation "{operation}"; the operations are: {operations}.'
USER_UNKNOWN = 'No active user "{user}".'
USER_NEEDED = (
    "Say on whose behalf the list is imported: --user NAME (a user holding the register capability)."
)
MAP_BAD = '--map {value!r}: write COLUMN=SOURCE, e.g. given_name="Nome próprio"; COLUMN is one of: {columns}'
TEMPLATE_WRITTEN = "template written to {path} ({count} columns)"


def add_arguments(parser):
    parser.add_argument("file", nargs="?", default="", help="the CSV or XLSX list to import")
    parser.add_argument("--operation", default="", help="the operation's slug (or name)")
    parser.add_argument(
        "--user", default="", help="the user the import is made for (must hold the register capability)"
    )
    parser.add_argument(
        "--map",
        dest="mappings",
        action="append",
        default=[],
        metavar="COLUMN=SOURCE",
        help="read a template column from another column of the file (repeat for each)",
    )
    parser.add_argument("--template", default="", metavar="OUT.csv", help="write the empty template and stop")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _mapping(command, items: list[str]) -> dict[str, str]:
    mapping = {}
    for item in items:
        column, sep, source = item.partition("=")
        column, source = column.strip(), source.strip()
        if not sep or not source or column not in TEMPLATE_COLUMNS:
            command.fail(MAP_BAD.format(value=item, columns=", ".join(TEMPLATE_COLUMNS)))
        mapping[column] = source
    return mapping


def handle(command, *, file="", operation="", user="", mappings=(), template="", quiet=False, **options):
    if template:
        path = Path(template)
        path.write_text(template_header(), encoding="utf-8-sig")
        command.stdout.write(TEMPLATE_WRITTEN.format(path=path, count=len(TEMPLATE_COLUMNS)))
        return None
    if not file:
        command.fail(FILE_NEEDED)
    path = Path(file)
    if not path.exists():
        command.fail(FILE_MISSING.format(path=path))
    chosen = (
        Operation.objects.filter(slug=operation).first() or Operation.objects.filter(name=operation).first()
        if operation
        else None
    )
    if chosen is None:
        names = ", ".join(Operation.objects.order_by("slug").values_list("slug", flat=True)) or "none"
        command.fail(OPERATION_UNKNOWN.format(operation=operation, operations=names))
    if not user:
        command.fail(USER_NEEDED)
    by = get_user_model().objects.filter(username=user, is_active=True).first()
    if by is None:
        command.fail(USER_UNKNOWN.format(user=user))
    try:
        access.require(by, chosen, Capability.REGISTER)
    except PermissionDenied as exc:
        command.fail(str(exc))
    mapping = _mapping(command, list(mappings or []))
    job = import_file(
        command,
        kind=KIND,
        path=path,
        label="registration list",
        quiet=quiet,
        operation=chosen,
        profile={"operation": chosen.pk, **({"mapping": mapping} if mapping else {})},
        by=by,
    )
    summary = job.summary or {}
    command.stdout.write(
        f"households: {summary.get('households_created', 0)} created, "
        f"{summary.get('households_updated', 0)} updated, {summary.get('households_unchanged', 0)} unchanged; "
        f"individuals: {summary.get('individuals_created', 0)} created, "
        f"{summary.get('individuals_updated', 0)} updated, {summary.get('individuals_unchanged', 0)} unchanged"
    )
    for warning in summary.get("warnings", []):
        command.stdout.write(f"warning: {warning}")
    return None

"""`mobility collection publish-form`: publish an XLSForm (or a ready-made one) to an operation."""

from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ValidationError

from mobility.core.models import Operation

from .builtin_forms import BUILTINS, builtin_publish
from .services import form_publish, media_attach

HELP = "publish an XLSForm to an operation (prints the form id and version), or a ready-made tracking form"
EXAMPLE = "mobility collection publish-form household_visit.xlsx --operation mozambique-cabo-delgado --media villages.csv"
FILE_MISSING = "No such file: {path}"
OPERATION_UNKNOWN = 'No operation "{name}"; see `mobility operations list`.'
FILE_OR_BUILTIN = "Give an XLSForm file or --builtin NAME (not both)."
MEDIA_WITH_BUILTIN = "A ready-made form brings its own media (the admin lists); --media is for a file."


def add_arguments(parser):
    parser.add_argument("file", nargs="?", help="the XLSForm (.xlsx)")
    parser.add_argument("--operation", required=True, help="operation slug or name")
    parser.add_argument(
        "--media",
        action="append",
        default=[],
        metavar="FILE",
        help="a media file the form uses (CSV for select_one_from_file / pulldata, images); repeatable",
    )
    parser.add_argument(
        "--builtin",
        choices=sorted(BUILTINS),
        help=(
            "publish a ready-made form with admin lists from the operation's gazetteer, and bind it "
            "(e.g. --builtin baseline --round 3)"
        ),
    )
    parser.add_argument(
        "--round", type=int, help="with --builtin: the round the figures belong to (default: the open round)"
    )


def _operation(command, name: str) -> Operation:
    operation = Operation.objects.filter(slug=name).first() or Operation.objects.filter(name=name).first()
    if operation is None:
        command.fail(OPERATION_UNKNOWN.format(name=name))
    return operation


def _failed(command, exc: ValidationError):
    command.fail("\n".join(exc.messages))


def handle(command, *, file=None, operation, media, builtin=None, round=None, **options):  # noqa: A002
    if bool(file) == bool(builtin):
        command.fail(FILE_OR_BUILTIN)
    target = _operation(command, operation)
    out = command.stdout
    if builtin:
        if media:
            command.fail(MEDIA_WITH_BUILTIN)
        try:
            published = builtin_publish(operation=target, key=builtin, round_number=round)
        except ValidationError as exc:
            _failed(command, exc)
        version, binding = published.version, published.binding
        out.write(f"form {version.form.xml_form_id} version {version.version}")
        out.write(f"media: {', '.join(published.media)} (from the {target.country_iso3} gazetteer)")
        rounds = f", round {binding.constants['round']}" if "round" in binding.constants else ""
        out.write(f"bound to {binding.target} (binding version {binding.version}{rounds})")
        return
    path = Path(file)
    if not path.is_file():
        command.fail(FILE_MISSING.format(path=path))
    for extra in media:
        if not Path(extra).is_file():
            command.fail(FILE_MISSING.format(path=extra))
    try:
        version = form_publish(operation=target, data=path.read_bytes(), filename=path.name)
        for extra in media:
            media_path = Path(extra)
            media_attach(version=version, name=media_path.name, data=media_path.read_bytes())
    except ValidationError as exc:
        _failed(command, exc)
    out.write(f"form {version.form.xml_form_id} version {version.version}")
    for warning in version.warnings:
        out.write(f"warning: {warning}")
    if media:
        out.write(f"media: {', '.join(Path(m).name for m in media)}")

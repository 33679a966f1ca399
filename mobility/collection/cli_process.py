"""`mobility collection reprocess`: run every current submission of a form through its binding again."""

from __future__ import annotations

from mobility.core.command import RichProgress
from mobility.core.models import Operation

from .models import Form
from .processing import form_reprocess

HELP = "re-process every current submission of a form with its current binding (idempotent)"
EXAMPLE = "mobility collection reprocess mobility_baseline --operation mozambique-cabo-delgado"
OPERATION_UNKNOWN = 'No operation "{name}"; see `mobility operations list`.'
FORM_UNKNOWN = 'No form "{form}" in {operation}.'
FORM_NOT_BOUND = (
    'The form "{form}" is not bound to a target: bind it first (publish-form --builtin, or the web page).'
)


def add_arguments(parser):
    parser.add_argument("form", metavar="FORM_ID", help="the form id (XLSForm settings form_id)")
    parser.add_argument("--operation", required=True, help="operation slug or name")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def handle(command, *, form, operation, quiet=False, **options):
    target = (
        Operation.objects.filter(slug=operation).first() or Operation.objects.filter(name=operation).first()
    )
    if target is None:
        command.fail(OPERATION_UNKNOWN.format(name=operation))
    found = Form.objects.filter(operation=target, xml_form_id=form).first()
    if found is None and form.isdigit():
        found = Form.objects.filter(operation=target, pk=int(form)).first()
    if found is None:
        command.fail(FORM_UNKNOWN.format(form=form, operation=target.name))
    if not found.bindings.filter(active=True).exists():
        command.fail(FORM_NOT_BOUND.format(form=found.xml_form_id))
    counts = form_reprocess(form=found, progress=RichProgress(enabled=not quiet))
    command.stdout.write(
        f"form {found.xml_form_id}: {counts.submissions} submission(s), processed {counts.processed}, "
        f"needs attention {counts.attention}"
    )
    command.stdout.write(
        f"rows created {counts.created}, updated {counts.updated}, unchanged {counts.unchanged}, "
        f"removed {counts.removed}"
    )
